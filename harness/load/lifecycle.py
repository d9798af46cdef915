"""The load clock and the interval records of one load generator process, from load start to stop.

:func:`begin` starts the load clock once (the shape may tick before Locust fires test_start; a worker
starts it at the master's wall time) and, except on a master, the interval writer, the open-loop arrival
scheduler and the async completion watcher (greenlets). :func:`finish` (Locust's test_stop, or a worker
once its load is over) stops them once and writes the last interval; :func:`load_stop` records the end
of the load once (the ``load_stop`` event and ``RUN.load_end_ts``: the scheduled end, or now if the load
was cut short). :func:`first_request` records the ``first_request`` anchor once per process.

Intervals are :data:`~harness.load.state.LOAD_INTERVAL_S` of endpoint time on boundaries counted from
the load start, so a stall does not shift the later ones and the intervals of several workers line up.
Each record's offered rate is the profile's over the interval (closed loop) or the arrivals scheduled
in it (open loop); its stage is the one at its middle, None for intervals of the async drain after the
load. A single process appends its records to ``load.jsonl``; a worker sends them to the master, which
writes the merged ones (:mod:`harness.load.messages`).
"""

from __future__ import annotations

import logging
import math
import time

import gevent

from harness.load import messages
from harness.load.asyncwatch import max_age_s, watch_completions
from harness.load.completions import CompletionTracker
from harness.load.openloop import schedule_arrivals
from harness.load.state import LOAD_INTERVAL_S, RUN, elapsed_s, event, is_master, is_worker
from harness.load.stats import IntervalRecorder
from harness.profile.traffic import integral
from harness.record import RunEvent

log = logging.getLogger("scalecheck.loadgen")


def first_request(sent_ts: float) -> None:
    """Record the first request this process sends (the ``first_request`` anchor; a worker tells the
    master, which records the earliest); callers check ``RUN.first_request_sent`` first, so later
    requests pay nothing."""
    RUN.first_request_sent = True
    if is_worker():
        messages.send(messages.MSG_FIRST_REQUEST, {"ts": sent_ts})
        return
    event("first_request", ts=sent_ts)


def begin(started_wall: float | None = None) -> None:
    """Start the load clock once (the shape may tick before Locust fires test_start); a worker starts it
    at the master's ``started_wall``. The master records no load itself: it tells the workers to start
    and merges their records."""
    if RUN.started_wall is not None or RUN.clock is None:
        return
    RUN.started_wall = time.time() if started_wall is None else started_wall
    RUN.stopped = False
    RUN.load_stopped = False
    event("load_start", f"speed {RUN.clock.speed:g}", ts=RUN.clock.endpoint_ts(RUN.started_wall))
    if is_master():
        messages.start_workers()
        return
    RUN.recorder = IntervalRecorder(RUN.clock, RUN.started_wall)
    RUN.writer = gevent.spawn(_write_intervals)
    if RUN.open_loop and RUN.profile is not None:
        RUN.scheduler = gevent.spawn(schedule_arrivals)
    spec = RUN.profile.endpoint.async_ if RUN.profile is not None else None
    if spec is not None and spec.completion_sample > 0:
        RUN.tracker = CompletionTracker(spec.completion_sample, max_age_s=max_age_s(spec))
        RUN.watcher = gevent.spawn(watch_completions, spec)


def _flush() -> None:
    if RUN.merger is not None:  # the master: the workers' records, merged (all of them once stopped)
        messages.write_merged(everything=RUN.stopped)
        return
    if RUN.recorder is None or RUN.clock is None or RUN.profile is None:
        return
    now = time.time()
    middle = (RUN.recorder.start_wall + now) / 2
    t0, t1 = elapsed_s(RUN.recorder.start_wall), elapsed_s(now)
    # closed loop: the requests the profile asks for over the interval (exact across stage changes), per second
    offered = integral(RUN.profile.traffic.stages, max(t0, 0.0), t1) / (t1 - t0) if t1 > t0 else 0.0
    found = RUN.schedule.stage_at(elapsed_s(middle))  # the interval's stage, like its offered rate: at its middle
    stage = RUN.profile.traffic.stages[found[0]].name if found else None
    if RUN.load_end_ts is not None and RUN.clock.endpoint_ts(RUN.recorder.start_wall) >= RUN.load_end_ts:
        stage = None  # an interval of the async drain, after the load
    record = RUN.recorder.flush(now, offered_rps=None if RUN.scheduler is not None else offered, users=RUN.users,
                                stage=stage)
    if is_worker():
        messages.send_interval(record, final=RUN.stopped)
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


def finish() -> None:
    """Stop the load of this process once (Locust's test_stop, or a worker whose load is over): stop the
    interval writer, the completion watcher and the arrival scheduler, write (or send) the last interval and
    record the end of the load."""
    if RUN.started_wall is None or RUN.stopped:
        return
    RUN.stopped = True
    for greenlet in (RUN.writer, RUN.watcher, RUN.scheduler):
        if greenlet is not None:
            greenlet.kill(block=False)
    _flush()
    load_stop()
    if RUN.tracker is not None and (RUN.tracker.outstanding or RUN.tracker.given_up):
        log.warning("async completion tracking: %d sampled request(s) still outstanding at stop, %d given up",
                    RUN.tracker.outstanding, RUN.tracker.given_up)


def load_stop() -> None:
    """Record the end of the load once: the scheduled end, or now if the load was cut short."""
    if RUN.load_stopped or RUN.clock is None or RUN.profile is None or RUN.started_wall is None:
        return
    RUN.load_stopped = True
    planned_end_wall = RUN.started_wall + RUN.profile.traffic.duration_s / RUN.clock.speed
    end = RUN.clock.endpoint_ts(min(time.time(), planned_end_wall))
    RUN.load_end_ts = end
    if RUN.folder is not None:
        RUN.folder.append("events", RunEvent(ts=end, kind="load_stop"))
