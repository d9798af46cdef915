"""The scaling setup of one SageMaker variant as AWS describes it, as typed records: read live, or planned.

Contract: a :class:`ScalingState` holds what DescribeScalableTargets, DescribeScalingPolicies,
DescribeScheduledActions and DescribeAlarms answer for one scalable target, reduced to what can be put
back as it was: the target's Min/Max and SuspendedState; each policy's type and full configuration (the
``*PolicyConfiguration`` member as described) and the alarms it names; the CloudWatch alarms that step
policies name (a user's own alarms, with every PutMetricAlarm field), plus any other alarm names asked
for (those a profile's step policies would put); each scheduled action. Target-tracking managed alarms
are not kept: AWS re-creates them with the policy. Identifiers AWS assigns (ARNs, creation times) are
kept for the record only.

:func:`read_state` asks AWS or the emulator (InfrastructureError with AWS's message on failure);
:func:`planned_state` is, without asking anything, the state
:func:`harness.observe.setup.apply_scaling` leaves when it puts a profile on ``current`` (relative ``at``
scheduled actions are put later by the run and are not in it). The records are the JSON of the run
folder's ``scaling-before.json``, ``scaling-applied.json`` and ``scaling-after-restore.json``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

import botocore.exceptions
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import InfrastructureError
from harness.observe.aws import Clients
from harness.profile import Profile, StepPolicy, TargetTrackingPolicy
from harness.profile.aws_requests import (
    ALARM_MARK,
    DIMENSION,
    NAMESPACE,
    alarm_request,
    scheduled_action_request,
    step_policy_request,
    target_tracking_request,
)

STATE_SCHEMA_VERSION = 1
# PolicyType -> the member of DescribeScalingPolicies / PutScalingPolicy holding its configuration
CONFIG_MEMBERS = {"TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
                  "StepScaling": "StepScalingPolicyConfiguration",
                  "PredictiveScaling": "PredictiveScalingPolicyConfiguration"}
# The DescribeAlarms fields PutMetricAlarm takes back (the rest is state, history or identifiers).
ALARM_FIELDS = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
                "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
                "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
                "ThresholdMetricId")
DEFAULT_SUSPENDED = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                     "ScheduledScalingSuspended": False}
StateKind = Literal["before", "applied", "after-restore", "current", "planned"]


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TargetState(_State):
    """The scalable target (RegisterScalableTarget's fields; ``arn``/``creation_time`` for the record)."""

    min_capacity: int
    max_capacity: int
    suspended_state: dict[str, bool] = Field(default_factory=lambda: dict(DEFAULT_SUSPENDED))
    arn: str | None = None
    creation_time: str | None = None


class PolicyState(_State):
    """One scaling policy: ``configuration`` is its ``*PolicyConfiguration`` member as described."""

    name: str
    policy_type: str
    configuration: dict[str, Any]
    alarm_names: list[str] = Field(default_factory=list)
    arn: str | None = None
    creation_time: str | None = None

    def put_request(self, ids: dict[str, str]) -> dict[str, Any]:
        """PutScalingPolicy arguments that put this policy back as it is."""
        return {"PolicyName": self.name, **ids, "PolicyType": self.policy_type,
                CONFIG_MEMBERS[self.policy_type]: self.configuration}


class AlarmState(_State):
    """One CloudWatch metric alarm: ``definition`` holds the PutMetricAlarm arguments that re-create it."""

    name: str
    definition: dict[str, Any]
    arn: str | None = None

    @property
    def own(self) -> bool:
        """Put by scalecheck for a step policy of a profile (its AlarmDescription says so)."""
        return str(self.definition.get("AlarmDescription") or "").startswith(ALARM_MARK)


class ScheduledActionState(_State):
    """One scheduled action (times as ISO 8601 UTC text)."""

    name: str
    schedule: str
    timezone: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    min_capacity: int | None = None
    max_capacity: int | None = None
    arn: str | None = None
    creation_time: str | None = None

    def put_request(self, ids: dict[str, str]) -> dict[str, Any]:
        """PutScheduledAction arguments that put this action back as it is."""
        request: dict[str, Any] = {"ScheduledActionName": self.name, **ids, "Schedule": self.schedule}
        for key, value in (("Timezone", self.timezone), ("StartTime", self.start_time), ("EndTime", self.end_time)):
            if value is not None:
                request[key] = value
        request["ScalableTargetAction"] = {k: v for k, v in (("MinCapacity", self.min_capacity),
                                                              ("MaxCapacity", self.max_capacity)) if v is not None}
        return request


class ScalingState(_State):
    """The scaling setup of one scalable target at ``taken_ts`` (wall time); ``target`` None: none registered."""

    schema_version: int = STATE_SCHEMA_VERSION
    kind: StateKind
    taken_ts: float
    region: str
    resource_id: str
    service_namespace: str = NAMESPACE
    scalable_dimension: str = DIMENSION
    target: TargetState | None = None
    policies: list[PolicyState] = Field(default_factory=list)
    alarms: list[AlarmState] = Field(default_factory=list)
    scheduled_actions: list[ScheduledActionState] = Field(default_factory=list)

    @property
    def ids(self) -> dict[str, str]:
        """ServiceNamespace, ResourceId, ScalableDimension: the keys of every request on the target."""
        return {"ServiceNamespace": self.service_namespace, "ResourceId": self.resource_id,
                "ScalableDimension": self.scalable_dimension}

    def policy(self, name: str) -> PolicyState | None:
        return next((p for p in self.policies if p.name == name), None)

    def alarm(self, name: str) -> AlarmState | None:
        return next((a for a in self.alarms if a.name == name), None)

    def action(self, name: str) -> ScheduledActionState | None:
        return next((a for a in self.scheduled_actions if a.name == name), None)

    def alarm_names(self) -> list[str]:
        """Every alarm this state knows of: the ones kept and the ones its step policies name."""
        names = [a.name for a in self.alarms]
        names += [n for p in self.policies if p.policy_type == "StepScaling" for n in p.alarm_names]
        return list(dict.fromkeys(names))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return str(value)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def alarm_definition(raw: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm arguments of a DescribeAlarms MetricAlarm (JSON-safe)."""
    return {k: raw[k] for k in ALARM_FIELDS if raw.get(k) is not None}


def read_state(clients: Clients, region: str, resource_id: str, *, extra_alarm_names: list[str] | tuple[str, ...] = (),
               kind: StateKind = "current") -> ScalingState:
    """The variant's scaling setup now: target, policies, the alarms step policies name (and
    ``extra_alarm_names`` that exist), scheduled actions."""
    ids = {"ServiceNamespace": NAMESPACE, "ScalableDimension": DIMENSION}
    aas = clients.autoscaling
    try:
        targets = _pages(aas, "describe_scalable_targets", "ScalableTargets", ResourceIds=[resource_id], **ids)
        policies_raw = _pages(aas, "describe_scaling_policies", "ScalingPolicies", ResourceId=resource_id, **ids)
        actions_raw = _pages(aas, "describe_scheduled_actions", "ScheduledActions", ResourceId=resource_id, **ids)
        policies = [PolicyState(
            name=p["PolicyName"], policy_type=p.get("PolicyType") or "StepScaling",
            configuration=p.get(CONFIG_MEMBERS.get(p.get("PolicyType") or "StepScaling", "")) or {},
            alarm_names=[a["AlarmName"] for a in p.get("Alarms") or []] if p.get("PolicyType") == "StepScaling" else [],
            arn=p.get("PolicyARN"), creation_time=_iso(p.get("CreationTime"))) for p in policies_raw]
        names = list(dict.fromkeys([n for p in policies for n in p.alarm_names] + list(extra_alarm_names)))
        alarms_raw: list[dict[str, Any]] = []
        for i in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
            alarms_raw += _pages(clients.cloudwatch, "describe_alarms", "MetricAlarms", AlarmNames=names[i:i + 100])
    except botocore.exceptions.ClientError as err:
        e = err.response.get("Error", {})
        raise InfrastructureError(f"reading the scaling setup of {resource_id}: {e.get('Code')}: "
                                  f"{e.get('Message')}") from None
    except botocore.exceptions.BotoCoreError as err:
        raise InfrastructureError(f"reading the scaling setup of {resource_id}: {err}") from None
    target = None
    if targets:
        t = targets[0]
        target = TargetState(min_capacity=t["MinCapacity"], max_capacity=t["MaxCapacity"],
                             suspended_state={**DEFAULT_SUSPENDED, **(t.get("SuspendedState") or {})},
                             arn=t.get("ScalableTargetARN"), creation_time=_iso(t.get("CreationTime")))
    actions = []
    for a in actions_raw:
        bounds = a.get("ScalableTargetAction") or {}
        actions.append(ScheduledActionState(
            name=a["ScheduledActionName"], schedule=a["Schedule"], timezone=a.get("Timezone"),
            start_time=_iso(a.get("StartTime")), end_time=_iso(a.get("EndTime")),
            min_capacity=bounds.get("MinCapacity"), max_capacity=bounds.get("MaxCapacity"),
            arn=a.get("ScheduledActionARN"), creation_time=_iso(a.get("CreationTime"))))
    alarms = [AlarmState(name=a["AlarmName"], definition=alarm_definition(a), arn=a.get("AlarmArn"))
              for a in alarms_raw]
    return ScalingState(kind=kind, taken_ts=time.time(), region=region, resource_id=resource_id, target=target,
                        policies=policies, alarms=alarms, scheduled_actions=actions)


def planned_policy_arn(profile: Profile, name: str) -> str:
    """A stand-in for the ARN AWS will give a policy the profile puts (same shape, ``planned`` id)."""
    return (f"arn:aws:autoscaling:{profile.region}:000000000000:scalingPolicy:planned:resource/{NAMESPACE}/"
            f"{profile.resource_id}:policyName/{name}")


def planned_state(profile: Profile, current: ScalingState) -> ScalingState:
    """What :func:`harness.observe.setup.apply_scaling` leaves when it puts ``profile`` on ``current``:
    the target with the profile's Min/Max (SuspendedState untouched), exactly the profile's policies,
    their alarms put, scalecheck's own alarms of the policies it deletes gone, the profile's
    ``schedule`` actions and no other. The state's ``kind`` is ``planned``."""
    s = profile.scaling
    suspended = current.target.suspended_state if current.target else dict(DEFAULT_SUSPENDED)
    target = TargetState(min_capacity=s.min_capacity, max_capacity=s.max_capacity, suspended_state=suspended)
    policies: list[PolicyState] = []
    alarms: dict[str, AlarmState] = {}
    for policy in s.policies:
        if isinstance(policy, TargetTrackingPolicy):
            req = target_tracking_request(policy, profile)
            policies.append(PolicyState(name=policy.name, policy_type="TargetTrackingScaling",
                                        configuration=req["TargetTrackingScalingPolicyConfiguration"]))
        elif isinstance(policy, StepPolicy):
            req = step_policy_request(policy, profile)
            policies.append(PolicyState(name=policy.name, policy_type="StepScaling",
                                        configuration=req["StepScalingPolicyConfiguration"],
                                        alarm_names=[policy.alarm_name]))
            definition = alarm_request(policy, profile, planned_policy_arn(profile, policy.name))
            alarms[policy.alarm_name] = AlarmState(name=policy.alarm_name, definition=definition)
    wanted = {p.name for p in s.policies}
    dropped = {n for p in current.policies if p.name not in wanted for n in p.alarm_names}
    kept = [a for a in current.alarms if a.name not in alarms and not (a.own and a.name in dropped)]
    actions = []
    for action in s.scheduled_actions:
        if action.schedule is None:
            continue
        req = scheduled_action_request(action, profile)
        bounds = req["ScalableTargetAction"]
        actions.append(ScheduledActionState(
            name=action.name, schedule=req["Schedule"], timezone=req.get("Timezone") or "UTC",
            start_time=_iso(req.get("StartTime")), end_time=_iso(req.get("EndTime")),
            min_capacity=bounds.get("MinCapacity"), max_capacity=bounds.get("MaxCapacity")))
    return ScalingState(kind="planned", taken_ts=time.time(), region=current.region, resource_id=current.resource_id,
                        target=target, policies=policies, alarms=kept + list(alarms.values()),
                        scheduled_actions=actions)
