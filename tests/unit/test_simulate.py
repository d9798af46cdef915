"""The simulator: shipped profiles predicted in virtual time through the emulator's handlers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.autoscaling.metrics import MetricKey, MetricStore
from harness.cli import main
from harness.predict.simulate import simulate, simulate_profile
from harness.profile import load_profile
from harness.record import RunFolder

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


@pytest.mark.parametrize("name", sorted(p.name for p in PROFILES.glob("*.yaml")))
def test_shipped_profiles_simulate_into_prediction_folders(name: str, tmp_path: Path) -> None:
    profile = load_profile(PROFILES / name)
    _parent, runs = simulate_profile(profile, tmp_path, load_start_ts=T0)
    assert runs
    for r in runs:
        recorded = RunFolder(r.folder).load()
        assert recorded.run.kind == "prediction"
        assert recorded.run.load_start_ts == T0
        assert recorded.endpoint and recorded.load and recorded.metrics
        assert (r.folder / "report.html").exists() and (r.folder / "verdicts.json").exists()
        assert all(v.status == "PASS" for v in r.verdicts), [v.summary for v in r.verdicts]


def test_realtime_target_tracking_scales_1_4_1_at_model_times() -> None:
    pred = simulate(load_profile(PROFILES / "realtime-target-tracking.yaml"), load_start_ts=T0)
    changes = [(c.from_count, c.to_count) for c in pred.changes]
    assert changes == [(1, 4), (4, 1)]
    out = pred.changes[0]
    # test_autoscaling_world: AlarmHigh at 240 s, 4 InService at 540 s (one metric period of tolerance)
    assert abs(out.start_ts - T0 - 240) <= 60
    assert abs(out.end_ts - T0 - 540) <= 60
    assert any(a["state"] == "ALARM" and "AlarmHigh" in a["alarm_name"] for a in pred.streams["alarms"])


def test_step_scaling_sets_2_then_6() -> None:
    pred = simulate(load_profile(PROFILES / "step-scaling.yaml"), load_start_ts=T0)
    ups = [c.to_count for c in pred.changes if c.to_count > c.from_count]
    assert ups[:2] == [2, 6]


def test_async_backlog_policy_gets_the_first_instance_earlier() -> None:
    profile = load_profile(PROFILES / "async-scale-from-zero.yaml")
    first = {}
    for sc in ("with-backlog-policy", "without-backlog-policy"):
        pred = simulate(profile.for_scenario(sc), load_start_ts=T0)
        first[sc] = next(c.end_ts for c in pred.changes if c.from_count == 0)
    assert first["with-backlog-policy"] < first["without-backlog-policy"]


def test_scheduled_relative_actions_are_put_at_load_start() -> None:
    pred = simulate(load_profile(PROFILES / "scheduled-scaling.yaml"), load_start_ts=T0)
    puts = [e for e in pred.streams["events"] if e["kind"] == "scheduled_action_put"]
    assert [e["detail"].split()[0] for e in puts] == ["prewarm-for-peak", "release-after-peak"]
    assert pred.changes[0].to_count == 4 and pred.changes[0].start_ts == T0 + 180


def test_add_aggregate_equals_repeated_adds() -> None:
    one, many = MetricStore(), MetricStore()
    key = MetricKey.of("AWS/SageMaker", "Invocations", EndpointName="e")
    for _ in range(5):
        one.add(key, 30.0, 0.25)
    many.add_aggregate(key, 30.0, 1.25, 5, 0.25, 0.25)
    for stat in ("Sum", "Average", "Minimum", "Maximum", "SampleCount"):
        assert one.datapoints(key, stat, 60, 0, 60, 1000) == many.datapoints(key, stat, 60, 0, 60, 1000)


def test_bulk_path_keeps_the_scaling(tmp_path: Path) -> None:
    """30 rps for 20 minutes goes through World.invoke_bulk and still scales out."""
    import yaml

    data = yaml.safe_load((PROFILES / "realtime-target-tracking.yaml").read_text())
    data["traffic"]["stages"] = [{"name": "stress", "kind": "hold", "duration": "20m", "rate_rps": 30}]
    data["scaling"]["max_capacity"] = 10
    data["expectations"] = [{"type": "max_instances", "max": 10}]
    path = tmp_path / "bulk.yaml"
    path.write_text(yaml.safe_dump(data))
    pred = simulate(load_profile(path), load_start_ts=T0)
    assert sum(x["requests"] for x in pred.streams["load"]) == 30 * 1200
    assert max(c.to_count for c in pred.changes) == 10


def test_cli_simulate_prints_changes_and_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(PROFILES / "realtime-target-tracking.yaml"), "--reports", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "scale-out 1 → 4" in out and "scale-in  4 → 1" in out and "PASS" in out
    (folder,) = tmp_path.iterdir()
    assert folder.name.endswith("-realtime-target-tracking-prediction")
    assert main(["report", str(folder)]) == 0


def test_a_load_longer_than_a_day_plays_in_one_minute_ticks_and_keeps_the_scaling(tmp_path: Path) -> None:
    """A 25-hour load uses the long tick (one metric period): minute-aligned one-minute load intervals, every
    request counted, and the same capacity steps the 10-second ticks give over the same first hour."""
    import yaml

    from harness.predict.simulate.engine import LONG_TICK_S

    data = yaml.safe_load((PROFILES / "realtime-target-tracking.yaml").read_text())
    data["scaling"]["max_capacity"] = 10
    data["expectations"] = [{"type": "max_instances", "max": 10}]
    long_data = {**data, "traffic": {**data["traffic"], "stages": [
        {"name": "busy", "kind": "hold", "duration": "1h", "rate_rps": 30},
        {"name": "quiet", "kind": "hold", "duration": "24h", "rate_rps": 0}]}}
    short_data = {**data, "traffic": {**data["traffic"], "stages": [long_data["traffic"]["stages"][0]]}}
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(long_data))
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(short_data))
    long_pred = simulate(load_profile(tmp_path / "long.yaml"), load_start_ts=T0)
    short_pred = simulate(load_profile(tmp_path / "short.yaml"), load_start_ts=T0)
    in_load = [x for x in long_pred.streams["load"] if x["stage"] == "busy"]
    assert {x["interval_s"] for x in in_load} == {LONG_TICK_S}
    assert all(x["ts"] % 60 == 0 for x in in_load)
    assert sum(x["requests"] for x in long_pred.streams["load"]) == 30 * 3600
    first_hour = T0 + 3600
    steps = [(c.from_count, c.to_count) for c in long_pred.changes if c.start_ts < first_hour]
    assert steps == [(c.from_count, c.to_count) for c in short_pred.changes if c.start_ts < first_hour]
