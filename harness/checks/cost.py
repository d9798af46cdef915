"""What the recorded instances cost: instance-seconds from ``endpoint.jsonl`` times the price (pure, no I/O).

Convention (the same for the observed run and for its expected cost on the prediction): the instance count
is a step function of endpoint time that holds each DescribeEndpoint sample's ``current_instances`` until
the next sample; *instance-seconds* are its integral from the first to the last sample that carries a
count (samples without one are skipped; the last sample closes the span and adds nothing). Against AWS
that is wall time; against the emulator it is endpoint time, so a local run shows what the same run
would cost on AWS. Cost = instance-seconds × price per hour / 3600, exactly; with no price the cost is
*unknown* (``usd`` None), never 0. It counts only the span the collector sampled: not the endpoint's life
before the run or after it, and not storage or data transfer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.profile.pricing import Price, format_usd
from harness.record import EndpointSample

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CostFigures:
    """Instance-seconds over a span of samples and, with a price, their cost."""

    instance_type: str
    instance_seconds: float
    first_ts: float | None
    last_ts: float | None
    samples: int
    price: Price | None

    @property
    def instance_hours(self) -> float:
        return self.instance_seconds / SECONDS_PER_HOUR

    @property
    def usd(self) -> float | None:
        """instance-seconds × USD per hour / 3600; ``None`` (unknown) without a price."""
        if self.price is None:
            return None
        return self.instance_seconds * self.price.usd_per_hour / SECONDS_PER_HOUR

    def summary(self, label: str) -> str:
        """``observed: 0.0523 instance-hours, $0.0060 at ml.m5.large $0.115/h, ...``."""
        hours = f"{label}: {self.instance_hours:.4g} instance-hours ({self.instance_seconds:.0f} instance-seconds)"
        if self.usd is None or self.price is None:
            return f"{hours}, cost unknown ({self.instance_type}: no price)"
        return f"{hours}, {format_usd(self.usd)} at {self.price.describe()}"

    def as_json(self) -> dict[str, Any]:
        return {"instance_type": self.instance_type, "instance_seconds": self.instance_seconds,
                "instance_hours": self.instance_hours, "usd": self.usd, "first_sample_ts": self.first_ts,
                "last_sample_ts": self.last_ts, "samples": self.samples,
                "price": self.price.as_json() if self.price is not None else None}


def instance_seconds(samples: Iterable[EndpointSample], until_ts: float | None = None) -> tuple[float, float | None,
                                                                                                float | None, int]:
    """``(instance-seconds, first ts, last ts, samples used)`` of the samples (any order) that carry a count,
    up to ``until_ts`` if given (see the module docstring for the convention)."""
    counted = sorted((s for s in samples if s.current_instances is not None
                      and (until_ts is None or s.ts <= until_ts)), key=lambda s: s.ts)
    total = 0.0
    for a, b in zip(counted, counted[1:], strict=False):
        total += (a.current_instances or 0) * (b.ts - a.ts)
    if not counted:
        return 0.0, None, None, 0
    return total, counted[0].ts, counted[-1].ts, len(counted)


def cost_of(samples: Iterable[EndpointSample], instance_type: str, price: Price | None,
            until_ts: float | None = None) -> CostFigures:
    """The :class:`CostFigures` of ``samples`` at ``price``."""
    seconds, first, last, n = instance_seconds(samples, until_ts)
    return CostFigures(instance_type=instance_type, instance_seconds=seconds, first_ts=first, last_ts=last,
                       samples=n, price=price)
