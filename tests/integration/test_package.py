"""The package stands on its own: a wheel built from the checkout, installed into an empty virtual
environment, gives ``scalecheck init`` and ``scalecheck run --local`` everything they need, outside the
checkout.

The wheel is built and installed without its dependencies (``--no-deps``); the new environment reads them
from this test environment's site-packages through a ``.pth`` line, so the test needs no network. A path
listed in a ``.pth`` file is not itself scanned for ``.pth`` files, so this checkout's editable install
stays out of the new environment, and the test asserts that ``harness`` comes from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # make test-slow (.ci/run runs it after make test)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with the scalecheck wheel installed."""
    root = tmp_path_factory.mktemp("package")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=300, cwd=root)
    (wheel,) = wheels.glob("scalecheck-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "deps-from-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, timeout=300, cwd=root)
    return env_dir / "bin"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    return env


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([installed / "python", "-c", "import harness, json; print(json.dumps(harness.__file__))"],
                         capture_output=True, text=True, check=True, cwd=tmp_path, env=_env())
    where = Path(json.loads(out.stdout))
    assert ROOT not in where.parents, where
    version = subprocess.run([installed / "scalecheck", "--version"], capture_output=True, text=True,
                             check=True, cwd=tmp_path, env=_env())
    assert version.stdout.strip().startswith("scalecheck ")


def test_init_then_run_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    init = subprocess.run([installed / "scalecheck", "init", "demo"], capture_output=True, text=True,
                          cwd=tmp_path, env=_env(), timeout=60)
    assert init.returncode == 0, init.stderr
    written = sorted(str(p.relative_to(tmp_path / "demo")) for p in (tmp_path / "demo").rglob("*") if p.is_file())
    assert written == ["examples/async-scale-from-zero.yaml", "examples/realtime-target-tracking.yaml",
                       "examples/scheduled-scaling.yaml", "examples/step-scaling.yaml", "locustfile.py",
                       "starter.yaml"]
    # a second init refuses to overwrite, naming the files, and changes nothing
    again = subprocess.run([installed / "scalecheck", "init", "demo"], capture_output=True, text=True,
                           cwd=tmp_path, env=_env(), timeout=60)
    assert again.returncode == 104 and "demo/starter.yaml" in again.stderr
    run = subprocess.run([installed / "scalecheck", "run", "demo/starter.yaml", "--local", "--speed", "100"],
                         capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert [line.split()[0] for line in run.stdout.splitlines() if line.startswith(("PASS", "FAIL"))] == \
        ["PASS", "PASS", "PASS"]
    (folder,) = (tmp_path / "reports").iterdir()
    assert (folder / "report.html").is_file() and (folder / "load.jsonl").stat().st_size > 0
    # the price snapshot ships inside the wheel: the run priced its instances from it
    assert '"origin": "snapshot"' in (folder / "cost.json").read_text()
