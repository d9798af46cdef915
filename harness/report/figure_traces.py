"""Shared pieces of the timeline's rows (pure, no I/O): x values, row layout and trace helpers.

- :func:`utc`: endpoint-time epoch seconds → naive UTC ``datetime``, the x value of every trace and shape
  (plotly.js ignores time zones).
- :class:`Row` names one row of the timeline and its height in pixels; :class:`Axes` says where a row's
  traces and shapes go (its subplot row, 1-based, and plotly's axis references ``x``, ``y2``, ...).
- :func:`run_points`: the recorded CloudWatch datapoints of a metric and statistic of the run's endpoint
  (and variant), optionally narrowed to exact dimensions or a period when there are such points;
  :func:`series`: datapoints → ``(x, y)`` lists in time order, values multiplied by ``scale``. Both give
  empty lists, never an error, when nothing was recorded.
- :func:`trace`: a scatter trace (lines unless told otherwise) in the legend :func:`legend_of` a row;
  :func:`plot`: adds a trace to a row (or to its secondary y axis).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import plotly.graph_objects as go

from harness.record import MetricPoint, Recorded


def utc(ts: float) -> datetime:
    """Endpoint-time epoch seconds → naive UTC datetime (the figure's x values)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Row:
    """One row of the timeline: ``key`` names it (see :mod:`harness.report.figures`), ``height_px`` its share."""

    key: str
    title: str
    ytitle: str
    height_px: int
    secondary: bool = False


@dataclass(frozen=True)
class Axes:
    row: int
    x: str  # "x", "x2", ... (trace/shape reference)
    y: str
    y2: str | None = None  # the secondary y axis, if the row has one


def series(points: Iterable[MetricPoint], scale: float = 1.0) -> tuple[list[datetime], list[float]]:
    pts = sorted(points, key=lambda p: p.ts)
    return [utc(p.ts) for p in pts], [p.value * scale for p in pts]


def run_points(recorded: Recorded, metric: str, stat: str, dims: dict[str, str] | None = None,
               period_s: float | None = None) -> list[MetricPoint]:
    """Datapoints of ``metric``/``stat`` of the run's endpoint (and variant, for variant-level points).

    With ``dims``, points with exactly those dimensions when there are any; with ``period_s``, points
    of that period when there are any.
    """
    run = recorded.run
    pts = [p for p in recorded.metric_series(metric, stat)
           if p.dims.get("EndpointName", run.endpoint_name) == run.endpoint_name
           and p.dims.get("VariantName", run.variant_name) == run.variant_name]
    if dims is not None:
        exact = [p for p in recorded.metric_series(metric, stat) if p.dims == dims]
        pts = exact or pts
    if period_s is not None:
        pts = [p for p in pts if p.period_s == period_s] or pts
    return pts


def trace(name: str, x: Sequence[datetime], y: Sequence[float | None], legend: str,
          **kw: object) -> go.Scatter:
    kw.setdefault("mode", "lines")
    return go.Scatter(name=name, x=list(x), y=list(y), legend=legend, **kw)


def legend_of(ax: Axes) -> str:
    return "legend" if ax.row == 1 else f"legend{ax.row}"


def plot(fig: go.Figure, trace: go.Scatter, ax: Axes, secondary: bool = False) -> None:
    fig.add_trace(trace, row=ax.row, col=1, **({"secondary_y": True} if secondary else {}))
