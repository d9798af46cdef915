"""Calibration: estimate the model's undocumented parameters from a recorded run (``scalecheck calibrate``).

The estimates are written as a YAML mapping of :class:`~harness.autoscaling.params.ModelParams` fields
(only those estimated), headed by a comment saying where each came from and from how many
observations. ``scalecheck run --local --params FILE``, ``scalecheck emulator --params FILE`` and the
simulate/plan commands read it with :func:`load_params_file` and merge it over the profile's
``local.params`` with :func:`merge_params`.

Estimators — every one works from what the collector recorded, so its precision is bounded by the
collector's sampling (``collector.describe_interval`` for DescribeEndpoint, ``collector.metrics_interval``
for GetMetricData); each reports ± half the width of the interval the data leaves possible.

``provisioning_delay_s`` / ``deprovision_delay_s``
    Per capacity change seen in ``endpoint.jsonl`` (a sample showing DesiredInstanceCount above — or
    below — CurrentInstanceCount after one that did not): the change began between the last sample
    before and the first sample showing it, and completed between the last sample with
    CurrentInstanceCount short of the desired count and the first reaching it. Each end is the midpoint
    of its bracket, unless a scaling activity (``activities.jsonl``) setting that count started (resp.
    ended successfully) inside the bracket: its exact ``start_ts`` / ``end_ts`` is used instead. The
    estimate is the median over changes.
``metric_publish_lag_s``
    A datapoint of period ``[ts, ts + period)`` became visible at ``ts + period + lag``; the collector saw
    it first at the poll ``observed_ts`` (the first line of its key in the raw ``metrics.jsonl``, before
    upserts), and it was not yet visible at the previous poll (one poll spacing earlier — the collector
    polls GetMetricData on the first DescribeEndpoint beat ``metrics_interval`` after the last — or the
    latest earlier ``observed_ts``, whichever is later). So
    ``prev_poll - end < lag <= observed_ts - end`` for each datapoint; the estimate is the midpoint of
    the intersection over all datapoints (the poll phase drifts against the minute, so the intersection
    is narrower than one metrics interval). When the bounds disagree by more than a poll spacing (a lag
    that varies, as real CloudWatch's does) it is the 10th percentile of the per-datapoint midpoints.
    Only AWS/SageMaker datapoints; those first seen at the first poll give no lower bound.
``model_latency_ms``
    Median over periods of ModelLatency Average (µs → ms). Queueing only raises latency, so a run that
    overloads its instances over-estimates it.
``async_processing_s``
    Median over periods of TotalProcessingTime − TimeInBacklog (both Average over the same completed
    requests, so the difference is their mean processing time). The unit (``async_time_unit``, itself
    UNCONFIRMED) is decided by comparing TotalProcessingTime with the end-to-end completion times the
    load generator measured (``load.jsonl``), else taken from the run's profile.

Not estimated: ``instance_concurrency`` and ``max_queue_per_instance`` (need a run that saturates the
instances), ``endpoint_create_delay_s`` (the endpoint is InService before the collector starts).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.autoscaling.params import ModelParams
from harness.record import EndpointSample, MetricPoint, Recorded, RunFolder, read_stream

NAMESPACE = "AWS/SageMaker"
DEFAULT_FILE = "calibrated-params.yaml"
LOW_QUANTILE = 0.1


@dataclass(frozen=True)
class Estimate:
    """One estimated parameter: value, ± uncertainty, number of observations and how it was made."""

    field: str
    value: float
    uncertainty: float
    observations: int
    source: str


@dataclass
class Calibration:
    """What :func:`calibrate` found: estimates, and why each other parameter was skipped."""

    run_id: str
    mode: str
    profile_name: str
    estimates: list[Estimate] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, float]:
        return {e.field: e.value for e in self.estimates}


# ----------------------------------------------------------------------------- helpers
def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of a non-empty sequence."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _round(value: float) -> float:
    return round(value, 3)


# ----------------------------------------------------------------------- capacity changes
@dataclass(frozen=True)
class CapacityChange:
    """One capacity change seen in DescribeEndpoint samples, with its estimated start and end."""

    grows: bool
    desired: int
    start_ts: float
    end_ts: float
    start_exact: bool
    end_exact: bool
    uncertainty: float

    @property
    def duration_s(self) -> float:
        return self.end_ts - self.start_ts


def _changing(s: EndpointSample) -> bool:
    return (s.current_instances is not None and s.desired_instances is not None
            and s.desired_instances != s.current_instances)


def capacity_changes(recorded: Recorded) -> list[CapacityChange]:
    """Every complete capacity change of the run (see the module docstring)."""
    samples = [s for s in recorded.endpoint if s.variant_name == recorded.run.variant_name] or recorded.endpoint
    acts = [a for a in recorded.activities if a.description.startswith("Setting desired instance count to ")]
    out = []
    for i in range(1, len(samples)):
        before, first = samples[i - 1], samples[i]
        if not _changing(first) or _changing(before) or before.status not in ("InService", "Updating"):
            continue
        assert first.desired_instances is not None and first.current_instances is not None
        desired, grows = first.desired_instances, first.desired_instances > first.current_instances
        end_j = None
        for j in range(i + 1, len(samples)):
            s = samples[j]
            if s.desired_instances != desired:
                break  # superseded: the change did not complete as seen
            if s.current_instances == desired and s.status == "InService":
                end_j = j
                break
        if end_j is None:
            continue
        text = f"Setting desired instance count to {desired}."
        start_act = next((a for a in acts if a.description == text and before.ts < a.start_ts <= first.ts), None)
        if start_act is not None:
            start, start_w = start_act.start_ts, 0.0
        else:
            start, start_w = (before.ts + first.ts) / 2, (first.ts - before.ts) / 2
        last_short, reached = samples[end_j - 1], samples[end_j]
        end_act = next((a for a in acts if a.description == text and a.status_code == "Successful"
                        and a.end_ts is not None and last_short.ts < a.end_ts <= reached.ts), None)
        if end_act is not None and end_act.end_ts is not None:
            end, end_w = end_act.end_ts, 0.0
        else:
            end, end_w = (last_short.ts + reached.ts) / 2, (reached.ts - last_short.ts) / 2
        out.append(CapacityChange(grows, desired, start, end, start_act is not None, end_act is not None,
                                  start_w + end_w))
    return out


def _delay_estimate(name: str, changes: list[CapacityChange], what: str) -> Estimate | str:
    if not changes:
        return f"no complete {what} in endpoint.jsonl (a DescribeEndpoint sample with DesiredInstanceCount " \
               f"{'above' if what == 'scale-out' else 'below'} CurrentInstanceCount, then one reaching it)"
    exact = sum(c.start_exact and c.end_exact for c in changes)
    return Estimate(name, _round(statistics.median(c.duration_s for c in changes)),
                    _round(statistics.median(c.uncertainty for c in changes)), len(changes),
                    f"{what} start (activity start_ts or first DescribeEndpoint sample with the new desired count) "
                    f"to CurrentInstanceCount reaching it, sample brackets' midpoints; "
                    f"{exact} of {len(changes)} bracketed exactly by the activity's start and end")


# ------------------------------------------------------------------------- metric lag
def first_observations(folder: Path) -> list[MetricPoint]:
    """Each datapoint as the collector first saw it (the raw stream, before upserts)."""
    first: dict[tuple[Any, ...], MetricPoint] = {}
    for p in read_stream(folder / "metrics.jsonl", MetricPoint):
        if p.observed_ts is None:
            continue
        old = first.get(p.key())
        if old is None or (old.observed_ts is not None and p.observed_ts < old.observed_ts):
            first[p.key()] = p
    return list(first.values())


def poll_spacing_s(metrics_interval_s: float, describe_interval_s: float) -> float:
    """Endpoint seconds between two GetMetricData polls of the collector: it polls on the DescribeEndpoint
    beat, at the first beat at least ``metrics_interval_s`` after the previous metrics poll."""
    return max(describe_interval_s, math.ceil(metrics_interval_s / describe_interval_s - 1e-9) * describe_interval_s)


def metric_lag_estimate(points: list[MetricPoint], spacing_s: float | None = None) -> Estimate | str:
    """``metric_publish_lag_s`` from first observations (see the module docstring); ``spacing_s`` is the
    collector's poll spacing (:func:`poll_spacing_s`), which tightens the lower bounds: a poll that found
    nothing new writes nothing, so the previous *recorded* poll may be several polls back."""
    polls = sorted({p.observed_ts for p in points if p.observed_ts is not None})
    ours = [p for p in points if p.namespace == NAMESPACE and p.observed_ts is not None]
    if not ours:
        return "no AWS/SageMaker datapoint with observed_ts in metrics.jsonl"
    gaps = [b - a for a, b in zip(polls, polls[1:], strict=False)]
    spacing = spacing_s or (min(gaps) if gaps else 60.0)
    lows, highs, mids = [], [], []
    for p in ours:
        assert p.observed_ts is not None
        end = p.ts + p.period_s
        high = p.observed_ts - end
        highs.append(high)
        k = polls.index(p.observed_ts)
        if k > 0:
            low = max(polls[k - 1], p.observed_ts - spacing) - end
            lows.append(low)
            mids.append((low + high) / 2)
    if not lows:
        return "every datapoint was first seen at the collector's first poll: no lower bound on the lag"
    lo, hi = max(lows), min(highs)
    n = len(ours)
    if lo <= hi + spacing / 2:
        value = max(0.0, (lo + hi) / 2)
        return Estimate("metric_publish_lag_s", _round(value), _round(abs(hi - lo) / 2), n,
                        f"first observed_ts of each datapoint minus its period end, between the previous "
                        f"GetMetricData poll and the one that saw it (polls every ~{spacing:.0f} s); "
                        f"midpoint of the intersection of {len(lows)} lower and {n} upper bounds")
    value = max(0.0, _quantile(mids, LOW_QUANTILE))
    return Estimate("metric_publish_lag_s", _round(value), _round(spacing / 2), n,
                    f"the bounds disagree (lag varies): {LOW_QUANTILE:.0%} quantile of per-datapoint midpoints "
                    f"between the previous poll and the one that saw it (polls every ~{spacing:.0f} s)")


# ---------------------------------------------------------------------- per-instance capacity
def _values(recorded: Recorded, metric: str, stat: str) -> dict[float, float]:
    return {p.ts: p.value for p in recorded.metrics
            if p.metric == metric and p.stat == stat and p.namespace == NAMESPACE}


def model_latency_estimate(recorded: Recorded) -> Estimate | str:
    values = list(_values(recorded, "ModelLatency", "Average").values())
    if not values:
        kind = "an asynchronous endpoint publishes none" if recorded.run.profile.get("endpoint", {}).get(
            "type") == "async" else "no request was served"
        return f"no ModelLatency Average datapoint in metrics.jsonl ({kind})"
    ms = [v / 1000.0 for v in values]
    spread = (_quantile(ms, 0.75) - _quantile(ms, 0.25)) / 2 if len(ms) > 1 else 0.0
    return Estimate("model_latency_ms", _round(statistics.median(ms)), _round(spread), len(ms),
                    "median over periods of ModelLatency Average (microseconds -> ms); queueing only raises it")


def _profile_time_unit(recorded: Recorded) -> str:
    params = (recorded.run.profile.get("local") or {}).get("params") or {}
    return str(params.get("async_time_unit", ModelParams().async_time_unit))


def async_processing_estimate(recorded: Recorded) -> Estimate | str:
    total, backlog = _values(recorded, "TotalProcessingTime", "Average"), _values(recorded, "TimeInBacklog",
                                                                                  "Average")
    common = sorted(set(total) & set(backlog))
    if not common:
        return "no period with both TotalProcessingTime and TimeInBacklog Average (not an async run, " \
               "or no request completed)"
    completions = [i.completion_s.p50 for i in recorded.load if i.completions and i.completion_s.p50]
    raw_total = statistics.median(total[t] for t in common)
    if completions and raw_total > 0:
        ratio = raw_total / statistics.median(completions)
        unit, how = ("Microseconds", "measured") if ratio > math.sqrt(1e3 * 1e6) else ("Milliseconds", "measured")
    else:
        unit, how = _profile_time_unit(recorded), "the run's profile"
    factor = 1e6 if unit == "Microseconds" else 1e3
    seconds = [(total[t] - backlog[t]) / factor for t in common]
    spread = (_quantile(seconds, 0.75) - _quantile(seconds, 0.25)) / 2 if len(seconds) > 1 else 0.0
    return Estimate("async_processing_s", _round(max(0.0, statistics.median(seconds))), _round(spread), len(seconds),
                    f"median over periods of TotalProcessingTime - TimeInBacklog Average, in {unit} "
                    f"(unit from {how})")


# ------------------------------------------------------------------------------- driver
NOT_ESTIMATED = {
    "instance_concurrency": "needs a run that saturates the instances (latency rising with requests in flight); "
                            "not estimated",
    "max_queue_per_instance": "needs a run that overloads the instances until they refuse; not estimated",
    "endpoint_create_delay_s": "the endpoint is InService before the collector's first sample; not observable",
}


def calibrate(run_dir: Path) -> Calibration:
    """Estimate what the run folder ``run_dir`` allows (raises FileNotFoundError if it is not one)."""
    folder = RunFolder(Path(run_dir))
    recorded = folder.load()
    run = recorded.run
    cal = Calibration(run_id=run.run_id, mode=run.mode, profile_name=run.profile_name)
    changes = capacity_changes(recorded)
    collector = run.profile.get("collector") or {}
    spacing = poll_spacing_s(float(collector.get("metrics_interval", 60.0)),
                             float(collector.get("describe_interval", 10.0)))
    results: list[Estimate | str] = [
        _delay_estimate("provisioning_delay_s", [c for c in changes if c.grows], "scale-out"),
        _delay_estimate("deprovision_delay_s", [c for c in changes if not c.grows], "scale-in"),
        metric_lag_estimate(first_observations(folder.path), spacing),
        model_latency_estimate(recorded),
        async_processing_estimate(recorded),
    ]
    names = ["provisioning_delay_s", "deprovision_delay_s", "metric_publish_lag_s", "model_latency_ms",
             "async_processing_s"]
    for name, result in zip(names, results, strict=True):
        if isinstance(result, Estimate):
            cal.estimates.append(result)
        else:
            cal.skipped[name] = result
    cal.skipped.update(NOT_ESTIMATED)
    return cal


def render(cal: Calibration, run_dir: Path) -> str:
    """The params file: a header comment per estimate and skipped field, then the YAML mapping."""
    lines = [f"# scalecheck calibrate: ModelParams estimated from run {cal.run_id} ({cal.mode}, profile "
             f"{cal.profile_name})", f"# run folder: {run_dir}",
             "# Use with: scalecheck run PROFILE --local --params FILE  (merged over the profile's local.params)",
             "#"]
    for e in cal.estimates:
        lines.append(f"# {e.field}: {e.value:g} ± {e.uncertainty:g} from {e.observations} observation(s): {e.source}")
    if cal.skipped:
        lines.append("# not estimated:")
        lines += [f"#   {name}: {why}" for name, why in cal.skipped.items()]
    body = yaml.safe_dump(cal.params(), sort_keys=False) if cal.estimates else "{}\n"
    return "\n".join(lines) + "\n" + body


def write_params_file(cal: Calibration, run_dir: Path, path: Path) -> Path:
    path = Path(path)
    path.write_text(render(cal, run_dir), encoding="utf-8")
    return path


# ----------------------------------------------------------------------- reading params files
def load_params_file(path: Path | str) -> dict[str, Any]:
    """The ModelParams fields of a params file (as :func:`render` writes it, or any YAML mapping of
    ModelParams fields; a ``params:`` or ``local: {params: ...}`` wrapper is accepted too).

    Raises ValueError naming the file on unreadable YAML, a non-mapping or an unknown/invalid field.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: cannot read params file: {err}") from None
    if data is None:
        data = {}
    if isinstance(data, dict) and isinstance(data.get("local"), dict) and "params" in data["local"]:
        data = data["local"]["params"]
    elif isinstance(data, dict) and set(data) == {"params"}:
        data = data["params"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a params file is a mapping of ModelParams fields")
    try:
        ModelParams.model_validate(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return dict(data)


def merge_params(base: ModelParams, overrides: dict[str, Any]) -> ModelParams:
    """``base`` with the fields of ``overrides`` (a :func:`load_params_file` result) replaced, validated."""
    return ModelParams.model_validate({**base.model_dump(), **overrides})
