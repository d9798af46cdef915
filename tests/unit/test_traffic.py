"""Traffic arithmetic and per-interval load statistics: pure functions, literal cases."""

from __future__ import annotations

import math
import random
import re
import statistics
from pathlib import Path

import pytest
import yaml

from harness.load.stats import IntervalRecorder, latency_summary, percentile
from harness.predict.simulate import Prediction, simulate
from harness.profile import Profile, Stage, load_profile
from harness.profile.ratefile import RateFileError, read_rate_csv
from harness.profile.traffic import (
    integral,
    next_poisson_arrival,
    peak_rate,
    poisson_arrivals,
    rate_at,
    stage_at,
    stage_starts,
    total_duration_s,
)
from harness.record import Clock

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


# --- every stage kind: rate_at, integral (exact, consistent with rate_at), peak_rate, Poisson arrivals ---

def _stage(**fields: object) -> Stage:
    return Stage.model_validate({"name": "s", **fields})


KINDS = {
    "hold": _stage(kind="hold", duration="60s", rate_rps=3),
    "ramp": _stage(kind="ramp", duration="100s", from_rps=2, to_rps=12),
    "step": _stage(kind="step", duration="120s", from_rps=5, to_rps=20, steps=4),  # 5, 10, 15, 20 for 30 s each
    "spike": _stage(kind="spike", duration="10m", base_rps=5, peak_rps=50, spike_at="2m", spike_duration="30s"),
    "sine": _stage(kind="sine", duration="2h", mean_rps=20, amplitude_rps=15, period="1h", phase="15m"),
    "replay": _stage(kind="replay", values=[60, 120, 0, 30], values_period="1m", scale=2),
}


@pytest.mark.parametrize(
    ("kind", "t", "rate"),
    [
        pytest.param("step", 0, 5.0, id="step-first"),
        pytest.param("step", 29.9, 5.0, id="step-first-end"),
        pytest.param("step", 30, 10.0, id="step-second"),
        pytest.param("step", 119, 20.0, id="step-last"),
        pytest.param("spike", 119, 5.0, id="spike-before"),
        pytest.param("spike", 120, 50.0, id="spike-start"),
        pytest.param("spike", 149.9, 50.0, id="spike-end"),
        pytest.param("spike", 150, 5.0, id="spike-after"),
        pytest.param("sine", 0, 35.0, id="sine-crest-at-phase-quarter"),
        pytest.param("sine", 900, 20.0, id="sine-mean"),
        pytest.param("sine", 1800, 5.0, id="sine-trough"),
        pytest.param("replay", 0, 2.0, id="replay-60-per-min-x2"),
        pytest.param("replay", 90, 4.0, id="replay-120-per-min-x2"),
        pytest.param("replay", 150, 0.0, id="replay-zero"),
        pytest.param("replay", 239, 1.0, id="replay-last"),
        pytest.param("replay", 240, 0.0, id="replay-after"),
    ],
)
def test_rate_at_every_kind(kind: str, t: float, rate: float) -> None:
    assert rate_at([KINDS[kind]], t) == pytest.approx(rate, abs=1e-9)


def _numeric(stages: list[Stage], t0: float, t1: float, n: int = 20000) -> float:
    h = (t1 - t0) / n
    return sum(rate_at(stages, t0 + (i + 0.5) * h) for i in range(n)) * h


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_integral_matches_rate_at(kind: str) -> None:
    stages = [STAGES[0], KINDS[kind], STAGES[2]]  # a hold before and an idle after: boundaries inside
    total = total_duration_s(stages)
    for t0, t1 in ((0, total), (30, total - 10), (61.3, 60 + KINDS[kind].duration_s / 3), (-5, total + 5)):
        assert integral(stages, t0, t1) == pytest.approx(_numeric(stages, t0, t1), rel=1e-3, abs=1e-3)
    # additive: split anywhere
    mid = 60 + KINDS[kind].duration_s * 0.37
    assert integral(stages, 0, mid) + integral(stages, mid, total) == pytest.approx(integral(stages, 0, total))


@pytest.mark.parametrize(
    ("kind", "requests"),
    [
        pytest.param("hold", 180.0, id="hold"),
        pytest.param("ramp", 700.0, id="ramp"),
        pytest.param("step", 30 * (5 + 10 + 15 + 20), id="step"),
        pytest.param("spike", 5 * 600 + 45 * 30, id="spike"),
        pytest.param("sine", 20 * 7200, id="sine-whole-periods"),
        pytest.param("replay", 2 * (60 + 120 + 0 + 30), id="replay"),
    ],
)
def test_integral_of_whole_stage(kind: str, requests: float) -> None:
    s = KINDS[kind]
    assert integral([s], 0, s.duration_s) == pytest.approx(requests)


