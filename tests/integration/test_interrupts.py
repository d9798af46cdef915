"""Interrupting ``scalecheck run`` never leaves load running (README "The run folder", exit codes).

The matrix: ``scalecheck run PROFILE --endpoint-url URL`` against an emulator this test serves itself (so
that it outlives scalecheck and counts every request that reaches it), and ``--local`` (scalecheck's own
emulator child); SIGINT / SIGTERM before the load, during it and while observing after it; SIGKILL
during the load (also with ``--processes 2``: Locust's forked workers); a second SIGINT while finalising.

After each: scalecheck exited within :data:`EXIT_WITHIN_S` of the signal (the goal is 5 s; the bound leaves
room for a loaded machine), ``run.json`` says ``aborted`` naming the signal and ``verdicts.json`` exists
(SIGINT/SIGTERM), no process scalecheck started is alive, and no request reaches the endpoint any more.
Every case is bounded and kills what it started, by pid, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.autoscaling.params import ModelParams
from harness.emulator.fastpath import attached
from tests.conftest import CONSENT, REAL_MODEL, ROOT, shortened_profile, write_profile
from tests.emulator_support import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # make test-slow (.ci/run runs it after make test)

SPEED = 60
EXIT_WITHIN_S = 10.0  # the goal is 5 s (README); the bound leaves room for a loaded 2-core machine
PHASE_WITHIN_S = 60.0  # how long a run may take to reach the phase a case interrupts
QUIET_S = 1.5  # after scalecheck has gone, how long the endpoint must see no request (the load is 120 req/s)
PARAMS = ModelParams(**shortened_profile()["local"]["params"])


def _profile(tmp_path: Path, load_s: int) -> Path:
    data = shortened_profile()
    data["endpoint"] = {**data["endpoint"], **REAL_MODEL}  # --allow-create against the emulator (AWS mode)
    data["traffic"]["stages"][0]["duration"] = f"{load_s}s"
    data["local"]["speed"] = SPEED
    return write_profile(tmp_path, data)


# ------------------------------------------------------------------------------------------- processes
def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid`` from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every live descendant of ``root``: pid -> start time (to tell a reused pid)."""
    parents: dict[int, int] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None and st[1] != "Z":
            parents[int(entry.name)], starts[int(entry.name)] = st[0], st[2]
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = starts[pid]
                frontier.append(pid)
    return found


def _tagged(run_dir: Path | None, parent: int) -> dict[int, int]:
    """Live processes that carry the run folder or scalecheck's pid in their environment or command line
    (Locust and its workers, the emulator), even once they have lost their parent."""
    found: dict[int, int] = {}
    marks = [f"SCALECHECK_PARENT_PID={parent}".encode(), f"--parent-pid\0{parent}\0".encode()]
    if run_dir is not None:
        marks.append(f"SCALECHECK_RUN_DIR={run_dir}".encode())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), parent):
            continue
        try:
            blob = (entry / "environ").read_bytes() + b"\0" + (entry / "cmdline").read_bytes()
        except OSError:
            continue
        st = _stat(int(entry.name))
        if st is not None and st[1] != "Z" and any(m in blob for m in marks):
            found[int(entry.name)] = st[2]
    return found


def _alive(procs: dict[int, int]) -> dict[int, int]:
    return {pid: start for pid, start in procs.items()
            if (st := _stat(pid)) is not None and st[1] != "Z" and st[2] == start}


def _kill(procs: dict[int, int]) -> None:
    for pid in _alive(procs):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------------------------------------- runs
@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    reports: Path
    out: Path
    err: Path
    children: dict[int, int]

    def folder(self) -> Path | None:
        runs = [p for p in self.reports.iterdir() if p.is_dir()]
        return runs[0] if runs else None

    def wait_for(self, what: str, probe: Callable[[], bool], every_s: float = 0.05) -> None:
        deadline = time.monotonic() + PHASE_WITHIN_S
        while not probe():
            if self.proc.poll() is not None:
                pytest.fail(f"scalecheck exited ({self.proc.returncode}) before {what}:\n{self.err.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run never reached {what}:\n{self.err.read_text()}")
            if every_s >= 0.05:
                self.children.update(_descendants(self.proc.pid))
            time.sleep(every_s)
        self.children.update(_descendants(self.proc.pid))

    def signal_and_wait(self, signum: int) -> float:
        """Send ``signum``; the wall seconds until scalecheck exited."""
        sent = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - sent
        print(f"\n{signum_name(signum)}: scalecheck exited {took:.2f} s after the signal "
              f"(code {self.proc.returncode})")
        return took

    def run_json(self) -> dict:
        folder = self.folder()
        assert folder is not None
        return json.loads((folder / "run.json").read_text())


def signum_name(signum: int) -> str:
    return signal.Signals(signum).name


@contextmanager
def scalecheck_run(tmp_path: Path, profile: Path, *target: str) -> Iterator[Run]:
    reports = tmp_path / "reports"
    reports.mkdir()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(profile), *target,
                                 "--reports", str(reports)], cwd=ROOT, stdout=o, stderr=e, env=env)
    run = Run(proc, reports, out, err, {})
    try:
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        # whatever scalecheck left behind (the code under test should leave nothing): killed by pid
        _kill(run.children | _tagged(run.folder(), proc.pid))


def loaded(run: Run) -> bool:
    folder = run.folder()
    return folder is not None and (folder / "load.jsonl").exists() and (folder / "load.jsonl").stat().st_size > 0


def folder_created(run: Run) -> bool:
    folder = run.folder()
    return folder is not None and (folder / "run.json").exists()


def load_stopped(run: Run) -> bool:
    folder = run.folder()
    return (folder is not None and (folder / "events.jsonl").exists()
            and '"load_stop"' in (folder / "events.jsonl").read_text())


