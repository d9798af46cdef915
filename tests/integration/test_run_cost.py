"""Cost you can see and cap, end to end on the emulator: the expected cost before the load, a stop condition
and the cost cap stopping a run early (exit 103), and caps that cannot be enforced refused before anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.record import RunFolder
from tests.conftest import scalecheck, shortened_profile, write_profile
from tests.unit.test_cost import offer_file

pytestmark = pytest.mark.integration


def only_run(reports: Path) -> Path:
    runs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def overloaded_profile() -> dict:
    """The shortened walkthrough on an endpoint that refuses most requests: one request at a time, no queue,
    two seconds each, at 2 requests/s."""
    data = shortened_profile(stop=[{"type": "error_rate", "above": "20%", "for": 3}])
    data["local"]["params"].update({"instance_concurrency": 1, "max_queue_per_instance": 0,
                                    "model_latency_ms": 2000})
    return data


def test_an_error_rate_stop_condition_stops_an_overloaded_run_early(tmp_path: Path, reports: Path) -> None:
    price_file = tmp_path / "AmazonSageMaker-us-east-1.json"
    price_file.write_text(json.dumps(offer_file()))
    profile = write_profile(tmp_path, overloaded_profile())
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), "--price-file", str(price_file))
    assert result.returncode == 103, result.stdout + result.stderr
    err = result.stderr.splitlines()
    expected = next(i for i, line in enumerate(err) if line.startswith("[scalecheck] expected: "))
    load = next(i for i, line in enumerate(err) if line.startswith("[scalecheck] load: "))
    assert expected < load  # said before any traffic
    assert "ml.m5.large $0.115/h, us-east-1, source " in err[expected] and "SKU AAA" in err[expected]

    folder = RunFolder(only_run(reports))
    recorded = folder.load()
    run = recorded.run
    assert run.status == "stopped"
    assert run.status_reason is not None
    assert run.status_reason.startswith("stop condition: error rate ") and "> 20% for 3 intervals" in run.status_reason
    assert f"run stopped: {run.status_reason}" in result.stderr
    # the load stopped early: 200 s of traffic were planned, the intervals end long before
    assert run.load_start_ts is not None and recorded.load
    assert recorded.load[-1].ts - run.load_start_ts < 120
    assert any(e.kind == "stopped" for e in recorded.events)
    html = (folder.path / "report.html").read_text()
    assert "stopped early — stop condition: error rate" in html and "instance-hours" in html
    cost = json.loads((folder.path / "cost.json").read_text())
    assert cost["price"]["origin"] == "price-file" and cost["expected"]["instance_seconds"] > 0
    observed = cost["observed"]
    assert observed["usd"] == observed["instance_seconds"] * 0.115 / 3600
    assert any(line.startswith("cost observed: ") for line in result.stdout.splitlines())
    assert (folder.path / "verdicts.json").exists()
    assert 'type="stopped" message="run stopped: stop condition: error rate' in (folder.path / "junit.xml").read_text()
    assert scalecheck("check", str(folder.path)).returncode == 103


def test_a_tiny_cost_cap_stops_the_run(tmp_path: Path, reports: Path) -> None:
    profile = write_profile(tmp_path, shortened_profile())
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), "--max-cost-usd", "0.002")
    assert result.returncode == 103, result.stdout + result.stderr
    assert "[scalecheck] cost cap $0.0020: the expected cost is above it" in result.stderr
    folder = RunFolder(only_run(reports))
    run = folder.read_run()
    assert run.status == "stopped" and (run.status_reason or "").startswith("cost cap: $0.00")
    cost = json.loads((folder.path / "cost.json").read_text())
    assert cost["max_usd"] == 0.002 and cost["observed"]["usd"] >= 0.002
    assert cost["price"]["origin"] == "snapshot"


@pytest.mark.parametrize(("args", "changes", "message"), [
    pytest.param(("--max-cost-usd", "1"), {"endpoint": {"name": "xgboost-abalone", "instance_type": "ml.zz.large"}},
                 "cannot be enforced: ml.zz.large: no price", id="cap-without-a-price"),
    pytest.param((), {"endpoint": {"name": "xgboost-abalone", "instance_type": "ml.zz.large"},
                      "cost": {"max_usd": 1}}, "cannot be enforced: ml.zz.large: no price", id="profile-cap"),
    pytest.param(("--price-file", "missing.json"), {}, "--price-file missing.json: cannot read it", id="no-file"),
    pytest.param((), {"stop": [{"type": "error_rate", "above": 5}]}, "stop[0].above", id="bad-stop-field"),
])
def test_caps_and_price_files_that_cannot_work_exit_104_before_anything(
        tmp_path: Path, reports: Path, args: tuple[str, ...], changes: dict, message: str) -> None:
    profile = write_profile(tmp_path, shortened_profile(**changes))
    result = scalecheck("run", str(profile), "--local", "--reports", str(reports), *args, timeout=60, cwd=tmp_path)
    assert result.returncode == 104, result.stderr
    assert message in result.stderr
    assert list(reports.iterdir()) == []