def test_integral_keeps_the_simulators_hold_and_ramp_arithmetic() -> None:
    """The simulator's former _Rate.integral, bit for bit."""
    def old(a: float, b: float) -> float:
        total = 0.0
        for (_n, start, end), s in zip(stage_starts(STAGES, 0.0), STAGES, strict=True):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                if s.kind == "hold":
                    total += float(s.rate_rps or 0.0) * (hi - lo)
                else:
                    r0, r1 = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
                    total += (r0 + (r1 - r0) / s.duration_s * ((lo + hi) / 2 - start)) * (hi - lo)
        return total

    for a in range(0, 200, 7):
        for width in (0.5, 1, 10, 60, 1000):
            assert integral(STAGES, a, a + width) == old(a, a + width)


def test_integral_literal_across_hold_and_ramp() -> None:
    assert integral(STAGES, 50, 160) == pytest.approx(520.0)
    # the simulator's cursor: starting at stage 1 (which begins at 60 s) changes nothing
    assert integral(STAGES, 75, 190, first=1, first_start=60.0) == integral(STAGES, 75, 190)
    assert integral(STAGES, 200, 300) == 0.0 and integral(STAGES, 10, 10) == 0.0


def test_peak_rate() -> None:
    assert peak_rate(STAGES) == 10.0
    assert [peak_rate([KINDS[k]]) for k in ("hold", "ramp", "step", "spike", "sine", "replay")] == \
        [3.0, 12.0, 20.0, 50.0, 35.0, 4.0]
    # a sine stage that ends before its crest peaks at its end
    early = _stage(kind="sine", duration="10m", mean_rps=10, amplitude_rps=10, period="1h")
    assert peak_rate([early]) == pytest.approx(10 + 10 * math.sin(2 * math.pi / 6))
    # a replay cut short peaks within its own duration
    assert peak_rate([_stage(kind="replay", values=[60, 600], duration="1m")]) == 1.0
    assert peak_rate([]) == 0.0


def test_poisson_arrivals_follow_the_rate_and_repeat_with_a_seed() -> None:
    stages = [KINDS["spike"], KINDS["sine"]]
    a = poisson_arrivals(stages, 0, total_duration_s(stages), seed=7)
    assert a == poisson_arrivals(stages, 0, total_duration_s(stages), seed=7)
    assert a != poisson_arrivals(stages, 0, total_duration_s(stages), seed=8)
    assert a == sorted(a) and 0 <= a[0] and a[-1] < total_duration_s(stages)
    expected = integral(stages, 0, total_duration_s(stages))
    assert abs(len(a) - expected) < 4 * math.sqrt(expected)
    in_spike = sum(120 <= t < 150 for t in a)  # 50 rps for 30 s
    assert abs(in_spike - 1500) < 4 * math.sqrt(1500)
    gaps = [b - x for x, b in zip(a, a[1:], strict=False) if 0 <= x and b < 120]  # 5 rps: mean gap 0.2 s
    assert statistics.mean(gaps) == pytest.approx(0.2, rel=0.1)
    assert statistics.stdev(gaps) == pytest.approx(0.2, rel=0.15)  # exponential: stdev = mean
    assert poisson_arrivals([STAGES[2]], 0, 40, seed=1) == []  # a zero-rate stage has none
    assert next_poisson_arrival(STAGES, 500, random.Random(1)) is None


# --- replay CSV files -------------------------------------------------------------------------------------

CLOUDWATCH_EXPORT = """\
"Label","Invocations"
"Timestamp (UTC)","AWS/SageMaker Invocations EndpointName=prod VariantName=AllTraffic Sum"
2024-05-01 10:04:00,240
2024-05-01 10:03:00,180
2024-05-01 10:01:00,60
2024-05-01 10:00:00,120
"""


@pytest.mark.parametrize(
    ("text", "counts", "period"),
    [
        pytest.param(CLOUDWATCH_EXPORT, [120, 60, 0, 180, 240], 60, id="cloudwatch-export-newest-first-with-gap"),
        pytest.param("timestamp,value\n2024-05-01T10:00:00Z,10\n2024-05-01T10:01:00Z,20\n", [10, 20], 60,
                     id="two-columns-iso"),
        pytest.param("1714557600,5\n1714557900,7\n", [5, 7], 300, id="epoch-seconds-5-minute-period"),
        pytest.param("1714557600000,5\n1714557660000,7\n", [5, 7], 60, id="epoch-milliseconds"),
        pytest.param("value\n1\n2\n\n3\n", [1, 2, 3], 60, id="one-column"),
        pytest.param("# exported by hand\n2024/05/01 10:00,1.5\n", [1.5], 60, id="comment-slash-date-one-row"),
    ],
)
def test_read_rate_csv(tmp_path: Path, text: str, counts: list[float], period: float) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    assert read_rate_csv(path) == (counts, period)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "has no data rows", id="empty"),
        pytest.param("timestamp,value\n", "has no data rows", id="header-only"),
        pytest.param("timestamp,value\n2024-05-01T10:00:00Z,10\n2024-05-01T10:01:00Z,lots\n",
                     "row 3: value 'lots' is not a non-negative number", id="non-numeric-row"),
        pytest.param("2024-05-01T10:00:00Z,10\n2024-05-01T10:01:00Z,-1\n", "row 2: value '-1'", id="negative"),
        pytest.param("2024-05-01T10:00:00Z,10\nyesterday,3\n", "row 2: timestamp 'yesterday' is not a date",
                     id="bad-timestamp"),
        pytest.param("2024-05-01T10:00:00Z,1\n2024-05-01T10:00:00Z,2\n", "rows 1 and 2: the same timestamp twice",
                     id="duplicate"),
        pytest.param("0,1\n60,1\n120,1\n150,1\n", "row 4: timestamp 150 s after the first row is not on the 60 s",
                     id="off-grid"),
        pytest.param("1\n2\nx\n", "row 3: value 'x'", id="one-column-non-numeric"),
    ],
)
def test_read_rate_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    with pytest.raises(RateFileError, match=re.escape(message)):
        read_rate_csv(path)


