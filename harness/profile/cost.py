"""What a run may cost and when it stops early: ``cost:`` (:class:`CostSpec`) and ``stop:`` (:class:`StopCondition`).

Contract: both sections are optional. ``cost.prices`` are the user's own on-demand USD per instance-hour,
by instance type (they win over ``--price-file`` and the shipped snapshot, :mod:`harness.profile.pricing`);
``cost.max_usd`` caps the observed cost of one run (with ``--max-cost-usd``, the lower of the two).
``stop`` lists conditions in the manner of SageMaker Inference Recommender's stopping conditions, but
evaluated per load interval while the run observes (:mod:`harness.checks.stop`):

- ``error_rate``: failed / sent requests of an interval above ``above`` (a fraction, or ``"5%"``) for
  ``for`` consecutive intervals;
- ``p99_latency``: an interval's p99 request latency above ``above_ms`` milliseconds for ``for``
  consecutive intervals;
- ``instances``: a DescribeEndpoint sample from load start on shows more than ``above`` instances
  (current or desired).

A run stopped by one of them (or by the cost cap) ends as ``stopped`` with the reason and exits 103.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from harness.profile.base import _Spec

STOP_TYPES = ("error_rate", "p99_latency", "instances")
_INSTANCE_TYPE = r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$"


def _fraction(value: Any) -> Any:
    """``"5%"`` -> 0.05; a number is a fraction already."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage like '5%'") from None
    return value


Fraction = Annotated[float, BeforeValidator(_fraction), Field(ge=0, le=1)]


class CostSpec(_Spec):
    """Prices the user gives (USD per instance-hour, by instance type) and the run's cost cap (USD)."""

    prices: dict[str, float] = Field(default_factory=dict)
    max_usd: float | None = Field(None, gt=0)

    @field_validator("prices")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        for name, usd in value.items():
            if not re.match(_INSTANCE_TYPE, name):
                raise ValueError(f"{name!r} is not a SageMaker instance type (like ml.m5.large)")
            if not usd > 0:
                raise ValueError(f"{name}: {usd:g} is not a price; give USD per instance-hour, above 0")
        return value


class ErrorRateStop(_Spec):
    """Stop when the error rate of ``for`` consecutive load intervals is each above ``above``."""

    type: Literal["error_rate"]
    above: Fraction
    for_intervals: int = Field(1, alias="for", ge=1, le=1000)


class LatencyStop(_Spec):
    """Stop when the p99 latency of ``for`` consecutive load intervals is each above ``above_ms``."""

    type: Literal["p99_latency"]
    above_ms: float = Field(gt=0)
    for_intervals: int = Field(1, alias="for", ge=1, le=1000)


class InstancesStop(_Spec):
    """Stop when the endpoint shows more than ``above`` instances (current or desired) from load start on."""

    type: Literal["instances"]
    above: int = Field(ge=0)


StopCondition = Annotated[ErrorRateStop | LatencyStop | InstancesStop, Field(discriminator="type")]
