"""Locust users and the profile-driven load shape (the module ``locustfile.py`` wires in).

:class:`RealtimeUser` calls InvokeEndpoint; :class:`AsyncUser` (profiles with ``endpoint.type: async``)
uploads the payload to S3 once per process, calls InvokeEndpointAsync and, for a sample of the
accepted requests, watches the output/failure prefixes to measure end-to-end completion. Only the
user class that fits the profile runs (the other is dropped from Locust's user classes at init).

This is the only harness module that imports Locust (and so gevent). Options, each also read from
the environment so ``scalecheck run`` can pass them to a Locust subprocess:

``--scalecheck-profile`` / ``SCALECHECK_PROFILE``  the profile YAML (required)
``--scalecheck-run-dir`` / ``SCALECHECK_RUN_DIR``  a run folder to append ``load.jsonl``/``events.jsonl`` to
``--scalecheck-clock`` / ``SCALECHECK_CLOCK``    JSON {wall0_ts, endpoint0_ts, speed}; when absent and the
               host is the emulator on loopback, its ``/_emulator/clock`` is asked; else real time.

Stage rates are requests per second of endpoint time; against the emulator they are multiplied by
its speed (DESIGN.md "Time"). Requests are SigV4-signed with the standard credential chain.

Open loop (``traffic.mode: open``, the default): one arrival scheduler greenlet per process
walks the arrival times of the profile (:class:`~harness.load.stats.ArrivalSchedule`: uniform, or Poisson seeded by
``traffic.seed``), sleeps until each (endpoint time -> wall through the clock and speed) and hands it to
an idle user through a :class:`gevent.queue.Channel` (users block on it); when no user is waiting the
arrival is *dropped* (counted in ``load.jsonl`` ``dropped``; ``offered_rps`` is then the arrivals
scheduled per second). The shape sizes the pool (:func:`~harness.load.stats.pool_size`: the peak rate over
the next tick x the measured latency x a margin, capped by ``traffic.max_users``) and starts the load
clock only once the first pool has spawned (or after :data:`POOL_READY_MAX_WALL_S`). Closed loop
(``traffic.mode: closed``): ``rate / user_rps`` users each pacing at ``users / rate``, rereading the rate while
they wait (:meth:`_PacedUser._arrival`). When the load stops, users finish the request they are sending
(Locust's stop timeout, :data:`DEFAULT_STOP_TIMEOUT_WALL_S` unless ``--stop-timeout`` says), so every request
the endpoint received is counted.

Distributed load (``--processes N``, or ``--master`` / ``--worker``): the shape runs on the master only and
sizes the user pool of all workers together; Locust splits the users among them. When the first pool is
ready the master starts the load clock and sends each worker (``MSG_START``) that wall time, the clock, its
slot among the workers and the arrival seed; later the total users and the stage when they change
(``MSG_SHARE``). Closed loop, every user paces at total users / total rate, so the workers together send the
profile's rate. Open loop, every worker walks the same seeded :class:`~harness.load.stats.ArrivalSchedule`
and keeps the arrivals ``k`` with ``k % workers == slot``: together exactly the single-process schedule.
Workers write nothing to the run folder: each sends its interval records (with their HDR histograms) to the
master (``MSG_INTERVAL``, the last one marked final once the load is over, its users have stopped and its
async completions are in) and its first request time; the master merges the records of each interval
(:class:`~harness.load.stats.IntervalMerger`: one ``load.jsonl`` record per interval, ``workers`` = how many
were merged) and writes every event. After the load the master keeps the test up (with no users) until
every worker has sent its last record, or :data:`WORKERS_FINAL_WAIT_WALL_S` past the load, drain and stop
timeout. Async endpoints: each worker tracks completions of its own sample.

Async completion tracking: one greenlet per process lists the output and failure prefixes of the
outstanding sampled requests (ListObjectsV2, paginated, one listing per prefix per poll) every
``endpoint.async.poll_interval`` of endpoint time. After the load ends the process stays up (with no
users) until every tracked request has completed, or :func:`_drain_s` has passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import mimetypes
import os
import random
import time
import uuid
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import gevent
import gevent.lock
import gevent.queue
from locust import FastHttpUser, LoadTestShape, events, task
from locust.user.users import LOCUST_STATE_STOPPING

from harness.load.invoke import NoCredentialsError, Signer, invoke_async_request, invoke_request, resolve_credentials
from harness.load.stats import (
    ArrivalSchedule,
    CompletionTracker,
    IntervalMerger,
    IntervalRecorder,
    poll_completions,
    pool_size,
    split_s3_uri,
)
from harness.profile import AsyncSpec, Profile, load_profile
from harness.profile.traffic import Schedule, integral, total_duration_s
from harness.record import Clock, LoadInterval, RunEvent, RunFolder

LOAD_INTERVAL_S = 10.0  # endpoint seconds per load.jsonl record
IDLE_POLL_WALL_S = 0.05  # how often an idle user looks at the rate again
# Closed loop: the longest a pacing user sleeps before rereading the rate and the user count.
PACING_RECHECK_WALL_S = 0.25
# Open loop: how long an idle user waits for an arrival before returning to Locust (so it can be stopped);
# the latency assumed before any request finished (wall seconds; then a conservative EWMA of the measured
# ones: a slower request pulls it up with weight LATENCY_RISE_WEIGHT, a faster one down with LATENCY_DECAY_WEIGHT,
# so the pool follows the slow tail, not the mean); how long the shape waits for the first pool to spawn.
ARRIVAL_WAIT_WALL_S = 0.5
INITIAL_LATENCY_WALL_S = 0.2
LATENCY_RISE_WEIGHT = 0.5
LATENCY_DECAY_WEIGHT = 0.005
POOL_READY_MAX_WALL_S = 5.0
# Wall seconds Locust waits for users to finish their request when the load stops, unless --stop-timeout says.
DEFAULT_STOP_TIMEOUT_WALL_S = 10.0
# Open loop: wall seconds added to the latency when sizing the pool, for stalls of the process (GC, CPU)
# after which the scheduler hands out the arrivals it owes at once.
POOL_STALL_WALL_S = 0.05
# Async: how long (endpoint seconds) after the load ends the completions of still outstanding
# sampled requests are awaited, at most; below that, the request TTL plus invocation timeout.
COMPLETION_DRAIN_MAX_S = 600.0
# Async defaults when the profile leaves them unset (InvokeEndpointAsync: 6 h TTL, 15 min timeout).
DEFAULT_REQUEST_TTL_S = 21600.0
DEFAULT_INVOCATION_TIMEOUT_S = 900.0
UPLOAD_RETRY_WALL_S = 1.0  # after a failed payload upload, invocations are skipped this long before retrying
EXTENSIONS = {"text/csv": ".csv", "application/json": ".json", "text/plain": ".txt", "application/x-npy": ".npy",
              "application/jsonlines": ".jsonl", "application/x-image": ".jpg", "application/octet-stream": ".bin"}

log = logging.getLogger("scalecheck.loadgen")


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
    # distributed load (Locust master + workers; see "Distributed load" in the module docstring)
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


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scalecheck-profile", type=str, env_var="SCALECHECK_PROFILE", default="",
                        help="scalecheck profile YAML")
    parser.add_argument("--scalecheck-run-dir", type=str, env_var="SCALECHECK_RUN_DIR", default="",
                        help="scalecheck run folder to record load into")
    parser.add_argument("--scalecheck-clock", type=str, env_var="SCALECHECK_CLOCK", default="",
                        help="JSON wall->endpoint clock mapping (set by scalecheck run)")


def _is_emulator(host: str) -> bool:
    """Whether the Locust host is the emulator on loopback (its own credentials, path-style S3 on the same port)."""
    return host.startswith(("http://127.0.0.1", "http://localhost"))


def _resolve_clock(options: Any, host: str) -> Clock:
    if options.scalecheck_clock:
        return Clock.model_validate(json.loads(options.scalecheck_clock))
    if _is_emulator(host):
        from harness.observe.aws import emulator_clock

        return emulator_clock(host.rstrip("/"))
    return Clock.identity()


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.scalecheck_profile:
        raise SystemExit("scalecheck locustfile: pass --scalecheck-profile PROFILE.yaml (or SCALECHECK_PROFILE)")
    RUN.profile = load_profile(options.scalecheck_profile)
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
    _register_messages(environment)
    if RUN.profile.endpoint.is_async:
        RUN.s3 = _s3_client(RUN.profile.region, environment.host or "")  # built once, before the load
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


def _event(kind: str, detail: str = "", ts: float | None = None) -> None:
    if RUN.folder is not None and RUN.clock is not None:
        RUN.folder.append("events", RunEvent(ts=RUN.clock.endpoint_ts() if ts is None else ts, kind=kind,
                                             detail=detail))


def _first_request(sent_ts: float) -> None:
    """Record the first request this process sends (the ``first_request`` anchor; a worker tells the
    master, which records the earliest); callers check ``RUN.first_request_sent`` first, so later
    requests pay nothing."""
    RUN.first_request_sent = True
    if _is_worker():
        _send(MSG_FIRST_REQUEST, {"ts": sent_ts})
        return
    _event("first_request", ts=sent_ts)


@events.test_start.add_listener
def _test_start(environment: Any, **_kw: Any) -> None:
    if _is_worker():
        _start_reporter()  # the load clock starts when the master says (MSG_START)
        return
    if RUN.open_loop:
        return  # the shape starts the load once the first pool is up
    _begin()  # (a master: before it sends the workers their first users, so they spread their first requests)


def _is_worker() -> bool:
    from locust.runners import WorkerRunner

    return isinstance(getattr(RUN.environment, "runner", None), WorkerRunner)


def _is_master() -> bool:
    from locust.runners import MasterRunner

    return isinstance(getattr(RUN.environment, "runner", None), MasterRunner)


def _begin(started_wall: float | None = None) -> None:
    """Start the load clock once (the shape may tick before Locust fires test_start); a worker starts it
    at the master's ``started_wall``. The master records no load itself: it tells the workers to start
    and merges their records."""
    if RUN.started_wall is not None or RUN.clock is None:
        return
    RUN.started_wall = time.time() if started_wall is None else started_wall
    RUN.stopped = False
    RUN.load_stopped = False
    _event("load_start", f"speed {RUN.clock.speed:g}", ts=RUN.clock.endpoint_ts(RUN.started_wall))
    if _is_master():
        _start_workers()
        return
    RUN.recorder = IntervalRecorder(RUN.clock, RUN.started_wall)
    RUN.writer = gevent.spawn(_write_intervals)
    if RUN.open_loop and RUN.profile is not None:
        RUN.scheduler = gevent.spawn(_schedule_arrivals)
    spec = RUN.profile.endpoint.async_ if RUN.profile is not None else None
    if spec is not None and spec.completion_sample > 0:
        RUN.tracker = CompletionTracker(spec.completion_sample, max_age_s=_max_age_s(spec))
        RUN.watcher = gevent.spawn(_watch_completions, spec)


def _elapsed_s(wall_ts: float | None = None) -> float:
    """Endpoint seconds since the load started."""
    if RUN.started_wall is None or RUN.clock is None:
        return -1.0
    return ((time.time() if wall_ts is None else wall_ts) - RUN.started_wall) * RUN.clock.speed


def _rate_wall(wall_ts: float | None = None) -> float:
    """Requests per wall second the profile asks for now (stage rate x speed); 0 after the end."""
    if RUN.profile is None or RUN.clock is None:
        return 0.0
    return RUN.schedule.rate_at(_elapsed_s(wall_ts)) * RUN.clock.speed


def _flush() -> None:
    if RUN.merger is not None:  # the master: the workers' records, merged (all of them once stopped)
        _write_merged(everything=RUN.stopped)
        return
    if RUN.recorder is None or RUN.clock is None or RUN.profile is None:
        return
    now = time.time()
    middle = (RUN.recorder.start_wall + now) / 2
    t0, t1 = _elapsed_s(RUN.recorder.start_wall), _elapsed_s(now)
    # closed loop: the requests the profile asks for over the interval (exact across stage changes), per second
    offered = integral(RUN.profile.traffic.stages, max(t0, 0.0), t1) / (t1 - t0) if t1 > t0 else 0.0
    found = RUN.schedule.stage_at(_elapsed_s(middle))  # the interval's stage, like its offered rate: at its middle
    stage = RUN.profile.traffic.stages[found[0]].name if found else None
    if RUN.load_end_ts is not None and RUN.clock.endpoint_ts(RUN.recorder.start_wall) >= RUN.load_end_ts:
        stage = None  # an interval of the async drain, after the load
    record = RUN.recorder.flush(now, offered_rps=None if RUN.scheduler is not None else offered, users=RUN.users,
                                stage=stage)
    if _is_worker():
        _send_interval(record, final=RUN.stopped)
    elif record is not None and RUN.folder is not None:
        RUN.folder.append("load", record)


def _write_intervals() -> None:
    """Close an interval every LOAD_INTERVAL_S of endpoint time, on boundaries counted from the load start
    (so that the intervals of several workers line up, and a stall does not shift the later ones)."""
    assert RUN.clock is not None and RUN.started_wall is not None
    period = LOAD_INTERVAL_S / RUN.clock.speed
    k = max(1, math.ceil((time.time() - RUN.started_wall) / period))
    while not RUN.stopped:
        gevent.sleep(max(0.0, RUN.started_wall + k * period - time.time()))
        if RUN.stopped:
            return
        RUN.interval_index = k - 1  # the interval ending at boundary k (a worker labels its records by it)
        _flush()
        k += 1


@events.test_stop.add_listener
def _test_stop(environment: Any, **_kw: Any) -> None:
    if RUN.started_wall is None or RUN.stopped:
        return
    RUN.stopped = True
    for greenlet in (RUN.writer, RUN.watcher, RUN.scheduler):
        if greenlet is not None:
            greenlet.kill(block=False)
    _flush()
    _load_stop()
    if RUN.tracker is not None and (RUN.tracker.outstanding or RUN.tracker.given_up):
        log.warning("async completion tracking: %d sampled request(s) still outstanding at stop, %d given up",
                    RUN.tracker.outstanding, RUN.tracker.given_up)


def _load_stop() -> None:
    """Record the end of the load once: the scheduled end, or now if the load was cut short."""
    if RUN.load_stopped or RUN.clock is None or RUN.profile is None or RUN.started_wall is None:
        return
    RUN.load_stopped = True
    planned_end_wall = RUN.started_wall + RUN.profile.traffic.duration_s / RUN.clock.speed
    end = RUN.clock.endpoint_ts(min(time.time(), planned_end_wall))
    RUN.load_end_ts = end
    if RUN.folder is not None:
        RUN.folder.append("events", RunEvent(ts=end, kind="load_stop"))


def _schedule_arrivals() -> None:
    """Open loop: hand each arrival, at its time, to an idle user; count it dropped when none is idle."""
    assert RUN.profile is not None and RUN.clock is not None and RUN.started_wall is not None
    traffic = RUN.profile.traffic
    # a worker walks the same seeded schedule as every other worker and keeps its share of the arrivals
    schedule = ArrivalSchedule(traffic.stages, traffic.arrivals, traffic.seed if RUN.seed is None else RUN.seed,
                               part=RUN.part, parts=RUN.parts)
    while not RUN.stopped:
        t = schedule.next()
        if t is None:
            return
        gevent.sleep(max(0.0, RUN.started_wall + t / RUN.clock.speed - time.time()))
        if RUN.stopped:
            return
        try:
            RUN.channel.put_nowait(t)
            dropped = False
        except gevent.queue.Full:
            dropped = True
        if RUN.recorder is not None:
            RUN.recorder.arrival(dropped)


def _note_latency(latency_ms: float) -> None:
    seconds = latency_ms / 1000.0
    if RUN.latency_s is None:
        RUN.latency_s = seconds
        return
    weight = LATENCY_RISE_WEIGHT if seconds > RUN.latency_s else LATENCY_DECAY_WEIGHT
    RUN.latency_s += weight * (seconds - RUN.latency_s)


def _pool(peak_wall: float) -> int:
    """Users for ``peak_wall`` requests per wall second. Closed loop: ``rate / user_rps``. Open loop:
    :func:`~harness.load.stats.pool_size` for the measured latency; on a master, the workers' pools together
    (each sized for its share, with the slowest latency a worker reported), capped by traffic.max_users."""
    assert RUN.profile is not None
    traffic = RUN.profile.traffic
    if not RUN.open_loop:
        return math.ceil(peak_wall / traffic.user_rps - 1e-9) if peak_wall > 0 else 0
    if RUN.worker_latency:
        latency = max(RUN.worker_latency.values())
    else:
        latency = RUN.latency_s if RUN.latency_s is not None else INITIAL_LATENCY_WALL_S
    workers = max(_worker_count(), 1) if _is_master() else 1
    users = pool_size(peak_wall / workers, latency + POOL_STALL_WALL_S) * workers
    return min(users, traffic.max_users) if traffic.max_users is not None else users


# --- distributed load (Locust master + workers) ----------------------------------------------------

MSG_START = "scalecheck_start"  # master -> each worker: the load clock, the worker's slot, the arrival seed
MSG_SHARE = "scalecheck_share"  # master -> workers: the total users and the stage, when they change
MSG_STATUS = "scalecheck_status"  # worker -> master: its users running, its latency EWMA
MSG_INTERVAL = "scalecheck_interval"  # worker -> master: one interval record (the last one marked final)
MSG_FIRST_REQUEST = "scalecheck_first_request"  # worker -> master: when it sent its first request
WORKER_REPORT_WALL_S = 0.2  # how often a worker reports its status and looks whether its load is over
MERGE_POLL_WALL_S = 0.1  # how often the master writes the merged intervals that are complete
# The master writes an interval without the workers that have not reported it this long after its end.
MERGE_GRACE_WALL_S = 5.0
# After the load (plus the async drain and the stop timeout) the master waits this long, at most, for the
# workers' last records before it stops without them.
WORKERS_FINAL_WAIT_WALL_S = 30.0
STOP_SPAWN_RATE = 10_000.0  # users per second Locust stops when the load is over (all of them, at once)
# Heartbeats (one a second) a worker may miss before the master counts it missing (Locust's default 3): a
# worker starved of CPU for a few seconds on a small machine is late, not gone; when every worker is
# "missing" the master stops the test.
WORKER_HEARTBEAT_LIVENESS = 15


def _register_messages(environment: Any) -> None:
    from locust.runners import MasterRunner, WorkerRunner

    runner = getattr(environment, "runner", None)
    if isinstance(runner, MasterRunner):
        import locust.runners

        locust.runners.HEARTBEAT_LIVENESS = max(locust.runners.HEARTBEAT_LIVENESS, WORKER_HEARTBEAT_LIVENESS)
        runner.register_message(MSG_STATUS, _on_status)
        runner.register_message(MSG_INTERVAL, _on_interval)
        runner.register_message(MSG_FIRST_REQUEST, _on_first_request)
        environment.events.worker_connect.add_listener(_on_worker_connect)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(MSG_START, _on_start)
        runner.register_message(MSG_SHARE, _on_share)


def _send(kind: str, data: dict[str, Any], client_id: str | None = None) -> None:
    from locust.exception import RPCError

    runner = getattr(RUN.environment, "runner", None)
    if runner is None:
        return
    try:
        runner.send_message(kind, data, client_id)
    except RPCError as err:
        log.warning("could not send %s: %s", kind, err)


def _worker_count() -> int:
    return int(getattr(getattr(RUN.environment, "runner", None), "worker_count", 0) or 0)


def _profile_digest() -> str:
    """What master and workers must agree on: the endpoint and the traffic of the profile."""
    assert RUN.profile is not None
    data = {"endpoint": RUN.profile.endpoint.model_dump(mode="json", by_alias=True),
            "traffic": RUN.profile.traffic.model_dump(mode="json", by_alias=True)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _start_workers() -> None:
    """Master, at load start: give each connected worker its slot, the load clock and the arrival seed,
    and start merging their records."""
    assert RUN.profile is not None and RUN.clock is not None and RUN.started_wall is not None
    runner = RUN.environment.runner
    nodes = runner.clients.ready + runner.clients.spawning + runner.clients.running
    ids = sorted((node.id for node in nodes), key=runner.get_worker_index)
    RUN.seed = RUN.profile.traffic.seed if RUN.profile.traffic.seed is not None else \
        random.SystemRandom().randrange(2**31)
    RUN.slots = {client_id: i for i, client_id in enumerate(ids)}
    RUN.merger = IntervalMerger(ids, open_loop=RUN.open_loop)
    RUN.shared = (RUN.users, RUN.stage)
    base = {"started_wall": RUN.started_wall, "clock": RUN.clock.model_dump(mode="json"), "parts": len(ids),
            "seed": RUN.seed, "users": RUN.users, "stage": RUN.stage, "profile": _profile_digest()}
    for client_id, slot in RUN.slots.items():
        _send(MSG_START, {**base, "part": slot}, client_id)
    if not ids:
        log.warning("no worker is connected at load start: no load will be sent")
    RUN.writer = gevent.spawn(_merge_loop)


def _share() -> None:
    """Master: tell the workers the total users (closed loop: what each user paces by) and the stage."""
    if not _is_master():
        return
    state = (RUN.users, RUN.stage)
    if state != RUN.shared:
        RUN.shared = state
        _send(MSG_SHARE, {"users": RUN.users, "stage": RUN.stage})


def _on_start(environment: Any, msg: Any, **_kw: Any) -> None:
    """Worker: the master started the load clock; start this worker's share of the load at that time."""
    data = msg.data
    if RUN.started_wall is not None or RUN.profile is None:
        return
    if data.get("profile") != _profile_digest():
        problem = "the master's profile has another endpoint or traffic than this worker's: it sends no load"
        log.error("scalecheck worker: %s", problem)
        _send(MSG_INTERVAL, {"index": 0, "final": True, "record": None, "error": problem})
        RUN.final_sent = True
        environment.process_exit_code = 1
        return
    RUN.clock = Clock.model_validate(data["clock"])
    RUN.part, RUN.parts, RUN.seed = int(data["part"]), max(1, int(data["parts"])), data.get("seed")
    RUN.users, RUN.stage = int(data["users"]), data.get("stage")
    if RUN.profile.endpoint.is_async and environment.host:  # the host the master gave (its --host)
        RUN.s3 = _s3_client(RUN.profile.region, environment.host)
    _begin(started_wall=float(data["started_wall"]))
    log.info("scalecheck worker %d of %d: load started", RUN.part + 1, RUN.parts)


