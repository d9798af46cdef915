"""Profiles: one scenario per YAML file — endpoint, scaling policy, traffic and expectations.

:func:`load_profile` parses and validates a file *before any request is sent*; every problem is
reported as ``<file>: <field path>: <message>`` quoting the value the user wrote, all at once.
Durations are written like ``250s``, ``5m``, ``1h30m`` and are held as float seconds
(``*_s``) of endpoint time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from harness.autoscaling.params import ModelParams
from harness.durations import parse_duration_s

Duration = Annotated[float, BeforeValidator(parse_duration_s)]


class ProfileError(ValueError):
    """A profile that cannot be run; ``problems`` lists ``field path: message`` strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid profile\n" + "\n".join(f"  {p}" for p in problems))


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EndpointSpec(_Spec):
    """The endpoint under test. With ``create``, the run creates it when it does not exist."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    variant: str = Field("AllTraffic", min_length=1, max_length=63)
    type: Literal["realtime"] = "realtime"
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = Field(1, ge=1)
    create: bool = True
    model_name: str | None = None
    image: str = "scalecheck/echo:latest"
    model_data_url: str | None = None
    execution_role_arn: str = "arn:aws:iam::000000000000:role/scalecheck-emulator"


class TargetTrackingPolicy(_Spec):
    """A target-tracking policy on a predefined metric (aws-semantics §1)."""

    type: Literal["target_tracking"]
    name: str = Field(min_length=1, max_length=256)
    metric: Literal["SageMakerVariantInvocationsPerInstance"] = "SageMakerVariantInvocationsPerInstance"
    target_value: float = Field(gt=0)
    scale_out_cooldown_s: Duration = Field(300.0, alias="scale_out_cooldown")
    scale_in_cooldown_s: Duration = Field(300.0, alias="scale_in_cooldown")
    disable_scale_in: bool = False


Policy = Annotated[TargetTrackingPolicy, Field(discriminator="type")]


class ScalingSpec(_Spec):
    """The scalable target and its policies. ``apply: false`` leaves an existing setup untouched."""

    min_capacity: int = Field(ge=0)
    max_capacity: int = Field(ge=1)
    policies: list[Policy] = Field(min_length=1)
    apply: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSpec:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity {self.min_capacity} is above max_capacity {self.max_capacity}")
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dupes)}")
        return self


class Stage(_Spec):
    """One traffic stage. ``hold`` keeps ``rate_rps``; ``ramp`` goes linearly ``from_rps`` → ``to_rps``.

    Rates are requests per second of endpoint time.
    """

    name: str = Field(min_length=1)
    kind: Literal["hold", "ramp"] = "hold"
    duration_s: Duration = Field(alias="duration", gt=0)
    rate_rps: float | None = Field(None, ge=0)
    from_rps: float | None = Field(None, ge=0)
    to_rps: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _rates(self) -> Stage:
        if self.kind == "hold" and self.rate_rps is None:
            raise ValueError("a hold stage needs rate_rps")
        if self.kind == "ramp" and (self.from_rps is None or self.to_rps is None):
            raise ValueError("a ramp stage needs from_rps and to_rps")
        return self


class TrafficSpec(_Spec):
    """What the Locust users send."""

    stages: list[Stage] = Field(min_length=1)
    payload: str = "0.5,0.4,0.3,0.1,0.2,0.1,0.05,0.1"
    content_type: str = "text/csv"
    user_rps: float = Field(5.0, gt=0, description="Requests per second (wall) one Locust user paces at.")

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


Anchor = Annotated[str, Field(pattern=r"^(load_start|load_end|stage:.+)$")]


class _Expectation(_Spec):
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


class ScaleOutExpectation(_Expectation):
    """CurrentInstanceCount reaches ``to`` within ``within`` after ``after``."""

    type: Literal["scale_out"]
    to: int = Field(ge=1)
    within_s: Duration = Field(alias="within", gt=0)
    after: Anchor = "load_start"

    def default_name(self) -> str:
        return f"scale_out to {self.to}"


class ScaleInExpectation(_Expectation):
    """CurrentInstanceCount comes back down to ``to`` within ``within`` after ``after``."""

    type: Literal["scale_in"]
    to: int = Field(ge=0)
    within_s: Duration = Field(alias="within", gt=0)
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


Expectation = Annotated[
    ScaleOutExpectation | ScaleInExpectation | ErrorRateExpectation, Field(discriminator="type")
]


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

    @model_validator(mode="after")
    def _cross_checks(self) -> Profile:
        ep = self.endpoint
        if not self.scaling.min_capacity <= ep.initial_instance_count <= self.scaling.max_capacity:
            raise ValueError(
                f"endpoint.initial_instance_count {ep.initial_instance_count} is outside "
                f"scaling [{self.scaling.min_capacity}, {self.scaling.max_capacity}]")
        stages = {s.name for s in self.traffic.stages}
        for i, exp in enumerate(self.expectations):
            after = getattr(exp, "after", None)
            if after and after.startswith("stage:") and after[6:] not in stages:
                raise ValueError(f"expectations[{i}].after: no stage named {after[6:]!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
            stage = getattr(exp, "stage", None)
            if stage and stage not in stages:
                raise ValueError(f"expectations[{i}].stage: no stage named {stage!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
        labels = [e.label for e in self.expectations]
        dupes = sorted({n for n in labels if labels.count(n) > 1})
        if dupes:
            raise ValueError(f"expectation names must be unique (give each a name:); repeated: {', '.join(dupes)}")
        return self

    @property
    def resource_id(self) -> str:
        """Application Auto Scaling ResourceId of the variant."""
        return f"endpoint/{self.endpoint.name}/variant/{self.endpoint.variant}"


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"target_tracking", "scale_out", "scale_in", "error_rate", "function-after"}:
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


def parse_profile(data: Any, source: str = "<profile>") -> Profile:
    """Validate already-parsed YAML; raises :class:`ProfileError`."""
    if not isinstance(data, dict):
        raise ProfileError(source, ["(top level): a profile is a mapping of fields (name, endpoint, ...)"])
    try:
        return Profile.model_validate(data)
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
    return parse_profile(data, str(p))
