"""Shared fixtures: a fast shortened profile for end-to-end runs, and the scalecheck CLI as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "realtime-target-tracking.yaml"
# An emulator on an explicit --endpoint-url is treated like AWS: creating the endpoint needs a real-looking
# image and role in the profile, and the consent flags (harness/observe/consent.py).
REAL_MODEL = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/echo:1",
              "execution_role_arn": "arn:aws:iam::123456789012:role/scalecheck-test"}
CONSENT = ("--apply-scaling", "--allow-create")


def shortened_profile(**changes: object) -> dict:
    """The walkthrough profile with shorter (named, configurable) model delays so a run takes seconds.

    Expectation windows are re-derived from the same delays so they stay meaningful.
    """
    data = yaml.safe_load(PROFILE.read_text())
    data["name"] = "shortened-walkthrough"
    data["traffic"]["stages"][0]["duration"] = "200s"
    data["local"] = {"speed": 60, "params": {
        "provisioning_delay_s": 120, "endpoint_create_delay_s": 30, "deprovision_delay_s": 30,
        "alarm_low_datapoints": 5, "metric_publish_lag_s": 60}}
    # scale-out: 3 datapoints (<= 4 periods incl. the partial first) + lag + 1 evaluation + provisioning
    data["expectations"][0]["within"] = f"{4 * 60 + 60 + 60 + 120 + 60}s"
    # scale-in: 5 low datapoints (+1 partial) + lag + evaluation + deprovisioning
    data["expectations"][1]["within"] = f"{6 * 60 + 60 + 60 + 30 + 60}s"
    data.update(changes)
    return data


def write_profile(tmp_path: Path, data: dict, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def scalecheck(*args: str, timeout: float = 240, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process (as a user would), bounded by ``timeout``."""
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=env)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path
