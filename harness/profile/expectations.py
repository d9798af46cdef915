"""What a run must show (``expectations:``): one model per expectation type, and their anchors.

Contract: :data:`Expectation` is the union of the expectation models told apart by ``type``
(:data:`EXPECTATION_TYPES` lists the tags); each has a ``label`` (its ``name`` or a default built from
its fields). A window expectation's ``within`` is a duration or ``auto`` (held as ``None``: the window
comes from the prediction, :class:`~harness.profile.settings.PredictionSpec`) and is dumped back as
``auto``. Each model checks only its own fields; anchors naming a stage, async-only types and policy
names are checked against the rest of the profile by :class:`~harness.profile.model.Profile`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from harness.profile.base import Duration, _Spec
from harness.profile.durations import parse_duration_s

AUTO = "auto"


def _window(value: Any) -> float | None:
    """``within``: a duration, or ``auto`` (→ ``None``: derived from the prediction, see
    :class:`~harness.profile.settings.PredictionSpec`)."""
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
    ``None`` and takes the window from the prediction (:class:`~harness.profile.settings.PredictionSpec`)."""

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
