"""Open-loop load end to end: `scalecheck run --local` with real Locust against the emulator.

A rate the emulator serves is offered and achieved (nothing dropped); a pool capped below what a slow
model needs drops arrivals, and the run is invalid (exit 101) naming the shortfall and the stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import exitcodes
from harness.record import RunFolder
from tests.conftest import scalecheck, write_profile

pytestmark = pytest.mark.integration


def _profile(name: str, stage: dict, *, params: dict, speed: float, **traffic: object) -> dict:
    return {
        "name": name, "endpoint": {"name": f"{name}-ep"},
        "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 1000}]},
        "traffic": {"stages": [stage], "mode": "open", **traffic},
        "local": {"speed": speed, "params": {"endpoint_create_delay_s": 30, **params}},
    }


def _only_run(reports: Path) -> RunFolder:
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return RunFolder(runs[0])


def test_open_loop_achieves_the_offered_rate(tmp_path: Path, reports: Path) -> None:
    # 10 rps of endpoint time for 300 s at speed 30: 300 wall requests/s for 10 s, 3000 arrivals
    profile = write_profile(tmp_path, _profile("openloop-ok", {"name": "steady", "duration": "300s", "rate_rps": 10},
                                               params={}, speed=30, arrivals="poisson", seed=7))
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), timeout=60)
    assert result.returncode == exitcodes.OK, result.stdout + result.stderr
    recorded = _only_run(reports).load()
    assert recorded.run.status == "complete"
    load = [r for r in recorded.load if r.stage == "steady"]
    offered = sum(r.offered_rps * r.interval_s for r in load)
    achieved = sum(r.requests for r in load)
    assert sum(r.dropped for r in recorded.load) == 0
    assert 2700 <= offered <= 3300  # Poisson around 3000
    assert abs(achieved - offered) <= 0.05 * offered, (achieved, offered)


def test_overloaded_pool_drops_arrivals_and_the_run_is_invalid(tmp_path: Path, reports: Path) -> None:
    # 2 s of model time per request at speed 20 is 0.1 s of wall time: 2 users (traffic.max_users) send at
    # most ~20 wall requests/s = 1 rps of endpoint time, against 10 offered
    profile = write_profile(tmp_path, _profile(
        "openloop-overload", {"name": "overload", "duration": "200s", "rate_rps": 10},
        params={"model_latency_ms": 2000, "latency_jitter": 0.0}, speed=20, max_users=2))
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), timeout=60)
    assert result.returncode == exitcodes.INVALID_RUN, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "run invalid: invalid load" in out and "max_shortfall 0.1" in out and "stage 'overload'" in out, out
    folder = _only_run(reports)
    recorded = folder.load()
    assert recorded.run.status == "invalid"
    assert "max_shortfall" in (recorded.run.status_reason or "")
    assert sum(r.dropped for r in recorded.load) > 0
    assert all(r.users <= 2 for r in recorded.load)
    assert json.loads((folder.path / "verdicts.json").read_text()) == []  # verdicts still written
