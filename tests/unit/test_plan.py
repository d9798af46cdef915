"""harness/predict/plan.py: analytic alarm and capacity windows from named delays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.autoscaling.params import ModelParams
from harness.cli import main
from harness.predict.plan import alarm_delays, load_params, plan, render, window_status
from harness.profile import load_profile

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def _rows(name: str) -> dict[str, tuple[float | None, float | None, str | None]]:
    result = plan(load_profile(PROFILES / name))
    return {r.what: (r.at_lo_s, r.at_hi_s, r.status) for r in result.expectations}


@pytest.mark.parametrize("datapoints, period, lag, lo, hi", [
    pytest.param(3, 60, 60, 180, 360, id="alarm-high-3x60-lag60"),  # 2x60+60 .. 3x60+60+60+60
    pytest.param(15, 60, 60, 900, 1080, id="alarm-low-15x60"),
    pytest.param(2, 120, 0, 120, 420, id="step-2x120-no-lag"),  # 1x120 .. 2x120+120+0+60
])
def test_alarm_delays(datapoints: int, period: float, lag: float, lo: float, hi: float) -> None:
    delays = alarm_delays(datapoints, period, ModelParams(metric_publish_lag_s=lag))
    assert (sum(d.lo_s for d in delays), sum(d.hi_s for d in delays)) == (lo, hi)
    assert delays[0].text == f"{datapoints}×{period:g}s datapoints"


@pytest.mark.parametrize("within, status", [
    pytest.param(700, "ok", id="covers-upper"), pytest.param(660, "ok", id="equals-upper"),
    pytest.param(600, "tight: < upper bound", id="between"), pytest.param(400, "too short", id="below-lower"),
])
def test_window_status(within: float, status: str) -> None:
    assert window_status(within, 480, 660) == status


def test_realtime_target_tracking_windows() -> None:
    rows = _rows("realtime-target-tracking.yaml")
    assert rows["scale_out to 4"] == (480, 660, "ok")  # AlarmHigh 180..360 + 300 s provisioning
    assert rows["scale_in to 1"] == (960, 1140, "ok")  # AlarmLow 900..1080 + 60 s deprovisioning
    assert rows["error_rate <= 0.01"][2] == "not planned"


def test_realtime_rows_name_their_delays() -> None:
    result = plan(load_profile(PROFILES / "realtime-target-tracking.yaml"))
    capacity = [r for r in result.rows if r.kind == "capacity"]
    assert [r.capacity for r in capacity] == [4, 1]
    assert "3×60s datapoints + ≤60s partial first period + 60s lag + ≤60s evaluation + 300s provisioning" \
        in capacity[0].why
    assert "15×60s datapoints" in capacity[1].why and "60s deprovisioning" in capacity[1].why


def test_params_change_windows() -> None:
    profile = load_profile(PROFILES / "realtime-target-tracking.yaml")
    result = plan(profile, ModelParams(provisioning_delay_s=600))
    exp = result.expectations[0]
    assert (exp.at_lo_s, exp.at_hi_s, exp.status) == (780, 960, "too short")


def test_step_scaling_plan() -> None:
    rows = _rows("step-scaling.yaml")
    assert rows["one step for a small breach"] == (120, 300, "ok")
    assert rows["four at once for a big breach"] == (120, 300, "ok")
    assert rows["max_instances <= 6: planned peak 6"][2] == "ok"
    lo, hi, status = rows["scale_in to 1"]
    assert (lo, status) == (960, "ok") and hi is not None and hi <= 1800  # three -50 % steps, 5 min cooldowns


def test_scheduled_plan() -> None:
    result = plan(load_profile(PROFILES / "scheduled-scaling.yaml"))
    scheduled = [r for r in result.rows if r.kind == "scheduled"]
    assert [(r.at_lo_s, r.policy) for r in scheduled] == [(180, "prewarm-for-peak"), (900, "release-after-peak")]
    prewarm = next(r for r in result.rows if r.kind == "capacity" and r.policy == "prewarm-for-peak")
    assert (prewarm.at_lo_s, prewarm.capacity) == (480, 4)
    assert result.expectations[0].status == "ok"  # 4 InService at stage:peak (540 s)


def test_async_scale_from_zero_both_ways() -> None:
    profile = load_profile(PROFILES / "async-scale-from-zero.yaml")
    with_policy = plan(profile.for_scenario("with-backlog-policy")).expectations[0]
    assert (with_policy.at_lo_s, with_policy.at_hi_s, with_policy.status) == (420, 600, "ok")
    without = plan(profile.for_scenario("without-backlog-policy")).expectations[0]
    assert without.at_lo_s is not None and without.at_lo_s > with_policy.at_lo_s  # waits for backlog > 5
    assert without.status == "ok"


def test_cli_plan_text_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(PROFILES / "realtime-target-tracking.yaml")
    assert main(["plan", path]) == 0
    out = capsys.readouterr().out
    assert "WHEN (earliest..latest)" in out and "+8m00s..11m00s" in out
    params = tmp_path / "p.yaml"
    params.write_text("provisioning_delay_s: 600\n")
    assert main(["plan", path, "--json", "--params", str(params)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["expectations"][0]["status"] == "too short"
    assert "600s provisioning" in data["expectations"][0]["why"]


def test_load_params_merges_over_profile(tmp_path: Path) -> None:
    profile = load_profile(PROFILES / "realtime-target-tracking.yaml")
    params = tmp_path / "p.yaml"
    params.write_text("metric_publish_lag_s: 120\n")
    merged = load_params(profile, str(params))
    assert merged.metric_publish_lag_s == 120
    assert merged.provisioning_delay_s == profile.local.params.provisioning_delay_s
    assert render(plan(profile, merged)).count("120s lag") >= 1


def test_auto_windows_are_not_rated_as_zero() -> None:
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "realtime-target-tracking.yaml")
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["expectations"][0]["within"] = "auto"
    result = plan(type(profile).model_validate(data), ModelParams())
    row = next(r for r in result.expectations if r.what.startswith("scale_out"))
    assert row.within_s is None and row.status.startswith("auto"), row
    assert any(line.startswith("scale_out to 4") and " auto " in line for line in render(result).splitlines())
