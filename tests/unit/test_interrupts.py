"""harness/load/interrupts.py and the process-group side of harness/load/launch.py, with real signals and real
processes: what the first and later SIGINT/SIGTERM do, and that children die with their parent and their group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import exitcodes
from harness.errors import Interrupted
from harness.load import interrupts
from harness.load.launch import exit_code, start_locust, stop_locust

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 5.0  # no signal takes this long to arrive; a wait that reaches it means nothing came


def _signal_self(signum: int) -> None:
    """Send ``signum`` to this process and give the handler its chance (a sleep it interrupts)."""
    os.kill(os.getpid(), signum)
    time.sleep(WAIT_S)


def test_the_first_signal_raises_interrupted_naming_it() -> None:
    with interrupts.handling():
        began = time.monotonic()
        with pytest.raises(Interrupted) as caught:
            _signal_self(signal.SIGTERM)
        assert time.monotonic() - began < 1
        assert caught.value.signum == signal.SIGTERM and caught.value.name == "SIGTERM" and not caught.value.again
        assert interrupts.interrupted_by() == signal.SIGTERM and not interrupts.hurried()
        assert exitcodes.for_signal(caught.value.signum) == exitcodes.TERMINATED == 143
    assert exitcodes.for_signal(signal.SIGINT) == exitcodes.INTERRUPTED == 130


def test_later_signals_never_cut_finalising_but_abandon_and_skip_the_optional_steps() -> None:
    with interrupts.handling():
        with pytest.raises(Interrupted):
            _signal_self(signal.SIGINT)
        # finalising: a second signal is only recorded ...
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        assert interrupts.hurried()
        # ... and the optional steps are skipped from now on
        ran: list[str] = []
        assert interrupts.unless_hurried(lambda: ran.append("report")) is False
        assert ran == []


def test_a_later_signal_abandons_the_optional_step_it_arrives_in() -> None:
    with interrupts.handling():
        with pytest.raises(Interrupted):
            _signal_self(signal.SIGINT)
        assert interrupts.unless_hurried(lambda: None) is True  # nothing came since: it runs
        began = time.monotonic()
        assert interrupts.unless_hurried(lambda: _signal_self(signal.SIGINT)) is False
        assert time.monotonic() - began < 1


def test_a_first_signal_in_an_optional_step_still_interrupts() -> None:
    with interrupts.handling(), pytest.raises(Interrupted):
        interrupts.unless_hurried(lambda: _signal_self(signal.SIGINT))


def test_deferred_holds_the_first_signal_until_the_block_ends() -> None:
    steps: list[str] = []
    with interrupts.handling():
        with pytest.raises(Interrupted) as caught, interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            steps.append("after the signal, inside the block")
        assert steps == ["after the signal, inside the block"] and caught.value.signum == signal.SIGTERM


def test_handlers_come_back_and_an_ignored_signal_stays_ignored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.handling():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not before
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert not interrupts.hurried() and interrupts.interrupted_by() is None


# -------------------------------------------------------------------------------------------- children
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


CHILD = "import sys, time; from harness.load.interrupts import die_with_parent; die_with_parent(int(sys.argv[1])); " \
        "print('armed', flush=True); time.sleep(60)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed() -> None:
    # parent -> child (armed against the parent); SIGKILL the parent: the kernel takes the child along
    parent_code = textwrap.dedent(f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", {CHILD!r}, str(os.getpid())], stdout=subprocess.PIPE,
                                 text=True, cwd={str(ROOT)!r})
        assert child.stdout.readline().strip() == "armed"
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()
        parent.wait(timeout=5)
        assert _wait_gone(child), "the child outlived its parent"
    finally:
        parent.kill()
        parent.wait(timeout=5)
        parent.stdout.close()  # type: ignore[union-attr]
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_child_whose_parent_is_gone_already_ends_at_once() -> None:
    # the pid given is not the child's parent (as when scalecheck died before the child armed itself)
    child = subprocess.run([sys.executable, "-c", CHILD, "1"], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert child.returncode == -signal.SIGKILL and "armed" not in child.stdout


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return _alive(pid) and os.getpgid(pid) == pgid
    except ProcessLookupError:
        return False


TREE = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # deaf to the polite stop: only SIGKILL ends it
    if os.fork() == 0:
        time.sleep(60)  # a 'worker', in the same process group
        os._exit(0)
    print(os.environ["SCALECHECK_PARENT_PID"], os.getpgrp(), flush=True)
    time.sleep(60)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_stop_locust_kills_the_whole_process_group_after_the_grace() -> None:
    proc = start_locust([sys.executable, "-c", TREE], dict(os.environ), subprocess.PIPE)
    try:
        assert proc.stdout is not None
        parent_pid, pgid = (int(x) for x in proc.stdout.readline().split())
        assert parent_pid == os.getpid() and pgid == proc.pid != os.getpgrp()  # its own group, told who we are
        members = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_group(int(p), pgid)]
        assert len(members) == 2, members
        began = time.monotonic()
        stop_locust(proc, interrupted=True)
        took = time.monotonic() - began
        assert 1.5 <= took <= 5, took  # SIGINT is ignored: the grace passes, then SIGKILL
        assert all(_wait_gone(pid) for pid in members)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
        proc.stdout.close()  # type: ignore[union-attr]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_an_exited_locust_stays_unreaped_until_its_group_was_signalled() -> None:
    # its pid is its process group's id: reaped early, the pid could go to another process before the SIGKILL
    proc = start_locust([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while (code := exit_code(proc)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert code == 3 and proc.returncode is None
    assert Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # still holds its pid
    stop_locust(proc)
    assert proc.returncode == 3 and not Path(f"/proc/{proc.pid}").exists()
