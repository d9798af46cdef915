"""IntervalRecorder's HDR percentiles and async completion figures, merging workers' intervals, and the
CompletionTracker's bookkeeping."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from harness.load.completions import CompletionTracker, poll_completions, s3_prefix, split_s3_uri
from harness.load.stats import (
    LATENCY_HIGHEST_US,
    IntervalRecorder,
    decode_histogram,
    hdr_percentiles,
    latency_summary,
    merge_intervals,
)
from harness.record import Clock, LatencyMs, LoadInterval

CLOCK = Clock(wall0_ts=1000.0, endpoint0_ts=50_000.0, speed=10.0)


def test_completions_are_counted_and_summarised_per_interval() -> None:
    rec = IntervalRecorder(CLOCK, start_wall_ts=1000.0)
    rec.record(12.0)
    for s in (20.0, 30.0, 40.0):
        rec.record_completion(s)
    rec.record_completion(90.0, failed=True)
    first = rec.flush(1001.0, offered_rps=1.0, users=1, stage="a")
    assert first is not None
    assert first.requests == 1 and first.failures == 0  # completions are not invocations
    assert first.completions == 4 and first.completion_failures == 1
    # 30 s is 30000 ms: HDR keeps 3 significant digits, its bucket reaches 30015 ms (never below the truth)
    assert 30.0 <= first.completion_s.p50 <= 30.0 * (1 + 1 / 1024)  # type: ignore[operator]
    assert first.completion_s.max == 90.0 and first.completion_s.p90 == 90.0  # max exact; capped at it
    # the next interval starts empty
    second = rec.flush(1002.0, offered_rps=0.0, users=0, stage=None)
    assert second is not None
    assert second.completions == 0 and second.completion_failures == 0
    assert second.completion_s.p50 is None and second.completion_s.max is None


def test_an_interval_with_only_completions_has_no_requests() -> None:
    rec = IntervalRecorder(CLOCK, start_wall_ts=1000.0)
    rec.record_completion(7.5)
    record = rec.flush(1003.0, offered_rps=0.0, users=0, stage=None)
    assert record is not None
    assert record.requests == 0 and record.achieved_rps == 0.0
    assert record.completions == 1 and record.completion_s.p99 == 7.5
    assert record.interval_s == pytest.approx(30.0)


def _close_to(hdr: LatencyMs, exact: LatencyMs, unit: float) -> None:
    """HDR percentiles agree with the exact ones within 3 significant digits (bucket width <= value/1024)
    plus half a histogram unit of rounding, and are never below them by more than that rounding."""
    for name in ("p50", "p90", "p95", "p99"):
        got, want = getattr(hdr, name), getattr(exact, name)
        assert want - unit / 2 <= got <= want * (1 + 1 / 1024) + unit / 2, (name, got, want)
    assert hdr.max == exact.max  # the max is kept exactly


def _recorder(samples: Sequence[float], completions: Sequence[float] = ()) -> IntervalRecorder:
    rec = IntervalRecorder(CLOCK, start_wall_ts=1000.0)
    for i, ms in enumerate(samples):
        rec.record(ms, error="ModelError" if i % 17 == 0 else None)
    for i, s in enumerate(completions):
        rec.record_completion(s, failed=i % 5 == 0)
    return rec


@pytest.mark.parametrize("dist", ["uniform", "lognormal", "bimodal", "pareto"])
def test_hdr_percentiles_agree_with_exact_ones_within_hdr_precision(dist: str) -> None:
    rng = random.Random(dist)
    draw = {"uniform": lambda: rng.uniform(0.5, 2000.0), "lognormal": lambda: rng.lognormvariate(3.0, 1.2),
            "bimodal": lambda: rng.gauss(20, 2) if rng.random() < 0.9 else rng.gauss(900, 50),
            "pareto": lambda: 5.0 * rng.paretovariate(1.5)}[dist]
    latencies = [max(0.0, draw()) for _ in range(20_000)]
    completions = [draw() / 10.0 for _ in range(3_000)]  # seconds
    record = _recorder(latencies, completions).flush(1001.0, offered_rps=1.0, users=1, stage=None)
    assert record is not None and record.requests == 20_000 and record.completions == 3_000
    _close_to(record.latency_ms, latency_summary(latencies), unit=0.001)  # microseconds
    _close_to(record.completion_s, latency_summary(completions), unit=0.001)  # milliseconds


def test_small_values_are_exact_and_ranks_are_nearest_rank() -> None:
    # below 2048 units the histogram is exact: 1..100 µs gives the same percentiles as the raw values
    latencies = [i / 1000.0 for i in range(1, 101)]
    record = _recorder(latencies).flush(1001.0, offered_rps=1.0, users=1, stage=None)
    assert record is not None
    assert record.latency_ms == latency_summary(latencies)
    for n in (1, 2, 3, 7, 10, 99, 101):  # nearest rank ceil(q/100 * n), as percentile() does
        values = [float(i) for i in range(1, n + 1)]
        rec = _recorder([v / 1000.0 for v in values])
        hist = rec._latency
        assert hdr_percentiles(hist) == [latency_summary(values).p50, latency_summary(values).p90,
                                         latency_summary(values).p95, latency_summary(values).p99]


def test_out_of_range_latencies_are_counted_and_the_max_stays_exact() -> None:
    huge_ms = 2 * LATENCY_HIGHEST_US / 1000.0  # two hours
    record = _recorder([5.0, huge_ms, -1.0]).flush(1001.0, offered_rps=1.0, users=1, stage=None)
    assert record is not None and record.requests == 3
    assert decode_histogram(record.latency_hdr).get_total_count() == 3  # type: ignore[arg-type]
    # beyond the range a latency counts as the range's top (an hour) in the percentiles; the max is exact
    assert record.latency_ms.max == huge_ms
    assert LATENCY_HIGHEST_US / 1000.0 <= record.latency_ms.p99 <= LATENCY_HIGHEST_US / 1000.0 * (1 + 1 / 1024)  # type: ignore[operator]
    assert record.latency_ms.p50 == pytest.approx(5.0, rel=1e-3)  # a negative latency counts as 0


def test_histograms_round_trip_through_their_encoding() -> None:
    rng = random.Random(1)
    rec = _recorder([rng.expovariate(1 / 40) for _ in range(5_000)], [rng.expovariate(1 / 30) for _ in range(500)])
    hist, completion = rec._latency, rec._completion
    record = rec.flush(1001.0, offered_rps=1.0, users=1, stage=None)
    assert record is not None and record.latency_hdr and record.completion_hdr
    again = decode_histogram(record.latency_hdr)
    assert again.get_total_count() == hist.get_total_count() == record.requests
    assert list(again.counts) == list(hist.counts)
    assert hdr_percentiles(again) == hdr_percentiles(hist)
    assert again.encode().decode("ascii") == record.latency_hdr
    assert list(decode_histogram(record.completion_hdr).counts) == list(completion.counts)
    # the record itself round-trips through load.jsonl
    assert LoadInterval.model_validate_json(record.model_dump_json()) == record


def test_an_interval_without_samples_has_no_histograms() -> None:
    record = IntervalRecorder(CLOCK, start_wall_ts=1000.0).flush(1001.0, offered_rps=0.0, users=0, stage=None)
    assert record is not None and record.latency_hdr is None and record.completion_hdr is None
    assert record.latency_ms == LatencyMs() and record.completion_s == LatencyMs()


def test_merging_workers_equals_recording_every_sample_in_one() -> None:
    rng = random.Random(7)
    lat = [rng.lognormvariate(3.5, 0.8) for _ in range(9_000)]
    comp = [rng.lognormvariate(2.0, 0.5) for _ in range(900)]
    # three workers, uneven shares, flushing a little apart on their own clocks
    shares = [(0, 5_000, 0, 400), (5_000, 8_000, 400, 900), (8_000, 9_000, 900, 900)]
    workers = []
    for k, (a, b, c, d) in enumerate(shares):
        rec = IntervalRecorder(CLOCK, start_wall_ts=1000.0 + k * 0.001)
        for i in range(a, b):
            rec.record(lat[i], error="ModelError" if i % 17 == 0 else ("Throttling" if i % 29 == 0 else None))
        for i in range(c, d):
            rec.record_completion(comp[i], failed=i % 5 == 0)
        record = rec.flush(1001.0, offered_rps=50.0, users=3 + k, stage="ramp" if k else None)
        assert record is not None
        workers.append(record)
    one = IntervalRecorder(CLOCK, start_wall_ts=1000.0)
    for i in range(9_000):
        one.record(lat[i], error="ModelError" if i % 17 == 0 else ("Throttling" if i % 29 == 0 else None))
    for i in range(900):
        one.record_completion(comp[i], failed=i % 5 == 0)
    single = one.flush(1001.0, offered_rps=50.0, users=12, stage="ramp")
    assert single is not None

    merged = merge_intervals(workers)
    assert merged.latency_ms == single.latency_ms and merged.completion_s == single.completion_s
    assert merged.latency_hdr == single.latency_hdr and merged.completion_hdr == single.completion_hdr
    assert (merged.requests, merged.failures, merged.errors) == (single.requests, single.failures, single.errors)
    assert (merged.completions, merged.completion_failures) == (single.completions, single.completion_failures)
    assert merged.ts == single.ts and merged.interval_s == pytest.approx(single.interval_s)
    assert merged.achieved_rps == pytest.approx(single.achieved_rps)
    assert (merged.users, merged.stage, merged.offered_rps) == (12, "ramp", 50.0)
    assert merge_intervals(workers, offered_rps=150.0).offered_rps == 150.0
    # merging is associative: a merged interval merges again like any other
    assert merge_intervals([merge_intervals(workers[:2]), workers[2]]).latency_hdr == single.latency_hdr
    assert merge_intervals([single]).model_dump() == single.model_dump()


def test_merging_a_record_without_histogram_leaves_percentiles_unknown() -> None:
    new = _recorder([10.0, 20.0]).flush(1001.0, offered_rps=1.0, users=1, stage=None)
    assert new is not None
    old = LoadInterval(ts=50_000.0, interval_s=10.0, offered_rps=1.0, achieved_rps=0.3, requests=3, failures=0,
                       users=1, latency_ms=LatencyMs(p50=5.0, p90=40.0, p95=40.0, p99=40.0, max=40.0))
    merged = merge_intervals([new, old])
    assert merged.requests == 5 and merged.latency_hdr is None
    assert merged.latency_ms == LatencyMs(max=40.0)
    # an old record without samples is no obstacle
    idle = old.model_copy(update={"requests": 0, "latency_ms": LatencyMs()})
    assert merge_intervals([new, idle]).latency_ms == new.latency_ms
    with pytest.raises(ValueError):
        merge_intervals([])


def test_s3_uris_split_into_bucket_key_and_listing_prefix() -> None:
    assert split_s3_uri("s3://b/out/x.out") == ("b", "out/x.out")
    assert split_s3_uri("s3://b") == ("b", "")
    assert s3_prefix("s3://b/out/deep/x.out") == ("b", "out/deep/")
    assert s3_prefix("s3://b/x.out") == ("b", "")
    with pytest.raises(ValueError):
        split_s3_uri("https://b/x")


@pytest.mark.parametrize(("sample", "expected"), [(1.0, 12), (0.5, 6), (0.25, 3), (0.1, 1), (0.0, 0), (1 / 3, 4)])
def test_the_sample_is_an_even_deterministic_fraction(sample: float, expected: int) -> None:
    tracker = CompletionTracker(sample, max_age_s=100)
    picks = [tracker.should_track() for _ in range(12)]
    assert sum(picks) == expected
    again = CompletionTracker(sample, max_age_s=100)
    assert [again.should_track() for _ in range(12)] == picks
    if expected == 3:
        assert picks == [False, False, False, True] * 3  # every 4th


def test_tracker_matches_outputs_and_failures_and_forgets_both_locations() -> None:
    t = CompletionTracker(1.0, max_age_s=1000)
    t.track("a", "s3://b/out/a.out", "s3://b/fail/a-error.out", sent_ts=100.0)
    t.track("b", "s3://b/out/b.out", "s3://b/fail/b-error.out", sent_ts=110.0)
    assert t.outstanding == 2
    assert t.prefixes() == [("b", "fail/"), ("b", "out/")]
    assert t.waiting_in("b", "out/") == 2
    assert t.observe("s3://b/out/unrelated.out", 150.0) is None
    done = t.observe("s3://b/out/a.out", 150.0)
    assert done is not None and done.inference_id == "a" and done.seconds == 50.0 and not done.failed
    assert t.waiting_in("b", "out/") == 1 and t.waiting_in("b", "fail/") == 1
    failed = t.observe("s3://b/fail/b-error.out", 170.0)
    assert failed is not None and failed.failed and failed.seconds == 60.0
    assert t.outstanding == 0 and t.prefixes() == []
    assert t.observe("s3://b/out/b.out", 180.0) is None  # already completed through its failure


def test_tracker_without_failure_location_and_old_requests_are_given_up() -> None:
    t = CompletionTracker(1.0, max_age_s=60)
    t.track("a", "s3://b/out/a.out", None, sent_ts=0.0)
    t.track("b", "s3://b/out/b.out", None, sent_ts=50.0)
    assert t.prefixes() == [("b", "out/")]
    assert t.prune(100.0) == 1  # a is 100 s old, past 60
    assert t.given_up == 1 and t.outstanding == 1
    assert t.observe("s3://b/out/a.out", 101.0) is None
    assert t.observe("s3://b/out/b.out", 101.0) is not None


def test_tracker_rejects_a_sample_outside_0_1() -> None:
    with pytest.raises(ValueError):
        CompletionTracker(1.5, max_age_s=1)


def _pages(keys: list[str], size: int) -> dict[str | None, dict]:
    """ListObjectsV2 answers for ``keys`` in pages of ``size``, by the continuation token that asks for them."""
    pages: dict[str | None, dict] = {}
    for i in range(0, max(len(keys), 1), size):
        token = None if i == 0 else f"t{i}"
        more = i + size < len(keys)
        pages[token] = {"Contents": [{"Key": k} for k in keys[i:i + size]], "IsTruncated": more,
                        **({"NextContinuationToken": f"t{i + size}"} if more else {})}
    return pages


def test_one_poll_pages_through_each_prefix_until_nothing_more_is_awaited() -> None:
    t = CompletionTracker(1.0, max_age_s=1000)
    t.track("a", "s3://b/out/a.out", "s3://b/fail/a-error.out", sent_ts=10.0)
    t.track("c", "s3://b/out/c.out", "s3://b/fail/c-error.out", sent_ts=20.0)
    t.track("z", "s3://b/out/z.out", "s3://b/fail/z-error.out", sent_ts=30.0)
    outputs = _pages(["out/a.out", "out/b.out", "out/c.out", "out/d.out", "out/e.out", "out/f.out"], size=2)
    failures = _pages(["fail/y-error.out", "fail/z-error.out", "fail/zz-error.out"], size=1)
    calls: list[tuple[str, str | None]] = []

    def list_page(bucket: str, prefix: str, token: str | None) -> dict:
        assert bucket == "b"
        calls.append((prefix, token))
        return (outputs if prefix == "out/" else failures)[token]

    clock = iter(range(100, 200))
    done = poll_completions(t, list_page, lambda: float(next(clock)))
    assert [(d.inference_id, d.failed) for d in done] == [("z", True), ("a", False), ("c", False)]
    # failures: every page (a's and c's failure objects are still awaited there); outputs: a and c are in
    # the first two pages, after which nothing is awaited: it stops although the listing is truncated
    assert calls == [("fail/", None), ("fail/", "t1"), ("fail/", "t2"), ("out/", None), ("out/", "t2")]
    assert [d.seconds for d in done] == [101 - 30, 103 - 10, 104 - 20]  # each timed at its own page
    assert t.outstanding == 0
    calls.clear()
    assert poll_completions(t, list_page, lambda: 0.0) == [] and calls == []  # nothing outstanding: no listing


def test_a_poll_that_finds_nothing_lists_every_page_once() -> None:
    t = CompletionTracker(1.0, max_age_s=1000)
    t.track("x", "s3://b/out/x.out", None, sent_ts=0.0)
    outputs = _pages([f"out/{i}.out" for i in range(5)], size=2)
    calls: list[str | None] = []

    def list_page(bucket: str, prefix: str, token: str | None) -> dict:
        calls.append(token)
        return outputs[token]

    assert poll_completions(t, list_page, lambda: 1.0) == []
    assert calls == [None, "t2", "t4"] and t.outstanding == 1
