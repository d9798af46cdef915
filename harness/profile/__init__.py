"""Profiles: one scenario per YAML file — endpoint, scaling policy, traffic and expectations.

:func:`load_profile` parses and validates a file *before any request is sent*; every problem is
reported as ``<file>: <field path>: <message>`` quoting the value the user wrote, all at once.
Durations are written like ``250s``, ``5m``, ``1h30m`` and are held as float seconds
(``*_s``) of endpoint time.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from harness.autoscaling.params import ModelParams
from harness.profile.durations import parse_duration_s

Duration = Annotated[float, BeforeValidator(parse_duration_s)]
AUTO = "auto"


def _window(value: Any) -> float | None:
    """``within``: a duration, or ``auto`` (→ ``None``: derived from the prediction, see
    :class:`PredictionSpec`)."""
    if value is None:
        raise ValueError("give a duration like 5m, or auto")
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return None
    try:
        return parse_duration_s(value)
    except ValueError as err:
        raise ValueError(f"{err}, or auto (derived from the prediction)") from None


# A window length: a duration, or `auto` (held as None) — the window then comes from the prediction.
Window = Annotated[float | None, BeforeValidator(_window)]


class ProfileError(ValueError):
    """A profile that cannot be run; ``problems`` lists ``field path: message`` strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid profile\n" + "\n".join(f"  {p}" for p in problems))


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


S3Uri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")]


class AsyncSpec(_Spec):
    """An asynchronous endpoint (aws-semantics §6): where requests and results live in S3.

    ``input_path`` is where the load generator uploads each distinct payload once; the endpoint config
    gets ``output_path`` / ``failure_path`` (AsyncInferenceConfig.OutputConfig) and
    ``max_concurrent_invocations_per_instance`` (ClientConfig; unset lets SageMaker choose).
    ``completion_sample`` is the fraction of requests whose output location the load generator
    watches to measure end-to-end completion, every ``poll_interval`` (endpoint time).
    """

    input_path: S3Uri = "s3://scalecheck-async/input"
    output_path: S3Uri = "s3://scalecheck-async/output"
    failure_path: S3Uri = "s3://scalecheck-async/failure"
    max_concurrent_invocations_per_instance: int | None = Field(None, ge=1, le=1000)
    request_ttl_s: Duration | None = Field(None, alias="request_ttl", ge=60, le=21600)
    invocation_timeout_s: Duration | None = Field(None, alias="invocation_timeout", ge=1, le=3600)
    completion_sample: float = Field(1.0, ge=0, le=1)
    poll_interval_s: Duration = Field(5.0, alias="poll_interval", gt=0)


