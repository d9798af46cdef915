"""End to end as a user runs it: `scalecheck run PROFILE --local` → Locust + emulator + collector +
checks + report, asserting on the verdicts, the exit code and the run folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.record import RunFolder
from tests.conftest import ROOT, scalecheck, shortened_profile, write_profile

pytestmark = pytest.mark.integration


def only_run(reports: Path) -> Path:
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_shortened_walkthrough_passes_and_leaves_a_complete_run_folder(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, shortened_profile())
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("PASS") and "scale_out to 4" in line for line in lines), result.stdout
    assert any(line.startswith("PASS") and "scale_in to 1" in line for line in lines), result.stdout
    assert any(line.startswith("PASS") and "error_rate" in line for line in lines), result.stdout

    folder = RunFolder(only_run(reports))
    recorded = folder.load()
    run = recorded.run
    assert run.status == "complete" and run.mode == "local" and run.speed == 60
    assert run.load_start_ts is not None and run.load_end_ts is not None
    assert 190 <= run.load_end_ts - run.load_start_ts <= 240  # 200 s of endpoint time, scaled
    # the collector saw the whole capacity story through DescribeEndpoint
    counts = [s.current_instances for s in recorded.endpoint]
    assert counts[0] == 1 and 4 in counts and counts[-1] == 1
    assert any(s.status == "Updating" and s.desired_instances == 4 and s.current_instances == 1
               for s in recorded.endpoint)
    # ... the activities with AWS's wording ...
    descriptions = {a.description for a in recorded.activities if a.status_code == "Successful"}
    assert {"Setting desired instance count to 4.", "Setting desired instance count to 1."} <= descriptions
    assert all("AlarmHigh" in a.cause or "AlarmLow" in a.cause for a in recorded.activities)
    # ... and InvocationsPerInstance above target during the load, zeros when idle
    ipi = [p.value for p in recorded.metric_series("InvocationsPerInstance", "Sum")]
    assert max(ipi) > 10 and 0.0 in ipi
    assert sum(i.requests for i in recorded.load) > 300  # 2 rps x 200 s, minus ramp-up
    verdicts = json.loads((folder.path / "verdicts.json").read_text())
    assert [v["status"] for v in verdicts] == ["PASS", "PASS", "PASS"]
    scale_out = verdicts[0]
    assert scale_out["trigger_ts"] == run.load_start_ts
    assert scale_out["window_start_ts"] <= scale_out["observed_ts"] <= scale_out["window_end_ts"]
    junit = ET.parse(folder.path / "junit.xml").getroot()
    assert junit.iter("testcase") and not list(junit.iter("failure"))
    html = (folder.path / "report.html").read_text()
    assert "scale_out to 4" in html and "<script src=" not in html
    # offline replays agree with the live verdicts
    check = scalecheck("check", str(folder.path))
    assert check.returncode == 0 and check.stdout.count("PASS") == 3


def test_wrong_expectations_fail_with_exit_99(tmp_path: Path, reports: Path) -> None:
    data = shortened_profile()
    data["traffic"]["stages"][0]["duration"] = "150s"
    data["expectations"] = [
        {"type": "scale_out", "name": "impossible", "to": 5, "within": "12m"},  # MaxCapacity is 4
        # 3 one-minute datapoints alone take 3 minutes, provisioning 2 more: 4 minutes cannot hold it
        {"type": "scale_out", "name": "too-short", "to": 4, "within": "4m"},
    ]
    result = scalecheck("run", str(write_profile(tmp_path, data)), "--local", "--reports", str(reports))
    assert result.returncode == 99, result.stdout + result.stderr
    assert "FAIL         impossible" in result.stdout and "MaxCapacity" in result.stdout
    assert "FAIL         too-short" in result.stdout
    junit = ET.parse(only_run(reports) / "junit.xml").getroot()
    assert len(list(junit.iter("failure"))) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"within": "12x"}, "expectations[0].within", id="bad-duration"),
        pytest.param({"to": 0}, "expectations[0].to", id="scale-out-to-zero"),
        pytest.param({"after": "stage:nope"}, "no stage named 'nope'", id="unknown-stage"),
    ],
)
def test_invalid_profile_exits_104_before_anything_runs(tmp_path: Path, reports: Path, change: dict,
                                                        field: str) -> None:
    data = shortened_profile()
    data["expectations"][0].update(change)
    result = scalecheck("run", str(write_profile(tmp_path, data)), "--local", "--reports", str(reports),
                        timeout=60)
    assert result.returncode == 104, result.stderr
    assert field in result.stderr
    assert list(reports.iterdir()) == []  # nothing started, nothing recorded


def test_unreachable_endpoint_url_exits_105(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, shortened_profile())
    result = scalecheck("run", str(profile), "--endpoint-url", "http://127.0.0.1:9", "--speed", "1",
                        "--reports", str(reports), timeout=120)
    assert result.returncode == 105, result.stderr
    assert "127.0.0.1:9" in result.stderr


def test_interrupted_run_leaves_a_readable_aborted_folder(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, shortened_profile())
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(profile), "--local",
                             "--reports", str(reports)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until load is being recorded
            runs = [p for p in reports.iterdir() if p.is_dir()]
            if runs and (runs[0] / "load.jsonl").exists() and (runs[0] / "load.jsonl").stat().st_size > 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run never started recording load")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err  # interrupted by SIGINT: never a pass, whatever was decided
    folder = RunFolder(only_run(reports))
    recorded = folder.load()
    assert recorded.run.status == "aborted" and "interrupted by SIGINT" in (recorded.run.status_reason or "")
    assert recorded.load and recorded.endpoint
    assert (folder.path / "report.html").exists()
    assert {v.status for v in folder.read_verdicts()} <= {"INCONCLUSIVE", "PASS"}
    assert "INCONCLUSIVE" in out