def _on_share(environment: Any, msg: Any, **_kw: Any) -> None:
    RUN.users, RUN.stage = int(msg.data["users"]), msg.data.get("stage")


def _start_reporter() -> None:
    if RUN.reporter is None:
        RUN.reporter = gevent.spawn(_report_worker)


def _report_worker() -> None:
    """Worker: report status to the master; once the load is over, its users have stopped (so every
    request it sent is recorded) and no async completion is awaited, send the last record."""
    while not RUN.final_sent:
        _send(MSG_STATUS, {"live": RUN.live, "latency_s": RUN.latency_s})
        gevent.sleep(WORKER_REPORT_WALL_S)
        if RUN.started_wall is None or RUN.profile is None or RUN.stopped:
            continue
        if _elapsed_s() < RUN.profile.traffic.duration_s:
            continue
        _load_stop()
        if RUN.environment.runner.user_count > 0 or _draining():
            continue
        _test_stop(RUN.environment)  # stops the greenlets and sends the last interval, marked final


def _send_interval(record: LoadInterval | None, *, final: bool) -> None:
    """Worker: send the interval just flushed to the master (``final``: the last one)."""
    index = RUN.interval_index
    RUN.interval_index += 1
    if RUN.final_sent:
        return
    RUN.final_sent = final
    _send(MSG_INTERVAL, {"index": index, "final": final,
                         "record": None if record is None else record.model_dump(mode="json")})


