"""Application Auto Scaling control plane of the model: scalable targets and target-tracking policies.

A mixin of :class:`harness.autoscaling.world.World` (it uses the world's endpoints, alarms, clock and
activity log). PutScalingPolicy creates the two managed alarms with their AWS names and settings
(aws-semantics §1): ``TargetTracking-<ResourceId>-AlarmHigh-<uuid>`` (> target, 3 of 3 one-minute
datapoints) and ``…-AlarmLow-<uuid>`` (< 0.9 x target, 15 of 15). They watch the predefined
SageMakerVariantInvocationsPerInstance (InvocationsPerInstance of the variant, statistic
``ModelParams.alarm_statistic``) or a CustomizedMetricSpecification's metric with its Statistic [S8]
(for async endpoints: ApproximateBacklogSizePerInstance, Average, EndpointName [S15-async-as]).
The metric-math form (``Metrics``) is refused: this emulator does not evaluate metric math.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from harness.autoscaling.alarms import Alarm
from harness.autoscaling.entities import (
    DIMENSION,
    ActivityRecord,
    ScalableTarget,
    TargetTrackingPolicy,
    WorldError,
    parse_resource_id,
)
from harness.autoscaling.metrics import MetricKey

if TYPE_CHECKING:
    from harness.autoscaling.world import World

SUPPORTED_PREDEFINED = {"SageMakerVariantInvocationsPerInstance": "InvocationsPerInstance"}
CUSTOM_STATISTICS = ("Average", "Minimum", "Maximum", "SampleCount", "Sum")  # MetricStatistic [S8]


def _invalid(message: str) -> WorldError:
    return WorldError("ValidationException", message)


def tracked_metric(configuration: dict[str, Any], resource_id: str,
                   predefined_statistic: str) -> tuple[MetricKey, str, str | None]:
    """The metric key, statistic and unit the managed alarms of a TargetTrackingScalingPolicyConfiguration
    watch; a ValidationException for a form the model does not support."""
    predefined = configuration.get("PredefinedMetricSpecification")
    custom = configuration.get("CustomizedMetricSpecification")
    if predefined is not None and custom is not None:
        raise _invalid("Only one of PredefinedMetricSpecification and CustomizedMetricSpecification may be "
                       "specified.")
    if custom is not None:
        if custom.get("Metrics"):
            raise _invalid("Metric math (CustomizedMetricSpecification.Metrics) in target tracking is not "
                           "supported by this emulator; use MetricName, Namespace, Dimensions and Statistic.")
        missing = [f for f in ("MetricName", "Namespace", "Statistic") if not custom.get(f)]
        if missing:
            raise _invalid(f"CustomizedMetricSpecification requires {', '.join(missing)}.")
        statistic = custom["Statistic"]
        if statistic not in CUSTOM_STATISTICS:
            raise _invalid(f"Unsupported Statistic {statistic!r}; supported: {', '.join(CUSTOM_STATISTICS)}")
        dims = tuple(sorted((d["Name"], d["Value"]) for d in custom.get("Dimensions") or []))
        return MetricKey(custom["Namespace"], custom["MetricName"], dims), statistic, custom.get("Unit")
    kind = (predefined or {}).get("PredefinedMetricType")
    if kind not in SUPPORTED_PREDEFINED:
        raise _invalid(f"Unsupported metric for this emulator: {kind or 'none given'}; supported: "
                       f"{', '.join(SUPPORTED_PREDEFINED)} or a CustomizedMetricSpecification")
    ep_name, v_name = parse_resource_id(resource_id)
    key = MetricKey.of("AWS/SageMaker", SUPPORTED_PREDEFINED[kind], EndpointName=ep_name, VariantName=v_name)
    return key, predefined_statistic, None


class TargetsMixin:
    """Scalable targets and target-tracking policies (methods of World)."""

    def _uuid(self: World) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _check_target_key(self: World, namespace: str, dimension: str) -> None:
        if namespace != "sagemaker":
            raise WorldError("ValidationException", f"Unsupported service namespace {namespace!r}: "
                             "this emulator models SageMaker only")
        if dimension != DIMENSION:
            raise WorldError("ValidationException", f"Unsupported scalable dimension {dimension!r}; "
                             f"use {DIMENSION}")

    def target(self: World, namespace: str, resource_id: str, dimension: str) -> ScalableTarget:
        self._check_target_key(namespace, dimension)
        target = self.targets.get(resource_id)
        if target is None:
            raise WorldError("ObjectNotFoundException",
                             f"No scalable target registered for service namespace: {namespace}, resource ID: "
                             f"{resource_id}, scalable dimension: {dimension}")
        return target

    def register_target(self: World, *, namespace: str, resource_id: str, dimension: str, now: float,
                        min_capacity: int | None = None, max_capacity: int | None = None,
                        role_arn: str | None = None, suspended: dict[str, bool] | None = None) -> ScalableTarget:
        """RegisterScalableTarget: create, or update min/max/suspension of an existing target."""
        self.advance(now)
        self._check_target_key(namespace, dimension)
        ep_name, v_name = parse_resource_id(resource_id)
        ep = self.endpoints.get(ep_name)
        if ep is None or v_name not in ep.variants:
            raise WorldError("ValidationException",
                             f"Resource {resource_id} does not exist: no endpoint {ep_name} with variant {v_name}.")
        target = self.targets.get(resource_id)
        if target is None:
            if min_capacity is None or max_capacity is None:
                raise WorldError("ValidationException",
                                 "MinCapacity and MaxCapacity are required to register a new scalable target.")
            target = ScalableTarget(
                namespace=namespace, resource_id=resource_id, dimension=dimension, min_capacity=min_capacity,
                max_capacity=max_capacity, created_ts=now, desired=ep.variants[v_name].desired,
                role_arn=role_arn or self.arn("iam", "role/aws-service-role/sagemaker.application-autoscaling."
                                              "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"),
                arn=self.arn("application-autoscaling", f"scalable-target/{self._uuid().replace('-', '')[:32]}"))
            self.targets[resource_id] = target
        else:
            if min_capacity is not None:
                target.min_capacity = min_capacity
            if max_capacity is not None:
                target.max_capacity = max_capacity
        if target.min_capacity > target.max_capacity:
            raise WorldError("ValidationException",
                             f"Minimum capacity {target.min_capacity} cannot be greater than maximum capacity "
                             f"{target.max_capacity}")
        if suspended:
            target.suspended.update({k: bool(v) for k, v in suspended.items() if k in target.suspended})
        # Changing min/max can itself trigger a scaling activity (aws-semantics §4, S5).
        if target.desired < target.min_capacity:
            self.set_desired(target, target.min_capacity, now,
                             cause=f"minimum capacity was set to {target.min_capacity}")
        elif target.desired > target.max_capacity:
            self.set_desired(target, target.max_capacity, now,
                             cause=f"maximum capacity was set to {target.max_capacity}")
        return target

    def deregister_target(self: World, namespace: str, resource_id: str, dimension: str, now: float) -> None:
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        for arn in [a for a, p in self.policies.items() if p.resource_id == resource_id]:
            self._drop_policy(arn)
        self._drop_scheduled_actions(resource_id)
        del self.targets[resource_id]

    def put_target_tracking(self: World, *, name: str, namespace: str, resource_id: str, dimension: str,
                            configuration: dict[str, Any], now: float) -> TargetTrackingPolicy:
        """PutScalingPolicy (TargetTrackingScaling): create or replace, with its two managed alarms."""
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        key, statistic, unit = tracked_metric(configuration, resource_id, self.params.alarm_statistic)
        if configuration.get("TargetValue") is None:
            raise _invalid("TargetValue is required.")
        target_value = float(configuration["TargetValue"])
        if target_value <= 0:
            raise _invalid("TargetValue must be greater than 0")
        existing = next((p for p in self.policies.values()
                         if p.name == name and p.resource_id == resource_id), None)
        if existing is not None:
            self._drop_policy(existing.arn)
        policy_id = self._uuid()
        arn = (f"arn:aws:autoscaling:{self.region}:{self.account}:scalingPolicy:{policy_id}:resource/"
               f"{namespace}/{resource_id}:policyName/{name}")
        # Real managed alarms end with ":createdBy/<uuid>" (aws-semantics §1, S25); uuid5 of the ARN keeps
        # it deterministic without drawing from the seeded rng (which also drives latency jitter).
        created_by = uuid.uuid5(uuid.NAMESPACE_URL, arn)
        description = f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}:createdBy/{created_by}."
        high = Alarm(name=f"TargetTracking-{resource_id}-AlarmHigh-{self._uuid()}", arn="", metric=key,
                     statistic=statistic, unit=unit, period_s=self.params.metric_period_s,
                     evaluation_periods=self.params.alarm_high_datapoints,
                     datapoints_to_alarm=self.params.alarm_high_datapoints, threshold=target_value,
                     comparison="GreaterThanThreshold", actions=[arn], description=description,
                     state_updated_ts=now, created_ts=now)
        low = Alarm(name=f"TargetTracking-{resource_id}-AlarmLow-{self._uuid()}", arn="", metric=key,
                    statistic=statistic, unit=unit, period_s=self.params.metric_period_s,
                    evaluation_periods=self.params.alarm_low_datapoints,
                    datapoints_to_alarm=self.params.alarm_low_datapoints,
                    threshold=round(target_value * self.params.alarm_low_ratio, 10),
                    comparison="LessThanThreshold", actions=[arn], description=description,
                    state_updated_ts=now, created_ts=now)
        for alarm in (high, low):
            alarm.arn = self.arn("cloudwatch", f"alarm:{alarm.name}")
            alarm.managed = True
            self.alarms[alarm.name] = alarm
        policy = TargetTrackingPolicy(
            arn=arn, name=name, namespace=namespace, resource_id=resource_id, dimension=dimension,
            target_value=target_value,
            scale_out_cooldown_s=float(configuration.get("ScaleOutCooldown", 300)),
            scale_in_cooldown_s=float(configuration.get("ScaleInCooldown", 300)),
            disable_scale_in=bool(configuration.get("DisableScaleIn", False)),
            configuration=dict(configuration), created_ts=now, alarm_high=high.name, alarm_low=low.name)
        self.policies[arn] = policy
        return policy

    def delete_policy(self: World, name: str, namespace: str, resource_id: str, dimension: str,
                      now: float) -> None:
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        policy = next((p for p in self.policies.values() if p.name == name and p.resource_id == resource_id), None)
        if policy is None:
            raise WorldError("ObjectNotFoundException",
                             f"No scaling policy found for service namespace: {namespace}, resource ID: "
                             f"{resource_id}, scalable dimension: {dimension}, policy name: {name}")
        self._drop_policy(policy.arn)

    def _drop_policy(self: World, arn: str) -> None:
        policy = self.policies.pop(arn)
        if isinstance(policy, TargetTrackingPolicy):  # a step policy's alarms are the user's: they stay
            for alarm in (policy.alarm_high, policy.alarm_low):
                self.alarms.pop(alarm, None)

    def activities_for(self: World, resource_id: str | None) -> list[ActivityRecord]:
        """Activities, newest first (as DescribeScalingActivities lists them)."""
        acts = [a for a in self.activities if resource_id is None or a.resource_id == resource_id]
        return sorted(acts, key=lambda a: a.start_ts, reverse=True)
