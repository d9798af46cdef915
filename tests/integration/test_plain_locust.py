"""`locust -f locustfile.py` works on its own against the emulator (after `scalecheck setup`)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from harness.autoscaling.params import ModelParams
from harness.emulator.process import EmulatorProcess
from tests.conftest import CONSENT, REAL_MODEL, ROOT, scalecheck, write_profile

pytestmark = pytest.mark.integration


def test_plain_locust_drives_the_emulator(tmp_path: Path) -> None:
    emulator = EmulatorProcess.start(speed=60, params=ModelParams(endpoint_create_delay_s=30))
    try:
        profile = write_profile(tmp_path, {
            "name": "plain-locust", "endpoint": {"name": "plain-ep", **REAL_MODEL},
            "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
                {"type": "target_tracking", "name": "tt", "target_value": 100}]},
            "traffic": {"stages": [{"name": "s", "duration": "120s", "rate_rps": 1}]}})
        setup = scalecheck("setup", str(profile), "--endpoint-url", emulator.url, *CONSENT, timeout=60)
        assert setup.returncode == 0, setup.stderr
        assert "plain-ep/AllTraffic is InService" in setup.stdout
        # 120 s of endpoint time at speed 60 (asked from the emulator's clock) is 2 s of wall time
        result = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--headless",
             "--scalecheck-profile", str(profile), "--host", emulator.url, "--csv", str(tmp_path / "stats"),
             "--only-summary", "-t", "30s"],
            capture_output=True, text=True, timeout=90, cwd=ROOT)
        assert result.returncode == 0, result.stderr[-2000:]  # Locust exits 1 on any failed request
        with (tmp_path / "stats_stats.csv").open() as fh:
            rows = {r["Name"]: r for r in csv.DictReader(fh)}
        invoke = rows["InvokeEndpoint"]
        # 1 rps of endpoint time for 120 s => about 120 requests, none failed
        assert 90 <= int(invoke["Request Count"]) <= 130, invoke
        assert int(invoke["Failure Count"]) == 0
        truth = emulator.truth()
        assert any(e["kind"] == "capacity" and e["status"] == "InService" for e in truth)
    finally:
        emulator.stop()
