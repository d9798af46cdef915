"""Locust's entry module for scalecheck: the options, the init / test_start / test_stop listeners, and the
user classes and the load shape Locust looks for in the file it is given.

``scalecheck run`` starts Locust with ``-f`` on this file; the top-level ``locustfile.py`` re-exports it for
plain ``locust -f locustfile.py``. Either way it is loaded once per process and registers its listeners
then: no other module imports it.

:class:`RealtimeUser` calls InvokeEndpoint; :class:`AsyncUser` (profiles with ``endpoint.type: async``)
uploads the payload to S3 once per process, calls InvokeEndpointAsync and, for a sample of the
accepted requests, watches the output/failure prefixes to measure end-to-end completion. Only the
user class that fits the profile runs (the other is dropped from Locust's user classes at init).

The load stage's Locust side (this module and the ``harness.load`` modules it imports) is the only part of
the harness that imports Locust (and so gevent); the statistics (:mod:`harness.load.stats`,
:mod:`harness.load.arrivals`, :mod:`harness.load.completions`) import neither. Options, each also read from
the environment so ``scalecheck run`` can pass them to a Locust subprocess:

``--scalecheck-profile`` / ``SCALECHECK_PROFILE``  the profile YAML (required)
``--scalecheck-run-dir`` / ``SCALECHECK_RUN_DIR``  a run folder to append ``load.jsonl``/``events.jsonl`` to
``--scalecheck-clock`` / ``SCALECHECK_CLOCK``    JSON {wall0_ts, endpoint0_ts, speed}; when absent and the
               host is the emulator on loopback, its ``/_emulator/clock`` is asked; else real time.
``SCALECHECK_REGION``  the region to sign for (``scalecheck run --region``), instead of the profile's.

Stage rates are requests per second of endpoint time; against the emulator they are multiplied by
its speed (DESIGN.md "Time"). Requests are SigV4-signed with the standard credential chain. When the load
stops, users finish the request they are sending (Locust's stop timeout, :data:`DEFAULT_STOP_TIMEOUT_WALL_S`
unless ``--stop-timeout`` says), so every request the endpoint received is counted.

The parts, each with its contract in its docstring:

- :mod:`harness.load.state`: ``RUN``, the state of the process every part shares; clock and runner helpers.
- :mod:`harness.load.lifecycle`: the load clock (start, stop, end of the load) and the interval records.
- :mod:`harness.load.shape`: :class:`ProfileShape`, the users to run, tick by tick.
- :mod:`harness.load.openloop`: the open-loop arrival scheduler, the latency EWMA and the pool size.
- :mod:`harness.load.users`: when a user sends (both modes), and :class:`RealtimeUser`.
- :mod:`harness.load.asyncuser` / :mod:`harness.load.asyncwatch`: :class:`AsyncUser`; watching for and
  draining the completions of its sampled requests.
- :mod:`harness.load.distributed`: a Locust master and its workers: messages, merged records, reports.
- :mod:`harness.load.clients`: the signer, the S3 client and error codes.

Lifetime: on import (the first thing Locust does, before it forks ``--processes`` workers) the module arms
a death signal against the process named by ``SCALECHECK_PARENT_PID`` (scalecheck, :mod:`harness.load.launch`),
and every process Locust forks from then on arms one against the master (:func:`_die_with_parents`): when
scalecheck goes, however it goes, the master goes, and with it every worker — no load without scalecheck.

Failure modes (SystemExit, ending the process): at init, a missing ``--scalecheck-profile`` or a user class
that does not fit the profile's endpoint type; when the first user starts, no AWS credentials.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import gevent.lock
import gevent.queue
from locust import events

from harness.load.asyncuser import AsyncUser
from harness.load.clients import is_emulator, s3_client
from harness.load.distributed import register_messages, start_reporter
from harness.load.interrupts import PARENT_PID_ENV, die_with_parent
from harness.load.lifecycle import begin, finish
from harness.load.shape import ProfileShape
from harness.load.state import RUN, is_worker
from harness.load.users import RealtimeUser
from harness.profile import Profile, load_profile
from harness.profile.traffic import Schedule
from harness.record import Clock, RunFolder

__all__ = ["AsyncUser", "ProfileShape", "RealtimeUser"]

# Wall seconds Locust waits for users to finish their request when the load stops, unless --stop-timeout says.
DEFAULT_STOP_TIMEOUT_WALL_S = 10.0


def _die_with_parents() -> None:
    """This process dies with scalecheck (when it says who it is), and SIGINT stops it even when it was started
    ignoring SIGINT (a background job): it is how scalecheck stops it (:func:`harness.load.launch.stop_locust`).
    A process forked from it (a ``--processes`` worker: the death signal is not inherited) dies with this one."""
    parent = os.environ.get(PARENT_PID_ENV, "")
    if parent.isdigit():
        die_with_parent(int(parent))
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    forker = [os.getpid()]  # the pid of the process that forks, read in the child (which has a copy)
    os.register_at_fork(before=lambda: forker.__setitem__(0, os.getpid()),
                        after_in_child=lambda: die_with_parent(forker[0]))


_die_with_parents()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scalecheck-profile", type=str, env_var="SCALECHECK_PROFILE", default="",
                        help="scalecheck profile YAML")
    parser.add_argument("--scalecheck-run-dir", type=str, env_var="SCALECHECK_RUN_DIR", default="",
                        help="scalecheck run folder to record load into")
    parser.add_argument("--scalecheck-clock", type=str, env_var="SCALECHECK_CLOCK", default="",
                        help="JSON wall->endpoint clock mapping (set by scalecheck run)")


def _resolve_clock(options: Any, host: str) -> Clock:
    if options.scalecheck_clock:
        return Clock.model_validate(json.loads(options.scalecheck_clock))
    if is_emulator(host):
        from harness.observe.aws import emulator_clock

        return emulator_clock(host.rstrip("/"))
    return Clock.identity()


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.scalecheck_profile:
        raise SystemExit("scalecheck locustfile: pass --scalecheck-profile PROFILE.yaml (or SCALECHECK_PROFILE)")
    RUN.profile = load_profile(options.scalecheck_profile)
    if os.environ.get("SCALECHECK_REGION"):  # the run's region (--region), which the host and the signer share
        RUN.profile = RUN.profile.model_copy(update={"region": os.environ["SCALECHECK_REGION"]})
    RUN.schedule = Schedule(RUN.profile.traffic.stages)
    RUN.open_loop = RUN.profile.traffic.mode == "open"
    RUN.environment = environment
    RUN.channel = gevent.queue.Channel()
    RUN.clock = _resolve_clock(options, environment.host or "")
    if not environment.stop_timeout:
        # Without a stop timeout Locust kills users mid-request when the load ends: the endpoint got the
        # request but load.jsonl never counts it. With one, a user finishes its request and returns.
        environment.stop_timeout = DEFAULT_STOP_TIMEOUT_WALL_S
    if options.scalecheck_run_dir and not getattr(options, "worker", False):  # a worker sends to the master
        RUN.folder = RunFolder(options.scalecheck_run_dir)
    _select_user_class(environment, RUN.profile)
    register_messages(environment)
    if RUN.profile.endpoint.is_async:
        RUN.s3 = s3_client(RUN.profile.region, environment.host or "")  # built once, before the load
        RUN.upload_lock = gevent.lock.BoundedSemaphore()


def _select_user_class(environment: Any, profile: Profile) -> None:
    """Keep only the user class the endpoint type needs (as Locust drops weight-0 classes)."""
    wanted = AsyncUser if profile.endpoint.is_async else RealtimeUser
    ours = (RealtimeUser, AsyncUser)
    classes = list(environment.user_classes)
    if any(c in ours for c in classes) and wanted not in classes:
        raise SystemExit(f"scalecheck locustfile: the profile's endpoint is {profile.endpoint.type}: it needs "
                         f"{wanted.__name__}, not {', '.join(c.__name__ for c in classes if c in ours)}")
    environment.user_classes[:] = [c for c in classes if c is wanted or c not in ours]


@events.test_start.add_listener
def _test_start(environment: Any, **_kw: Any) -> None:
    if is_worker():
        start_reporter()  # the load clock starts when the master says (MSG_START)
        return
    if RUN.open_loop:
        return  # the shape starts the load once the first pool is up
    begin()  # (a master: before it sends the workers their first users, so they spread their first requests)


@events.test_stop.add_listener
def _test_stop(environment: Any, **_kw: Any) -> None:
    finish()
