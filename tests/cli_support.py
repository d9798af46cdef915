"""Test support for the command line as a user on a machine without AWS settings runs it: a clean environment
(no AWS variables, empty shared config and credentials files, no instance metadata), the CLI in a child process
with its wall time, and a loopback port nobody listens on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a machine with no AWS configuration at all (and no instance role to find)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    for name in ("config", "credentials"):
        (tmp_path / f"aws-{name}").touch()
    env.update({"HOME": str(home), "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"), "AWS_EC2_METADATA_DISABLED": "true",
                **extra})
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                            timeout=timeout, cwd=ROOT, env=env)
    return result, time.monotonic() - began


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
