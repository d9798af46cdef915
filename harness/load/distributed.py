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

import logging
from typing import Any

import gevent

from harness.load import lifecycle
from harness.load.asyncwatch import draining
from harness.load.clients import s3_client
from harness.load.messages import (
    MSG_FIRST_REQUEST,
    MSG_INTERVAL,
    MSG_SHARE,
    MSG_START,
    MSG_STATUS,
    WORKER_REPORT_WALL_S,
    profile_digest,
    send,
    write_merged,
)
from harness.load.state import RUN, elapsed_s, event
from harness.record import Clock, LoadInterval

log = logging.getLogger("scalecheck.loadgen")

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


def _on_start(environment: Any, msg: Any, **_kw: Any) -> None:
    """Worker: the master started the load clock; start this worker's share of the load at that time."""
    data = msg.data
    if RUN.started_wall is not None or RUN.profile is None:
        return
    if data.get("profile") != profile_digest():
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