def _on_status(environment: Any, msg: Any, **_kw: Any) -> None:
    data = msg.data or {}
    RUN.worker_live[msg.node_id] = int(data.get("live") or 0)
    if data.get("latency_s") is not None:
        RUN.worker_latency[msg.node_id] = float(data["latency_s"])
    RUN.live = sum(RUN.worker_live.values())


def _on_interval(environment: Any, msg: Any, **_kw: Any) -> None:
    data = msg.data
    if RUN.merger is None:
        return
    if data.get("error"):
        log.error("worker %s: %s", msg.node_id, data["error"])
    record = LoadInterval.model_validate(data["record"]) if data.get("record") else None
    late = RUN.merger.add(msg.node_id, int(data["index"]), record, final=bool(data.get("final")))
    if late is not None:
        log.warning("a load record of worker %s came after its interval was written: appended on its own",
                    msg.node_id)
        if RUN.folder is not None:
            RUN.folder.append("load", late)
    _write_merged()


def _on_worker_connect(client_id: str, **_kw: Any) -> None:
    if RUN.merger is not None and client_id not in RUN.slots:
        log.warning("worker %s connected after the load started: Locust gives it users, but it sends no load "
                    "(the arrivals and the rate were split among the %d workers there at the start)",
                    client_id, len(RUN.slots))