class EndpointSpec(_Spec):
    """The endpoint under test. With ``create``, the run creates it when it does not exist."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    variant: str = Field("AllTraffic", min_length=1, max_length=63)
    type: Literal["realtime", "async"] = "realtime"
    async_: AsyncSpec | None = Field(None, alias="async")
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = Field(1, ge=1)
    create: bool = True
    model_name: str | None = None
    image: str = "scalecheck/echo:latest"
    model_data_url: str | None = None
    execution_role_arn: str = "arn:aws:iam::000000000000:role/scalecheck-emulator"

    @model_validator(mode="after")
    def _async(self) -> EndpointSpec:
        if self.type == "async" and self.async_ is None:
            object.__setattr__(self, "async_", AsyncSpec())
        if self.type == "realtime" and self.async_ is not None:
            raise ValueError("endpoint.async is only for type: async")
        return self

    @property
    def is_async(self) -> bool:
        return self.type == "async"


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
    """The scalable target, its policies and scheduled actions. ``apply: false`` leaves an existing
    setup untouched. ``start_capacity``: before the load, set the variant to this many instances
    (UpdateEndpointWeightsAndCapacities) and wait until it has them — e.g. 0 to test scale from zero."""

    min_capacity: int = Field(ge=0)
    max_capacity: int = Field(ge=1)
    start_capacity: int | None = Field(None, ge=0)
    policies: list[Policy] = Field(default_factory=list)
    scheduled_actions: list[ScheduledActionSpec] = Field(default_factory=list)
    apply: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSpec:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity {self.min_capacity} is above max_capacity {self.max_capacity}")
        if self.start_capacity is not None and not self.min_capacity <= self.start_capacity <= self.max_capacity:
            raise ValueError(f"start_capacity {self.start_capacity} is outside [min_capacity {self.min_capacity}, "
                             f"max_capacity {self.max_capacity}]")
        if self.apply and not self.policies and not self.scheduled_actions:
            raise ValueError("give at least one policy or scheduled action (or apply: false)")
        for kind, names in (("policy", [p.name for p in self.policies]),
                            ("scheduled action", [a.name for a in self.scheduled_actions]),
                            ("alarm", [p.alarm_name for p in self.policies if isinstance(p, StepPolicy)])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(dupes)}")
        return self

    def policy(self, name: str) -> TargetTrackingPolicy | StepPolicy | None:
        return next((p for p in self.policies if p.name == name), None)


StageKind = Literal["hold", "ramp", "step", "spike", "sine", "replay"]

# The fields each kind takes besides name, kind and duration; a field of another kind is an error.
STAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "hold": ("rate_rps",),
    "ramp": ("from_rps", "to_rps"),
    "step": ("from_rps", "to_rps", "steps"),
    "spike": ("base_rps", "peak_rps", "spike_at_s", "spike_duration_s"),
    "sine": ("mean_rps", "amplitude_rps", "period_s", "phase_s"),
    "replay": ("file", "scale", "values", "values_period_s"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "hold": ("rate_rps",), "ramp": ("from_rps", "to_rps"), "step": ("from_rps", "to_rps", "steps"),
    "spike": ("base_rps", "peak_rps", "spike_at_s", "spike_duration_s"),
    "sine": ("mean_rps", "amplitude_rps", "period_s"), "replay": (),
}


class Stage(_Spec):
    """One traffic stage: the offered arrival rate (requests per second of endpoint time) over ``duration``.

    * ``hold``: ``rate_rps`` throughout.
    * ``ramp``: linearly ``from_rps`` → ``to_rps``.
    * ``step``: a staircase of ``steps`` (≥ 2) equal plateaus of ``duration / steps`` each, the first at
      ``from_rps`` and the last at ``to_rps``, rising (or falling) by ``(to_rps - from_rps) / (steps - 1)``.
    * ``spike``: ``base_rps``, except ``peak_rps`` for ``spike_duration`` from ``spike_at`` (into the stage).
    * ``sine``: ``mean_rps + amplitude_rps * sin(2π (t + phase) / period)``, ``t`` seconds into the stage:
      a diurnal cycle with ``period: 1d``; ``phase`` (a duration, default 0) is where in the cycle the stage
      starts (``phase: 6h`` of ``1d`` starts at the crest). ``amplitude_rps`` ≤ ``mean_rps``.
    * ``replay``: the per-period request counts of a CSV ``file`` (path relative to the profile file;
      see :mod:`harness.profile.ratefile`: CloudWatch ``Invocations`` Sum per minute, console export or
      ``timestamp,value``), times ``scale``, as a constant rate within each period. ``duration`` defaults to
      the file's length and may be shorter. Once read, the counts are kept in ``values`` (per
      ``values_period``, default 1m) so a dumped profile needs no file; ``values`` can also be written inline.

    Examples (``traffic.stages`` entries)::

        - {name: warm, kind: hold, duration: 5m, rate_rps: 2}
        - {name: up, kind: ramp, duration: 10m, from_rps: 2, to_rps: 20}
        - {name: stairs, kind: step, duration: 20m, from_rps: 5, to_rps: 20, steps: 4}  # 5, 10, 15, 20
        - {name: burst, kind: spike, duration: 15m, base_rps: 5, peak_rps: 50, spike_at: 5m, spike_duration: 1m}
        - {name: day, kind: sine, duration: 2d, mean_rps: 20, amplitude_rps: 15, period: 1d, phase: 6h}
        - {name: prod, kind: replay, file: traffic/invocations.csv, scale: 0.5}
    """

    name: str = Field(min_length=1)
    kind: StageKind = "hold"
    duration_s: Duration = Field(0.0, alias="duration", gt=0)
    rate_rps: float | None = Field(None, ge=0)
    from_rps: float | None = Field(None, ge=0)
    to_rps: float | None = Field(None, ge=0)
    steps: int | None = Field(None, ge=2, le=10000)
    base_rps: float | None = Field(None, ge=0)
    peak_rps: float | None = Field(None, ge=0)
    spike_at_s: Duration | None = Field(None, alias="spike_at")
    spike_duration_s: Duration | None = Field(None, alias="spike_duration", gt=0)
    mean_rps: float | None = Field(None, ge=0)
    amplitude_rps: float | None = Field(None, ge=0)
    period_s: Duration | None = Field(None, alias="period", gt=0)
    phase_s: Duration | None = Field(None, alias="phase")
    file: str | None = Field(None, min_length=1)
    scale: float | None = Field(None, gt=0)
    values: list[Annotated[float, Field(ge=0)]] | None = Field(None, min_length=1)
    values_period_s: Duration | None = Field(None, alias="values_period", gt=0)

    @model_validator(mode="after")
    def _rates(self, info: ValidationInfo) -> Stage:
        kind = self.kind
        aliases = {n: (f.alias or n) for n, f in type(self).model_fields.items()}
        own = STAGE_FIELDS[kind]
        foreign = sorted(aliases[n] for n in self.model_fields_set if getattr(self, n) is not None
                         and n not in own and n not in ("name", "kind", "duration_s"))
        missing = [aliases[n] for n in _REQUIRED[kind] if getattr(self, n) is None]
        wrong = []
        if missing:
            wrong.append(f"a {kind} stage needs {' and '.join(missing)}")
        if foreign:
            wrong.append(f"a {kind} stage does not take {', '.join(foreign)} (it takes "
                         f"{', '.join(aliases[n] for n in own)})")
        if wrong:
            raise ValueError("; ".join(wrong))
        if kind == "replay":
            self._load_replay(info)
        elif "duration_s" not in self.model_fields_set:
            raise ValueError(f"a {kind} stage needs duration")
        if kind == "spike":
            at, length = float(self.spike_at_s or 0.0), float(self.spike_duration_s or 0.0)
            if at + length > self.duration_s:
                raise ValueError(f"spike_at {at:g} s + spike_duration {length:g} s ends after the stage's "
                                 f"duration {self.duration_s:g} s")
        if kind == "sine" and float(self.amplitude_rps or 0.0) > float(self.mean_rps or 0.0):
            raise ValueError(f"amplitude_rps {self.amplitude_rps:g} is above mean_rps {self.mean_rps:g}: "
                             "the rate would go below 0")
        return self

    @cached_property
    def replay_cumulative(self) -> list[float]:
        """A replay stage's requests before each period: ``[0, values[0], values[0] + values[1], ...]``."""
        return [0.0, *itertools.accumulate(self.values or [])]

    def _load_replay(self, info: ValidationInfo) -> None:
        if self.values is None and self.file is None:
            raise ValueError("a replay stage needs file (a CSV of requests per minute) or values")
        if self.values is None:
            from harness.profile.ratefile import read_rate_csv

            base = (info.context or {}).get("base_dir") if info is not None else None
            path = Path(self.file or "")
            path = path if path.is_absolute() or base is None else Path(base) / path
            counts, period = read_rate_csv(path, self.values_period_s)
            object.__setattr__(self, "values", counts)
            object.__setattr__(self, "values_period_s", period)
        period = float(self.values_period_s or 60.0)
        object.__setattr__(self, "values_period_s", period)
        length = len(self.values or []) * period
        if "duration_s" not in self.model_fields_set:
            object.__setattr__(self, "duration_s", length)
        elif self.duration_s > length + 1e-9:
            raise ValueError(f"duration {self.duration_s:g} s is longer than the replay data ({length:g} s: "
                             f"{len(self.values or [])} periods of {period:g} s); omit duration to replay all of it")


