"""Stop conditions and the cost cap over recorded folders: each with a table of interval sequences that trip,
do not trip, and the boundary of N-1 against N consecutive intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.stop import first_streak, should_stop
from harness.profile import Profile, parse_profile
from harness.profile.durations import format_span
from harness.profile.pricing import CostPlan, plan_cost
from harness.record import EndpointSample, LatencyMs, LoadInterval, Recorded, RunInfo
from tests.conftest import shortened_profile

START = 1_000_000.0


def interval(i: int, requests: int = 20, failures: int = 0, p99: float | None = 40.0) -> LoadInterval:
    return LoadInterval(ts=START + 10 * i, interval_s=10, stage="stress", offered_rps=2, achieved_rps=requests / 10,
                        requests=requests, failures=failures, users=4, latency_ms=LatencyMs(p99=p99))


def recorded(intervals: list[LoadInterval], samples: list[EndpointSample] | None = None) -> Recorded:
    run = RunInfo(run_id="r", profile_name="p", profile={}, mode="local", speed=60, region="us-east-1",
                  endpoint_name="ep", variant_name="AllTraffic", started_ts=START - 100, load_start_ts=START)
    return Recorded(path=Path("."), run=run, load=intervals, endpoint=samples or [])


def profile_with(*conditions: dict) -> Profile:
    return parse_profile(shortened_profile(stop=list(conditions)))


# error rate of each interval, as (requests, failures); threshold 50 %, for 3 intervals
ERROR_CASES = [
    pytest.param([(20, 20), (20, 20), (20, 20)], (0, 2), id="three-in-a-row-trips"),
    pytest.param([(20, 20), (20, 20)], None, id="n-1-does-not-trip"),
    pytest.param([(20, 0), (20, 11), (20, 11), (20, 11)], (1, 3), id="n-trips-on-the-nth"),
    pytest.param([(20, 20), (20, 20), (20, 5), (20, 20), (20, 20)], None, id="a-good-interval-breaks-the-streak"),
    pytest.param([(20, 10), (20, 10), (20, 10)], None, id="exactly-the-threshold-is-not-above"),
    pytest.param([(20, 20), (0, 0), (20, 20), (20, 20)], None, id="an-interval-without-requests-does-not-exceed"),
    pytest.param([(20, 20), (20, 20), (20, 20), (20, 20)], (0, 2), id="the-first-streak-is-reported"),
]


@pytest.mark.parametrize(("series", "streak"), ERROR_CASES)
def test_error_rate_stop(series: list[tuple[int, int]], streak: tuple[int, int] | None) -> None:
    intervals = [interval(i, r, f) for i, (r, f) in enumerate(series)]
    decision = should_stop(recorded(intervals), profile_with({"type": "error_rate", "above": "50%", "for": 3}))
    if streak is None:
        assert decision is None
        return
    assert decision is not None and decision.condition == "error_rate"
    first, last = streak
    chosen = intervals[first:last + 1]
    rate = sum(x.failures for x in chosen) / sum(x.requests for x in chosen)
    assert decision.reason == (f"stop condition: error rate {rate * 100:.3g}% > 50% for 3 intervals "
                               f"(from load_start+{format_span(10 * first)})")
    assert decision.ts == chosen[-1].ts + 10


def test_a_missing_interval_breaks_the_streak() -> None:
    intervals = [interval(0, 20, 20), interval(1, 20, 20), interval(3, 20, 20)]  # interval 2 never arrived
    assert should_stop(recorded(intervals), profile_with({"type": "error_rate", "above": 0.5, "for": 3})) is None
    assert first_streak(intervals + [interval(4, 20, 20), interval(5, 20, 20)],
                        lambda x: x.failures > 0, 3) == (2, 4)


# p99 of each interval (ms); threshold 1000 ms, for 2 intervals
LATENCY_CASES = [
    pytest.param([1500, 1600], (0, 1), id="two-in-a-row-trips"),
    pytest.param([1500], None, id="n-1-does-not-trip"),
    pytest.param([1500, 900, 1500], None, id="broken-streak"),
    pytest.param([1000, 1000, 1000], None, id="exactly-the-threshold-is-not-above"),
    pytest.param([1500, None, 1500], None, id="no-latency-does-not-exceed"),
    pytest.param([20, 1200, 3000, 5000], (1, 2), id="later-streak"),
]


@pytest.mark.parametrize(("series", "streak"), LATENCY_CASES)
def test_p99_latency_stop(series: list[float | None], streak: tuple[int, int] | None) -> None:
    intervals = [interval(i, p99=p) for i, p in enumerate(series)]
    decision = should_stop(recorded(intervals), profile_with({"type": "p99_latency", "above_ms": 1000, "for": 2}))
    if streak is None:
        assert decision is None
        return
    assert decision is not None and decision.condition == "p99_latency"
    shown = [float(series[i] or 0) for i in range(streak[0], streak[1] + 1)]
    assert decision.reason == (f"stop condition: p99 latency {min(shown):.0f}–{max(shown):.0f} ms > 1000 ms for "
                               f"2 intervals (from load_start+{format_span(10 * streak[0])})")


def sample(offset: float, current: int | None, desired: int | None) -> EndpointSample:
    return EndpointSample(ts=START + offset, endpoint_name="ep", variant_name="AllTraffic", status="InService",
                          current_instances=current, desired_instances=desired)


@pytest.mark.parametrize(("samples", "reason"), [
    pytest.param([(0, 1, 1), (30, 2, 2), (60, 3, 3)], None, id="at-the-limit-does-not-trip"),
    pytest.param([(0, 1, 1), (30, 3, 4)], "stop condition: instances above 3 (desired 4 at load_start+30s)",
                 id="desired-above-trips"),
    pytest.param([(0, 1, 1), (50, 5, 5)], "stop condition: instances above 3 (current 5, desired 5 at "
                 "load_start+50s)", id="both-above"),
    pytest.param([(-20, 9, 9), (0, 1, 1)], None, id="before-load-start-does-not-count"),
])
def test_instances_stop(samples: list[tuple[float, int, int]], reason: str | None) -> None:
    rec = recorded([], [sample(*s) for s in samples])
    decision = should_stop(rec, profile_with({"type": "instances", "above": 3}))
    assert (decision.reason if decision else None) == reason


@pytest.mark.parametrize(("seconds", "trips"), [
    pytest.param(3600 * 0.99, False, id="below-the-cap"),
    pytest.param(3600.0, True, id="reaching-the-cap-trips"),
    pytest.param(4000.0, True, id="above-the-cap"),
])
def test_cost_cap(seconds: float, trips: bool) -> None:
    # one instance for `seconds` at $0.115/h against a cap of exactly one instance-hour's price
    rec = recorded([], [sample(0, 1, 1), sample(seconds, 1, 1)])
    base = plan_cost("ml.m5.large", "us-east-1")
    plan = CostPlan(base.instance_type, base.region, base.price, max_usd=0.115)
    decision = should_stop(rec, parse_profile(shortened_profile()), plan)
    assert (decision is not None) == trips
    if decision is not None:
        assert decision.condition == "cost_cap" and decision.reason.startswith("cost cap: $0.1")
        assert "reached max $0.1150" in decision.reason and f"{seconds:.0f} instance-seconds" in decision.reason


def test_no_cap_or_no_condition_never_stops() -> None:
    intervals = [interval(i, 20, 20) for i in range(10)]
    rec = recorded(intervals, [sample(0, 1, 1), sample(10_000, 9, 9)])
    assert should_stop(rec, parse_profile(shortened_profile()), plan_cost("ml.m5.large", "us-east-1")) is None


def test_conditions_are_checked_in_profile_order() -> None:
    intervals = [interval(i, 20, 20, p99=5000) for i in range(3)]
    profile = profile_with({"type": "p99_latency", "above_ms": 100, "for": 3},
                           {"type": "error_rate", "above": 0.1, "for": 3})
    decision = should_stop(recorded(intervals), profile)
    assert decision is not None and decision.condition == "p99_latency"