def _on_first_request(environment: Any, msg: Any, **_kw: Any) -> None:
    ts = float(msg.data["ts"])
    if RUN.first_request_ts is None or ts < RUN.first_request_ts:  # run.py takes the earliest
        RUN.first_request_ts = ts
        RUN.first_request_sent = True
        _event("first_request", ts=ts)


def _merge_loop() -> None:
    while not RUN.stopped:
        gevent.sleep(MERGE_POLL_WALL_S)
        _write_merged()


def _write_merged(everything: bool = False) -> None:
    """Master: append the merged records of the intervals every worker has reported (or that are overdue;
    ``everything``: all received, at the end)."""
    merger = RUN.merger
    if merger is None or RUN.started_wall is None or RUN.clock is None:
        return
    runner = getattr(RUN.environment, "runner", None)
    clients = getattr(runner, "clients", None)
    if clients is not None:
        for worker in list(merger.workers):
            if not merger.done(worker) and worker not in clients:
                log.warning("worker %s left before sending its last load record", worker)
                merger.leave(worker)
    period = LOAD_INTERVAL_S / RUN.clock.speed
    now = time.time()
    started = RUN.started_wall
    for record in merger.pop(lambda k: now > started + (k + 1) * period + MERGE_GRACE_WALL_S, everything=everything):
        if RUN.folder is not None:
            RUN.folder.append("load", record)


