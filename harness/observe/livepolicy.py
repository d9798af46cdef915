"""Read the scaling setup a live endpoint variant has, as a :class:`~harness.profile.ScalingSpec`.

:func:`read_scaling` asks Application Auto Scaling (DescribeScalableTargets, DescribeScalingPolicies,
DescribeScheduledActions) and CloudWatch (DescribeAlarms, for the alarms of step policies) through the
clients of :func:`harness.observe.aws.make_clients`, so ``plan`` and ``simulate`` can answer "what will my
current AWS setup do under this traffic?" with :func:`with_live_scaling`, and a run without the consent
to change the endpoint's scaling verifies the live setup instead of the profile's (:func:`verify_live`). Failures raise
:class:`~harness.errors.InfrastructureError` (AWS's message) or :class:`~harness.errors.ConfigError`
(no scalable target, or a policy this model cannot represent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions

from harness.errors import ConfigError, InfrastructureError
from harness.observe.aws import Clients
from harness.observe.failures import is_fatal
from harness.profile import (
    AlarmSpec,
    MetricSpec,
    Profile,
    ScalingSpec,
    ScheduledActionSpec,
    StepPolicy,
    StepSpec,
    TargetTrackingPolicy,
)
from harness.profile.aws_requests import DIMENSION, NAMESPACE


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def _dims(dimensions: list[dict[str, str]] | None) -> dict[str, str] | None:
    return {d["Name"]: d["Value"] for d in dimensions} if dimensions else None


def target_tracking_policy(raw: dict[str, Any]) -> TargetTrackingPolicy:
    """A DescribeScalingPolicies entry of type TargetTrackingScaling → :class:`TargetTrackingPolicy`."""
    cfg = raw["TargetTrackingScalingPolicyConfiguration"]
    spec: dict[str, Any] = {"type": "target_tracking", "name": raw["PolicyName"], "target_value": cfg["TargetValue"],
                            "scale_out_cooldown": cfg.get("ScaleOutCooldown", 300),
                            "scale_in_cooldown": cfg.get("ScaleInCooldown", 300),
                            "disable_scale_in": bool(cfg.get("DisableScaleIn", False))}
    if "CustomizedMetricSpecification" in cfg:
        m = cfg["CustomizedMetricSpecification"]
        if "Metrics" in m:
            raise ConfigError(f"policy {raw['PolicyName']}: metric math (Metrics[]) is not supported by scalecheck")
        metric: dict[str, Any] = {"name": m["MetricName"], "namespace": m["Namespace"],
                                  "statistic": m.get("Statistic", "Average"), "dimensions": _dims(m.get("Dimensions"))}
        if m.get("Unit"):
            metric["unit"] = m["Unit"]
        spec["custom_metric"] = MetricSpec.model_validate(metric)
    else:
        spec["metric"] = cfg["PredefinedMetricSpecification"]["PredefinedMetricType"]
    return TargetTrackingPolicy.model_validate(spec)


def alarm_spec(raw: dict[str, Any]) -> AlarmSpec:
    """A DescribeAlarms MetricAlarm → :class:`AlarmSpec`."""
    spec: dict[str, Any] = {"alarm_name": raw["AlarmName"], "name": raw["MetricName"], "namespace": raw["Namespace"],
                            "statistic": raw.get("Statistic", "Average"), "dimensions": _dims(raw.get("Dimensions")),
                            "period": raw["Period"], "evaluation_periods": raw["EvaluationPeriods"],
                            "datapoints_to_alarm": raw.get("DatapointsToAlarm"), "threshold": raw["Threshold"],
                            "comparison": raw["ComparisonOperator"],
                            "treat_missing_data": raw.get("TreatMissingData") or "missing"}
    if raw.get("Unit"):
        spec["unit"] = raw["Unit"]
    return AlarmSpec.model_validate(spec)


def step_policy(raw: dict[str, Any], alarm: AlarmSpec) -> StepPolicy:
    """A DescribeScalingPolicies entry of type StepScaling and its alarm → :class:`StepPolicy`."""
    cfg = raw["StepScalingPolicyConfiguration"]
    steps = [StepSpec(lower=s.get("MetricIntervalLowerBound"), upper=s.get("MetricIntervalUpperBound"),
                      adjustment=s["ScalingAdjustment"]) for s in cfg["StepAdjustments"]]
    spec: dict[str, Any] = {"type": "step", "name": raw["PolicyName"],
                            "adjustment_type": cfg.get("AdjustmentType", "ChangeInCapacity"), "steps": steps,
                            "cooldown": cfg.get("Cooldown", 300),
                            "metric_aggregation": cfg.get("MetricAggregationType") or "Average",
                            "min_adjustment_magnitude": cfg.get("MinAdjustmentMagnitude"), "alarm": alarm}
    return StepPolicy.model_validate(spec)


def scheduled_action(raw: dict[str, Any]) -> ScheduledActionSpec:
    """A DescribeScheduledActions entry → :class:`ScheduledActionSpec` (with its ``schedule``)."""
    action = raw.get("ScalableTargetAction") or {}
    tz = raw.get("Timezone")
    return ScheduledActionSpec.model_validate({
        "name": raw["ScheduledActionName"], "schedule": raw["Schedule"],
        "timezone": None if tz in (None, "UTC") else tz,
        "start_time": raw.get("StartTime"), "end_time": raw.get("EndTime"),
        "min_capacity": action.get("MinCapacity"), "max_capacity": action.get("MaxCapacity")})


def read_scaling(clients: Clients, endpoint_name: str, variant_name: str) -> ScalingSpec:
    """The scalable target, policies (with step-policy alarms) and scheduled actions of the variant.

    ``apply`` is True so that the spec can be put elsewhere as it is. Predictive policies are not
    supported (ConfigError); a step policy without an alarm is kept out with the same error.
    """
    rid = f"endpoint/{endpoint_name}/variant/{variant_name}"
    target = {"ServiceNamespace": NAMESPACE, "ScalableDimension": DIMENSION}
    aas = clients.autoscaling
    try:
        targets = _pages(aas, "describe_scalable_targets", "ScalableTargets", ResourceIds=[rid], **target)
        if not targets:
            raise ConfigError(f"{rid} has no scalable target (RegisterScalableTarget was never called for it)")
        policies_raw = _pages(aas, "describe_scaling_policies", "ScalingPolicies", ResourceId=rid, **target)
        actions_raw = _pages(aas, "describe_scheduled_actions", "ScheduledActions", ResourceId=rid, **target)
        policies: list[TargetTrackingPolicy | StepPolicy] = []
        for raw in policies_raw:
            kind = raw.get("PolicyType")
            if kind == "TargetTrackingScaling":
                policies.append(target_tracking_policy(raw))
            elif kind == "StepScaling":
                names = [a["AlarmName"] for a in raw.get("Alarms") or []]
                alarms = (_pages(clients.cloudwatch, "describe_alarms", "MetricAlarms", AlarmNames=names)
                          if names else [])
                if not alarms:
                    raise ConfigError(f"step policy {raw['PolicyName']} on {rid} has no CloudWatch alarm")
                policies.append(step_policy(raw, alarm_spec(alarms[0])))
            else:
                raise ConfigError(f"policy {raw.get('PolicyName')} on {rid}: {kind} is not supported by scalecheck")
    except botocore.exceptions.ClientError as err:
        if is_fatal(err):  # credentials refused: the caller words it (harness.observe.failures.translate)
            raise
        e = err.response.get("Error", {})
        raise InfrastructureError(f"reading the scaling setup of {rid}: {e.get('Code')}: {e.get('Message')}") from None
    t = targets[0]
    return ScalingSpec(min_capacity=t["MinCapacity"], max_capacity=t["MaxCapacity"], policies=policies,
                       scheduled_actions=[scheduled_action(a) for a in actions_raw],
                       apply=bool(policies or actions_raw))


def with_live_scaling(profile: Profile, scaling: ScalingSpec) -> Profile:
    """``profile`` with its scaling section replaced by ``scaling`` (read from a live endpoint).

    The endpoint's initial instance count is clamped into the live [min, max]; scenarios that drop
    policies the live setup does not have, ``scaled_by`` expectations on them, and zero-capacity
    expectations when the live MinCapacity is not 0, are removed.
    """
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    live = scaling.model_dump(mode="json", by_alias=True, exclude_none=True)
    if profile.scaling.start_capacity is not None:
        live["start_capacity"] = max(scaling.min_capacity, min(scaling.max_capacity, profile.scaling.start_capacity))
    data["scaling"] = live
    ep = data["endpoint"]
    ep["initial_instance_count"] = max(scaling.min_capacity, min(scaling.max_capacity,
                                                                 ep["initial_instance_count"]), 1)
    names = {p.name for p in scaling.policies}
    zero = ("scale_from_zero", "scale_to_zero")
    data["expectations"] = [e for e in data.get("expectations", [])
                            if (e.get("type") != "scaled_by" or e.get("policy") in names)
                            and (e.get("type") not in zero or scaling.min_capacity == 0)]
    data["scenarios"] = []
    return Profile.model_validate(data)


def verify_live(clients: Clients, profile: Profile, say: Callable[[str], None]) -> Profile:
    """``profile`` as a run verifies it when it may not change the endpoint's scaling: the live setup
    (:func:`read_scaling`, :func:`with_live_scaling`) in place of its own, and no ``start_capacity``."""
    try:
        live = read_scaling(clients, profile.endpoint.name, profile.endpoint.variant)
    except ConfigError as err:
        raise ConfigError(f"{err}; without --apply-scaling a run verifies the endpoint's own scaling (pass "
                          "--apply-scaling to put the profile's for the run, restored after it)") from None
    verified = with_live_scaling(profile, live)
    say(f"scaling: verifying the live policies of {profile.resource_id} (min {live.min_capacity} max "
        f"{live.max_capacity}; {', '.join(p.name for p in live.policies) or 'no policy'}); nothing is changed "
        "(--apply-scaling puts the profile's for the run and restores the endpoint's after it)")
    return verified.model_copy(update={"scaling": verified.scaling.model_copy(update={"start_capacity": None})})