class TrafficSpec(_Spec):
    """What the Locust users send."""

    stages: list[Stage] = Field(min_length=1)
    payload: str = "0.5,0.4,0.3,0.1,0.2,0.1,0.05,0.1"
    content_type: str = "text/csv"
    user_rps: float = Field(5.0, gt=0, description="Requests per second (wall) one Locust user paces at.")
    arrivals: Literal["uniform", "poisson"] = Field(
        "uniform", description="uniform: requests evenly spaced at the offered rate; poisson: exponential "
        "inter-arrival times at the offered rate (a non-homogeneous Poisson process, seeded by seed). "
        "The load generator draws them; the simulator and the planner use the rate itself (deterministic).")
    seed: int | None = Field(None, description="Seed of the Poisson arrivals (default: a fresh one per run).")
    mode: Literal["open", "closed"] = Field(
        "open", description="open: arrivals follow the stage rates whatever the endpoint does; a pool of users "
        "sized to the rate serves them and an arrival that finds no free user is dropped (counted). closed: "
        "a fixed number of users (rate / user_rps) each pacing at user_rps, so a slow endpoint slows the load.")
    max_shortfall: float = Field(
        0.1, ge=0, le=1, description="A run whose achieved request count falls more than this fraction below "
        "the offered one, over the whole load, is invalid (exit 101): the load generator did not offer the load.")
    max_users: int | None = Field(
        None, ge=1, description="Open loop: cap on the user pool of one load generator process (default: none).")

    @model_validator(mode="after")
    def _unique(self) -> TrafficSpec:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)