def _waiting_for_workers() -> bool:
    """Master, after the load: whether a worker has not sent its last record yet (and may still)."""
    merger = RUN.merger
    if merger is None or RUN.profile is None or RUN.clock is None or RUN.started_wall is None:
        return False
    _write_merged()
    waiting = sorted(w for w in merger.workers if not merger.done(w))
    if not waiting:
        return False
    spec = RUN.profile.endpoint.async_
    drain = _drain_s(spec) if spec is not None and spec.completion_sample > 0 else 0.0
    deadline = (RUN.started_wall + (RUN.profile.traffic.duration_s + drain) / RUN.clock.speed
                + float(RUN.environment.stop_timeout or 0.0) + WORKERS_FINAL_WAIT_WALL_S)
    if time.time() < deadline:
        return True
    log.warning("worker(s) %s sent no last load record in time: stopping without it", ", ".join(waiting))
    for worker in waiting:
        merger.leave(worker)
    return False


class ProfileShape(LoadTestShape):
    """Sizes the user pool: open loop, :func:`~harness.load.stats.pool_size` for the peak rate until the next
    tick; closed loop, enough users pacing at ``traffic.user_rps`` for the rate until the next tick.

    Locust ticks a shape about once per wall second, which is ``speed`` endpoint seconds: too coarse
    for the rate itself, so users read the rate from the clock at every request (``_rate_wall``).
    """

    def tick(self) -> tuple[int, float] | None:
        profile, clock = RUN.profile, RUN.clock
        if profile is None or clock is None:
            return None
        if RUN.started_wall is None:
            # Spawn the first pool before the load clock starts (both modes): at high speeds the second or
            # so Locust takes to start users would otherwise be minutes of endpoint time without load.
            now = time.time()
            RUN.first_tick_wall = RUN.first_tick_wall or now
            peak0 = max(RUN.schedule.rate_at(0.0), RUN.schedule.rate_at(clock.speed)) * clock.speed
            RUN.users = _pool(peak0)
            _share()
            if RUN.live < RUN.users and now - RUN.first_tick_wall < POOL_READY_MAX_WALL_S:
                return RUN.users, max(RUN.users, 1) * 10.0  # spawn the first pool before the load clock starts
        _begin()
        t_ep = _elapsed_s()
        stages = profile.traffic.stages
        if t_ep >= total_duration_s(stages):
            _load_stop()
            RUN.users = 0
            _share()
            if _draining():
                return 0, STOP_SPAWN_RATE  # keep the process (and the completion watcher) up, with no users
            if _is_master() and _waiting_for_workers():
                # the workers stop their users at once (the spawn rate paces ramp-downs too), finish their
                # requests (and async drains) and send their last records
                return 0, STOP_SPAWN_RATE
            return None
        found = RUN.schedule.stage_at(t_ep)
        stage = stages[found[0]].name if found else None
        if stage != RUN.stage:
            RUN.stage = stage
            if found is not None:  # at the stage's scheduled start: the shape notices it up to a tick later
                _event("stage_start", stage or "", ts=clock.endpoint_ts(RUN.started_wall) + t_ep - found[1])
        peak_wall = max(_rate_wall(), _rate_wall(time.time() + 1.0))
        before = RUN.users
        RUN.users = _pool(peak_wall)
        _share()
        # Locust starts and stops users at this rate (per second): the whole change within ~0.1 s, so a step
        # down does not leave the users still to stop sending at the old pacing for a second or more
        return RUN.users, max(RUN.users, before, 1) * 10.0


