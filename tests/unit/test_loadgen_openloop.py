"""The pure parts of open-loop load: the arrival schedule, the pool size, the shortfall and the exit code."""

from __future__ import annotations

import math

import pytest

from harness import checks, exitcodes
from harness.load.arrivals import POOL_MIN, ArrivalSchedule, pool_size
from harness.load.stats import IntervalRecorder, invalid_load_reason, load_shortfall
from harness.profile import Stage, TrafficSpec
from harness.profile.traffic import integral
from harness.record import Clock, LoadInterval, Verdict


def stages(*specs: dict) -> list[Stage]:
    return TrafficSpec.model_validate({"stages": list(specs)}).stages


def all_arrivals(schedule: ArrivalSchedule) -> list[float]:
    out = []
    while (t := schedule.next()) is not None:
        out.append(t)
    return out


def test_uniform_arrivals_are_evenly_spaced_at_a_constant_rate() -> None:
    times = all_arrivals(ArrivalSchedule(stages({"name": "h", "duration": "10s", "rate_rps": 2})))
    assert times == pytest.approx([0.5 * k for k in range(20)])  # the first at the start, none at the end


def test_uniform_arrivals_follow_the_integral_of_a_ramp_across_stages() -> None:
    st = stages({"name": "h", "duration": "60s", "rate_rps": 2},
                {"name": "r", "kind": "ramp", "duration": "100s", "from_rps": 0, "to_rps": 10})
    times = all_arrivals(ArrivalSchedule(st))
    assert len(times) == math.ceil(integral(st, 0, 160) - 1e-9) == 620
    for k, t in enumerate(times, start=1):  # the k-th arrival is where the offered count reaches k - 1
        assert integral(st, 0, t) == pytest.approx(k - 1, abs=1e-5)
    assert times == sorted(times) and times[-1] < 160


def test_poisson_arrivals_are_seeded_and_near_the_offered_count() -> None:
    st = stages({"name": "h", "duration": "1000s", "rate_rps": 5})
    a = all_arrivals(ArrivalSchedule(st, "poisson", seed=3))
    assert a == all_arrivals(ArrivalSchedule(st, "poisson", seed=3))
    assert a != all_arrivals(ArrivalSchedule(st, "poisson", seed=4))
    assert abs(len(a) - 5000) < 4 * math.sqrt(5000)


def test_pool_size_covers_the_busy_users_with_a_margin_and_a_cap() -> None:
    assert pool_size(0.0, 1.0) == 0
    assert pool_size(1.0, 0.01) == POOL_MIN
    busy = 100 * 0.5
    assert pool_size(100.0, 0.5) >= 2 * busy
    assert pool_size(100.0, 0.5, cap=3) == 3


def interval(stage: str | None, offered_rps: float, requests: int, dropped: int = 0) -> LoadInterval:
    return LoadInterval(ts=0.0, interval_s=10.0, stage=stage, offered_rps=offered_rps,
                        achieved_rps=requests / 10.0, requests=requests, failures=0, users=1, dropped=dropped)


def test_shortfall_over_the_whole_load_names_the_stages_short() -> None:
    records = [interval("warm", 1.0, 10), interval("peak", 10.0, 50, dropped=50), interval("peak", 10.0, 60, 40),
               interval(None, 0.0, 0)]
    whole, per = load_shortfall(records)
    assert (whole.offered, whole.achieved, whole.dropped) == (210.0, 120, 90)
    assert [s.stage for s in per] == ["warm", "peak"] and per[0].fraction == 0.0
    reason = invalid_load_reason(records, 0.1)
    assert reason is not None and "42.9%" in reason and "stage 'peak'" in reason and "stage 'warm'" not in reason
    assert invalid_load_reason(records, 0.5) is None
    assert invalid_load_reason([interval("warm", 1.0, 10)], 0.0) is None
    assert invalid_load_reason([], 0.1) is None


def test_recorder_counts_arrivals_as_offered_and_dropped() -> None:
    rec = IntervalRecorder(Clock.identity(), 100.0)
    for dropped in (False, False, True):
        rec.arrival(dropped)
    rec.record(5.0)
    rec.record(7.0)
    out = rec.flush(110.0, offered_rps=None, users=2, stage="s")
    assert out is not None and out.offered_rps == pytest.approx(0.3) and out.dropped == 1 and out.requests == 2
    closed = rec.flush(120.0, offered_rps=4.0, users=2, stage="s")
    assert closed is not None and closed.offered_rps == 4.0 and closed.dropped == 0


def test_invalid_load_wins_over_failed_expectations() -> None:
    fail = Verdict(name="x", kind="scale_out", status="FAIL", summary="no")
    assert checks.exit_code([fail]) == exitcodes.FAILED
    assert checks.exit_code([fail], invalid=True) == exitcodes.INVALID_RUN
    assert checks.exit_code([], invalid=True) == exitcodes.INVALID_RUN


def test_traffic_defaults_to_open_loop_with_a_ten_percent_shortfall() -> None:
    spec = TrafficSpec.model_validate({"stages": [{"name": "h", "duration": "1m", "rate_rps": 1}]})
    assert spec.mode == "open" and spec.max_shortfall == 0.1 and spec.max_users is None
