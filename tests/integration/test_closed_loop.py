"""Closed-loop load end to end: `scalecheck run --local` with real Locust, across a tenfold rate step.

Before a step-up the shape already spawns the next stage's users while the rate is still low, so each user's
pacing (users / rate) is briefly ten times longer than it will be; users that slept that long pacing through
the step sent too little for seconds. The users reread the rate while they wait, so the achieved count of
every stage follows the offered one, and they spread over the new interval instead of sending in lockstep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import exitcodes
from harness.record import RunFolder
from tests.conftest import scalecheck, write_profile

pytestmark = pytest.mark.integration


def test_closed_loop_follows_a_tenfold_step_up_and_back(tmp_path: Path, reports: Path) -> None:
    # speed 40: 0.2 rps of endpoint time is 8 wall requests/s (2 users at 5 rps), 2 rps is 80 (16 users)
    profile = write_profile(tmp_path, {
        "name": "closed-step", "endpoint": {"name": "closed-step-ep"},
        "scaling": {"min_capacity": 1, "max_capacity": 1, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 1000}]},
        "traffic": {"mode": "closed", "stages": [
            {"name": "low", "duration": "3m", "rate_rps": 0.2},
            {"name": "high", "duration": "4m", "rate_rps": 2},
            {"name": "low-again", "duration": "2m", "rate_rps": 0.2}]},
        "expectations": [{"type": "error_rate", "max": 0.01}],
        "local": {"speed": 40, "params": {"endpoint_create_delay_s": 30}},
    })
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), timeout=120)
    assert result.returncode == exitcodes.OK, result.stdout + result.stderr
    runs = [p for p in reports.iterdir() if p.is_dir()]
    recorded = RunFolder(runs[0]).load()
    by_stage: dict[str, list[float]] = {}
    for r in recorded.load:
        if r.stage is not None:
            sums = by_stage.setdefault(r.stage, [0.0, 0.0])
            sums[0] += r.requests
            sums[1] += (r.offered_rps or 0.0) * r.interval_s
    figures = {name: (int(a), round(o, 1)) for name, (a, o) in by_stage.items()}
    print(json.dumps(figures))
    assert set(by_stage) == {"low", "high", "low-again"}, figures
    achieved_high, offered_high = by_stage["high"]
    assert abs(achieved_high - offered_high) <= 0.05 * offered_high, figures  # 480 offered
    # Users do not send in lockstep: a step-up re-phases each user within the new pacing interval instead of
    # letting all of them, overdue together, send at once and keep that cadence (which gave intervals of 29
    # and 16 requests alternating around the 20 offered).
    high = [r.requests for r in recorded.load if r.stage == "high"][1:-1]  # whole intervals inside the stage
    assert max(high) <= 1.4 * 20, high
    achieved = sum(a for a, _ in by_stage.values())
    offered = sum(o for _, o in by_stage.values())
    assert abs(achieved - offered) <= 0.05 * offered, figures

    # stage_start events are at the stages' scheduled starts (3m and 7m after load_start), not a shape tick later
    load_start = next(e.ts for e in recorded.events if e.kind == "load_start")
    starts = {e.detail: e.ts - load_start for e in recorded.events if e.kind == "stage_start"}
    assert starts == pytest.approx({"low": 0.0, "high": 180.0, "low-again": 420.0}, abs=0.5), starts
