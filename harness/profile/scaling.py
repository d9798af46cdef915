"""The scaling setup (``scaling:``): the scalable target's bounds, its policies and scheduled actions.

Contract: :class:`ScalingSpec` holds what Application Auto Scaling and CloudWatch are given —
target-tracking and step policies (:data:`Policy`, told apart by ``type``), the alarm of each step
policy, scheduled actions — each validated on its own (AWS's limits, step bounds without gaps or
overlaps, unique names). What needs another section — a scheduled action's ``at: stage:<name>``, a
policy an async endpoint cannot use — is checked by :class:`~harness.profile.model.Profile`.
:class:`MetricSpec` also names the metrics the collector reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.profile.base import Duration, _Spec
from harness.profile.durations import parse_duration_s

# Metrics SageMaker publishes with the EndpointName dimension only (aws-semantics §6).
ENDPOINT_ONLY_METRICS = frozenset({"ApproximateBacklogSize", "ApproximateBacklogSizePerInstance",
                                   "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"})


class MetricSpec(_Spec):
    """A CloudWatch metric. Without ``dimensions`` it gets the endpoint's: ``EndpointName`` for the
    async backlog metrics, ``EndpointName`` + ``VariantName`` for the others."""

    name: str = Field(min_length=1, max_length=255)
    namespace: str = "AWS/SageMaker"
    statistic: Literal["Average", "Minimum", "Maximum", "Sum", "SampleCount"] = "Average"
    dimensions: dict[str, str] | None = None
    unit: str | None = None

    def resolved_dimensions(self, endpoint: str, variant: str) -> dict[str, str]:
        if self.dimensions is not None:
            return dict(self.dimensions)
        if self.name in ENDPOINT_ONLY_METRICS:
            return {"EndpointName": endpoint}
        return {"EndpointName": endpoint, "VariantName": variant}


class TargetTrackingPolicy(_Spec):
    """A target-tracking policy (aws-semantics §1): a predefined ``metric`` or a ``custom_metric``."""

    type: Literal["target_tracking"]
    name: str = Field(min_length=1, max_length=256)
    metric: Literal["SageMakerVariantInvocationsPerInstance"] | None = None
    custom_metric: MetricSpec | None = None
    target_value: float = Field(gt=0)
    scale_out_cooldown_s: Duration = Field(300.0, alias="scale_out_cooldown")
    scale_in_cooldown_s: Duration = Field(300.0, alias="scale_in_cooldown")
    disable_scale_in: bool = False

    @model_validator(mode="after")
    def _one_metric(self) -> TargetTrackingPolicy:
        if self.metric is not None and self.custom_metric is not None:
            raise ValueError("give either metric (predefined) or custom_metric, not both")
        if self.metric is None and self.custom_metric is None:
            object.__setattr__(self, "metric", "SageMakerVariantInvocationsPerInstance")
        return self

    @property
    def metric_label(self) -> str:
        return self.custom_metric.name if self.custom_metric else str(self.metric)


Comparison = Literal["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                     "LessThanOrEqualToThreshold"]


class AlarmSpec(MetricSpec):
    """The CloudWatch alarm that drives a step policy (PutMetricAlarm, aws-semantics §2)."""

    alarm_name: str | None = Field(None, min_length=1, max_length=255,
                                   description="Default: <policy name>-alarm.")
    period_s: Duration = Field(60.0, alias="period", ge=60)
    evaluation_periods: int = Field(1, ge=1)
    datapoints_to_alarm: int | None = Field(None, ge=1)
    threshold: float
    comparison: Comparison
    treat_missing_data: Literal["missing", "notBreaching", "breaching", "ignore"] = "missing"

    @model_validator(mode="after")
    def _periods(self) -> AlarmSpec:
        if self.period_s % 60:
            raise ValueError(f"period must be a multiple of 60 s (got {self.period_s:g} s)")
        if self.datapoints_to_alarm is not None and self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(f"datapoints_to_alarm {self.datapoints_to_alarm} is above evaluation_periods "
                             f"{self.evaluation_periods}")
        return self


class StepSpec(_Spec):
    """One step adjustment: bounds are offsets from the alarm threshold (null = unbounded)."""

    lower: float | None = None
    upper: float | None = None
    adjustment: int

    @model_validator(mode="after")
    def _bounds(self) -> StepSpec:
        if self.lower is None and self.upper is None:
            raise ValueError("a step needs lower, upper or both")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"lower {self.lower:g} must be below upper {self.upper:g}")
        return self


class StepPolicy(_Spec):
    """A step scaling policy and its alarm (aws-semantics §2)."""

    type: Literal["step"]
    name: str = Field(min_length=1, max_length=256)
    adjustment_type: Literal["ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"] = "ChangeInCapacity"
    steps: list[StepSpec] = Field(min_length=1, max_length=20)
    cooldown_s: Duration = Field(300.0, alias="cooldown", ge=0)
    metric_aggregation: Literal["Average", "Minimum", "Maximum"] = "Average"
    min_adjustment_magnitude: int | None = Field(None, ge=1)
    alarm: AlarmSpec

    @model_validator(mode="after")
    def _steps(self) -> StepPolicy:
        if self.min_adjustment_magnitude is not None and self.adjustment_type != "PercentChangeInCapacity":
            raise ValueError("min_adjustment_magnitude is only valid with PercentChangeInCapacity")
        ordered = sorted(self.steps, key=lambda s: -float("inf") if s.lower is None else s.lower)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.upper is None or b.lower is None or a.upper != b.lower:
                raise ValueError("steps must not overlap or leave gaps: each step's upper must equal the "
                                 f"next step's lower (got upper {a.upper} then lower {b.lower})")
        return self

    @property
    def alarm_name(self) -> str:
        return self.alarm.alarm_name or f"{self.name}-alarm"

    @property
    def metric_label(self) -> str:
        return self.alarm.name


Policy = Annotated[TargetTrackingPolicy | StepPolicy, Field(discriminator="type")]

RelativeTime = Annotated[str, Field(pattern=r"^(load_start|load_end|stage:[^+]+)(\+\S+)?$")]


class ScheduledActionSpec(_Spec):
    """A scheduled action (aws-semantics §3). ``schedule`` is AWS's own ``at()``/``rate()``/``cron()``
    expression; ``at`` is relative to the run (``load_start+5m``) and becomes ``at()`` once the load
    has started. Give exactly one of them, and min_capacity, max_capacity or both."""

    name: str = Field(min_length=1, max_length=256)
    schedule: str | None = Field(None, pattern=r"^(at|rate|cron)\(.+\)$")
    at: RelativeTime | None = None
    timezone: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    min_capacity: int | None = Field(None, ge=0)
    max_capacity: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> ScheduledActionSpec:
        if (self.schedule is None) == (self.at is None):
            raise ValueError("give exactly one of schedule (at()/rate()/cron()) or at (e.g. load_start+5m)")
        if self.min_capacity is None and self.max_capacity is None:
            raise ValueError("give min_capacity, max_capacity or both")
        if self.at is not None:
            offset = self.at.partition("+")[2]
            if offset:
                parse_duration_s(offset)
        return self

    @property
    def offset_s(self) -> float:
        """Seconds after the anchor of ``at``."""
        assert self.at is not None
        offset = self.at.partition("+")[2]
        return parse_duration_s(offset) if offset else 0.0

    @property
    def anchor(self) -> str:
        assert self.at is not None
        return self.at.partition("+")[0]


class ScalingSpec(_Spec):
    """The scalable target, its policies and scheduled actions. ``apply``: whether a run may put them on
    the endpoint — unset (the default) means yes with ``--local`` and only with ``--apply-scaling`` against
    AWS (else the run verifies the endpoint's live setup); ``true`` written in the profile is that
    consent; ``false`` never changes the endpoint's scaling. ``start_capacity``: before the load, set the
    variant to this many instances (UpdateEndpointWeightsAndCapacities) and wait until it has them — e.g.
    0 to test scale from zero."""

    min_capacity: int = Field(ge=0)
    max_capacity: int = Field(ge=1)
    start_capacity: int | None = Field(None, ge=0)
    policies: list[Policy] = Field(default_factory=list)
    scheduled_actions: list[ScheduledActionSpec] = Field(default_factory=list)
    apply: bool | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSpec:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity {self.min_capacity} is above max_capacity {self.max_capacity}")
        if self.start_capacity is not None and not self.min_capacity <= self.start_capacity <= self.max_capacity:
            raise ValueError(f"start_capacity {self.start_capacity} is outside [min_capacity {self.min_capacity}, "
                             f"max_capacity {self.max_capacity}]")
        if self.applies and not self.policies and not self.scheduled_actions:
            raise ValueError("give at least one policy or scheduled action (or apply: false)")
        for kind, names in (("policy", [p.name for p in self.policies]),
                            ("scheduled action", [a.name for a in self.scheduled_actions]),
                            ("alarm", [p.alarm_name for p in self.policies if isinstance(p, StepPolicy)])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def applies(self) -> bool:
        """Whether the profile describes a setup to put in place (``apply`` unset or true), as the model
        and the checks read it; whether a run may actually put it is the run's consent."""
        return self.apply is not False

    def policy(self, name: str) -> TargetTrackingPolicy | StepPolicy | None:
        return next((p for p in self.policies if p.name == name), None)
