"""Distributed load: a Locust master and N workers share one profile's load; the messages between them,
the master's merge of the workers' records, and each worker's reports.

Distributed load (``--processes N``, or ``--master`` / ``--worker``): the shape runs on the master only and
sizes the user pool of all workers together; Locust splits the users among them. When the first pool is
ready the master starts the load clock and sends each worker (``MSG_START``) that wall time, the clock, its
slot among the workers and the arrival seed; later the total users and the stage when they change
(``MSG_SHARE``). Closed loop, every user paces at total users / total rate, so the workers together send the
profile's rate. Open loop, every worker walks the same seeded :class:`~harness.load.arrivals.ArrivalSchedule`
and keeps the arrivals ``k`` with ``k % workers == slot``: together exactly the single-process schedule.
Workers write nothing to the run folder: each sends its interval records (with their HDR histograms) to the
master (``MSG_INTERVAL``, the last one marked final once the load is over, its users have stopped and its
async completions are in) and its first request time; the master merges the records of each interval
(:class:`~harness.load.stats.IntervalMerger`: one ``load.jsonl`` record per interval, ``workers`` = how many
were merged) and writes every event. After the load the master keeps the test up (with no users) until
every worker has sent its last record, or :data:`WORKERS_FINAL_WAIT_WALL_S` past the load, drain and stop
timeout. Async endpoints: each worker tracks completions of its own sample.

Failure modes: a message that cannot be sent is logged and dropped; a worker whose profile differs from the
master's (endpoint or traffic) sends no load and exits 1; a worker that connects after the load started
gets users from Locust but sends nothing. The master writes an interval without the workers that have not
reported it :data:`MERGE_GRACE_WALL_S` after its end, and stops waiting for a worker that left (logged) or
sent no last record in time; a record that comes after its interval was written is appended on its own,
so the totals stay exact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from typing import Any

import gevent

from harness.load import lifecycle
from harness.load.asyncwatch import drain_s, draining
from harness.load.clients import s3_client
from harness.load.state import LOAD_INTERVAL_S, RUN, elapsed_s, event, is_master
from harness.load.stats import IntervalMerger
from harness.record import Clock, LoadInterval

log = logging.getLogger("scalecheck.loadgen")

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
# Heartbeats (one a second) a worker may miss before the master counts it missing (Locust's default 3): a
# worker starved of CPU for a few seconds on a small machine is late, not gone; when every worker is
# "missing" the master stops the test.
WORKER_HEARTBEAT_LIVENESS = 15


def register_messages(environment: Any) -> None:
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


def send(kind: str, data: dict[str, Any], client_id: str | None = None) -> None:
    from locust.exception import RPCError

    runner = getattr(RUN.environment, "runner", None)
    if runner is None:
        return
    try:
        runner.send_message(kind, data, client_id)
    except RPCError as err:
        log.warning("could not send %s: %s", kind, err)


def _profile_digest() -> str:
    """What master and workers must agree on: the endpoint and the traffic of the profile."""
    assert RUN.profile is not None
    data = {"endpoint": RUN.profile.endpoint.model_dump(mode="json", by_alias=True),
            "traffic": RUN.profile.traffic.model_dump(mode="json", by_alias=True)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def start_workers() -> None:
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
        send(MSG_START, {**base, "part": slot}, client_id)
    if not ids:
        log.warning("no worker is connected at load start: no load will be sent")
    RUN.writer = gevent.spawn(_merge_loop)


def share() -> None:
    """Master: tell the workers the total users (closed loop: what each user paces by) and the stage."""
    if not is_master():
        return
    state = (RUN.users, RUN.stage)
    if state != RUN.shared:
        RUN.shared = state
        send(MSG_SHARE, {"users": RUN.users, "stage": RUN.stage})


def _on_start(environment: Any, msg: Any, **_kw: Any) -> None:
    """Worker: the master started the load clock; start this worker's share of the load at that time."""
    data = msg.data
    if RUN.started_wall is not None or RUN.profile is None:
        return
    if data.get("profile") != _profile_digest():
        problem = "the master's profile has another endpoint or traffic than this worker's: it sends no load"
        log.error("scalecheck worker: %s", problem)
        send(MSG_INTERVAL, {"index": 0, "final": True, "record": None, "error": problem})
        RUN.final_sent = True
        environment.process_exit_code = 1
        return
    RUN.clock = Clock.model_validate(data["clock"])
    RUN.part, RUN.parts, RUN.seed = int(data["part"]), max(1, int(data["parts"])), data.get("seed")
    RUN.users, RUN.stage = int(data["users"]), data.get("stage")
    if RUN.profile.endpoint.is_async and environment.host:  # the host the master gave (its --host)
        RUN.s3 = s3_client(RUN.profile.region, environment.host)
    lifecycle.begin(started_wall=float(data["started_wall"]))
    log.info("scalecheck worker %d of %d: load started", RUN.part + 1, RUN.parts)


def _on_share(environment: Any, msg: Any, **_kw: Any) -> None:
    RUN.users, RUN.stage = int(msg.data["users"]), msg.data.get("stage")


def start_reporter() -> None:
    if RUN.reporter is None:
        RUN.reporter = gevent.spawn(_report_worker)


def _report_worker() -> None:
    """Worker: report status to the master; once the load is over, its users have stopped (so every
    request it sent is recorded) and no async completion is awaited, send the last record."""
    while not RUN.final_sent:
        send(MSG_STATUS, {"live": RUN.live, "latency_s": RUN.latency_s})
        gevent.sleep(WORKER_REPORT_WALL_S)
        if RUN.started_wall is None or RUN.profile is None or RUN.stopped:
            continue
        if elapsed_s() < RUN.profile.traffic.duration_s:
            continue
        lifecycle.load_stop()
        if RUN.environment.runner.user_count > 0 or draining():
            continue
        lifecycle.finish()  # stops the greenlets and sends the last interval, marked final


def send_interval(record: LoadInterval | None, *, final: bool) -> None:
    """Worker: send the interval just flushed to the master (``final``: the last one)."""
    index = RUN.interval_index
    RUN.interval_index += 1
    if RUN.final_sent:
        return
    RUN.final_sent = final
    send(MSG_INTERVAL, {"index": index, "final": final,
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
    write_merged()


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
        event("first_request", ts=ts)


def _merge_loop() -> None:
    while not RUN.stopped:
        gevent.sleep(MERGE_POLL_WALL_S)
        write_merged()


def write_merged(everything: bool = False) -> None:
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


def waiting_for_workers() -> bool:
    """Master, after the load: whether a worker has not sent its last record yet (and may still)."""
    merger = RUN.merger
    if merger is None or RUN.profile is None or RUN.clock is None or RUN.started_wall is None:
        return False
    write_merged()
    waiting = sorted(w for w in merger.workers if not merger.done(w))
    if not waiting:
        return False
    spec = RUN.profile.endpoint.async_
    drain = drain_s(spec) if spec is not None and spec.completion_sample > 0 else 0.0
    deadline = (RUN.started_wall + (RUN.profile.traffic.duration_s + drain) / RUN.clock.speed
                + float(RUN.environment.stop_timeout or 0.0) + WORKERS_FINAL_WAIT_WALL_S)
    if time.time() < deadline:
        return True
    log.warning("worker(s) %s sent no last load record in time: stopping without it", ", ".join(waiting))
    for worker in waiting:
        merger.leave(worker)
    return False
