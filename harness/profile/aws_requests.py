"""The profile in AWS's own terms: the API requests that set it up, and the CloudWatch series its run reads.

Pure functions of a :class:`~harness.profile.Profile` (no boto3 client, no clock): the setup
(:mod:`harness.observe.setup`), the simulator (:mod:`harness.predict.simulate`) and the planner put the
same requests, so a prediction and a run cannot disagree about what a profile means. Request builders
return the keyword arguments of the boto3 call they name (``*_request``); times are endpoint epoch seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from harness.profile import (
    AlarmSpec,
    MetricSpec,
    Profile,
    ScheduledActionSpec,
    StepPolicy,
    TargetTrackingPolicy,
)
from harness.profile.durations import format_span
from harness.profile.traffic import stage_starts

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# AlarmDescription of the alarms scalecheck puts for step policies: only those are ever deleted by it.
ALARM_MARK = "Created by scalecheck"




def target_ids(profile: Profile) -> dict[str, str]:
    return {"ServiceNamespace": NAMESPACE, "ResourceId": profile.resource_id, "ScalableDimension": DIMENSION}


def dimensions(metric: MetricSpec, profile: Profile) -> list[dict[str, str]]:
    """CloudWatch ``Dimensions`` of ``metric`` for the profile's endpoint and variant."""
    dims = metric.resolved_dimensions(profile.endpoint.name, profile.endpoint.variant)
    return [{"Name": k, "Value": v} for k, v in dims.items()]


def s3_bucket(uri: str) -> str:
    """``s3://bucket/key/prefix`` → ``bucket``."""
    return uri.removeprefix("s3://").partition("/")[0]


def endpoint_config_request(profile: Profile, config_name: str, model_name: str) -> dict[str, Any]:
    """CreateEndpointConfig arguments: one instance-based variant, and AsyncInferenceConfig for async."""
    ep = profile.endpoint
    request: dict[str, Any] = {"EndpointConfigName": config_name, "ProductionVariants": [{
        "VariantName": ep.variant, "ModelName": model_name, "InstanceType": ep.instance_type,
        "InitialInstanceCount": ep.initial_instance_count, "InitialVariantWeight": 1.0}]}
    if ep.is_async:
        assert ep.async_ is not None
        config: dict[str, Any] = {"OutputConfig": {"S3OutputPath": ep.async_.output_path,
                                                   "S3FailurePath": ep.async_.failure_path}}
        if ep.async_.max_concurrent_invocations_per_instance is not None:
            config["ClientConfig"] = {
                "MaxConcurrentInvocationsPerInstance": ep.async_.max_concurrent_invocations_per_instance}
        request["AsyncInferenceConfig"] = config
    return request


def target_tracking_request(policy: TargetTrackingPolicy, profile: Profile) -> dict[str, Any]:
    """PutScalingPolicy arguments of a target-tracking policy (predefined or customized metric)."""
    config: dict[str, Any] = {"TargetValue": policy.target_value}
    if policy.custom_metric is not None:
        m = policy.custom_metric
        spec: dict[str, Any] = {"MetricName": m.name, "Namespace": m.namespace,
                                "Dimensions": dimensions(m, profile), "Statistic": m.statistic}
        if m.unit:
            spec["Unit"] = m.unit
        config["CustomizedMetricSpecification"] = spec
    else:
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": policy.metric}
    config.update({"ScaleOutCooldown": int(policy.scale_out_cooldown_s),
                   "ScaleInCooldown": int(policy.scale_in_cooldown_s), "DisableScaleIn": policy.disable_scale_in})
    return {"PolicyName": policy.name, **target_ids(profile), "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": config}


def step_policy_request(policy: StepPolicy, profile: Profile) -> dict[str, Any]:
    """PutScalingPolicy arguments of a step scaling policy (its alarm is :func:`alarm_request`)."""
    steps = []
    for s in policy.steps:
        step: dict[str, Any] = {}
        if s.lower is not None:
            step["MetricIntervalLowerBound"] = s.lower
        if s.upper is not None:
            step["MetricIntervalUpperBound"] = s.upper
        step["ScalingAdjustment"] = s.adjustment
        steps.append(step)
    config: dict[str, Any] = {"AdjustmentType": policy.adjustment_type, "StepAdjustments": steps,
                              "Cooldown": int(policy.cooldown_s), "MetricAggregationType": policy.metric_aggregation}
    if policy.min_adjustment_magnitude is not None:
        config["MinAdjustmentMagnitude"] = policy.min_adjustment_magnitude
    return {"PolicyName": policy.name, **target_ids(profile), "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": config}


