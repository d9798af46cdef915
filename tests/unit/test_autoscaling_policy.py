"""harness.autoscaling.policy: the proportional formula, cooldowns, flapping (aws-semantics §1).

R-numbers are the rules of ``harness/autoscaling/policy.py``. Unless a case says otherwise: target 10,
MinCapacity 1, MaxCapacity 8, now 1000, no cooldown running. ``metric`` is the alarm's last datapoint
(InvocationsPerInstance per minute), ``basis`` the capacity the formula multiplies (InService count
by default, ModelParams.capacity_basis).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.autoscaling.policy import (
    CooldownState,
    Decision,
    on_alarm_high,
    on_alarm_low,
    proportional_capacity,
    start_cooldown,
)

NOW = 1000.0
FLAPPING = "AutoScalingAnticipatedFlapping"


def high(*, cooldown: CooldownState | None = None, **kw: Any) -> Decision:
    args: dict[str, Any] = {"now": NOW, "target": 10.0, "min_c": 1, "max_c": 8, **kw}
    return on_alarm_high(cooldown=cooldown or CooldownState(), **args)


def low(*, cooldown: CooldownState | None = None, **kw: Any) -> Decision:
    args: dict[str, Any] = {"now": NOW, "target": 10.0, "min_c": 1, "max_c": 8, "disable_scale_in": False,
                            **kw}
    return on_alarm_low(cooldown=cooldown or CooldownState(), **args)


# ----------------------------------------------------------------------------------------- R1
@pytest.mark.parametrize(("basis", "metric", "target", "min_c", "max_c", "expected"), [
    pytest.param(1, 20.0, 10.0, 1, 4, 2, id="R1-exact-multiple"),
    pytest.param(1, 21.0, 10.0, 1, 4, 3, id="R1-S1-ceil-adds-enough-capacity"),
    pytest.param(3, 20.0, 10.0, 1, 10, 6, id="R1-basis-multiplies"),
    pytest.param(2, 1600.0, 1500.0, 1, 10, 3, id="R1-S12-target-1500-ceil(2.13)"),
    pytest.param(3, 1.1, 0.3, 1, 20, 11, id="R1-float-noise-3x1.1/0.3=11.000000000000002-adds-nothing"),
    pytest.param(1, 120.0, 10.0, 1, 4, 4, id="R1-clamped-to-max-12->4"),
    pytest.param(4, 1.0, 10.0, 2, 8, 2, id="R1-clamped-to-min-1->2"),
    pytest.param(4, 0.0, 10.0, 1, 8, 1, id="R1-metric-0-gives-min"),
    pytest.param(4, 0.0, 10.0, 0, 8, 0, id="R1-metric-0-min-0-gives-0"),
    pytest.param(0, 50.0, 10.0, 1, 8, 5, id="R7-basis-0-counts-as-1"),
    pytest.param(0, 6.0, 5.0, 0, 5, 2, id="R7-§6-backlog-6-at-zero-target-5-gives-2"),
    pytest.param(0, 0.0, 5.0, 0, 5, 0, id="R7-metric-0-at-zero-stays-0"),
])
def test_proportional_capacity(basis: int, metric: float, target: float, min_c: int, max_c: int,
                               expected: int) -> None:
    # §1 (DERIVED, UNCONFIRMED): new = ceil(basis x metric / target) clamped to [min, max]; R7: basis 0 -> 1.
    assert proportional_capacity(basis, metric, target, min_c, max_c) == expected


def test_proportional_capacity_rejects_non_positive_target() -> None:
    with pytest.raises(ValueError, match="target must be positive"):
        proportional_capacity(1, 10.0, 0.0, 1, 4)


# ----------------------------------------------------------------------------------- AlarmHigh
@pytest.mark.parametrize(("kw", "expected"), [
    pytest.param({"basis": 1, "desired": 1, "metric": 30.0}, Decision("scale_out", 3),
                 id="R2-scale-out-proportionally"),
    pytest.param({"basis": 1, "desired": 1, "metric": 120.0, "max_c": 4}, Decision("scale_out", 4),
                 id="R1-R2-S1-as-fast-as-it-can-up-to-max"),
    pytest.param({"basis": 4, "desired": 4, "metric": 20.0, "max_c": 4},
                 Decision("none", 4, "AlreadyAtMaxCapacity"), id="R2-S5-AlreadyAtMaxCapacity"),
    pytest.param({"basis": 1, "desired": 3, "metric": 25.0}, Decision("none", 3, "AlreadyAtDesiredCapacity"),
                 id="R2-S5-new-not-above-desired"),
    # R3 [S1]: capacity added in a scale-out cooldown counts toward the next (basis frozen at 1, desired 3).
    pytest.param({"basis": 1, "desired": 3, "metric": 30.0,
                  "cooldown": CooldownState(scale_out_until=1060.0, scale_out_basis=1)},
                 Decision("none", 3, "ScaleOutCooldown"), id="R3-S1-same-metric-in-cooldown-no-change"),
    pytest.param({"basis": 1, "desired": 3, "metric": 50.0,
                  "cooldown": CooldownState(scale_out_until=1060.0, scale_out_basis=1)},
                 Decision("scale_out", 5), id="R3-S1-larger-metric-in-cooldown-larger-scale-out"),
    pytest.param({"basis": 3, "desired": 3, "metric": 30.0,
                  "cooldown": CooldownState(scale_out_until=1060.0, scale_out_basis=1)},
                 Decision("none", 3, "ScaleOutCooldown"), id="R3-S1-basis-stays-frozen-during-cooldown"),
    pytest.param({"basis": 3, "desired": 3, "metric": 30.0,
                  "cooldown": CooldownState(scale_out_until=1000.0, scale_out_basis=1)},
                 Decision("scale_out", 8), id="R3-S1-cooldown-over-at-its-end-basis-is-current"),
    pytest.param({"basis": 2, "desired": 2, "metric": 30.0, "cooldown": CooldownState(scale_in_until=1300.0)},
                 Decision("scale_out", 6), id="R5-S1-S14-scale-out-proceeds-in-scale-in-cooldown"),
    pytest.param({"basis": 1, "desired": 1, "metric": 30.0, "out_suspended": True},
                 Decision("none", 1, "DynamicScalingOutSuspended"), id="§4-S6-DynamicScalingOutSuspended"),
])
def test_on_alarm_high(kw: dict[str, Any], expected: Decision) -> None:
    assert high(**kw) == expected


# ------------------------------------------------------------------------------------ AlarmLow
@pytest.mark.parametrize(("kw", "expected"), [
    pytest.param({"basis": 4, "desired": 4, "metric": 4.0}, Decision("scale_in", 2),
                 id="R4-scale-in-to-ceil(1.6)"),
    pytest.param({"basis": 4, "desired": 4, "metric": 5.5}, Decision("scale_in", 3),
                 id="R4-S1-conservative-rounding-ceil(2.2)"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0}, Decision("scale_in", 1),
                 id="R4-S15-prereq-zero-traffic-to-min"),
    pytest.param({"basis": 4, "desired": 4, "metric": 1.0, "min_c": 2}, Decision("scale_in", 2),
                 id="R1-R4-clamped-to-min"),
    pytest.param({"basis": 1, "desired": 1, "metric": 0.0}, Decision("none", 1, "AlreadyAtMinCapacity"),
                 id="R4-S5-AlreadyAtMinCapacity"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "cooldown": CooldownState(scale_in_until=1300.0)},
                 Decision("none", 4, "ScaleInCooldown"), id="R4-S1-blocked-in-scale-in-cooldown"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "cooldown": CooldownState(scale_in_until=1000.0)},
                 Decision("scale_in", 1), id="R4-S1-scale-in-cooldown-over-at-its-end"),
    # R4 [S29, S5]: removing one instance would push 2 x 8 / 1 = 16 above target 10.
    pytest.param({"basis": 2, "desired": 2, "metric": 8.0}, Decision("none", 2, FLAPPING),
                 id="R4-S29-AutoScalingAnticipatedFlapping-2-instances-at-8"),
    pytest.param({"basis": 5, "desired": 5, "metric": 8.5}, Decision("none", 5, FLAPPING),
                 id="R4-S29-flapping-5-at-8.5-would-be-10.6-on-4"),
    pytest.param({"basis": 10, "desired": 10, "metric": 8.5, "max_c": 20}, Decision("scale_in", 9),
                 id="R4-S29-no-flapping-10-at-8.5-is-9.44-on-9"),
    pytest.param({"basis": 20, "desired": 20, "metric": 8.5, "max_c": 20}, Decision("scale_in", 17),
                 id="R4-S29-no-flapping-20-at-8.5-is-exactly-10-on-17"),
    pytest.param({"basis": 5, "desired": 5, "metric": 8.5, "max_c": 4},
                 Decision("none", 5, FLAPPING), id="R4-S29-flapping-when-max-clamps-new"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "disable_scale_in": True},
                 Decision("none", 4, "DisableScaleIn"), id="R6-S8-DisableScaleIn"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "in_suspended": True},
                 Decision("none", 4, "DynamicScalingInSuspended"), id="§4-S6-DynamicScalingInSuspended"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "cooldown": CooldownState(scale_out_until=1060.0)},
                 Decision("scale_in", 1), id="§1-UNCONFIRMED-scale-out-cooldown-does-not-block-by-default"),
    pytest.param({"basis": 4, "desired": 4, "metric": 0.0, "cooldown": CooldownState(scale_out_until=1060.0),
                  "scale_out_cooldown_blocks": True},
                 Decision("none", 4, "ScaleOutCooldown"),
                 id="§1-UNCONFIRMED-scale-out-cooldown-blocks-if-set"),
])
def test_on_alarm_low(kw: dict[str, Any], expected: Decision) -> None:
    assert low(**kw) == expected


# ------------------------------------------------------------------------------- start_cooldown
@pytest.mark.parametrize(("before", "decision", "after"), [
    pytest.param(CooldownState(), Decision("scale_out", 3),
                 CooldownState(scale_out_until=1060.0, scale_out_basis=1),
                 id="R3-scale-out-starts-cooldown-and-basis"),
    pytest.param(CooldownState(scale_out_until=1030.0, scale_out_basis=1), Decision("scale_out", 5),
                 CooldownState(scale_out_until=1060.0, scale_out_basis=1),
                 id="R3-scale-out-in-cooldown-keeps-frozen-basis"),
    pytest.param(CooldownState(scale_out_until=1000.0, scale_out_basis=7), Decision("scale_out", 5),
                 CooldownState(scale_out_until=1060.0, scale_out_basis=1),
                 id="R3-expired-cooldown-takes-new-basis"),
    pytest.param(CooldownState(scale_in_until=1200.0), Decision("scale_out", 3),
                 CooldownState(scale_out_until=1060.0, scale_out_basis=1, scale_in_until=-math.inf),
                 id="R5-S1-scale-out-stops-the-scale-in-cooldown"),
    pytest.param(CooldownState(scale_out_until=1030.0, scale_out_basis=1), Decision("scale_in", 1),
                 CooldownState(scale_out_until=1030.0, scale_out_basis=1, scale_in_until=1300.0),
                 id="R4-scale-in-starts-scale-in-cooldown-only"),
    pytest.param(CooldownState(scale_in_until=1200.0), Decision("none", 1, "ScaleInCooldown"),
                 CooldownState(scale_in_until=1200.0), id="no-action-no-cooldown"),
])
def test_start_cooldown(before: CooldownState, decision: Decision, after: CooldownState) -> None:
    start_cooldown(before, decision, now=NOW, basis=1, scale_out_cooldown_s=60.0, scale_in_cooldown_s=300.0)
    assert before == after


# ---------------------------------------------------------------------------- rule sequences
@pytest.mark.parametrize(("steps", "expected"), [
    # R3 [S1]: 1 instance at 30/min -> 3; the same metric during the 300 s cooldown adds nothing; a
    # larger one (50 -> 5) scales out further; after the cooldown the InService basis is used again.
    pytest.param([("high", 0, 1, 30.0), ("high", 60, 1, 30.0), ("high", 120, 1, 50.0),
                  ("high", 480, 5, 12.0)],
                 [Decision("scale_out", 3), Decision("none", 3, "ScaleOutCooldown"), Decision("scale_out", 5),
                  Decision("scale_out", 6)], id="R3-S1-added-capacity-counts-toward-the-next"),
    # R4 + R5 [S1, S14]: scale-in starts its cooldown; a second scale-in inside it is blocked; a scale-out
    # proceeds at once and ends the scale-in cooldown, so the next scale-in need not wait for it.
    pytest.param([("low", 0, 8, 2.0), ("low", 60, 2, 0.0), ("high", 120, 2, 30.0), ("low", 240, 6, 0.0)],
                 [Decision("scale_in", 2), Decision("none", 2, "ScaleInCooldown"), Decision("scale_out", 6),
                  Decision("scale_in", 1)], id="R4-R5-S1-scale-out-ends-scale-in-cooldown"),
])
def test_rule_sequences(steps: list[tuple[str, float, int, float]], expected: list[Decision]) -> None:
    """Each step: (alarm, seconds, InService basis, metric); desired follows the decisions."""
    cooldown, desired, got = CooldownState(), steps[0][2], []
    for alarm, t, basis, metric in steps:
        args = {"now": t, "basis": basis, "desired": desired, "metric": metric, "target": 10.0, "min_c": 1,
                "max_c": 8, "cooldown": cooldown}
        decision = on_alarm_high(**args) if alarm == "high" else on_alarm_low(disable_scale_in=False, **args)
        start_cooldown(cooldown, decision, now=t, basis=basis, scale_out_cooldown_s=300.0,
                       scale_in_cooldown_s=300.0)
        desired = decision.new_capacity
        got.append(decision)
    assert got == expected