def _session(region: str, host: str) -> boto3.session.Session:
    """The emulator's credentials (or the environment's) on loopback, else the standard credential chain."""
    if _is_emulator(host):
        return boto3.session.Session(aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                                     aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                                     region_name=region)
    return boto3.session.Session(region_name=region)


def _signer(region: str, host: str) -> Signer:
    """One fast SigV4 signer per process (harness.load.invoke), shared by all users; credentials from the standard
    chain (test/test for the emulator on loopback), refreshed when temporary ones near expiry."""
    if RUN.signer is None:
        try:
            RUN.signer = Signer(region, host, resolve_credentials(region, host))
        except NoCredentialsError:
            raise SystemExit("scalecheck locustfile: no AWS credentials found for signing requests") from None
    return RUN.signer


def _error_code(response: Any) -> str:
    code = response.headers.get("x-amzn-ErrorType") if response.headers else None
    if not code:
        try:
            code = json.loads(response.content or b"{}").get("__type")
        except (ValueError, AttributeError):
            code = None
    if not code:
        code = f"HTTP{response.status_code}" if response.status_code else "ConnectionError"
    return str(code).split(":")[0]


def _pacing_s(rate_wall: float) -> float:
    """Closed loop: ``users / rate`` wall seconds between one user's starts (``rate_wall`` > 0). ``users`` is the
    larger of the shape's count and the users running and not stopping: while Locust spawns users the shape's
    count keeps the ones already running from rushing; while it stops them one by one, the users still sending
    keep theirs (pacing by the new, smaller count would overshoot the rate until the rest stopped)."""
    return max(RUN.users, RUN.live, 1) / rate_wall


