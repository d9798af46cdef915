"""How scalecheck starts Locust for a run: the command line, one process or several, and a lone worker.

:class:`Distribution` is where the load comes from — one Locust process (the default), ``processes`` worker
processes on this machine (a master in the same Locust process, loopback only, on a free port so that runs
do not collide), or a ``master`` that waits for ``expect_workers`` workers on ``master_bind_host``
(loopback unless the user says otherwise) for at most :data:`WORKERS_WAIT_S` seconds.
:func:`locust_command` is the ``python -m locust`` command of a run; :func:`run_worker` runs
``scalecheck run --worker``. The profile, the run folder and the clock reach Locust through the
environment (``SCALECHECK_*``, read by :mod:`harness.load.locustfile`).

Locust's lifetime (:func:`start_locust`, :func:`stop_locust`): Locust runs in a process group of its own, which
its ``--processes`` workers join, so that the whole tree is stopped at once, and a Ctrl-C at the terminal reaches
only scalecheck, which stops the load itself; its stdin is closed (outside the terminal's foreground group,
Locust's keyboard listener would be stopped by SIGTTOU). It gets scalecheck's pid in
:data:`~harness.load.interrupts.PARENT_PID_ENV`: the locustfile arms a death signal on import (and in every
forked worker, against the master), so nothing sends load once scalecheck is gone, even after a SIGKILL.
Stopping is SIGINT to Locust — its Ctrl-C: it stops its users, tells its workers to quit and writes its last
records (Locust 2.x installs its SIGTERM handler only after a headless load shape has ended, so SIGTERM
would kill it without them) — at most a grace period, then SIGKILL to whatever is left of the group.
Locust is reaped only by :func:`stop_locust`, after its group was signalled (:func:`exit_code` looks without
reaping): until then its pid, which is its group's id, cannot be given to another process, so the SIGKILL
never reaches a stranger's group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.errors import ConfigError
from harness.load.arrivals import MAX_USERS_PER_PROCESS
from harness.load.interrupts import PARENT_PID_ENV, hurried
from harness.observe.aws import Target
from harness.profile import Profile
from harness.profile.traffic import peak_rate

LOCUSTFILE = Path(__file__).with_name("locustfile.py")  # what Locust's -f loads
WORKERS_WAIT_S = 600  # how long a --master waits for its workers to connect (Locust --expect-workers-max-wait)
DEFAULT_MASTER_PORT = 5557
STOP_TIMEOUT_WALL_S = 10  # users finish the request they are sending when the load stops
# What one Locust process can be asked for. `make bench` measured about 6,200 signed requests per wall second
# for one process on a dedicated core (README, "Load-generator benchmark"); past that a process cannot offer
# the load. (MAX_USERS_PER_PROCESS bounds a process's memory.)
MAX_WALL_RPS_PER_PROCESS = 5000.0
STOP_GRACE_WALL_S = 15.0  # how long a Locust told to stop may take (its users' stop timeout, its last records)
INTERRUPT_GRACE_WALL_S = 2.0  # ... when scalecheck was interrupted: then it is killed


@dataclass(frozen=True)
class Distribution:
    """Where the load comes from (``scalecheck run`` flags --processes, --master and their options)."""

    processes: int | None = None
    master: bool = False
    expect_workers: int = 1
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = DEFAULT_MASTER_PORT

    def locust_args(self) -> list[str]:
        """The Locust flags of this distribution: none for one process."""
        if self.processes:
            # the forked workers connect to 127.0.0.1 on the master's port: a free one, so runs do not collide
            port = _free_port()
            return ["--processes", str(self.processes), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(port), "--master-port", str(port)]
        if self.master:
            return ["--master", "--expect-workers", str(self.expect_workers), "--expect-workers-max-wait",
                    str(WORKERS_WAIT_S), "--master-bind-host", self.master_bind_host,
                    "--master-bind-port", str(self.master_bind_port)]
        return []

    def describe(self) -> str:
        """The end of the run's "load: ..." line (empty for one process)."""
        if self.processes:
            return f", in {self.processes} Locust worker process(es)"
        if self.master:
            return (f"; Locust master on {self.master_bind_host}:{self.master_bind_port} waiting for "
                    f"{self.expect_workers} worker(s) (at most {WORKERS_WAIT_S} s): start each with "
                    f"scalecheck run PROFILE --worker --master-host HOST --master-port {self.master_bind_port}")
        return ""


