"""The profile-driven Locust load shape: how many users run, tick by tick.

:class:`ProfileShape` runs in a single load generator process or on the master (Locust runs no shape on
its workers). Each tick (about once per wall second) it returns the users to run and the rate to start
or stop them at (users per wall second), or None to end the test. Before the load clock starts it spawns
the first pool (the clock starts once it is up, or after
:data:`~harness.load.openloop.POOL_READY_MAX_WALL_S`); during the load it sizes the pool for the peak
rate until the next tick and records each ``stage_start`` (at the stage's scheduled endpoint time, though
it notices it up to a tick later); after the load it keeps the process up with no users while async
completions drain or a master waits for its workers' last records, then ends the test.
"""

from __future__ import annotations

import time

from locust import LoadTestShape

from harness.load.asyncwatch import draining
from harness.load.lifecycle import begin, load_stop
from harness.load.messages import share, waiting_for_workers
from harness.load.openloop import POOL_READY_MAX_WALL_S, pool
from harness.load.state import RUN, elapsed_s, event, is_master, rate_wall
from harness.profile.traffic import total_duration_s

STOP_SPAWN_RATE = 10_000.0  # users per second Locust stops when the load is over (all of them, at once)


class ProfileShape(LoadTestShape):
    """Sizes the user pool: open loop, :func:`~harness.load.arrivals.pool_size` for the peak rate until the next
    tick; closed loop, enough users pacing at ``traffic.user_rps`` for the rate until the next tick.

    Locust ticks a shape about once per wall second, which is ``speed`` endpoint seconds: too coarse
    for the rate itself, so users read the rate from the clock at every request (``rate_wall``).
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
            RUN.users = pool(peak0)
            share()
            if RUN.live < RUN.users and now - RUN.first_tick_wall < POOL_READY_MAX_WALL_S:
                return RUN.users, max(RUN.users, 1) * 10.0  # spawn the first pool before the load clock starts
        begin()
        t_ep = elapsed_s()
        stages = profile.traffic.stages
        if t_ep >= total_duration_s(stages):
            load_stop()
            RUN.users = 0
            share()
            if draining():
                return 0, STOP_SPAWN_RATE  # keep the process (and the completion watcher) up, with no users
            if is_master() and waiting_for_workers():
                # the workers stop their users at once (the spawn rate paces ramp-downs too), finish their
                # requests (and async drains) and send their last records
                return 0, STOP_SPAWN_RATE
            return None
        found = RUN.schedule.stage_at(t_ep)
        stage = stages[found[0]].name if found else None
        if stage != RUN.stage:
            RUN.stage = stage
            if found is not None:  # at the stage's scheduled start: the shape notices it up to a tick later
                event("stage_start", stage or "", ts=clock.endpoint_ts(RUN.started_wall) + t_ep - found[1])
        peak_wall = max(rate_wall(), rate_wall(time.time() + 1.0))
        before = RUN.users
        RUN.users = pool(peak_wall)
        share()
        # Locust starts and stops users at this rate (per second): the whole change within ~0.1 s, so a step
        # down does not leave the users still to stop sending at the old pacing for a second or more
        return RUN.users, max(RUN.users, before, 1) * 10.0