class _PacedUser(FastHttpUser):
    """What decides when the users send: open loop, an arrival handed over by the scheduler; closed loop,
    pacing at ``users / rate`` wall seconds between request starts."""

    abstract = True
    _last_start = 0.0
    _phase = 0.0
    _idle = True
    _live = False  # counted in RUN.live

    def stop(self, force: bool = False) -> bool:
        """Locust's stop, except that asking a user that is already stopping to stop again is a no-op. With a
        stop timeout, the ramp-down to 0 users at the end of the load and the final stop can both ask the same
        user (Locust checks the state before its stop call runs) and Locust would raise."""
        if not force and self._state == LOCUST_STATE_STOPPING:
            return False
        self._leave()
        return bool(super().stop(force))

    def on_stop(self) -> None:
        self._leave()

    def _leave(self) -> None:
        """This user sends no more (it is stopping): the others' closed-loop pacing stops counting it."""
        if self._live:
            self._live = False
            RUN.live -= 1

    def _start_pacing(self) -> None:
        RUN.live += 1
        self._live = True
        self._last_start = time.monotonic()
        # Closed loop: where in the pacing interval this user sends. Whenever sending (re)starts, at the first
        # moment with a positive rate, the user waits that fraction of one interval, so users that were idle
        # together (spawned before the load clock, or through a stage at rate 0) do not send in lockstep.
        self._phase = random.random()
        self._idle = True

    def _arrival(self) -> bool:
        """Whether to send a request now (False: return to Locust, which may be stopping this user).

        Open loop: an arrival handed over by the scheduler. Closed loop: wait until ``users / rate`` wall seconds
        after this user's previous start, rereading the rate and the user count at least every
        :data:`PACING_RECHECK_WALL_S`: a wait computed before a rate step-up would otherwise run at the old,
        longer pacing and the load would fall short after every increase."""
        if RUN.open_loop:
            while True:  # stay a waiting getter (leaving the channel even briefly would drop arrivals)
                try:
                    RUN.channel.get(timeout=ARRIVAL_WAIT_WALL_S)
                except gevent.queue.Empty:
                    if self._stopping():
                        return False
                    continue
                return True
        waited = False
        while True:
            if self._stopping():
                return False
            rate = _rate_wall()
            now = time.monotonic()
            if rate <= 0:  # between stages at rate 0, or past the end: send nothing
                self._idle = True
                gevent.sleep(IDLE_POLL_WALL_S)
                continue
            pacing = _pacing_s(rate)
            if self._idle:
                self._idle = False
                self._last_start = now - pacing * (1.0 - self._phase)
            due = self._last_start + pacing
            if now >= due:
                if now - due < pacing:  # on time, or a little late (sleep overshoot): keep the cadence
                    self._last_start = due
                    return True
                if not waited:  # its own request took longer than the pacing: send at once, as closed loops do
                    self._last_start = now
                    return True
                # The pacing shrank while this user waited (a rate step-up): every waiting user is overdue at
                # once. Take up this user's phase of the new interval instead of all sending together.
                self._last_start = now - pacing * (1.0 - self._phase)
                continue
            waited = True
            gevent.sleep(min(due - now, PACING_RECHECK_WALL_S))

    def _stopping(self) -> bool:
        return RUN.stopped or getattr(self, "_state", None) == LOCUST_STATE_STOPPING

    def _done(self, latency_ms: float, error: str | None) -> None:
        if RUN.recorder is not None:
            RUN.recorder.record(latency_ms, error)
        _note_latency(latency_ms)

    def wait_time(self) -> float:
        return 0.0  # both modes wait in _arrival, inside the task


class RealtimeUser(_PacedUser):
    """Calls InvokeEndpoint at the pace the shape sets (``users / rate`` seconds between requests)."""

    def on_start(self) -> None:
        assert RUN.profile is not None
        self._signer = _signer(RUN.profile.region, self.host or "")
        self._request = invoke_request(RUN.profile.endpoint.name, RUN.profile.traffic.payload.encode(),
                                       RUN.profile.traffic.content_type, accept="*/*")
        self._start_pacing()

    @task
    def invoke(self) -> None:
        if not self._arrival():
            return
        request = self._request
        headers = self._signer.headers(request)
        if not RUN.first_request_sent and RUN.clock is not None:
            _first_request(RUN.clock.endpoint_ts())
        started = time.perf_counter()
        with self.client.post(request.path, data=request.body, headers=headers, name="InvokeEndpoint",
                              catch_response=True) as response:
            latency_ms = (time.perf_counter() - started) * 1000.0
            error = None if response.status_code == 200 else _error_code(response)
            if error is None:
                response.success()
            else:
                response.failure(f"{error} (HTTP {response.status_code})")
        self._done(latency_ms, error)


# --- asynchronous endpoints -----------------------------------------------------------------


def _max_age_s(spec: AsyncSpec) -> float:
    """Endpoint seconds after which a request can no longer produce a result (TTL + invocation timeout)."""
    return (spec.request_ttl_s or DEFAULT_REQUEST_TTL_S) + (spec.invocation_timeout_s or DEFAULT_INVOCATION_TIMEOUT_S)


def _drain_s(spec: AsyncSpec) -> float:
    """How long after the load ends outstanding sampled requests are still awaited."""
    return min(_max_age_s(spec), COMPLETION_DRAIN_MAX_S)


def _draining() -> bool:
    """After the load: whether tracked requests are outstanding and the drain time has not run out."""
    spec = RUN.profile.endpoint.async_ if RUN.profile is not None else None
    if spec is None or RUN.tracker is None or RUN.tracker.outstanding == 0 or RUN.clock is None:
        return False
    end = RUN.load_end_ts if RUN.load_end_ts is not None else RUN.clock.endpoint_ts()
    return RUN.clock.endpoint_ts() < end + _drain_s(spec)


def _s3_client(region: str, host: str) -> Any:
    """boto3 S3 client: the emulator (path style, same port) on loopback, else S3 of the region."""
    emulator = _is_emulator(host)
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10,
                                    read_timeout=60, s3={"addressing_style": "path"} if emulator else None)
    return _session(region, host).client("s3", endpoint_url=host.rstrip("/") if emulator else None, config=config)