# When an expectation's window starts: the load's start or end, a stage's start, the first request
# sent, or the moment the async backlog empties after the load (first ApproximateBacklogSize period of 0).
Anchor = Annotated[str, Field(pattern=r"^(load_start|load_end|first_request|backlog_empty|stage:.+)$")]


class _Expectation(_Spec):
    type: str  # each expectation narrows it to its Literal tag (the union's discriminator)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        """The label when the user gave no ``name``: the type, unless a subclass says more."""
        return self.type


class _WindowExpectation(_Expectation):
    """An expectation with a window ``within`` after an anchor; ``within: auto`` holds ``within_s``
    ``None`` and takes the window from the prediction (:class:`PredictionSpec`)."""

    within_s: Window = Field(alias="within", gt=0)

    @property
    def auto_window(self) -> bool:
        return self.within_s is None

    @model_serializer(mode="wrap")
    def _dump_auto(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data = handler(self)
        if self.auto_window:  # written back as the user wrote it (and kept by exclude_none)
            data["within" if info.by_alias else "within_s"] = AUTO
        return data


class ScaleOutExpectation(_WindowExpectation):
    """CurrentInstanceCount reaches ``to`` within ``within`` after ``after``."""

    type: Literal["scale_out"]
    to: int = Field(ge=1)
    after: Anchor = "load_start"

    def default_name(self) -> str:
        return f"scale_out to {self.to}"


class ScaleInExpectation(_WindowExpectation):
    """CurrentInstanceCount comes back down to ``to`` within ``within`` after ``after``."""

    type: Literal["scale_in"]
    to: int = Field(ge=0)
    after: Anchor = "load_end"

    def default_name(self) -> str:
        return f"scale_in to {self.to}"


class ErrorRateExpectation(_Expectation):
    """Failed requests / all requests stays at or below ``max`` (over the whole load or one stage)."""

    type: Literal["error_rate"]
    max: float = Field(ge=0, le=1)
    stage: str | None = None

    def default_name(self) -> str:
        return f"error_rate <= {self.max:g}" + (f" in {self.stage}" if self.stage else "")


class ScaleFromZeroExpectation(_WindowExpectation):
    """The first instance serves (CurrentInstanceCount >= 1) within ``within`` of the first request,
    starting from zero instances."""

    type: Literal["scale_from_zero"]
    after: Anchor = "first_request"


class ScaleToZeroExpectation(_WindowExpectation):
    """Zero instances within ``within`` after the backlog empties (async endpoints, MinCapacity 0)."""

    type: Literal["scale_to_zero"]
    after: Anchor = "backlog_empty"


class BacklogDrainedExpectation(_WindowExpectation):
    """ApproximateBacklogSize comes down to 0 within ``within`` after ``after`` (async endpoints)."""

    type: Literal["backlog_drained"]
    after: Anchor = "load_end"


class MaxInstancesExpectation(_Expectation):
    """CurrentInstanceCount never exceeds ``max`` during the whole observation."""

    type: Literal["max_instances"]
    max: int = Field(ge=0)

    def default_name(self) -> str:
        return f"max_instances <= {self.max}"


class CapacityAtExpectation(_Expectation):
    """CurrentInstanceCount at ``at`` + ``offset`` is ``instances`` (or within [min, max])."""

    type: Literal["capacity_at"]
    at: Anchor = "load_start"
    offset_s: Duration = Field(0.0, alias="offset", ge=0)
    instances: int | None = Field(None, ge=0)
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> CapacityAtExpectation:
        if self.instances is not None and (self.min is not None or self.max is not None):
            raise ValueError("give instances, or min/max, not both")
        if self.instances is None and self.min is None and self.max is None:
            raise ValueError("give instances, min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    @property
    def low(self) -> int:
        return self.instances if self.instances is not None else (self.min or 0)

    @property
    def high(self) -> int | None:
        return self.instances if self.instances is not None else self.max

    def default_name(self) -> str:
        want = (f"{self.instances}" if self.instances is not None else
                f"{self.min if self.min is not None else 0}..{self.max if self.max is not None else 'inf'}")
        return f"capacity_at {self.at}+{int(self.offset_s)}s is {want}"


class ScaledByExpectation(_WindowExpectation):
    """A scaling activity caused by ``policy`` (its alarm triggered it) starts within ``within``
    after ``after`` and, with ``to``, sets that capacity — the outcome of conflicting policies."""

    type: Literal["scaled_by"]
    policy: str = Field(min_length=1)
    to: int | None = Field(None, ge=0)
    after: Anchor = "load_start"

    def default_name(self) -> str:
        return f"scaled_by {self.policy}" + (f" to {self.to}" if self.to is not None else "")


class AgreesWithPredictionExpectation(_Expectation):
    """The observed capacity follows the prediction (:mod:`harness.predict.simulate` on the same profile and model
    parameters, started at the run's own load start): every predicted capacity change is seen in the
    DescribeEndpoint samples within ±``tolerance`` of its predicted InService time, in the same order, and
    no other change is seen. ``instances``: a count within ± this many of the predicted one agrees
    (default 0: exactly). Default tolerance: one metric period (60 s)."""

    type: Literal["agrees_with_prediction"]
    tolerance_s: Duration = Field(60.0, alias="tolerance", ge=0)
    instances: int = Field(0, ge=0)

    def default_name(self) -> str:
        return "agrees_with_prediction"


Expectation = Annotated[
    ScaleOutExpectation | ScaleInExpectation | ErrorRateExpectation | ScaleFromZeroExpectation
    | ScaleToZeroExpectation | BacklogDrainedExpectation | MaxInstancesExpectation | CapacityAtExpectation
    | ScaledByExpectation | AgreesWithPredictionExpectation,
    Field(discriminator="type"),
]
EXPECTATION_TYPES = ("scale_out", "scale_in", "error_rate", "scale_from_zero", "scale_to_zero", "backlog_drained",
                     "max_instances", "capacity_at", "scaled_by", "agrees_with_prediction")


class ScenarioSpec(_Spec):
    """One arm of a comparison: the profile run again without some policies (and, optionally, with
    its own expectations). ``scalecheck run`` runs every scenario in turn and compares them."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    without_policies: list[str] = Field(default_factory=list)
    expectations: list[Expectation] | None = None


class LocalSpec(_Spec):
    """How ``--local`` runs this profile: the emulator's speed and model parameters."""

    speed: float = Field(30.0, gt=0, le=1000)
    params: ModelParams = Field(default_factory=ModelParams)


class CollectorSpec(_Spec):
    """Polling intervals (endpoint time) and how long to keep observing after the load."""

    describe_interval_s: Duration = Field(10.0, alias="describe_interval", gt=0)
    metrics_interval_s: Duration = Field(60.0, alias="metrics_interval", gt=0)
    max_sample_gap_s: Duration = Field(
        60.0, alias="max_sample_gap", gt=0,
        description="A gap between DescribeEndpoint samples wider than this makes a verdict that "
        "depends on it INCONCLUSIVE.")


class PredictionSpec(_Spec):
    """Named tolerances of the windows derived from the prediction (``within: auto``).

    The run simulates the profile (:mod:`harness.predict.simulate`, with ``local.params`` and ``--params``)
    from its own load start; an ``auto`` window is the predicted time from the anchor to the event
    (the moment the same check, run on the prediction, observes it) plus slack:
    ``window = predicted × (1 + relative_tolerance) + tolerance``. Defaults: ``tolerance`` 2m,
    ``relative_tolerance`` 0.25 — a predicted scale-out 6 min after load start gets a 9m30s window.
    """

    tolerance_s: Duration = Field(120.0, alias="tolerance", ge=0)
    relative_tolerance: float = Field(0.25, ge=0, le=10)

    def window_s(self, predicted_s: float) -> float:
        """The derived window for an event predicted ``predicted_s`` after its anchor."""
        return max(0.0, predicted_s) * (1 + self.relative_tolerance) + self.tolerance_s


class Profile(_Spec):
    """One scenario."""

    name: str = Field(min_length=1)
    description: str = ""
    region: str = "us-east-1"
    endpoint: EndpointSpec
    scaling: ScalingSpec
    traffic: TrafficSpec
    expectations: list[Expectation] = Field(default_factory=list)
    local: LocalSpec = Field(default_factory=LocalSpec)
    collector: CollectorSpec = Field(default_factory=CollectorSpec)
    prediction: PredictionSpec = Field(default_factory=PredictionSpec)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checks(self) -> Profile:
        ep = self.endpoint
        s = self.scaling
        if not s.min_capacity <= ep.initial_instance_count <= s.max_capacity:
            raise ValueError(
                f"endpoint.initial_instance_count {ep.initial_instance_count} is outside "
                f"scaling [{s.min_capacity}, {s.max_capacity}]")
        stages = {st.name for st in self.traffic.stages}
        self._check_expectations(self.expectations, "expectations", stages)
        policies = {p.name for p in s.policies}
        for i, sc in enumerate(self.scenarios):
            for name in sc.without_policies:
                if name not in policies:
                    raise ValueError(f"scenarios[{i}].without_policies: no policy named {name!r} "
                                     f"(policies: {', '.join(sorted(policies)) or 'none'})")
            if sc.expectations is not None:
                self._check_expectations(sc.expectations, f"scenarios[{i}].expectations", stages)
        names = [sc.name for sc in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"scenario names must be unique; repeated: {', '.join(dupes)}")
        for i, a in enumerate(s.scheduled_actions):
            if a.at is not None and a.anchor.startswith("stage:") and a.anchor[6:] not in stages:
                raise ValueError(f"scaling.scheduled_actions[{i}].at: no stage named {a.anchor[6:]!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
        if ep.is_async and any(p.metric == "SageMakerVariantInvocationsPerInstance" for p in s.policies
                               if isinstance(p, TargetTrackingPolicy)):
            raise ValueError("scaling.policies: SageMakerVariantInvocationsPerInstance is not published for "
                             "async endpoints; track custom_metric ApproximateBacklogSizePerInstance instead")
        return self

    def _check_expectations(self, expectations: list[Any], where: str, stages: set[str]) -> None:
        s = self.scaling
        for i, exp in enumerate(expectations):
            for field_name in ("after", "at"):
                anchor = getattr(exp, field_name, None)
                if isinstance(anchor, str) and anchor.startswith("stage:") and anchor[6:] not in stages:
                    raise ValueError(f"{where}[{i}].{field_name}: no stage named {anchor[6:]!r} "
                                     f"(stages: {', '.join(sorted(stages))})")
                if anchor == "backlog_empty" and not self.endpoint.is_async:
                    raise ValueError(f"{where}[{i}].{field_name}: backlog_empty needs an async endpoint "
                                     "(endpoint.type: async)")
            stage = getattr(exp, "stage", None)
            if stage and stage not in stages:
                raise ValueError(f"{where}[{i}].stage: no stage named {stage!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
            if exp.type in ("backlog_drained", "scale_to_zero") and not self.endpoint.is_async:
                raise ValueError(f"{where}[{i}]: {exp.type} needs an async endpoint (endpoint.type: async)")
            if exp.type in ("scale_from_zero", "scale_to_zero") and s.min_capacity != 0:
                raise ValueError(f"{where}[{i}]: {exp.type} needs scaling.min_capacity 0 "
                                 f"(got {s.min_capacity})")
            if exp.type == "scaled_by" and s.apply and s.policy(exp.policy) is None:
                raise ValueError(f"{where}[{i}].policy: no policy named {exp.policy!r} "
                                 f"(policies: {', '.join(p.name for p in s.policies) or 'none'})")
        labels = [e.label for e in expectations]
        dupes = sorted({n for n in labels if labels.count(n) > 1})
        if dupes:
            raise ValueError(f"expectation names must be unique (give each a name:); repeated: {', '.join(dupes)}")

    def for_scenario(self, name: str) -> Profile:
        """This profile as one scenario runs it: without its dropped policies, with its expectations."""
        sc = next((x for x in self.scenarios if x.name == name), None)
        if sc is None:
            raise KeyError(name)
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["name"] = f"{self.name}-{sc.name}"
        data["scenarios"] = []
        data["scaling"]["policies"] = [p for p in data["scaling"]["policies"] if p["name"] not in sc.without_policies]
        if sc.expectations is not None:
            data["expectations"] = [e.model_dump(mode="json", by_alias=True, exclude_none=True)
                                    for e in sc.expectations]
        if sc.description:
            data["description"] = sc.description
        return Profile.model_validate(data)

    @property
    def needs_prediction(self) -> bool:
        """Whether a run must simulate the profile: an ``auto`` window or an ``agrees_with_prediction``
        expectation."""
        return any(e.type == "agrees_with_prediction" or getattr(e, "auto_window", False)
                   for e in self.expectations)

    @property
    def resource_id(self) -> str:
        """Application Auto Scaling ResourceId of the variant."""
        return f"endpoint/{self.endpoint.name}/variant/{self.endpoint.variant}"


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"target_tracking", "step", *EXPECTATION_TYPES, "function-after"}:
            continue  # discriminator tags pydantic inserts into the path
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        where = _loc(e["loc"])
        if e["type"] in {"missing"}:
            problems.append(f"{where}: required field is missing")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field (check the spelling)")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
            problems.append(f"{where}: {msg}{shown}")
    return problems


def parse_profile(data: Any, source: str = "<profile>", base_dir: str | Path | None = None) -> Profile:
    """Validate already-parsed YAML; raises :class:`ProfileError`. Relative paths in it (a replay stage's
    ``file``) are read from ``base_dir`` (default: the working directory)."""
    if not isinstance(data, dict):
        raise ProfileError(source, ["(top level): a profile is a mapping of fields (name, endpoint, ...)"])
    try:
        return Profile.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        raise ProfileError(source, _problems(err)) from None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; raises :class:`ProfileError` (also for I/O and YAML errors)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(str(p), [f"cannot read the file: {err.strerror or err}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProfileError(str(p), [f"not valid YAML: {err}"]) from None
    return parse_profile(data, str(p), base_dir=p.parent)