PHASES = {"before-load": folder_created, "during-load": loaded, "observing": load_stopped}
LOAD_S = {"before-load": 600, "during-load": 600, "observing": 120}  # endpoint seconds (10 s / 2 s of wall)


def assert_nothing_left(run: Run) -> None:
    """No process scalecheck started is alive (waiting a moment for the kernel to finish them)."""
    deadline = time.monotonic() + 3
    while (left := _alive(run.children | _tagged(run.folder(), run.proc.pid))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, {pid: _cmdline(pid)[:200] for pid in left}


def assert_finalised(run: Run, signum: int) -> None:
    assert run.proc.returncode == 128 + signum, run.err.read_text()
    info = run.run_json()
    assert info["status"] == "aborted", info["status"]
    assert signum_name(signum) in (info["status_reason"] or ""), info["status_reason"]
    folder = run.folder()
    assert folder is not None and (folder / "verdicts.json").exists()


def requests_seen(emu: object) -> int:
    fast = attached(emu.router)  # type: ignore[attr-defined]
    assert fast is not None
    return fast.served + fast.fallbacks


def assert_endpoint_quiet(emu: object) -> None:
    """Nothing reaches the endpoint any more: its request count does not grow for QUIET_S seconds."""
    time.sleep(0.3)  # requests already on the wire when scalecheck went
    before = requests_seen(emu)
    time.sleep(QUIET_S)
    after = requests_seen(emu)
    assert after == before, f"{after - before} request(s) reached the endpoint after scalecheck had exited"


# ------------------------------------------------------------------------------------------------ cases
@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_a_run_against_an_endpoint_url(tmp_path: Path, signum: int, phase: str) -> None:
    with running(PARAMS, speed=SPEED) as (emu, handle), \
            scalecheck_run(tmp_path, _profile(tmp_path, LOAD_S[phase]), "--endpoint-url", handle.url, *CONSENT) as run:
        run.wait_for(phase, lambda: PHASES[phase](run))
        sent_before = requests_seen(emu)
        took = run.signal_and_wait(signum)
        assert took <= EXIT_WITHIN_S, run.err.read_text()
        assert_finalised(run, signum)
        info = run.run_json()
        if phase == "before-load":
            assert info["load_start_ts"] is None
        elif phase == "observing":
            assert info["load_end_ts"] is not None
        else:
            assert info["load_start_ts"] is not None and sent_before > 0
        assert_nothing_left(run)
        assert_endpoint_quiet(emu)


@pytest.mark.parametrize("processes", [None, 2], ids=["one-process", "processes-2"])
def test_sigkill_during_the_load_takes_locust_along(tmp_path: Path, processes: int | None) -> None:
    extra = ["--processes", str(processes)] if processes else []
    with running(PARAMS, speed=SPEED) as (emu, handle), \
            scalecheck_run(tmp_path, _profile(tmp_path, 600), "--endpoint-url", handle.url, *CONSENT, *extra) as run:
        run.wait_for("the load", lambda: loaded(run))
        if processes:  # the forked workers are up (the master's children)
            run.wait_for("the workers", lambda: len(_tagged(run.folder(), run.proc.pid)) >= 1 + processes)
        assert requests_seen(emu) > 0
        run.signal_and_wait(signal.SIGKILL)
        assert run.proc.returncode == -signal.SIGKILL
        assert_nothing_left(run)
        assert_endpoint_quiet(emu)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupting_a_local_run_takes_the_emulator_along(tmp_path: Path, signum: int) -> None:
    with scalecheck_run(tmp_path, _profile(tmp_path, 600), "--local") as run:
        run.wait_for("the load", lambda: loaded(run))
        emulators = [pid for pid in run.children if b"emulator" in _cmdline(pid)]
        assert emulators, run.children
        took = run.signal_and_wait(signum)
        if signum != signal.SIGKILL:
            assert took <= EXIT_WITHIN_S, run.err.read_text()
            assert_finalised(run, signum)
        assert_nothing_left(run)


def test_a_second_sigint_while_finalising_still_leaves_an_aborted_folder(tmp_path: Path) -> None:
    with scalecheck_run(tmp_path, _profile(tmp_path, 600), "--local") as run:
        run.wait_for("the load", lambda: loaded(run))
        sent = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        # the second as soon as finalising begins: while Locust is being stopped (it takes it ~0.5 s), before the
        # report
        run.wait_for("finalising", lambda: "finalising" in run.err.read_text(), every_s=0.005)
        run.proc.send_signal(signal.SIGINT)
        try:
            run.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - sent
        print(f"\nSIGINT twice: scalecheck exited {took:.2f} s after the first signal (code {run.proc.returncode})")
        assert took <= EXIT_WITHIN_S, run.err.read_text()
        assert_finalised(run, signal.SIGINT)
        folder = run.folder()
        assert folder is not None and not (folder / "report.html").exists()  # the slow part was skipped
        assert "report skipped" in run.err.read_text()
        assert_nothing_left(run)


def test_an_interrupt_before_the_run_folder_exists_stops_what_was_started(tmp_path: Path) -> None:
    with scalecheck_run(tmp_path, _profile(tmp_path, 600), "--local") as run:
        run.wait_for("the emulator child", lambda: any(
            b"emulator" in _cmdline(pid) for pid in _descendants(run.proc.pid)), every_s=0.01)
        took = run.signal_and_wait(signal.SIGTERM)
        assert took <= EXIT_WITHIN_S, run.err.read_text()
        assert run.proc.returncode == 128 + signal.SIGTERM, run.err.read_text()
        if run.folder() is not None:  # the signal came after all: then the folder is finalised
            assert run.run_json()["status"] == "aborted"
        assert_nothing_left(run)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
