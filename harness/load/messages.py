"""The messages between a Locust master and its workers, and the master's merge of the workers' records.

The sending side of :mod:`harness.load.distributed` (which holds the receiving side, the handlers): what
the load clock (:mod:`harness.load.lifecycle`) calls to start the workers, send an interval or the first
request, and write the merged records. A message that cannot be sent is logged and dropped. The master
writes an interval without the workers that have not reported it :data:`MERGE_GRACE_WALL_S` after its
end, and stops waiting for a worker that left (logged) or sent no last record in time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from typing import Any

import gevent

from harness.load.asyncwatch import drain_s
from harness.load.state import LOAD_INTERVAL_S, RUN, is_master
from harness.load.stats import IntervalMerger
from harness.record import LoadInterval

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


def send(kind: str, data: dict[str, Any], client_id: str | None = None) -> None:
    from locust.exception import RPCError

    runner = getattr(RUN.environment, "runner", None)
    if runner is None:
        return
    try:
        runner.send_message(kind, data, client_id)
    except RPCError as err:
        log.warning("could not send %s: %s", kind, err)


def profile_digest() -> str:
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
            "seed": RUN.seed, "users": RUN.users, "stage": RUN.stage, "profile": profile_digest()}
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


def send_interval(record: LoadInterval | None, *, final: bool) -> None:
    """Worker: send the interval just flushed to the master (``final``: the last one)."""
    index = RUN.interval_index
    RUN.interval_index += 1
    if RUN.final_sent:
        return
    RUN.final_sent = final
    send(MSG_INTERVAL, {"index": index, "final": final,
                         "record": None if record is None else record.model_dump(mode="json")})


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