def test_read_rate_csv_missing_or_unreadable(tmp_path: Path) -> None:
    with pytest.raises(RateFileError, match="does not exist"):
        read_rate_csv(tmp_path / "nope.csv")
    with pytest.raises(RateFileError, match="is a directory"):
        read_rate_csv(tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(RateFileError, match="cannot be read"):
        read_rate_csv(tmp_path / "bin.csv")


# --- the simulator on sine and replay traffic ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def _profile_with(tmp_path: Path, stages: list[dict]) -> Profile:
    data = yaml.safe_load((ROOT / "profiles" / "realtime-target-tracking.yaml").read_text())
    data["traffic"]["stages"] = stages
    data["expectations"] = []
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_profile(path)


def _offered(pred: Prediction) -> float:
    return sum(r["offered_rps"] * r["interval_s"] for r in pred.streams["load"])


def test_simulator_follows_a_sine_load(tmp_path: Path) -> None:
    # 3..57 requests per minute against a target of 10 per instance: out at the crest, back in at the trough
    profile = _profile_with(tmp_path, [{"name": "day", "kind": "sine", "duration": "2h", "mean_rps": 0.5,
                                        "amplitude_rps": 0.45, "period": "1h"}])
    pred = simulate(profile, load_start_ts=T0)
    assert _offered(pred) == pytest.approx(integral(profile.traffic.stages, 0, 7200))
    assert pred.changes and pred.changes[0].to_count > pred.changes[0].from_count
    assert any(c.to_count < c.from_count for c in pred.changes)
    assert max(c.to_count for c in pred.changes) <= 4


def test_simulator_replays_a_rate_file(tmp_path: Path) -> None:
    # 30 minutes of production traffic: 5 quiet minutes, 15 busy (300 per minute), 10 quiet
    minutes = [20] * 5 + [300] * 15 + [20] * 10
    (tmp_path / "prod.csv").write_text("timestamp,value\n" + "".join(
        f"2024-05-01T10:{m:02d}:00Z,{v}\n" for m, v in enumerate(minutes)))
    profile = _profile_with(tmp_path, [{"name": "prod", "kind": "replay", "file": "prod.csv", "scale": 0.5}])
    assert profile.traffic.duration_s == 1800
    pred = simulate(profile, load_start_ts=T0)
    assert _offered(pred) == pytest.approx(sum(minutes) * 0.5)
    busy = [r["offered_rps"] for r in pred.streams["load"] if 300 <= r["ts"] - T0 < 1200]
    assert busy and all(x == pytest.approx(2.5) for x in busy)  # 150 per minute
    assert pred.changes and pred.changes[0].to_count > pred.changes[0].from_count
    assert T0 + 300 <= pred.changes[0].start_ts


def test_schedule_answers_like_rate_at_and_stage_at() -> None:
    """The load generator's bisected lookup gives the same stage and rate as the linear functions, at the
    boundaries too."""
    from harness.profile.traffic import Schedule

    stages = [Stage.model_validate(d) for d in (
        {"name": "a", "kind": "hold", "duration": "60s", "rate_rps": 2},
        {"name": "b", "kind": "ramp", "duration": "100s", "from_rps": 0, "to_rps": 10},
        {"name": "c", "kind": "hold", "duration": "30s", "rate_rps": 0},
        {"name": "d", "kind": "sine", "duration": "2h", "mean_rps": 5, "amplitude_rps": 3, "period": "1h"})]
    sched = Schedule(stages)
    for t in (-1.0, 0.0, 30.0, 59.999, 60.0, 110.0, 160.0, 175.0, 190.0, 2000.0, 7390.0, 7390.1, 9999.0):
        assert sched.stage_at(t) == stage_at(stages, t), t
        assert sched.rate_at(t) == rate_at(stages, t), t
