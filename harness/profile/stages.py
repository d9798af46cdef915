"""The offered load (``traffic:``): :class:`TrafficSpec` and its :class:`Stage` list.

Contract: a validated :class:`Stage` has the fields its ``kind`` needs and none of another kind's
(:data:`STAGE_FIELDS`), a positive ``duration_s``, and, for ``replay``, its per-period counts in
``values`` / ``values_period_s`` (read from ``file`` relative to the ``base_dir`` in the validation
context). Stage names are unique within a :class:`TrafficSpec`. The rate arithmetic over stages is
:mod:`harness.profile.traffic`, not here.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from harness.profile.base import Duration, _Spec

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
