"""`scalecheck run` on a profile with scenarios, end to end on the emulator: one run folder per scenario
under one parent, scenarios.json, comparison.html, the worst exit code; `check`/`report` on the parent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.profile.aws_requests import at_expression
from harness.record import RunFolder
from tests.conftest import ROOT, scalecheck, write_profile

pytestmark = pytest.mark.integration

# 0.5 requests/s on one instance is 30 invocations per instance per minute, 3x the target of 10:
# target tracking adds an instance after 3 one-minute datapoints + publication lag + provisioning.
WINDOW_S = 4 * 60 + 30 + 60 + 60 + 60


def scenarios_profile(speed: float = 100) -> dict[str, Any]:
    return {
        "name": "tiny-scenarios",
        "endpoint": {"name": "tiny", "variant": "AllTraffic"},
        "scaling": {
            "min_capacity": 1, "max_capacity": 2,
            "policies": [
                {"type": "target_tracking", "name": "ipi-10", "target_value": 10, "scale_out_cooldown": "60s"},
                # never fires: the threshold is far above the load
                {"type": "step", "name": "never", "steps": [{"lower": 0, "adjustment": 1}],
                 "alarm": {"name": "InvocationsPerInstance", "statistic": "Sum", "threshold": 100000,
                           "comparison": "GreaterThanOrEqualToThreshold"}},
            ],
            # put by the run once the load has started; MinCapacity 1 changes nothing
            "scheduled_actions": [{"name": "floor", "at": "load_start+2m", "min_capacity": 1}],
        },
        "traffic": {"user_rps": 10, "stages": [{"name": "load", "duration": "240s", "rate_rps": 0.5}]},
        "expectations": [{"type": "scale_out", "to": 2, "within": f"{WINDOW_S}s"},
                         {"type": "error_rate", "max": 0.5}],
        "scenarios": [
            {"name": "tracking", "description": "both policies"},
            {"name": "step-only", "description": "without target tracking: no scale-out",
             "without_policies": ["ipi-10"]},
        ],
        "local": {"speed": speed, "params": {"endpoint_create_delay_s": 30, "provisioning_delay_s": 60,
                                             "deprovision_delay_s": 30, "metric_publish_lag_s": 30}},
    }


def only_parent(reports: Path) -> Path:
    parents = [p for p in reports.iterdir() if p.is_dir()]
    assert len(parents) == 1, parents
    return parents[0]


def test_each_scenario_gets_a_run_folder_and_the_worst_exit_code(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, scenarios_profile())
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 99, out  # step-only cannot scale out: the worst of PASS and FAIL

    parent = only_parent(reports)
    assert parent.name.endswith("-tiny-scenarios")
    index = json.loads((parent / "scenarios.json").read_text())
    assert index == {"profile": "tiny-scenarios", "scenarios": [{"name": "tracking", "folder": "tracking"},
                                                                {"name": "step-only", "folder": "step-only"}]}
    assert (parent / "comparison.html").is_file()
    assert {p.name for p in parent.iterdir() if p.is_dir()} == {"tracking", "step-only"}

    statuses = {}
    for name in ("tracking", "step-only"):
        folder = RunFolder(parent / name)
        run = folder.read_run()
        assert (run.scenario, run.status, run.profile_name) == (name, "complete", f"tiny-scenarios-{name}")
        assert run.first_request_ts is not None and run.load_start_ts is not None
        assert (folder.path / "report.html").is_file() and (folder.path / "junit.xml").is_file()
        puts = [e.detail for e in folder.load().events if e.kind == "scheduled_action_put"]
        assert puts == [f"floor {at_expression(run.load_start_ts + 120)} min 1"]
        statuses[name] = [v.status for v in folder.read_verdicts()]
    assert statuses == {"tracking": ["PASS", "PASS"], "step-only": ["FAIL", "PASS"]}
    # the load generator ran the scenario's own profile, written into its folder
    step_only = (parent / "step-only" / "profile.yaml").read_text()
    assert "ipi-10" not in step_only and "never" in step_only
    policies = [p["name"] for p in RunFolder(parent / "step-only").read_run().profile["scaling"]["policies"]]
    assert policies == ["never"]

    lines = result.stdout.splitlines()
    assert any(line.startswith("scenario tracking") and "exit 0" in line and "PASS PASS" in line for line in lines)
    assert any(line.startswith("scenario step-only") and "exit 99" in line and "FAIL PASS" in line
               for line in lines), result.stdout
    assert f"comparison: {parent / 'comparison.html'}" in result.stdout

    # offline, on the parent folder: every scenario rechecked, the comparison rewritten, the worst exit
    (parent / "comparison.html").unlink()
    check = scalecheck("check", str(parent), timeout=60)
    assert check.returncode == 99, check.stdout + check.stderr
    assert "scenario tracking (exit 0)" in check.stdout and "scenario step-only (exit 99)" in check.stdout
    assert (parent / "comparison.html").is_file()
    report = scalecheck("report", str(parent), timeout=60)
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.count("report (") == 2 and "comparison:" in report.stdout


def test_ctrl_c_finalises_the_running_scenario_and_skips_the_rest(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, scenarios_profile(speed=20))
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(profile), "--local",
                             "--reports", str(reports)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        load = None
        while time.monotonic() < deadline:  # wait until the first scenario records load
            load = next(reports.glob("*/tracking/load.jsonl"), None)
            if load is not None and load.stat().st_size > 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the first scenario never started recording load")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err  # interrupted by SIGINT (the verdicts still say what was decided)
    parent = only_parent(reports)
    index = json.loads((parent / "scenarios.json").read_text())
    assert [s["name"] for s in index["scenarios"]] == ["tracking"]
    assert not (parent / "step-only").exists()
    run = RunFolder(parent / "tracking").read_run()
    assert run.status == "aborted" and "interrupted" in (run.status_reason or "")
    assert (parent / "comparison.html").is_file()
    assert "scenario step-only" in out and "skipped" in out
