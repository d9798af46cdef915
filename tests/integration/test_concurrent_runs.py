"""Three runs of the same profile started at the same moment, into the same reports folder, as a CI machine
running jobs side by side would: each gets its own emulator, its own run folder, and succeeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, shortened_profile, write_profile

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # make test-slow (.ci/run runs it after make test)

RUNS = 3


def test_three_runs_of_one_profile_at_once_all_succeed(tmp_path: Path, reports: Path) -> None:
    data = shortened_profile()
    data["traffic"]["stages"][0]["duration"] = "150s"
    data["expectations"] = [{"type": "error_rate", "max": 0.01}, {"type": "max_instances", "max": 4}]
    profile = write_profile(tmp_path, data)
    env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
    procs = [subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(profile), "--local", "--speed", "60",
                               "--reports", str(reports)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(RUNS)]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=300)
            outputs.append((proc.returncode, out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    codes = [code for code, _ in outputs]
    assert codes == [0] * RUNS, f"exit codes {codes}\n" + "\n\n".join(out[-1500:] for _, out in outputs)
    folders = sorted(p for p in reports.iterdir() if p.is_dir())
    assert len(folders) == RUNS  # same profile, same second: three folders, none shared
    assert all((f / "report.html").is_file() and (f / "verdicts.json").is_file() for f in folders)