def _extension(content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    return EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"


def _fire(name: str, started: float, exception: BaseException | None, environment: Any) -> None:
    """Report a side call (S3) in Locust's own statistics; it is not an invocation."""
    environment.events.request.fire(request_type="S3", name=name, response_time=(time.perf_counter() - started) * 1000,
                                    response_length=0, response=None, context={}, exception=exception)


def _input_location(body: bytes, digest: str, content_type: str, environment: Any) -> str | None:
    """The S3 URI of this payload, uploading it on first use (once per process); None if the upload failed."""
    uri = RUN.inputs.get(digest)
    if uri is not None:
        return uri
    assert RUN.profile is not None and RUN.profile.endpoint.async_ is not None
    if RUN.upload_lock is None:  # (set at init for async profiles)
        RUN.upload_lock = gevent.lock.BoundedSemaphore()
    with RUN.upload_lock:  # one upload per payload and process, however many users want it at once
        uri = RUN.inputs.get(digest)
        if uri is not None:
            return uri
        if time.monotonic() - RUN.upload_failed_wall < UPLOAD_RETRY_WALL_S:
            return None  # do not hammer S3 while it refuses
        if RUN.s3 is None:
            RUN.s3 = _s3_client(RUN.profile.region, environment.host or "")
        bucket, prefix = split_s3_uri(RUN.profile.endpoint.async_.input_path)
        key = (prefix.rstrip("/") + "/" if prefix.strip("/") else "") + digest + _extension(content_type)
        started = time.perf_counter()
        try:
            RUN.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            RUN.upload_failed_wall = time.monotonic()
            _fire("PutObject (payload)", started, err, environment)
            log.warning("uploading the payload to s3://%s/%s failed: %s", bucket, key, err)
            return None
        _fire("PutObject (payload)", started, None, environment)
        uri = RUN.inputs[digest] = f"s3://{bucket}/{key}"
        return uri


def _watch_completions(spec: AsyncSpec) -> None:
    """Every poll interval (endpoint time): list where the outstanding sampled results can appear."""
    assert RUN.clock is not None
    while not RUN.stopped:
        gevent.sleep(spec.poll_interval_s / RUN.clock.speed)
        try:
            _poll_completions()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            log.warning("async completion poll failed: %s", err)


def _poll_completions() -> None:
    """One poll: one paginated ListObjectsV2 per prefix with outstanding results; record what appeared."""
    tracker, clock, recorder = RUN.tracker, RUN.clock, RUN.recorder
    if tracker is None or clock is None or recorder is None:
        return
    given_up = tracker.prune(clock.endpoint_ts())
    if given_up:
        log.warning("async completion tracking: gave up %d request(s) past their TTL and timeout", given_up)
    if tracker.outstanding == 0 or RUN.s3 is None:
        return
    s3 = RUN.s3

    def list_page(bucket: str, prefix: str, token: str | None) -> Any:
        return s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {}))

    for done in poll_completions(tracker, list_page, clock.endpoint_ts):
        recorder.record_completion(done.seconds, done.failed)


def _output_extension() -> str:
    """The S3OutputPathExtension of this run: its run id, else a per-process stamp."""
    if RUN.folder is not None:
        try:
            name = RUN.folder.read_run().run_id  # "<stamp>-<profile>[/<scenario>]": unique per run
        except (OSError, ValueError):
            name = RUN.folder.path.name
    else:
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
    return "scalecheck-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


class AsyncUser(_PacedUser):
    """Calls InvokeEndpointAsync at the pace the shape sets, with the payload uploaded to S3 once."""

    def on_start(self) -> None:
        assert RUN.profile is not None and RUN.profile.endpoint.async_ is not None
        profile = RUN.profile
        spec = profile.endpoint.async_
        self._signer = _signer(profile.region, self.host or "")
        self._body = profile.traffic.payload.encode()
        self._digest = hashlib.sha256(self._body).hexdigest()
        self._content_type = profile.traffic.content_type
        self._output_path = spec.output_path.rstrip("/")
        self._failure_path = spec.failure_path.rstrip("/")
        self._ttl_s = round(spec.request_ttl_s) if spec.request_ttl_s is not None else None
        self._timeout_s = round(spec.invocation_timeout_s) if spec.invocation_timeout_s is not None else None
        # Each run's results go under their own sub-prefix of the output path, so the completion poll
        # lists this run's objects only, however many earlier runs left in the bucket.
        self._extension = _output_extension()
        self._start_pacing()

    @task
    def invoke(self) -> None:
        if not self._arrival() or RUN.clock is None:
            return
        location = _input_location(self._body, self._digest, self._content_type, self.environment)
        if location is None:
            return  # the upload failed (reported as an S3 failure); try again next time
        inference_id = f"scalecheck-{uuid.uuid4().hex}"
        request = invoke_async_request(RUN.profile.endpoint.name if RUN.profile else "", location,
                                       content_type=self._content_type, inference_id=inference_id,
                                       ttl_s=self._ttl_s, timeout_s=self._timeout_s,
                                       output_path_extension=self._extension)
        headers = self._signer.headers(request)
        sent_ts = RUN.clock.endpoint_ts()
        if not RUN.first_request_sent:
            _first_request(sent_ts)
        started = time.perf_counter()
        with self.client.post(request.path, data=request.body, headers=headers, name="InvokeEndpointAsync",
                              catch_response=True) as response:
            latency_ms = (time.perf_counter() - started) * 1000.0
            error = None if response.status_code == 202 else _error_code(response)
            if error is None:
                response.success()
            else:
                response.failure(f"{error} (HTTP {response.status_code})")
        self._done(latency_ms, error)
        if error is None and RUN.tracker is not None and RUN.tracker.should_track():
            output, failure = self._locations(response, inference_id)
            RUN.tracker.track(inference_id, output, failure, sent_ts)

    def _locations(self, response: Any, inference_id: str) -> tuple[str, str | None]:
        """Where the result will appear: the response's locations, else the documented defaults."""
        headers = response.headers or {}
        output = headers.get("X-Amzn-SageMaker-OutputLocation")
        failure = headers.get("X-Amzn-SageMaker-FailureLocation")
        if not output:
            try:
                body = json.loads(response.content or b"{}")
            except ValueError:
                body = {}
            output = body.get("OutputLocation") if isinstance(body, dict) else None
            failure = failure or (body.get("FailureLocation") if isinstance(body, dict) else None)
        return (output or f"{self._output_path}/{self._extension}/{inference_id}.out",
                failure or f"{self._failure_path}/{inference_id}-error.out")
