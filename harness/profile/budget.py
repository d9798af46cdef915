"""How long a run of a profile observes: the endpoint time by which every expectation's window has closed.

A pure function of the profile, shared by the run (its hard stop) and the simulator (how far a prediction
looks), so that both stop at the same moment.
"""

from __future__ import annotations

from harness.profile import Profile
from harness.profile.traffic import stage_starts

AUTO_WINDOW_BUDGET_S = 3600.0


def _within_s(exp: object) -> float | None:
    """An expectation's ``within`` for budgeting: ``auto`` counts as :data:`AUTO_WINDOW_BUDGET_S`."""
    if getattr(exp, "auto_window", False):
        return AUTO_WINDOW_BUDGET_S
    return getattr(exp, "within_s", None)


def observation_budget_s(profile: Profile) -> float:
    """Endpoint seconds after the load starts by which every expectation's window has closed, generously:
    the latest anchor (``load_end`` / ``first_request`` at the load's end at worst, ``backlog_empty``
    after a drain as long as the longest ``backlog_drained`` window, or the load again) plus its
    ``within`` / ``offset`` (an ``auto`` window, not known before the prediction, counts as
    :data:`AUTO_WINDOW_BUDGET_S`; ``agrees_with_prediction`` as that after load end), plus two sample
    gaps and a metrics interval. The run's hard stop, and how long a prediction looks."""
    duration = profile.traffic.duration_s
    stages = {name: start for name, start, _end in stage_starts(profile.traffic.stages, 0.0)}
    drain = max((float(_within_s(e) or 0.0) for e in profile.expectations if e.type == "backlog_drained"),
                default=duration)

    def anchor_s(anchor: str) -> float:
        if anchor == "load_start":
            return 0.0
        if anchor == "backlog_empty":
            return duration + drain
        if anchor.startswith("stage:"):
            return stages.get(anchor.removeprefix("stage:"), duration)
        return duration  # load_end, first_request (at the latest)

    horizon = duration
    for exp in profile.expectations:
        if exp.type == "agrees_with_prediction":
            horizon = max(horizon, duration + AUTO_WINDOW_BUDGET_S)
        anchor = getattr(exp, "after", None) or getattr(exp, "at", None)
        window = float(_within_s(exp) or getattr(exp, "offset_s", None) or 0.0)
        if isinstance(anchor, str):
            horizon = max(horizon, anchor_s(anchor) + window)
    c = profile.collector
    return horizon + 2 * c.max_sample_gap_s + c.metrics_interval_s
