"""Calibration end to end: run the shortened walkthrough on the emulator with non-default model parameters
given through ``--params``, calibrate the run folder, and recover those parameters within 10 %."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.predict.calibrate import load_params_file
from harness.record import RunFolder
from tests.conftest import scalecheck, shortened_profile, write_profile

pytestmark = pytest.mark.integration

TRUE = {"provisioning_delay_s": 150.0, "metric_publish_lag_s": 90.0, "model_latency_ms": 80.0}


def test_calibrate_recovers_the_parameters_the_emulator_ran_with(tmp_path: Path, reports: Path) -> None:
    data = shortened_profile()
    # metrics polled every 10 s: the lag can only be bracketed to one metrics poll interval
    data["collector"] = {"metrics_interval": "10s"}
    # 4 periods + lag + evaluation + provisioning + slack; nothing after the scale-out is needed
    data["expectations"] = [{"type": "scale_out", "to": 4, "within": f"{4 * 60 + 90 + 60 + 150 + 60}s",
                             "after": "load_start"}]
    params = tmp_path / "true-params.yaml"
    params.write_text(yaml.safe_dump(TRUE))
    result = scalecheck("run", str(write_profile(tmp_path, data)), "--local", "--params", str(params),
                        "--reports", str(reports), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir()]
    recorded_params = RunFolder(run_dir).read_run().profile["local"]["params"]
    assert {k: recorded_params[k] for k in TRUE} == TRUE  # merged over the profile's local.params ...
    assert recorded_params["deprovision_delay_s"] == 30  # ... which keeps its other fields

    out = tmp_path / "calibrated.yaml"
    cal = scalecheck("calibrate", str(run_dir), "-o", str(out), timeout=60)
    assert cal.returncode == 0, cal.stdout + cal.stderr
    estimated = load_params_file(out)
    for name, true in TRUE.items():
        assert estimated[name] == pytest.approx(true, rel=0.10), (name, estimated, out.read_text())
    header = out.read_text()
    assert "# provisioning_delay_s:" in header and "observation(s)" in header
    assert "async_processing_s:" in header.split("# not estimated:")[1]  # skipped, with the reason
