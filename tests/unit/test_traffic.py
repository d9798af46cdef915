"""Traffic arithmetic and per-interval load statistics: pure functions, literal cases."""

from __future__ import annotations

import pytest

from harness.loadstats import IntervalRecorder, latency_summary, percentile
from harness.profile import Stage
from harness.record import Clock
from harness.traffic import rate_at, stage_at, stage_starts, total_duration_s

STAGES = [
    Stage.model_validate({"name": "warm", "kind": "hold", "duration": "60s", "rate_rps": 2}),
    Stage.model_validate({"name": "ramp", "kind": "ramp", "duration": "100s", "from_rps": 0, "to_rps": 10}),
    Stage.model_validate({"name": "idle", "kind": "hold", "duration": "40s", "rate_rps": 0}),
]


@pytest.mark.parametrize(
    ("t", "rate"),
    [
        pytest.param(-1, 0.0, id="before-start"),
        pytest.param(0, 2.0, id="hold-start"),
        pytest.param(59.9, 2.0, id="hold-end"),
        pytest.param(60, 0.0, id="ramp-start"),
        pytest.param(110, 5.0, id="ramp-middle"),  # 2 stages in, 50 s into a 0->10 ramp over 100 s
        pytest.param(160, 0.0, id="idle-stage"),
        pytest.param(200, 0.0, id="after-end"),
    ],
)
def test_rate_at(t: float, rate: float) -> None:
    assert rate_at(STAGES, t) == pytest.approx(rate)


def test_stage_at_and_spans() -> None:
    assert total_duration_s(STAGES) == 200
    assert stage_at(STAGES, 75) == (1, 15)
    assert stage_at(STAGES, 200) is None
    assert stage_starts(STAGES, 1000.0) == [("warm", 1000.0, 1060.0), ("ramp", 1060.0, 1160.0),
                                            ("idle", 1160.0, 1200.0)]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        pytest.param([], 50, None, id="empty"),
        pytest.param([5.0], 99, 5.0, id="single"),
        pytest.param([1.0, 2.0, 3.0, 4.0], 50, 2.0, id="median-nearest-rank"),
        pytest.param([float(i) for i in range(1, 101)], 99, 99.0, id="p99-of-100"),
        pytest.param([float(i) for i in range(1, 101)], 100, 100.0, id="max"),
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_interval_recorder_converts_to_endpoint_time() -> None:
    clock = Clock(wall0_ts=1000.0, endpoint0_ts=5000.0, speed=30.0)
    rec = IntervalRecorder(clock, start_wall_ts=1000.0)
    for ms in (10.0, 20.0, 30.0):
        rec.record(ms)
    rec.record(5.0, error="ModelError")
    record = rec.flush(1000.5, offered_rps=10.0, users=3, stage="warm")
    assert record is not None
    # 0.5 s of wall time at speed 30 is 15 s of endpoint time; 4 requests in it
    assert (record.ts, record.interval_s, record.requests, record.failures) == (5000.0, 15.0, 4, 1)
    assert record.achieved_rps == pytest.approx(4 / 15)
    assert record.errors == {"ModelError": 1}
    assert record.latency_ms.max == 30.0
    nxt = rec.flush(1001.0, offered_rps=10.0, users=3, stage="warm")
    assert nxt is not None and nxt.ts == 5015.0 and nxt.requests == 0 and nxt.latency_ms.p50 is None
    assert rec.flush(1001.0, offered_rps=0, users=0, stage=None) is None


def test_latency_summary() -> None:
    s = latency_summary([float(i) for i in range(1, 101)])
    assert (s.p50, s.p90, s.p95, s.p99, s.max) == (50.0, 90.0, 95.0, 99.0, 100.0)