def check_load_capacity(profile: Profile, speed: float, distribution: Distribution) -> None:
    """ConfigError (before anything is contacted) when one load generator process would be asked for more
    than :data:`MAX_WALL_RPS_PER_PROCESS` requests or :data:`MAX_USERS_PER_PROCESS` users per wall second at
    the profile's peak rate times ``speed``, naming the field and what to do instead."""
    processes = distribution.processes or (distribution.expect_workers if distribution.master else 1)
    traffic = profile.traffic
    peak_wall = peak_rate(traffic.stages) * speed
    per_process = peak_wall / processes
    if per_process > MAX_WALL_RPS_PER_PROCESS:
        needed = int(peak_wall // MAX_WALL_RPS_PER_PROCESS) + 1
        raise ConfigError(
            f"traffic.stages: the peak rate {peak_rate(traffic.stages):g} rps x speed {speed:g} is {peak_wall:,.0f} "
            f"requests per wall second for each of {processes} load generator process(es); one process sends at "
            f"most {MAX_WALL_RPS_PER_PROCESS:,.0f}: use --processes {needed} (or Locust workers on more machines: "
            "--master/--worker), or a lower speed (--speed, local.speed)")
    if traffic.mode == "closed" and per_process / traffic.user_rps > MAX_USERS_PER_PROCESS:
        raise ConfigError(
            f"traffic.user_rps: {traffic.user_rps:g} requests per second per user at a peak of {per_process:,.0f} "
            f"per process needs {per_process / traffic.user_rps:,.0f} users in one process (at most "
            f"{MAX_USERS_PER_PROCESS:,}); raise user_rps, use --processes, or open loop (traffic.mode: open)")


def check_master_port(distribution: Distribution) -> None:
    """ConfigError when a ``--master`` could not listen where it is told to (the port is taken, e.g. by another
    master): found before anything is contacted, instead of a run whose load never starts."""
    if not distribution.master:
        return
    host, port = distribution.master_bind_host, distribution.master_bind_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ConfigError(f"--master-bind-port {port}: cannot listen on {host}:{port} ({err.strerror or err}); "
                              "another master may be running there: choose another port") from None


def load_environment(target: Target, **changes: str | None) -> dict[str, str]:
    """The environment of a Locust process for ``target``: this process's, with the region and credentials the
    target's clients use (:meth:`~harness.observe.aws.Target.load_environment`) and ``changes`` (None: unset)."""
    env = dict(os.environ)
    for name, value in {**target.load_environment(), **changes}.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def locust_command(host: str, distribution: Distribution, *extra: str) -> list[str]:
    """``python -m locust`` headless against ``host`` (the SageMaker Runtime URL), with ``extra`` flags last."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
            "--only-summary", "--loglevel", "WARNING", "--stop-timeout", str(STOP_TIMEOUT_WALL_S),
            *distribution.locust_args(), *extra]


def start_locust(cmd: list[str], env: dict[str, str],
                 output: IO[bytes] | int | None = None) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (a Locust command) in a process group of its own, dying with this process (the module
    docstring); its output to ``output`` (stdout and stderr), or this process's own when None."""
    env = {**env, PARENT_PID_ENV: str(os.getpid())}
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT if output is not None else None, env=env, process_group=0)


def exit_code(proc: subprocess.Popen[bytes]) -> int | None:
    """Like ``proc.poll()`` (None while it runs; -N when signal N ended it), but leaves an exited process a zombie,
    its pid reserved, for :func:`stop_locust` to signal its group and reap it."""
    if proc.returncode is not None or not hasattr(os, "waitid"):
        return proc.poll()
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return proc.poll()
    if info is None or info.si_pid == 0:
        return None
    return -info.si_status if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED) else info.si_status


def stop_locust(proc: subprocess.Popen[bytes], *, interrupted: bool = False,
                hurry: Callable[[], bool] = hurried) -> None:
    """Stop Locust and every process of its group: SIGINT, at most :data:`STOP_GRACE_WALL_S` (``interrupted``:
    :data:`INTERRUPT_GRACE_WALL_S`; none once ``hurry()`` says so) for Locust to exit, then SIGKILL to the
    group. Returns once Locust is reaped; also when it had exited already (then only its stray workers, if any,
    are killed)."""
    grace_s = INTERRUPT_GRACE_WALL_S if interrupted else STOP_GRACE_WALL_S
    if exit_code(proc) is None:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace_s
        while exit_code(proc) is None and time.monotonic() < deadline and not hurry():
            time.sleep(0.02)
    if proc.returncode is None:  # not reaped yet: the group id is still Locust's
        _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is empty: everything in it has exited


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_worker(profile: Profile, profile_path: Path, *, master_host: str, master_port: int,
               region: str | None = None, endpoint_url: str | None = None, aws_profile: str | None = None,
               say: Callable[[str], None]) -> int:
    """``scalecheck run PROFILE --worker``: only a Locust worker of a ``--master`` run (no collector, no run
    folder, no emulator); it sends its share of the load as the master says and exits when the master stops.
    Returns Locust's exit code; an interrupt stops the worker and propagates."""
    target = Target(region=region or profile.region, endpoint_url=endpoint_url, profile_name=aws_profile)
    env = load_environment(target, SCALECHECK_PROFILE=str(Path(profile_path).resolve()), SCALECHECK_RUN_DIR=None,
                           SCALECHECK_CLOCK=None)
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", master_host,
           "--master-port", str(master_port), "--host", target.runtime_host(), "--loglevel", "INFO"]
    say(f"worker for profile {profile.name!r}: connecting to the Locust master at {master_host}:{master_port}; "
        "it sends its share of the load when the master starts it and exits when the master stops "
        "(no collector, no run folder here: the master records the run)")
    proc = start_locust(cmd, env)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the worker stops too (it tells the master), at most the grace
        stop_locust(proc, interrupted=True)
        raise
    say(f"worker done (Locust exit code {code})")
    return code


