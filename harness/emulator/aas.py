"""Application Auto Scaling (JSON 1.1, ``AnyScaleFrontendService``): targets, policies, activities.

Shapes follow botocore's application-autoscaling model (aws-semantics §4). The decisions are the
model's (:mod:`harness.autoscaling`); this module only translates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.autoscaling.actions import Policy
from harness.autoscaling.entities import ActivityRecord, ScalableTarget, parse_resource_id
from harness.autoscaling.step import StepPolicy
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call
from harness.emulator.sagemaker import world_errors
from harness.emulator.timestamps import to_datetime

if TYPE_CHECKING:
    from harness.emulator.app import Emulator


def register(emu: Emulator) -> None:
    ops = {
        "RegisterScalableTarget": register_scalable_target,
        "DeregisterScalableTarget": deregister_scalable_target,
        "DescribeScalableTargets": describe_scalable_targets,
        "PutScalingPolicy": put_scaling_policy,
        "DeleteScalingPolicy": delete_scaling_policy,
        "DescribeScalingPolicies": describe_scaling_policies,
        "DescribeScalingActivities": describe_scaling_activities,
    }
    emu.register_ops("application-autoscaling", ops)


def page(items: list[dict[str, Any]], params: dict[str, Any], key: str, limit: int) -> dict[str, Any]:
    size = limit if params.get("MaxResults") is None else int(params["MaxResults"])
    if not 1 <= size <= limit:
        raise AwsError("ValidationException", f"MaxResults must be between 1 and {limit}; got {size}")
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise AwsError("InvalidNextTokenException", "The next token supplied is invalid.") from None
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def check_resource_id(params: dict[str, Any]) -> None:
    """A malformed SageMaker ResourceId is a ValidationException, before any lookup (else ObjectNotFound)."""
    if params["ServiceNamespace"] == "sagemaker":
        with world_errors():
            parse_resource_id(params["ResourceId"])


def register_scalable_target(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    check_resource_id(p)
    now = emu.now()
    with emu.lock, world_errors():
        existing = emu.world.targets.get(p["ResourceId"])
        if existing is not None:  # an update is checked whole before it changes anything
            low = existing.min_capacity if p.get("MinCapacity") is None else p["MinCapacity"]
            high = existing.max_capacity if p.get("MaxCapacity") is None else p["MaxCapacity"]
            if low > high:
                raise AwsError("ValidationException",
                               f"Minimum capacity {low} cannot be greater than maximum capacity {high}")
        target = emu.world.register_target(
            namespace=p["ServiceNamespace"], resource_id=p["ResourceId"], dimension=p["ScalableDimension"],
            min_capacity=p.get("MinCapacity"), max_capacity=p.get("MaxCapacity"), role_arn=p.get("RoleARN"),
            suspended=p.get("SuspendedState"), now=now)
    return {"ScalableTargetARN": target.arn}


def deregister_scalable_target(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    check_resource_id(p)
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.deregister_target(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"], now)
    return {}


def _target_shape(t: ScalableTarget) -> dict[str, Any]:
    return {"ServiceNamespace": t.namespace, "ResourceId": t.resource_id, "ScalableDimension": t.dimension,
            "MinCapacity": t.min_capacity, "MaxCapacity": t.max_capacity, "RoleARN": t.role_arn,
            "CreationTime": to_datetime(t.created_ts), "SuspendedState": dict(t.suspended),
            "ScalableTargetARN": t.arn}


def describe_scalable_targets(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    with emu.lock:
        targets = [t for t in emu.world.targets.values() if t.namespace == p["ServiceNamespace"]
                   and (not p.get("ResourceIds") or t.resource_id in p["ResourceIds"])
                   and (not p.get("ScalableDimension") or t.dimension == p["ScalableDimension"])]
        items = [_target_shape(t) for t in sorted(targets, key=lambda t: t.created_ts)]
    return page(items, p, "ScalableTargets", 50)


# PolicyType -> (its configuration member, the model's put method)
_POLICY_TYPES = {"TargetTrackingScaling": ("TargetTrackingScalingPolicyConfiguration", "put_target_tracking"),
                 "StepScaling": ("StepScalingPolicyConfiguration", "put_step_scaling")}


def put_scaling_policy(emu: Emulator, call: Call) -> dict[str, Any]:
    """Target tracking returns its two managed alarms; step scaling none — the user creates the alarm
    (aws-semantics §1, §2)."""
    p = call.params
    policy_type = p.get("PolicyType", "StepScaling")
    if policy_type not in _POLICY_TYPES:
        raise AwsError("ValidationException", f"PolicyType {policy_type} is not supported by this emulator; "
                       "use TargetTrackingScaling or StepScaling.")
    member, put = _POLICY_TYPES[policy_type]
    config = p.get(member)
    if not config:
        raise AwsError("ValidationException", f"{member} is required for a {policy_type} policy.")
    check_resource_id(p)
    now = emu.now()
    with emu.lock, world_errors():
        policy = getattr(emu.world, put)(
            name=p["PolicyName"], namespace=p["ServiceNamespace"], resource_id=p["ResourceId"],
            dimension=p["ScalableDimension"], configuration=config, now=now)
        managed = (policy.alarm_high, policy.alarm_low) if policy_type == "TargetTrackingScaling" else ()
        alarms = [{"AlarmName": n, "AlarmARN": emu.world.alarms[n].arn} for n in managed]
    return {"PolicyARN": policy.arn, "Alarms": alarms}


def delete_scaling_policy(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    check_resource_id(p)
    now = emu.now()
    with emu.lock, world_errors():
        emu.world.delete_policy(p["PolicyName"], p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"], now)
    return {}


def _policy_shape(emu: Emulator, pol: Policy) -> dict[str, Any]:
    if isinstance(pol, StepPolicy):  # the alarms naming it, as DescribeScalingPolicies lists them
        return {
            "PolicyARN": pol.arn, "PolicyName": pol.name, "ServiceNamespace": pol.namespace,
            "ResourceId": pol.resource_id, "ScalableDimension": pol.dimension, "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": pol.configuration,
            "Alarms": [{"AlarmName": a.name, "AlarmARN": a.arn} for a in emu.world.alarms.values()
                       if pol.arn in a.actions],
            "CreationTime": to_datetime(pol.created_ts),
        }
    return {
        "PolicyARN": pol.arn, "PolicyName": pol.name, "ServiceNamespace": pol.namespace,
        "ResourceId": pol.resource_id, "ScalableDimension": pol.dimension, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": pol.configuration,
        "Alarms": [{"AlarmName": n, "AlarmARN": emu.world.alarms[n].arn}
                   for n in (pol.alarm_high, pol.alarm_low) if n in emu.world.alarms],
        "CreationTime": to_datetime(pol.created_ts),
    }


def describe_scaling_policies(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    with emu.lock:
        policies = [pol for pol in emu.world.policies.values() if pol.namespace == p["ServiceNamespace"]
                    and (not p.get("PolicyNames") or pol.name in p["PolicyNames"])
                    and (not p.get("ResourceId") or pol.resource_id == p["ResourceId"])
                    and (not p.get("ScalableDimension") or pol.dimension == p["ScalableDimension"])]
        items = [_policy_shape(emu, pol) for pol in sorted(policies, key=lambda x: x.created_ts)]
    return page(items, p, "ScalingPolicies", 50)


def _activity_shape(a: ActivityRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ActivityId": a.activity_id, "ServiceNamespace": a.namespace, "ResourceId": a.resource_id,
        "ScalableDimension": a.dimension, "Description": a.description, "Cause": a.cause,
        "StartTime": to_datetime(a.start_ts), "StatusCode": a.status_code,
    }
    if a.end_ts is not None:
        out["EndTime"] = to_datetime(a.end_ts)
    if a.status_message:
        out["StatusMessage"] = a.status_message
    if a.details:
        out["Details"] = a.details
    return out


def describe_scaling_activities(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    now = emu.now()
    with emu.lock:
        emu.world.advance(now)
        acts = [a for a in emu.world.activities_for(p.get("ResourceId"))
                if a.namespace == p["ServiceNamespace"]
                and (not p.get("ScalableDimension") or a.dimension == p["ScalableDimension"])]
        items = [_activity_shape(a) for a in acts]
    return page(items, p, "ScalingActivities", 50)
