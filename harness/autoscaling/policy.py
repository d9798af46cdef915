"""Target-tracking decisions: the proportional formula, the cooldown rules, the flapping check.

All functions are pure; ``now`` and capacities are arguments. Rules and their sources
(``docs/aws-semantics.md`` §1):

- R1 proportional capacity: ``ceil(basis * metric / target)`` clamped to [min, max] — DERIVED, the
  formula is UNCONFIRMED; ``basis`` is a named parameter (``ModelParams.capacity_basis``).
- R2 scale out when AlarmHigh acts and the new capacity is above the desired capacity.
- R3 scale-out cooldown: capacity added in it counts toward the next calculation — the formula's
  basis stays frozen at its value when the cooldown began, so only a larger scale-out proceeds [S1].
- R4 scale in when AlarmLow acts, the new capacity is below desired, no scale-in cooldown runs [S1],
  and removing capacity would not push the metric above target (AutoScalingAnticipatedFlapping) [S29].
- R5 a scale-out during a scale-in cooldown proceeds at once and ends that cooldown [S1, S14].
- R6 DisableScaleIn: the policy never scales in [S8].
- R7 scale from zero: a basis of 0 instances counts as 1 — a metric measured at zero instances
  already stands for the whole load (``ModelParams.backlog_per_instance_at_zero`` = ``backlog`` for
  ApproximateBacklogSizePerInstance), so with target 5 a backlog of 6 gives ceil(1 x 6 / 5) = 2, and a
  backlog of 4 never scales out ("scale up from zero only once the backlog exceeds the target",
  aws-semantics §6 [S15-async-as]). DERIVED; scale-in to 0 needs only MinCapacity 0 and metric 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

_EPS = 1e-9


def proportional_capacity(basis: int, metric: float, target: float, min_c: int, max_c: int) -> int:
    """R1, R7: capacity that brings ``metric`` to ``target``, clamped to [min_c, max_c]."""
    if target <= 0:
        raise ValueError("target must be positive")
    raw = math.ceil(effective_basis(basis) * metric / target - _EPS) if metric > 0 else 0
    return max(min_c, min(max_c, raw))


def effective_basis(basis: int) -> int:
    """R7: the capacity the formula multiplies; 0 instances count as 1."""
    return max(basis, 1)


@dataclass
class CooldownState:
    """Cooldown clocks of one policy (endpoint time, seconds)."""

    scale_out_until: float = -math.inf
    scale_out_basis: int | None = None
    scale_in_until: float = -math.inf


@dataclass(frozen=True)
class Decision:
    """What a policy wants at one alarm action: a new desired capacity, or why not."""

    action: Literal["scale_out", "scale_in", "none"]
    new_capacity: int
    reason: str = ""


def on_alarm_high(*, now: float, basis: int, desired: int, metric: float, target: float, min_c: int,
                  max_c: int, cooldown: CooldownState, out_suspended: bool = False) -> Decision:
    """R1-R3, R5: the decision when the high alarm of a target-tracking policy acts."""
    if out_suspended:
        return Decision("none", desired, "DynamicScalingOutSuspended")
    in_cooldown = now < cooldown.scale_out_until and cooldown.scale_out_basis is not None
    effective_basis = cooldown.scale_out_basis if in_cooldown and cooldown.scale_out_basis is not None else basis
    new = proportional_capacity(effective_basis, metric, target, min_c, max_c)
    if new > desired:
        return Decision("scale_out", new)
    if desired >= max_c:
        return Decision("none", desired, "AlreadyAtMaxCapacity")
    return Decision("none", desired, "AlreadyAtDesiredCapacity" if not in_cooldown else "ScaleOutCooldown")


def on_alarm_low(*, now: float, basis: int, desired: int, metric: float, target: float, min_c: int,
                 max_c: int, cooldown: CooldownState, disable_scale_in: bool,
                 in_suspended: bool = False, scale_out_cooldown_blocks: bool = False) -> Decision:
    """R1, R4, R6: the decision when the low alarm of a target-tracking policy acts."""
    if disable_scale_in:
        return Decision("none", desired, "DisableScaleIn")
    if in_suspended:
        return Decision("none", desired, "DynamicScalingInSuspended")
    if now < cooldown.scale_in_until:
        return Decision("none", desired, "ScaleInCooldown")
    if scale_out_cooldown_blocks and now < cooldown.scale_out_until:
        return Decision("none", desired, "ScaleOutCooldown")
    new = proportional_capacity(basis, metric, target, min_c, max_c)
    if desired <= min_c:
        return Decision("none", desired, "AlreadyAtMinCapacity")
    # With the ceil formula, new >= desired means removing even one instance would push the metric
    # above target: that is the flapping case [S29], not "already at desired".
    if new >= desired or (new > 0 and effective_basis(basis) * metric / new > target + _EPS):
        return Decision("none", desired, "AutoScalingAnticipatedFlapping")
    return Decision("scale_in", new)


def start_cooldown(cooldown: CooldownState, decision: Decision, *, now: float, basis: int,
                   scale_out_cooldown_s: float, scale_in_cooldown_s: float) -> None:
    """Start the cooldown that ``decision`` implies (R3, R5)."""
    if decision.action == "scale_out":
        if now >= cooldown.scale_out_until or cooldown.scale_out_basis is None:
            cooldown.scale_out_basis = basis
        cooldown.scale_out_until = now + scale_out_cooldown_s
        cooldown.scale_in_until = -math.inf  # R5: the scale-in cooldown stops and doesn't complete
    elif decision.action == "scale_in":
        cooldown.scale_in_until = now + scale_in_cooldown_s
