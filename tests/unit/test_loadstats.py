"""IntervalRecorder's async completion figures and the CompletionTracker's bookkeeping."""

from __future__ import annotations

import pytest

from harness.loadstats import CompletionTracker, IntervalRecorder, poll_completions, s3_prefix, split_s3_uri
from harness.record import Clock

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
    assert first.completion_s.p50 == 30.0 and first.completion_s.max == 90.0
    assert first.completion_s.p90 == 90.0
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
