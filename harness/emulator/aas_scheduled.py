"""Application Auto Scaling scheduled actions: Put/Describe/DeleteScheduledAction (aws-semantics §3, §4).

Shapes follow botocore's application-autoscaling model; the decisions are the model's
(:mod:`harness.autoscaling.scheduled`). Times on the wire are endpoint time, like every emulator time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.autoscaling.scheduled import ScheduledAction
from harness.emulator.aas import check_resource_id, page
from harness.emulator.protocol import Call
from harness.emulator.sagemaker import world_errors
from harness.emulator.timestamps import to_datetime, to_epoch

if TYPE_CHECKING:
    from harness.emulator.app import Emulator


def register(emu: Emulator) -> None:
    ops = {
        "PutScheduledAction": put_scheduled_action,
        "DescribeScheduledActions": describe_scheduled_actions,
        "DeleteScheduledAction": delete_scheduled_action,
    }
    emu.register_ops("application-autoscaling", ops)


def _epoch_or_none(value: Any) -> float | None:
    return None if value is None else to_epoch(value)


def put_scheduled_action(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    check_resource_id(p)
    action = p.get("ScalableTargetAction") or {}
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.put_scheduled_action(
            name=p["ScheduledActionName"], namespace=p["ServiceNamespace"], resource_id=p["ResourceId"],
            dimension=p["ScalableDimension"], now=now, schedule=p.get("Schedule"), timezone=p.get("Timezone"),
            start_ts=_epoch_or_none(p.get("StartTime")), end_ts=_epoch_or_none(p.get("EndTime")),
            min_capacity=action.get("MinCapacity"), max_capacity=action.get("MaxCapacity"))
    return {}


def delete_scheduled_action(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    check_resource_id(p)
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.delete_scheduled_action(p["ScheduledActionName"], p["ServiceNamespace"], p["ResourceId"],
                                          p["ScalableDimension"], now)
    return {}


def _action_shape(a: ScheduledAction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ScheduledActionName": a.name, "ScheduledActionARN": a.arn, "ServiceNamespace": a.namespace,
        "Schedule": a.schedule.source, "Timezone": a.timezone or "UTC", "ResourceId": a.resource_id,
        "ScalableDimension": a.dimension, "CreationTime": to_datetime(a.created_ts),
    }
    if a.start_ts is not None:
        out["StartTime"] = to_datetime(a.start_ts)
    if a.end_ts is not None:
        out["EndTime"] = to_datetime(a.end_ts)
    target_action = {k: v for k, v in (("MinCapacity", a.min_capacity), ("MaxCapacity", a.max_capacity))
                     if v is not None}
    if target_action:
        out["ScalableTargetAction"] = target_action
    return out


def describe_scheduled_actions(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    now = emu.now()
    with emu.lock:
        emu.world.advance(now)
        actions = [a for a in emu.world.scheduled.values() if a.namespace == p["ServiceNamespace"]
                   and (not p.get("ScheduledActionNames") or a.name in p["ScheduledActionNames"])
                   and (not p.get("ResourceId") or a.resource_id == p["ResourceId"])
                   and (not p.get("ScalableDimension") or a.dimension == p["ScalableDimension"])]
        items = [_action_shape(a) for a in sorted(actions, key=lambda a: a.created_ts)]
    return page(items, p, "ScheduledActions", 50)
