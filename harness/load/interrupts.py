"""SIGINT and SIGTERM in the process that drives the load (``scalecheck run``), and children that die with it.

scalecheck's side, while :func:`handling` is installed (the CLI installs it around ``scalecheck run``):

- the first SIGINT or SIGTERM raises :class:`~harness.errors.Interrupted` (a ``KeyboardInterrupt`` that
  names the signal) in the main thread, wherever it is — a sleep, a wait for a child, an AWS call — so that
  the run stops its load and finalises its folder as ``aborted``. Inside :func:`deferred` the signal is held
  until the block ends (the lines that start a child and keep its handle, so that it is always stopped);
- every later signal is only recorded, and :func:`hurried` becomes true: finalising is never cut in the middle
  of what it must do (stop the load, write run.json, the verdicts), but it stops waiting — a later signal
  raises inside :func:`unless_hurried`, which runs the optional slow parts (the report, waiting for a thread)
  and gives them up at once, or skips them when the later signal came first;
- outside :func:`handling` (a library caller, a thread other than the main one) nothing is installed: Ctrl-C
  is Python's own KeyboardInterrupt, SIGTERM ends the process, and :func:`hurried` is false. A signal this
  process was started ignoring (a background job's SIGINT) stays ignored.

The children's side: :func:`die_with_parent`, called first thing in a child with the pid of the process that
started it (scalecheck passes its pid in :data:`PARENT_PID_ENV` to Locust and ``--parent-pid`` to the
emulator). On Linux the kernel then sends the child SIGKILL as soon as that parent exits, however it exits —
SIGKILL included (``prctl(PR_SET_PDEATHSIG)``); elsewhere a watchdog thread polls the parent's pid every
:data:`WATCHDOG_EVERY_S`. A child whose parent is gone already ends at once. The death signal is not inherited
by the child's own forks (Locust's ``--processes`` workers arm their own, :mod:`harness.load.locustfile`) and
fires when the *thread* that started the child ends: scalecheck starts its children from the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from harness.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)
PARENT_PID_ENV = "SCALECHECK_PARENT_PID"  # a child's parent, for die_with_parent (Locust reads it at import)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_EVERY_S = 0.5


@dataclass
class _State:
    received: list[int] = field(default_factory=list)  # every signal, in order
    raised: bool = False  # the first signal has been raised as Interrupted
    deferring: int = 0  # depth of deferred() blocks
    cancellable: int = 0  # depth of unless_hurried() steps


_state = _State()


def _on_signal(signum: int, _frame: object) -> None:
    _state.received.append(signum)
    if not _state.raised:
        if _state.deferring:
            return  # deferred() raises it when its block ends
        _state.raised = True
        raise Interrupted(signum)
    if _state.cancellable:
        raise Interrupted(signum, again=True)


@contextmanager
def handling() -> Iterator[None]:
    """SIGINT and SIGTERM handled as the module docstring says, for the duration of the block (main thread
    only; elsewhere the block runs with nothing installed). The previous handlers come back afterwards."""
    global _state
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    previous = {signum: handler for signum, handler in previous.items() if handler is not signal.SIG_IGN}
    _state = _State()
    for signum in previous:
        signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state = _State()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a first signal until the block ends, then raise it (a block that raises keeps its own error)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if not _state.deferring and _state.received and not _state.raised:
        _state.raised = True
        raise Interrupted(_state.received[0])


def interrupted_by() -> int | None:
    """The first signal received, if any."""
    return _state.received[0] if _state.received else None


def hurried() -> bool:
    """A second signal came: finalise only what must be, and wait for nothing."""
    return len(_state.received) > 1


def unless_hurried(step: Callable[[], object]) -> bool:
    """Run ``step`` unless a second signal came; one that comes while it runs abandons it. True when it ran to
    its end. A *first* signal raised in ``step`` propagates (the run is then finalised as interrupted)."""
    if hurried():
        return False
    _state.cancellable += 1
    try:
        step()
    except Interrupted as err:
        if not err.again:
            raise
        return False
    finally:
        _state.cancellable -= 1
    return True


# ------------------------------------------------------------------------------------------- the children
def die_with_parent(parent_pid: int) -> str:
    """Make this process end (SIGKILL) when ``parent_pid`` exits; how: ``"prctl"`` or ``"watchdog"``. Ends the
    process at once when its parent is no longer ``parent_pid`` (the parent went before the call)."""
    how = "prctl" if _set_pdeathsig(signal.SIGKILL) else "watchdog"
    if os.getppid() != parent_pid:  # checked after arming: a parent that goes from now on sends the signal
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "watchdog":
        threading.Thread(target=_watch, args=(parent_pid,), name="die-with-parent", daemon=True).start()
    return how


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()  # loaded once, on import: a forked child only calls into it (no dlopen after a fork)


def _set_pdeathsig(signum: int) -> bool:
    try:
        return _LIBC is not None and int(_LIBC.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except AttributeError:  # a libc without prctl
        return False


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_EVERY_S)
    os.kill(os.getpid(), signal.SIGKILL)
