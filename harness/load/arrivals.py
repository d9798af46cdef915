"""Open-loop arrivals: when the requests of a load arrive, and how many users a process needs to send them.

Pure (no Locust, no gevent) and deterministic for a given seed. :class:`ArrivalSchedule` yields arrival
times in endpoint seconds since the load start (uniform, or Poisson), optionally one worker's share of
them; :meth:`ArrivalSchedule.next` returns None once the load has ended, and a ``part`` outside
``[0, parts)`` raises ValueError. :func:`pool_size` works in wall time (arrivals per wall second, wall
seconds of latency): the caller converts endpoint rates through the clock's speed.
"""

from __future__ import annotations

import math
import random

from harness.profile import Stage
from harness.profile.traffic import next_poisson_arrival, stage_integral

# Open-loop user pool: POOL_MARGIN x the users busy at the rate (Little's law: rate x latency), plus
# POOL_BURST_SIGMAS standard deviations of a Poisson count of that mean (bursts), never below POOL_MIN.
POOL_MARGIN = 2.0
POOL_BURST_SIGMAS = 3.0
POOL_MIN = 10

# Users are greenlets holding a connection each; a process with more of them grows past a gigabyte (a probe
# asking for a million requests per second grew Locust to 3.1 GB before the load started).
MAX_USERS_PER_PROCESS = 5000

def pool_size(rate_wall: float, latency_wall_s: float, cap: int | None = None) -> int:
    """Users one process needs to serve ``rate_wall`` arrivals per wall second that each take
    ``latency_wall_s``: ``ceil(POOL_MARGIN * busy + POOL_BURST_SIGMAS * sqrt(busy))``, at least
    :data:`POOL_MIN` (0 when the rate is 0), at most ``cap``."""
    if rate_wall <= 0:
        return 0
    busy = rate_wall * max(latency_wall_s, 0.0)
    users = max(POOL_MIN, math.ceil(POOL_MARGIN * busy + POOL_BURST_SIGMAS * math.sqrt(busy) - 1e-9))
    return min(users, cap) if cap is not None else users


class ArrivalSchedule:
    """The arrival times (endpoint seconds since load start) of an open-loop load, one :meth:`next` at a time.

    ``uniform``: the k-th arrival (k = 1, 2, ...) is where the offered request count (the integral of the
    rate from 0) reaches k - 1, so the first request goes when the load starts (as in the simulator, so a run and
    its prediction send at the same times) and the arrivals follow the rate exactly, evenly spaced at a constant
    rate, up to (not including) the end of the load;
    ``poisson``: :func:`~harness.profile.traffic.next_poisson_arrival` with a ``random.Random(seed)``.

    ``part`` of ``parts`` (distributed load, one part per Locust worker): only the arrivals k (0, 1, ... of
    the whole schedule) with ``k % parts == part``; the parts of one seed partition the whole schedule
    exactly (every worker walks the same sequence and keeps its share).
    """

    def __init__(self, stages: list[Stage], arrivals: str = "uniform", seed: int | None = None, *,
                 part: int = 0, parts: int = 1) -> None:
        if not 0 <= part < parts:
            raise ValueError(f"part must be within [0, {parts}), got {part}")
        self.stages = stages
        self.poisson = arrivals == "poisson"
        self.rng = random.Random(seed)
        self.part = part
        self.parts = parts
        self.t = 0.0
        self.count = 0  # arrivals of the whole schedule so far (every part's)
        self._stage = 0  # uniform: cursor (stage index, its start, the count offered before it)
        self._start = 0.0
        self._before = 0.0

    def next(self) -> float | None:
        """The next arrival time of this part, or None once the load has ended."""
        while True:
            k = self.count
            t = self._next()
            if t is None or k % self.parts == self.part:
                return t

    def _next(self) -> float | None:
        if self.poisson:
            t = next_poisson_arrival(self.stages, self.t, self.rng)
        else:
            t = self._next_uniform(self.count)
        if t is not None:
            self.t = t
            self.count += 1
        return t

    def _next_uniform(self, target: float) -> float | None:
        while self._stage < len(self.stages):
            s = self.stages[self._stage]
            total = stage_integral(s, 0.0, s.duration_s)
            need = target - self._before
            if need < total - 1e-9:
                return self._start + _invert(s, need, total)
            self._before += total
            self._start += s.duration_s
            self._stage += 1
        return None


def _invert(s: Stage, need: float, total: float) -> float:
    """The time into stage ``s`` where its integral from 0 reaches ``need`` (0 <= need < total)."""
    if s.kind == "hold":
        return min(s.duration_s, need / float(s.rate_rps or 1.0))
    lo, hi = 0.0, s.duration_s
    for _ in range(60):
        mid = (lo + hi) / 2
        if stage_integral(s, 0.0, mid) < need:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-7:
            break
    return hi

