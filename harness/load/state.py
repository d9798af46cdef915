"""The per-process state of the load generator: one :class:`_Run` instance, :data:`RUN`, that every
module of the load stage in a Locust process reads and writes.

Modules import the instance (``from harness.load.state import RUN``) or this module and read its
attributes when they run, never copies taken at import time: the options, the shape, the users, the
greenlets and Locust's message handlers all see the same values. One ``RUN`` per process; processes
(a Locust master and its workers) share nothing but the messages of :mod:`harness.load.distributed`.

Time: ``RUN.started_wall`` is the wall time (``time.time()``) the load clock started, None before.
:func:`elapsed_s` is endpoint seconds since then (-1 before the load starts); :func:`rate_wall` the
profile's rate at that moment in requests per *wall* second (stage rate x the clock's speed; 0 before
the profile is loaded and past the end of the load); :data:`LOAD_INTERVAL_S` endpoint seconds per
``load.jsonl`` record. :func:`event` appends to ``events.jsonl`` (endpoint time) only in a process that
writes the run folder, else it does nothing. :func:`is_worker`, :func:`is_master` and
:func:`worker_count` ask Locust's runner, importing Locust only when called.
"""

from __future__ import annotations

import math
import time
from typing import Any

from harness.load.completions import CompletionTracker
from harness.load.invoke import Signer
from harness.load.stats import IntervalMerger, IntervalRecorder
from harness.profile import Profile
from harness.profile.traffic import Schedule
from harness.record import Clock, RunEvent, RunFolder

LOAD_INTERVAL_S = 10.0  # endpoint seconds per load.jsonl record


class _Run:
    """Process-wide state shared by the shape, the users and the interval writer."""

    profile: Profile | None = None
    clock: Clock | None = None
    folder: RunFolder | None = None
    recorder: IntervalRecorder | None = None
    users: int = 0
    stage: str | None = None
    started_wall: float | None = None
    stopped: bool = False
    load_stopped: bool = False
    load_end_ts: float | None = None  # endpoint time the load ended (load_stop)
    first_request_sent: bool = False
    schedule: Schedule = Schedule([])  # the profile's stages, looked up at every request
    writer: Any = None
    signer: Signer | None = None
    # async endpoints
    s3: Any = None
    inputs: dict[str, str] = {}  # payload digest -> S3 URI it was uploaded to
    upload_lock: Any = None
    upload_failed_wall: float = -math.inf
    tracker: CompletionTracker | None = None
    watcher: Any = None
    # open loop
    open_loop: bool = False
    environment: Any = None
    channel: Any = None  # gevent.queue.Channel: arrivals handed to idle users
    scheduler: Any = None
    latency_s: float | None = None  # EWMA of request latencies, wall seconds
    live: int = 0  # users that finished on_start and are not stopping (master: the workers' together)
    first_tick_wall: float | None = None
    # distributed load (Locust master + workers; see harness.load.distributed)
    interval_index: int = 0  # worker: index of the interval the recorder is accumulating
    part: int = 0  # worker: its slot among the workers (open loop: its share of the arrivals)
    parts: int = 1  # worker: how many workers share the load
    seed: int | None = None  # open loop: the arrival seed every worker uses (the master picks one if unset)
    final_sent: bool = False  # worker: its last record went to the master
    reporter: Any = None  # worker: greenlet reporting status and noticing the end of the load
    merger: IntervalMerger | None = None  # master: workers' records -> one record per interval
    slots: dict[str, int] = {}  # master: worker client id -> slot
    worker_live: dict[str, int] = {}  # master: users running per worker
    worker_latency: dict[str, float] = {}  # master: latency EWMA per worker (wall seconds)
    first_request_ts: float | None = None  # master: earliest first_request of any worker
    shared: tuple[int, str | None] | None = None  # master: (users, stage) last sent to the workers


RUN = _Run()


def event(kind: str, detail: str = "", ts: float | None = None) -> None:
    if RUN.folder is not None and RUN.clock is not None:
        RUN.folder.append("events", RunEvent(ts=RUN.clock.endpoint_ts() if ts is None else ts, kind=kind,
                                             detail=detail))


def is_worker() -> bool:
    from locust.runners import WorkerRunner

    return isinstance(getattr(RUN.environment, "runner", None), WorkerRunner)


def is_master() -> bool:
    from locust.runners import MasterRunner

    return isinstance(getattr(RUN.environment, "runner", None), MasterRunner)


def worker_count() -> int:
    return int(getattr(getattr(RUN.environment, "runner", None), "worker_count", 0) or 0)


def elapsed_s(wall_ts: float | None = None) -> float:
    """Endpoint seconds since the load started."""
    if RUN.started_wall is None or RUN.clock is None:
        return -1.0
    return ((time.time() if wall_ts is None else wall_ts) - RUN.started_wall) * RUN.clock.speed


def rate_wall(wall_ts: float | None = None) -> float:
    """Requests per wall second the profile asks for now (stage rate x speed); 0 after the end."""
    if RUN.profile is None or RUN.clock is None:
        return 0.0
    return RUN.schedule.rate_at(elapsed_s(wall_ts)) * RUN.clock.speed