def alarm_request(policy: StepPolicy, profile: Profile, policy_arn: str) -> dict[str, Any]:
    """PutMetricAlarm arguments of the alarm that drives ``policy`` (its action: the policy's ARN)."""
    a: AlarmSpec = policy.alarm
    request: dict[str, Any] = {
        "AlarmName": policy.alarm_name,
        "AlarmDescription": f"{ALARM_MARK} for step scaling policy {policy.name} on {profile.resource_id}",
        "MetricName": a.name, "Namespace": a.namespace, "Dimensions": dimensions(a, profile),
        "Statistic": a.statistic, "Period": int(a.period_s), "EvaluationPeriods": a.evaluation_periods,
        "DatapointsToAlarm": a.datapoints_to_alarm or a.evaluation_periods, "Threshold": a.threshold,
        "ComparisonOperator": a.comparison, "TreatMissingData": a.treat_missing_data,
        "ActionsEnabled": True, "AlarmActions": [policy_arn],
    }
    if a.unit:
        request["Unit"] = a.unit
    return request


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def scheduled_action_request(action: ScheduledActionSpec, profile: Profile,
                             schedule: str | None = None) -> dict[str, Any]:
    """PutScheduledAction arguments. ``schedule`` replaces the action's own: the ``at(...)`` a relative
    ``at`` action becomes once the load has started (UTC, so no Timezone)."""
    request: dict[str, Any] = {"ScheduledActionName": action.name, **target_ids(profile)}
    if schedule is not None:
        request["Schedule"] = schedule
    else:
        if action.schedule is None:
            raise ValueError(f"scheduled action {action.name!r} is relative ({action.at}); give its at() schedule")
        request["Schedule"] = action.schedule
        if action.timezone:
            request["Timezone"] = action.timezone
    if action.start_time is not None:
        request["StartTime"] = _utc(action.start_time)
    if action.end_time is not None:
        request["EndTime"] = _utc(action.end_time)
    request["ScalableTargetAction"] = {k: v for k, v in (("MinCapacity", action.min_capacity),
                                                          ("MaxCapacity", action.max_capacity)) if v is not None}
    return request


def at_expression(ts: float) -> str:
    """``at(YYYY-MM-DDTHH:MM:SS)`` of epoch seconds ``ts`` in UTC, rounded to the second."""
    return f"at({datetime.fromtimestamp(round(ts), UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def relative_action_ts(action: ScheduledActionSpec, profile: Profile, load_start_ts: float) -> float:
    """When a relative ``at`` action fires: its anchor (``load_start``, ``load_end`` = load start +
    the traffic's duration, or ``stage:<name>``'s start) plus its offset, in endpoint time."""
    anchor = action.anchor
    if anchor == "load_start":
        base = load_start_ts
    elif anchor == "load_end":
        base = load_start_ts + profile.traffic.duration_s
    else:
        starts = {name: start for name, start, _end in stage_starts(profile.traffic.stages, load_start_ts)}
        base = starts[anchor.removeprefix("stage:")]
    return base + action.offset_s


def describe_action(action: ScheduledActionSpec) -> str:
    """``schedule at(...) [Europe/Paris] min 1 max 4`` — for messages and ``validate``."""
    when = action.schedule if action.schedule is not None else f"at {action.at}"
    if action.schedule is not None and action.timezone:
        when += f" [{action.timezone}]"
    bounds = " ".join(f"{k} {v}" for k, v in (("min", action.min_capacity), ("max", action.max_capacity))
                      if v is not None)
    return f"{when} {bounds}"


def describe_policy(policy: TargetTrackingPolicy | StepPolicy) -> str:
    """One line: type, metric, target or steps + alarm — for messages and ``validate``."""
    if isinstance(policy, TargetTrackingPolicy):
        metric = (f"custom metric {policy.custom_metric.namespace}/{policy.custom_metric.name} "
                  f"({policy.custom_metric.statistic})" if policy.custom_metric else str(policy.metric))
        text = (f"target tracking on {metric}, target {policy.target_value:g}, cooldowns out "
                f"{policy.scale_out_cooldown_s:g}s / in {policy.scale_in_cooldown_s:g}s")
        return text + (", scale-in disabled" if policy.disable_scale_in else "")
    a = policy.alarm
    steps = ", ".join(f"[{'-inf' if s.lower is None else f'{s.lower:g}'}, "
                      f"{'+inf' if s.upper is None else f'{s.upper:g}'}) {s.adjustment:+d}" for s in policy.steps)
    datapoints = a.datapoints_to_alarm or a.evaluation_periods
    return (f"step scaling {policy.adjustment_type} steps {steps}, cooldown {policy.cooldown_s:g}s; "
            f"alarm {policy.alarm_name}: {a.namespace}/{a.name} {a.statistic} {_COMPARE[a.comparison]} "
            f"{a.threshold:g} for {datapoints} of {a.evaluation_periods} x {a.period_s:g}s")


_COMPARE = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">", "LessThanThreshold": "<",
            "LessThanOrEqualToThreshold": "<="}


def plan_relative_actions(profile: Profile, load_start_ts: float,
                          now_ts: float) -> tuple[list[tuple[float, ScheduledActionSpec]], str | None]:
    """When each relative ``at`` action fires (endpoint time, soonest first), or why the run must abort:
    one of them is already past at ``now_ts`` (an ``at()`` in the past would never fire)."""
    planned = sorted(((relative_action_ts(a, profile, load_start_ts), a)
                      for a in profile.scaling.scheduled_actions if a.at is not None), key=lambda x: x[0])
    for fire_ts, action in planned:
        if round(fire_ts) <= now_ts:
            return planned, (f"scheduled action {action.name!r} (at {action.at}) would fire at "
                             f"{_utc_text(fire_ts)} UTC, {format_span(now_ts - fire_ts)} before the run "
                             f"could put it ({_utc_text(now_ts)} UTC); give it a later offset, "
                             f"e.g. {action.anchor}+1m")
    return planned, None


def _utc_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
