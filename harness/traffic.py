"""Pure traffic arithmetic: the offered arrival rate at any moment of a profile's stages.

Times are seconds of endpoint time since the load started; rates are requests per second of
endpoint time. No clock, no I/O: ``rate_at(stages, t)`` is a function of its arguments only.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.profile import Stage


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


def rate_at(stages: Sequence[Stage], t: float) -> float:
    """Offered rate at ``t``: a hold stage's ``rate_rps``; a ramp interpolated linearly; 0 outside.

    2 stages (hold 2 rps for 60 s, ramp 0→10 over 100 s), t = 110 s => 5 rps.
    """
    found = stage_at(stages, t)
    if found is None:
        return 0.0
    i, into = found
    s = stages[i]
    if s.kind == "hold":
        return float(s.rate_rps or 0.0)
    lo, hi = float(s.from_rps or 0.0), float(s.to_rps or 0.0)
    return lo + (hi - lo) * into / s.duration_s


def stage_starts(stages: Sequence[Stage], load_start_ts: float) -> list[tuple[str, float, float]]:
    """``(name, start_ts, end_ts)`` of every stage for a load that began at ``load_start_ts``."""
    out, start = [], load_start_ts
    for s in stages:
        out.append((s.name, start, start + s.duration_s))
        start += s.duration_s
    return out
