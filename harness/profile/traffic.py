"""Pure traffic arithmetic: the offered arrival rate at any moment of a profile's stages.

Times are seconds of endpoint time since the load started; rates are requests per second of
endpoint time. No clock, no I/O: ``rate_at(stages, t)`` is a function of its arguments only.

Every stage kind (:class:`~harness.profile.Stage`: hold, ramp, step, spike, sine, replay) has a rate
(:func:`stage_rate`), an exact integral (:func:`stage_integral`: the expected number of requests) and a
peak (:func:`stage_peak_rate`). ``traffic.arrivals: poisson`` draws arrival times from the rate with
:func:`next_poisson_arrival` (thinning); the simulator and the planner use the rate (deterministic arrivals).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from harness.profile.stages import Stage


def total_duration_s(stages: Sequence[Stage]) -> float:
    """Length of the whole load."""
    return sum(s.duration_s for s in stages)


def stage_at(stages: Sequence[Stage], t: float) -> tuple[int, float] | None:
    """``(index, seconds into that stage)`` at ``t``, or None before 0 and from the end on."""
    if t < 0:
        return None
    start = 0.0
    for i, s in enumerate(stages):
        if t < start + s.duration_s:
            return i, t - start
        start += s.duration_s
    return None


class Schedule:
    """:func:`rate_at` and :func:`stage_at` for callers asking many times (the load generator asks at every
    request): the stage boundaries are computed once and looked up by bisection, whatever the stage count."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)
        self.ends = list(accumulate(s.duration_s for s in self.stages))

    def stage_at(self, t: float) -> tuple[int, float] | None:
        if t < 0:
            return None
        i = bisect_right(self.ends, t)
        if i >= len(self.stages):
            return None
        return i, t - (self.ends[i - 1] if i else 0.0)

    def rate_at(self, t: float) -> float:
        found = self.stage_at(t)
        return 0.0 if found is None else stage_rate(self.stages[found[0]], found[1])


def _step(s: Stage) -> tuple[float, float, float]:
    """``(plateau length, first level, rise per plateau)`` of a step stage."""
    n = int(s.steps or 2)
    lo, hi = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
    return s.duration_s / n, lo, (hi - lo) / (n - 1)


def _replay(s: Stage) -> tuple[list[float], float, float]:
    """``(counts, period, scale)`` of a replay stage."""
    return s.values or [0.0], float(s.values_period_s or 60.0), float(s.scale or 1.0)


