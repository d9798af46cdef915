"""Open-loop arrivals in a Locust process, and the size of the user pool the shape asks for.

Open loop (``traffic.mode: open``, the default): one arrival scheduler greenlet per process
walks the arrival times of the profile (:class:`~harness.load.arrivals.ArrivalSchedule`: uniform, or
Poisson seeded by ``traffic.seed``), sleeps until each (endpoint time -> wall through the clock and
speed) and hands it to an idle user through a :class:`gevent.queue.Channel` (users block on it); when no
user is waiting the arrival is *dropped* (counted in ``load.jsonl`` ``dropped``; ``offered_rps`` is then
the arrivals scheduled per second): an arrival is never delayed. The shape sizes the pool (:func:`pool`,
open loop :func:`~harness.load.arrivals.pool_size`: the peak rate over the next tick x the measured
latency x a margin, capped by ``traffic.max_users`` or else
:data:`~harness.load.arrivals.MAX_USERS_PER_PROCESS` per process) and starts the load clock only once the first pool
has spawned (or after :data:`POOL_READY_MAX_WALL_S`). A distributed worker walks the same seeded
schedule as every other worker and keeps its share (``RUN.part`` of ``RUN.parts``).

Units: :func:`pool` takes requests per wall second; :func:`note_latency` keeps a conservative EWMA of
request latencies in wall seconds (``RUN.latency_s``), which the pool is sized by.
"""

from __future__ import annotations

import math
import time

import gevent
import gevent.queue

from harness.load.arrivals import MAX_USERS_PER_PROCESS, ArrivalSchedule, pool_size
from harness.load.state import RUN, is_master, worker_count

# Open loop: how long an idle user waits for an arrival before returning to Locust (so it can be stopped);
# the latency assumed before any request finished (wall seconds; then a conservative EWMA of the measured
# ones: a slower request pulls it up with weight LATENCY_RISE_WEIGHT, a faster one down with LATENCY_DECAY_WEIGHT,
# so the pool follows the slow tail, not the mean); how long the shape waits for the first pool to spawn.
ARRIVAL_WAIT_WALL_S = 0.5
INITIAL_LATENCY_WALL_S = 0.2
LATENCY_RISE_WEIGHT = 0.5
LATENCY_DECAY_WEIGHT = 0.005
POOL_READY_MAX_WALL_S = 5.0
# Open loop: wall seconds added to the latency when sizing the pool, for stalls of the process (GC, CPU)
# after which the scheduler hands out the arrivals it owes at once.
POOL_STALL_WALL_S = 0.05


def schedule_arrivals() -> None:
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


def note_latency(latency_ms: float) -> None:
    seconds = latency_ms / 1000.0
    if RUN.latency_s is None:
        RUN.latency_s = seconds
        return
    weight = LATENCY_RISE_WEIGHT if seconds > RUN.latency_s else LATENCY_DECAY_WEIGHT
    RUN.latency_s += weight * (seconds - RUN.latency_s)


def pool(peak_wall: float) -> int:
    """Users for ``peak_wall`` requests per wall second. Closed loop: ``rate / user_rps``. Open loop:
    :func:`~harness.load.arrivals.pool_size` for the measured latency; on a master, the workers' pools together
    (each sized for its share, with the slowest latency a worker reported), capped by traffic.max_users."""
    assert RUN.profile is not None
    traffic = RUN.profile.traffic
    if not RUN.open_loop:
        return math.ceil(peak_wall / traffic.user_rps - 1e-9) if peak_wall > 0 else 0
    if RUN.worker_latency:
        latency = max(RUN.worker_latency.values())
    else:
        latency = RUN.latency_s if RUN.latency_s is not None else INITIAL_LATENCY_WALL_S
    workers = max(worker_count(), 1) if is_master() else 1
    users = pool_size(peak_wall / workers, latency + POOL_STALL_WALL_S) * workers
    cap = traffic.max_users if traffic.max_users is not None else MAX_USERS_PER_PROCESS * workers
    return min(users, cap)