def stage_rate(s: Stage, into: float) -> float:
    """Rate of stage ``s`` at ``into`` seconds into it (0 <= into < duration)."""
    kind = s.kind
    if kind == "hold":
        return float(s.rate_rps or 0.0)
    if kind == "ramp":
        lo, hi = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
        return lo + (hi - lo) * into / s.duration_s
    if kind == "step":
        length, first, rise = _step(s)
        return first + rise * min(int(into // length), int(s.steps or 2) - 1)
    if kind == "spike":
        at = float(s.spike_at_s or 0.0)
        inside = at <= into < at + float(s.spike_duration_s or 0.0)
        return float(s.peak_rps if inside else s.base_rps or 0.0)
    if kind == "sine":
        w = 2 * math.pi / float(s.period_s or 1.0)
        return max(0.0, float(s.mean_rps or 0.0)
                   + float(s.amplitude_rps or 0.0) * math.sin(w * (into + float(s.phase_s or 0.0))))
    if kind == "replay":
        counts, period, scale = _replay(s)
        return counts[min(int(into // period), len(counts) - 1)] * scale / period
    raise ValueError(f"unknown stage kind {kind!r}")


def _replay_cumulative(s: Stage, x: float) -> float:
    counts, period, scale = _replay(s)
    cum = s.replay_cumulative
    k = int(x // period)
    if k >= len(counts):
        return cum[-1] * scale
    return (cum[k] + (x - k * period) / period * counts[k]) * scale


def _step_cumulative(s: Stage, x: float) -> float:
    length, first, rise = _step(s)
    k = min(int(x // length), int(s.steps or 2) - 1)
    return length * (k * first + rise * k * (k - 1) / 2) + (x - k * length) * (first + rise * k)


def stage_integral(s: Stage, lo: float, hi: float) -> float:
    """Requests stage ``s`` offers from ``lo`` to ``hi`` seconds into it (0 <= lo <= hi <= duration), exactly."""
    if hi <= lo:
        return 0.0
    kind = s.kind
    if kind == "hold":
        return float(s.rate_rps or 0.0) * (hi - lo)
    if kind == "ramp":
        r0, r1 = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
        return (r0 + (r1 - r0) / s.duration_s * (lo + hi) / 2) * (hi - lo)
    if kind == "step":
        return _step_cumulative(s, hi) - _step_cumulative(s, lo)
    if kind == "spike":
        at = float(s.spike_at_s or 0.0)
        overlap = max(0.0, min(hi, at + float(s.spike_duration_s or 0.0)) - max(lo, at))
        base = float(s.base_rps or 0.0)
        return base * (hi - lo) + (float(s.peak_rps or 0.0) - base) * overlap
    if kind == "sine":
        w = 2 * math.pi / float(s.period_s or 1.0)
        phase = float(s.phase_s or 0.0)
        wave = float(s.amplitude_rps or 0.0) / w * (math.cos(w * (lo + phase)) - math.cos(w * (hi + phase)))
        return float(s.mean_rps or 0.0) * (hi - lo) + wave
    if kind == "replay":
        return _replay_cumulative(s, hi) - _replay_cumulative(s, lo)
    raise ValueError(f"unknown stage kind {kind!r}")


def stage_peak_rate(s: Stage) -> float:
    """The highest rate stage ``s`` reaches (for a sine, only if its crest falls within the stage)."""
    kind = s.kind
    if kind == "hold":
        return float(s.rate_rps or 0.0)
    if kind in ("ramp", "step"):
        return max(float(s.from_rps or 0.0), float(s.to_rps or 0.0))
    if kind == "spike":
        return max(float(s.base_rps or 0.0), float(s.peak_rps or 0.0))
    if kind == "sine":
        period, phase = float(s.period_s or 1.0), float(s.phase_s or 0.0)
        crest = (period / 4 - phase) % period  # first time into the stage at the crest
        if crest < s.duration_s:
            return float(s.mean_rps or 0.0) + float(s.amplitude_rps or 0.0)
        return max(stage_rate(s, 0.0), stage_rate(s, s.duration_s))
    if kind == "replay":
        counts, period, scale = _replay(s)
        return max(counts[: max(1, math.ceil(s.duration_s / period - 1e-9))]) * scale / period
    raise ValueError(f"unknown stage kind {kind!r}")


def rate_at(stages: Sequence[Stage], t: float) -> float:
    """Offered rate at ``t`` (:func:`stage_rate` of the stage at ``t``); 0 outside the load.

    2 stages (hold 2 rps for 60 s, ramp 0→10 over 100 s), t = 110 s => 5 rps.
    """
    found = stage_at(stages, t)
    if found is None:
        return 0.0
    i, into = found
    return stage_rate(stages[i], into)


def integral(stages: Sequence[Stage], t0: float, t1: float, *, first: int = 0, first_start: float = 0.0) -> float:
    """Requests offered over ``[t0, t1)`` (seconds since load start): the exact integral of :func:`rate_at`.

    2 stages (hold 2 rps for 60 s, ramp 0→10 over 100 s): integral over [50, 160) = 20 + 500 = 520.

    ``first`` / ``first_start``: a cursor for callers walking forward in time (the simulator, with a stage per
    minute for a week): start at stage ``first``, which begins at ``first_start`` (<= ``t0``).
    """
    total, start = 0.0, first_start
    for j in range(first, len(stages)):
        s = stages[j]
        end = start + s.duration_s
        if start >= t1:
            break
        lo, hi = max(t0, start), min(t1, end)
        if hi > lo:
            if s.kind == "hold":
                total += float(s.rate_rps or 0.0) * (hi - lo)
            elif s.kind == "ramp":  # the simulator's own arithmetic, kept to the last bit
                r0, r1 = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
                slope = (r1 - r0) / s.duration_s
                total += (r0 + slope * ((lo + hi) / 2 - start)) * (hi - lo)
            else:
                total += stage_integral(s, lo - start, hi - start)
        start = end
    return total


def peak_rate(stages: Sequence[Stage]) -> float:
    """The highest offered rate of the whole load."""
    return max((stage_peak_rate(s) for s in stages), default=0.0)


def next_poisson_arrival(stages: Sequence[Stage], t: float, rng: random.Random) -> float | None:
    """The next arrival after ``t`` of a Poisson process with rate :func:`rate_at` (exponential inter-arrival
    times; by thinning at each stage's peak rate), or None when the load ends first."""
    t = max(t, 0.0)
    while True:
        found = stage_at(stages, t)
        if found is None:
            return None
        i, into = found
        s = stages[i]
        end = t - into + s.duration_s
        peak = stage_peak_rate(s)
        if peak <= 0:
            t = end
            continue
        while True:
            t += rng.expovariate(peak)
            if t >= end:
                t = end  # memoryless: start over in the next stage at its own peak
                break
            if rng.random() * peak < stage_rate(s, t - (end - s.duration_s)):
                return t


def poisson_arrivals(stages: Sequence[Stage], t0: float, t1: float, seed: int | None = None) -> list[float]:
    """Poisson arrival times in ``[t0, t1)``, reproducible with ``seed``."""
    rng = random.Random(seed)
    out: list[float] = []
    t = t0
    while (nxt := next_poisson_arrival(stages, t, rng)) is not None and nxt < t1:
        out.append(nxt)
        t = nxt
    return out


def stage_starts(stages: Sequence[Stage], load_start_ts: float) -> list[tuple[str, float, float]]:
    """``(name, start_ts, end_ts)`` of every stage for a load that began at ``load_start_ts``."""
    out, start = [], load_start_ts
    for s in stages:
        out.append((s.name, start, start + s.duration_s))
        start += s.duration_s
    return out
