"""Figures of a run: pure functions from recorded data to plotly figures (no I/O).

:func:`timeline_figure` draws one figure of stacked rows that share an x axis of endpoint time (UTC,
shown as naive UTC datetimes because plotly.js ignores time zones). Which rows there are depends on
the run's profile (:func:`timeline_rows`), top to bottom:

1. ``load`` — offered and achieved request rate and failures per second (requests per second of
   endpoint time, from ``load.jsonl``); for async endpoints also the completions of the watched
   requests per second, when recorded.
2. the endpoint's scaling metric —

   * real-time: ``ipi`` — InvocationsPerInstance (CloudWatch ``Sum`` per period) with the target and
     AlarmLow threshold (90 % of it) of each target-tracking policy on it;
   * async: ``backlog`` — ApproximateBacklogSize (Average, Maximum) and
     ApproximateBacklogSizePerInstance (Average) with the target of the target-tracking policy on
     ApproximateBacklogSizePerInstance; then ``hbwc``, a thin row of HasBacklogWithoutCapacity (0/1).

3. ``metric:<name>:<stat>`` — one row per other metric a step policy's alarm (or a custom-metric
   target-tracking policy, when recorded) watches. A step policy's threshold and step boundaries
   (threshold + lower/upper of each step) are labelled horizontal lines on the row showing its metric.
4. ``alarms`` — one horizontal band per alarm, coloured by state (``OK``, ``ALARM``,
   ``INSUFFICIENT_DATA``: one legend entry each), the managed alarms' long names shortened.
5. ``instances`` — current and desired instance counts as steps, the max capacity, one marker per
   scaling activity at its start, and a vertical marker per scheduled action (with the min/max
   capacity lines as steps when scheduled actions change them); when ``run.json`` holds a
   prediction, the predicted current instance count as a dotted step line (``predicted current``:
   the count at load start, then each predicted change at its predicted InService time).
6. ``latency`` — client-measured p50/p95/p99 (wall-clock ms) and CloudWatch ``ModelLatency`` average
   (µs converted to ms) when recorded; for async endpoints with completions, the completion time
   p50/p95 (endpoint seconds) on the left axis and the client's milliseconds on the right.

Expectation windows are shaded across all rows (:data:`WINDOW_FILL` by status) and named above the
plot; each ``observed_ts`` is a vertical line; stages are light bands on the load row. Every series
may be empty — an interrupted run with no data still gives a valid (mostly empty) figure. Shapes
carry a ``name`` (``window:<verdict>``, ``observed:<verdict>``, ``stage:<stage>``,
``target:<policy>``, ``alarm-low:<policy>``, ``threshold:<policy>``, ``step:<policy>:<y>``,
``max-capacity``, ``scheduled:<action>``) and so do annotations (``label:…``, ``empty:<row>``) so
that callers and tests can find them; ``layout.meta["rows"]`` maps each row key to its axes.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.profile import Profile, StepPolicy, TargetTrackingPolicy
from harness.record import EndpointSample, LoadInterval, MetricPoint, Recorded, Verdict
from harness.report.context import (
    alarm_intervals,
    alarm_policies,
    capacity_bounds,
    comparison_symbol,
    ellipsize,
    run_profile,
    scheduled_marks,
    short_alarm_name,
    step_lines,
    tracked_metric,
)

WINDOW_FILL = {
    "PASS": "rgba(46, 160, 67, 0.13)",
    "FAIL": "rgba(215, 58, 73, 0.15)",
    "INCONCLUSIVE": "rgba(128, 128, 128, 0.17)",
}
STATUS_COLOR = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#57606a"}
ALARM_COLOR = {"OK": "#2da44e", "ALARM": "#cf222e", "INSUFFICIENT_DATA": "#afb8c1"}
STAGE_FILL = "rgba(84, 110, 250, 0.07)"
ACTIVITY_SYMBOL = {"Successful": "diamond", "Failed": "x", "Unfulfilled": "x"}
POLICY_COLORS = ("#bc4c00", "#0550ae", "#8250df", "#1b7c83", "#9a6700", "#bf3989")
SCHEDULED_COLOR = "#9a6700"
BACKLOG_TARGET_METRIC = "ApproximateBacklogSizePerInstance"
_LABEL_STEP_PX = 17
_SPACING_PX = 48
_ALARM_SLOT_PX = 34


def utc(ts: float) -> datetime:
    """Endpoint-time epoch seconds → naive UTC datetime (the figure's x values)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


# --- rows ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One row of the timeline: ``key`` names it (see the module docstring), ``height_px`` its share."""

    key: str
    title: str
    ytitle: str
    height_px: int
    secondary: bool = False


@dataclass(frozen=True)
class _Axes:
    row: int
    x: str  # "x", "x2", ... (trace/shape reference)
    y: str
    y2: str | None = None  # the secondary y axis, if the row has one


def is_async(recorded: Recorded, profile: Profile | None) -> bool:
    """Whether the run is against an async endpoint (by its profile, else by its metrics)."""
    if profile is not None:
        return profile.endpoint.is_async
    return any(p.metric == "ApproximateBacklogSize" for p in recorded.metrics)


def has_completions(recorded: Recorded) -> bool:
    return any(i.completions or i.completion_failures or i.completion_s.p50 is not None for i in recorded.load)


def _main_rows(asynchronous: bool) -> dict[tuple[str, str], str]:
    """(metric, statistic) → the key of the main row that draws it."""
    if asynchronous:
        return {("ApproximateBacklogSize", "Average"): "backlog", ("ApproximateBacklogSize", "Maximum"): "backlog",
                (BACKLOG_TARGET_METRIC, "Average"): "backlog", ("HasBacklogWithoutCapacity", "Average"): "hbwc",
                ("HasBacklogWithoutCapacity", "Maximum"): "hbwc"}
    return {("InvocationsPerInstance", "Sum"): "ipi"}


def _policy_row(policy: TargetTrackingPolicy | StepPolicy, main: dict[tuple[str, str], str]) -> tuple[str, str, str]:
    """(row key, metric, statistic) of the row that shows ``policy``'s metric."""
    if isinstance(policy, StepPolicy):
        metric, stat = policy.alarm.name, policy.alarm.statistic
    else:
        metric = tracked_metric(policy)
        stat = policy.custom_metric.statistic if policy.custom_metric is not None else "Sum"
        if metric == "InvocationsPerInstance" and ("InvocationsPerInstance", "Sum") in main:
            stat = "Sum"  # the predefined metric's alarms watch the Sum
    return main.get((metric, stat), f"metric:{metric}:{stat}"), metric, stat


def timeline_rows(recorded: Recorded, profile: Profile | None) -> list[Row]:
    """The rows :func:`timeline_figure` draws for this run (``profile``: its :func:`run_profile`), top to
    bottom."""
    asynchronous = is_async(recorded, profile)
    main = _main_rows(asynchronous)
    rows = [Row("load", "Load (requests/s of endpoint time)"
                + (" · async completions" if asynchronous and has_completions(recorded) else ""), "req/s", 240)]
    if asynchronous:
        rows += [Row("backlog", "Backlog (CloudWatch, EndpointName)", "requests", 230),
                 Row("hbwc", f"HasBacklogWithoutCapacity ({hbwc_statistic(recorded, profile)}; 1 = backlog "
                     "and no instance)", "0/1", 90)]
    else:
        rows.append(Row("ipi", "InvocationsPerInstance (CloudWatch Sum per period)", "invocations / instance", 230))
    seen = {r.key for r in rows}
    for policy in profile.scaling.policies if profile is not None else []:
        key, metric, stat = _policy_row(policy, main)
        if key in seen:
            continue
        if isinstance(policy, TargetTrackingPolicy) and not recorded.metric_series(metric, stat):
            continue  # a custom tracked metric the collector did not record
        what = (f"alarm of step policy {policy.name}" if isinstance(policy, StepPolicy)
                else f"tracked by {policy.name}")
        rows.append(Row(key, f"{metric} (CloudWatch {stat}) — {what}", ellipsize(metric, 28), 200))
        seen.add(key)
    n_alarms = len({s.alarm_name for s in recorded.alarms})
    rows.append(Row("alarms", "Alarm states", "", max(70, 24 + _ALARM_SLOT_PX * n_alarms)))
    rows.append(Row("instances", "Instances", "instances", 270))
    if asynchronous and has_completions(recorded):
        rows.append(Row("latency", "Latency: async completion (endpoint s, left) · client (ms, right)",
                        "s (endpoint time)<br>to completion", 230, secondary=True))
    else:
        rows.append(Row("latency", "Latency", "ms<br>(client wall clock)", 230))
    return rows


def timeline_figure(recorded: Recorded, verdicts: list[Verdict]) -> go.Figure:
    """The run's timeline: load, scaling metrics, alarm states, instances and latency over endpoint time."""
    profile = run_profile(recorded)
    rows = timeline_rows(recorded, profile)
    plot_px = sum(r.height_px for r in rows) + _SPACING_PX * (len(rows) - 1)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=_SPACING_PX / plot_px,
                        row_heights=[r.height_px for r in rows],
                        specs=[[{"secondary_y": r.secondary}] for r in rows])
    axes: dict[str, _Axes] = {}
    for i, r in enumerate(rows, start=1):
        sub = fig.get_subplot(i, 1)
        sec = fig.get_subplot(i, 1, secondary_y=True) if r.secondary else None
        axes[r.key] = _Axes(i, sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", ""),
                            sec.yaxis.plotly_name.replace("axis", "") if sec is not None else None)
    fig.update_yaxes(rangemode="tozero", zeroline=True, zerolinecolor="#d0d7de")
    asynchronous = is_async(recorded, profile)
    x_lo, x_hi = _x_range(recorded, verdicts)
    _load_row(fig, recorded, axes["load"], asynchronous)
    if asynchronous:
        _backlog_rows(fig, recorded, profile, axes["backlog"], axes["hbwc"])
    else:
        _ipi_row(fig, recorded, axes["ipi"])
    _metric_rows(fig, recorded, profile, rows, axes)
    _policy_lines(fig, profile, axes, asynchronous)
    _alarm_row(fig, recorded, profile, axes["alarms"], x_lo, x_hi)
    _instances_row(fig, recorded, profile, axes["instances"], x_lo, x_hi)
    _latency_row(fig, recorded, axes["latency"])
    _stage_bands(fig, recorded, axes["load"])
    _verdict_marks(fig, verdicts, x_lo, x_hi)
    _layout(fig, rows, axes, len(verdicts), plot_px, x_lo, x_hi)
    return fig


# --- series ----------------------------------------------------------------------------------------

def _series(points: Iterable[MetricPoint], scale: float = 1.0) -> tuple[list[datetime], list[float]]:
    pts = sorted(points, key=lambda p: p.ts)
    return [utc(p.ts) for p in pts], [p.value * scale for p in pts]


def _points(recorded: Recorded, metric: str, stat: str, dims: dict[str, str] | None = None,
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


def _line(name: str, x: Sequence[datetime], y: Sequence[float | None], legend: str,
          **kw: object) -> go.Scatter:
    kw.setdefault("mode", "lines")
    return go.Scatter(name=name, x=list(x), y=list(y), legend=legend, **kw)


def _legend(ax: _Axes) -> str:
    return "legend" if ax.row == 1 else f"legend{ax.row}"


def _add(fig: go.Figure, trace: go.Scatter, ax: _Axes, secondary: bool = False) -> None:
    fig.add_trace(trace, row=ax.row, col=1, **({"secondary_y": True} if secondary else {}))


def _rate(count: int, interval: LoadInterval) -> float | None:
    return count / interval.interval_s if interval.interval_s > 0 else None


def _load_row(fig: go.Figure, recorded: Recorded, ax: _Axes, asynchronous: bool) -> None:
    load, legend = recorded.load, _legend(ax)
    x = [utc(i.ts) for i in load]
    _add(fig, _line("offered req/s", x, [i.offered_rps for i in load], legend,
                    line={"dash": "dash", "color": "#8c959f", "shape": "hv"}), ax)
    _add(fig, _line("achieved req/s", x, [i.achieved_rps for i in load], legend,
                    line={"color": "#0969da", "shape": "hv"}), ax)
    _add(fig, _line("failures/s", x, [_rate(i.failures, i) for i in load], legend,
                    line={"color": "#cf222e", "shape": "hv"}), ax)
    peak = max((max(i.offered_rps, i.achieved_rps) for i in load), default=0.0)
    if asynchronous and has_completions(recorded):
        done = [_rate(i.completions, i) for i in load]
        _add(fig, _line("completions/s", x, done, legend, line={"color": "#1a7f37", "shape": "hv"},
                        hovertext=[f"{i.completions} completed in {i.interval_s:g}s" for i in load]), ax)
        peak = max([peak, *(d for d in done if d is not None)])
        if any(i.completion_failures for i in load):
            _add(fig, _line("completion failures/s", x, [_rate(i.completion_failures, i) for i in load], legend,
                            line={"color": "#8a4600", "shape": "hv", "dash": "dot"}), ax)
    if peak > 0:  # headroom for the stage labels at the top of the row
        fig.update_yaxes(range=[0, peak * 1.2], row=ax.row, col=1)


def _ipi_row(fig: go.Figure, recorded: Recorded, ax: _Axes) -> None:
    x, y = _series(_points(recorded, "InvocationsPerInstance", "Sum"))
    _add(fig, go.Scatter(name="InvocationsPerInstance (Sum)", x=x, y=y, mode="lines+markers",
                         line={"color": "#8250df", "shape": "hv"}, marker={"size": 5}, legend=_legend(ax)), ax)


def _backlog_rows(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: _Axes, hbwc: _Axes) -> None:
    legend = _legend(ax)
    for metric, stat, color, dash in (("ApproximateBacklogSize", "Average", "#0969da", None),
                                      ("ApproximateBacklogSize", "Maximum", "#0969da", "dot"),
                                      (BACKLOG_TARGET_METRIC, "Average", "#8250df", None)):
        pts = _points(recorded, metric, stat)
        if stat == "Maximum" and not pts:
            continue
        x, y = _series(pts)
        _add(fig, go.Scatter(name=f"{metric} ({stat})", x=x, y=y, mode="lines+markers", legend=legend,
                             line={"color": color, "shape": "hv", **({"dash": dash} if dash else {})},
                             marker={"size": 4}), ax)
    stat = hbwc_statistic(recorded, profile)
    x, y = _series(_points(recorded, "HasBacklogWithoutCapacity", stat))
    # No legend entry: the row's title names the series, and a thin row has no room for both.
    _add(fig, go.Scatter(name=f"HasBacklogWithoutCapacity ({stat})", x=x, y=y, mode="lines", showlegend=False,
                         line={"color": "#cf222e", "shape": "hv", "width": 2}, fill="tozeroy",
                         fillcolor="rgba(207, 34, 46, 0.12)", legend=_legend(hbwc)), hbwc)
    fig.update_yaxes(range=[-0.08, 1.25], tickvals=[0, 1], row=hbwc.row, col=1)


def hbwc_statistic(recorded: Recorded, profile: Profile | None) -> str:
    """The HasBacklogWithoutCapacity statistic to draw: a step alarm's own (what it evaluates) when
    recorded, else Maximum (exactly 0/1), else Average."""
    for p in profile.scaling.policies if profile is not None else []:
        if isinstance(p, StepPolicy) and p.alarm.name == "HasBacklogWithoutCapacity" \
                and _points(recorded, p.alarm.name, p.alarm.statistic):
            return p.alarm.statistic
    return "Maximum" if _points(recorded, "HasBacklogWithoutCapacity", "Maximum") else "Average"


def _metric_rows(fig: go.Figure, recorded: Recorded, profile: Profile | None, rows: list[Row],
                 axes: dict[str, _Axes]) -> None:
    """Rows ``metric:<name>:<stat>``: the metric of a step alarm or a custom tracked metric."""
    for r in rows:
        if not r.key.startswith("metric:"):
            continue
        _, metric, stat = r.key.split(":", 2)
        dims = period = None
        for p in profile.scaling.policies if profile is not None else []:
            if isinstance(p, StepPolicy) and (p.alarm.name, p.alarm.statistic) == (metric, stat):
                dims = p.alarm.resolved_dimensions(recorded.run.endpoint_name, recorded.run.variant_name)
                period = p.alarm.period_s
                break
        x, y = _series(_points(recorded, metric, stat, dims, period))
        ax = axes[r.key]
        _add(fig, go.Scatter(name=f"{metric} ({stat})", x=x, y=y, mode="lines+markers", legend=_legend(ax),
                             line={"color": "#1b7c83", "shape": "hv"}, marker={"size": 5}), ax)


def _hline(fig: go.Figure, ax: _Axes, y: float, name: str, label: str, color: str, dash: str,
           above: bool = True, width: float = 1.5) -> None:
    fig.add_hline(y=y, row=ax.row, col=1, exclude_empty_subplots=False, name=name,
                  line={"color": color, "dash": dash, "width": width})
    # Labelled inside the plot at its right end (the row's legend holds the right margin), above the
    # line, or below it for lines under a threshold.
    fig.add_annotation(xref=f"{ax.x} domain", yref=ax.y, x=0.998, y=y, xanchor="right",
                       yanchor="bottom" if above else "top", yshift=1 if above else -1, showarrow=False,
                       text=html.escape(label), font={"size": 11, "color": color}, bgcolor="rgba(255,255,255,0.7)",
                       borderpad=1, name=f"label:{name}")


def _policy_lines(fig: go.Figure, profile: Profile | None, axes: dict[str, _Axes], asynchronous: bool) -> None:
    """Target lines of target-tracking policies and threshold/step lines of step policies, each on the
    row that shows its metric."""
    if profile is None:
        return
    main = _main_rows(asynchronous)
    for i, policy in enumerate(profile.scaling.policies):
        key, metric, _ = _policy_row(policy, main)
        ax = axes.get(key)
        if ax is None:
            continue
        color = POLICY_COLORS[i % len(POLICY_COLORS)]
        if isinstance(policy, TargetTrackingPolicy):
            t = policy.target_value
            if key == "backlog" and metric != BACKLOG_TARGET_METRIC:
                continue  # ApproximateBacklogSize shares the row; only the per-instance metric is tracked
            where = " per instance" if key == "backlog" else ""
            _hline(fig, ax, t, f"target:{policy.name}", f"target {t:g}{where} (AlarmHigh above)", color, "dash")
            if key != "backlog":
                _hline(fig, ax, 0.9 * t, f"alarm-low:{policy.name}",
                       f"90 % of target = {0.9 * t:g} (AlarmLow below)", "#0550ae", "dot", above=False)
        else:
            for line in step_lines(policy):
                name = (f"threshold:{policy.name}" if line.kind == "threshold"
                        else f"step:{policy.name}:{line.y:g}")
                _hline(fig, ax, line.y, name, line.label, color, "dash" if line.kind == "threshold" else "dot",
                       above=line.above, width=1.5 if line.kind == "threshold" else 1.2)


# --- alarms ----------------------------------------------------------------------------------------

def _alarm_hover(name: str, policy: str | None, state: str, start: float, end: float, reason: str | None,
                 threshold: float | None, metric: str | None, comparison: str | None) -> str:
    lines = [f"<b>{html.escape(name)}</b>"]
    if policy:
        lines.append(f"policy: {html.escape(policy)}")
    if metric or threshold is not None:
        lines.append(f"{html.escape(metric or 'metric')} {comparison_symbol(comparison)} "
                     f"{'?' if threshold is None else f'{threshold:g}'}")
    lines.append(f"{state} {utc(start):%H:%M:%S} → {utc(end):%H:%M:%S} UTC")
    if reason:
        lines.append(_wrap(reason))
    return "<br>".join(lines)


def _alarm_row(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: _Axes,
               x_lo: float, x_hi: float) -> None:
    """One band per alarm (first recorded on top), one trace per state so the legend is the colour key."""
    # The collector records changes only: the last state holds until the end of the observation.
    end = max([recorded.run.ended_ts or x_hi, *(s.ts for s in recorded.alarms)])
    intervals = alarm_intervals(recorded.alarms, x_lo, end)
    if not intervals:
        return
    owners = alarm_policies(recorded, profile)
    n = len(intervals)
    xs: dict[str, list[datetime | None]] = {s: [] for s in ALARM_COLOR}
    ys: dict[str, list[float | None]] = {s: [] for s in ALARM_COLOR}
    hover: dict[str, list[str]] = {s: [] for s in ALARM_COLOR}
    step = max(60.0, (x_hi - x_lo) / 200)  # intermediate points so that hovering mid-band shows it
    for k, (name, spans) in enumerate(intervals.items()):
        y = float(n - 1 - k)
        policy = owners.get(name)
        for span in spans:
            state = span.state if span.state in ALARM_COLOR else "INSUFFICIENT_DATA"
            s = span.sample
            text = _alarm_hover(name, policy, span.state, span.start_ts, span.end_ts, s.state_reason,
                                s.threshold, s.metric, s.comparison)
            ts = [span.start_ts]
            while ts[-1] + step < span.end_ts:
                ts.append(ts[-1] + step)
            ts.append(span.end_ts)
            xs[state] += [*(utc(t) for t in ts), None]
            ys[state] += [*(y for _ in ts), None]
            hover[state] += [*(text for _ in ts), ""]
        label = short_alarm_name(name, policy)
        fig.add_annotation(xref=f"{ax.x} domain", yref=ax.y, x=0, y=y, yshift=8, xanchor="left", yanchor="bottom",
                           showarrow=False, text=html.escape(label), font={"size": 10, "color": "#57606a"},
                           hovertext=html.escape(name), name=f"alarm:{name}")
    for state, color in ALARM_COLOR.items():
        if not xs[state]:  # a state no alarm was in: one null point keeps it in the legend, the colour key
            xs[state], ys[state], hover[state] = [None], [None], [""]
        _add(fig, go.Scatter(name=state, x=xs[state], y=ys[state], mode="lines", legend=_legend(ax),
                             line={"color": color, "width": 11}, connectgaps=False, hovertext=hover[state],
                             hovertemplate="%{hovertext}<extra></extra>"), ax)
    fig.update_yaxes(range=[-0.6, n - 0.05], showticklabels=False, showgrid=False, zeroline=False,
                     fixedrange=True, row=ax.row, col=1)


# --- instances -------------------------------------------------------------------------------------

def _instances_at(samples: Sequence[EndpointSample], ts: float) -> int | None:
    last = None
    for s in samples:
        if s.ts > ts:
            break
        last = s.current_instances if s.current_instances is not None else last
    return last


def predicted_steps(recorded: Recorded, x_hi: float) -> list[tuple[float, int]]:
    """The predicted current instance count as ``(ts, count)`` steps from ``run.json`` ``prediction``:
    the count at load start, each predicted change at its InService time, held until ``x_hi``; empty
    without a prediction (or a failed one)."""
    info = recorded.run.prediction
    if info is None or info.error or info.load_start_ts is None:
        return []
    changes = sorted(info.changes, key=lambda c: c.end_ts)
    level = info.initial_instances if info.initial_instances is not None else (
        changes[0].from_count if changes else None)
    if level is None:
        return []
    steps = [(info.load_start_ts, level)]
    steps += [(c.end_ts, c.to_count) for c in changes if c.end_ts >= info.load_start_ts]
    steps.append((max(x_hi, steps[-1][0]), steps[-1][1]))
    return steps


def _wrap(text: str, width: int = 90) -> str:
    return "<br>".join(textwrap.wrap(html.escape(text), width)) or "-"


def _instances_row(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: _Axes,
                   x_lo: float, x_hi: float) -> None:
    ep, legend = recorded.endpoint, _legend(ax)
    x = [utc(s.ts) for s in ep]
    _add(fig, _line("current instances", x, [s.current_instances for s in ep], legend,
                    line={"color": "#1a7f37", "shape": "hv", "width": 2.5}), ax)
    predicted = predicted_steps(recorded, x_hi)
    if predicted:
        _add(fig, _line("predicted current", [utc(t) for t, _ in predicted], [n for _, n in predicted], legend,
                        line={"color": "#8250df", "shape": "hv", "dash": "dot", "width": 2},
                        hovertemplate="predicted %{y} instances<extra></extra>"), ax)
    _add(fig, _line("desired instances", x, [s.desired_instances for s in ep], legend,
                    line={"color": "#bc4c00", "shape": "hv", "dash": "dash"}), ax)
    marks = scheduled_marks(recorded, profile, x_lo, x_hi)
    if profile is not None:
        lows, highs = capacity_bounds(profile, marks, x_lo)
        if len(lows) > 1 or len(highs) > 1:  # scheduled actions change the bounds: draw them as steps
            for name, steps, color, dash in (("min capacity", lows, "#0550ae", "dashdot"),
                                             ("max capacity", highs, "#57606a", "longdash")):
                sx = [utc(t) for t, _ in steps] + [utc(x_hi)]
                sy = [v for _, v in steps] + [steps[-1][1]]
                _add(fig, _line(name, sx, sy, legend, line={"color": color, "shape": "hv", "dash": dash,
                                                            "width": 1.5}), ax)
        else:
            cap = profile.scaling.max_capacity
            fig.add_hline(y=cap, row=ax.row, col=1, exclude_empty_subplots=False, name="max-capacity",
                          line={"color": "#57606a", "dash": "longdash", "width": 1},
                          annotation={"text": f"max capacity {cap}", "font": {"size": 11}},
                          annotation_position="top left")
    acts = recorded.activities
    ys: list[float] = []
    for a in acts:
        m = re.search(r"\bto (\d+)", a.description)
        ys.append(float(m.group(1)) if m else float(_instances_at(ep, a.start_ts) or 0))
    hover = [
        f"<b>{_wrap(a.description)}</b><br>status: {html.escape(a.status_code)}"
        + (f" ({_wrap(a.status_message)})" if a.status_message else "")
        + f"<br>start: {utc(a.start_ts):%H:%M:%S} UTC"
        + f"<br>end: {f'{utc(a.end_ts):%H:%M:%S} UTC' if a.end_ts is not None else 'not ended'}"
        + f"<br>cause: {_wrap(a.cause)}"
        for a in acts
    ]
    _add(fig, go.Scatter(
        name="scaling activity", x=[utc(a.start_ts) for a in acts], y=ys, mode="markers",
        marker={"size": 13, "color": "#6639ba", "line": {"width": 1, "color": "white"},
                "symbol": [ACTIVITY_SYMBOL.get(a.status_code, "circle-open") for a in acts]},
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", legend=legend), ax)
    for k, m in enumerate(marks):
        fig.add_shape(type="line", xref=ax.x, yref=f"{ax.y} domain", x0=utc(m.ts), x1=utc(m.ts), y0=0, y1=1,
                      line={"color": SCHEDULED_COLOR, "width": 1.5, "dash": "dashdot"}, name=f"scheduled:{m.name}")
        fig.add_annotation(xref=ax.x, yref=f"{ax.y} domain", x=utc(m.ts), y=1, xanchor="left", yanchor="top",
                           yshift=-14 * (k % 3), showarrow=False, bgcolor="rgba(255,255,255,0.8)",
                           text=f"⏱ {html.escape(ellipsize(m.name, 32))}: {m.bounds_text}",
                           hovertext=(f"scheduled action {html.escape(m.name)}<br>{html.escape(m.how)}"
                                      f"<br>{utc(m.ts):%H:%M:%S} UTC · {m.bounds_text}"),
                           font={"size": 10, "color": SCHEDULED_COLOR}, name=f"label:scheduled:{m.name}")


# --- latency ---------------------------------------------------------------------------------------

def _latency_row(fig: go.Figure, recorded: Recorded, ax: _Axes) -> None:
    load, legend = recorded.load, _legend(ax)
    x = [utc(i.ts) for i in load]
    ms_on_right = ax.y2 is not None
    if ms_on_right:
        for pct, color in (("p50", "#1a7f37"), ("p95", "#9a6700")):
            y = [getattr(i.completion_s, pct) for i in load]
            _add(fig, _line(f"completion {pct} (endpoint s)", x, y, legend, mode="lines+markers",
                            line={"color": color, "width": 2.5}, marker={"size": 4}, connectgaps=True), ax)
    colors = {"p50": "#0969da", "p95": "#bf8700", "p99": "#cf222e"}
    for pct, color in colors.items():
        y = [getattr(i.latency_ms, pct) for i in load]
        style = {"color": color, **({"dash": "dot", "width": 1} if ms_on_right else {})}
        _add(fig, _line(f"{pct} (client)", x, y, legend, line=style), ax, secondary=ms_on_right)
    model = _points(recorded, "ModelLatency", "Average")
    if model:
        mx, my = _series(model, scale=1e-3)  # CloudWatch reports ModelLatency in microseconds
        _add(fig, _line("ModelLatency avg (CloudWatch)", mx, my, legend,
                        line={"color": "#8250df", "dash": "dot"}, mode="lines+markers"), ax, secondary=ms_on_right)
    if ms_on_right:
        fig.update_yaxes(secondary_y=True, row=ax.row, col=1, ticksuffix=" ms", ticklabelposition="inside",
                         showgrid=False, rangemode="tozero")


# --- shared ----------------------------------------------------------------------------------------

def _x_range(recorded: Recorded, verdicts: list[Verdict]) -> tuple[float, float]:
    run = recorded.run
    ts = [run.started_ts]
    ts += [t for t in (run.ended_ts, run.load_start_ts, run.load_end_ts) if t is not None]
    ts += [i.ts + i.interval_s for i in recorded.load] + [i.ts for i in recorded.load]
    ts += [p.ts + p.period_s for p in recorded.metrics] + [s.ts for s in recorded.endpoint]
    ts += [t for a in recorded.activities for t in (a.start_ts, a.end_ts) if t is not None]
    ts += [s.ts for s in recorded.alarms]
    ts += [t for s in run.stages for t in (s.start_ts, s.end_ts)]
    ts += [t for v in verdicts for t in (v.trigger_ts, v.observed_ts, v.window_start_ts, v.window_end_ts)
           if t is not None]
    lo, hi = min(ts), max(ts)
    return lo, max(hi, lo + 60.0)


def _stage_bands(fig: go.Figure, recorded: Recorded, ax: _Axes) -> None:
    for i, stage in enumerate(recorded.run.stages):
        fig.add_shape(type="rect", xref=ax.x, yref=f"{ax.y} domain", x0=utc(stage.start_ts), x1=utc(stage.end_ts),
                      y0=0, y1=1, fillcolor=STAGE_FILL, line={"width": 0}, layer="below",
                      name=f"stage:{stage.name}")
        fig.add_annotation(xref=ax.x, yref=f"{ax.y} domain", x=utc(stage.start_ts), y=1, xanchor="left",
                           yanchor="top", yshift=-13 * (i % 2),  # short stages: alternate heights
                           showarrow=False, text=f"stage {html.escape(stage.name)}",
                           font={"size": 10, "color": "#57606a"})


def _verdict_marks(fig: go.Figure, verdicts: list[Verdict], x_lo: float, x_hi: float) -> None:
    for i, v in enumerate(verdicts):
        color = STATUS_COLOR[v.status]
        has_window = v.window_start_ts is not None or v.window_end_ts is not None
        x0 = v.window_start_ts if v.window_start_ts is not None else x_lo
        x1 = v.window_end_ts if v.window_end_ts is not None else x_hi
        if has_window:
            fig.add_shape(type="rect", xref="x", yref="paper", x0=utc(x0), x1=utc(x1), y0=0, y1=1,
                          fillcolor=WINDOW_FILL[v.status], line={"width": 0}, layer="below",
                          name=f"window:{v.name}")
        if v.observed_ts is not None:
            fig.add_shape(type="line", xref="x", yref="paper", x0=utc(v.observed_ts),
                          x1=utc(v.observed_ts), y0=0, y1=1, line={"color": color, "width": 1.5,
                                                                  "dash": "dash"},
                          name=f"observed:{v.name}")
        anchor = x0 if has_window else (v.observed_ts if v.observed_ts is not None else x_lo)
        fig.add_annotation(xref="x", yref="paper", x=utc(anchor), y=1, xanchor="left", yanchor="bottom",
                           yshift=22 + _LABEL_STEP_PX * (len(verdicts) - 1 - i),  # first on top
                           showarrow=False, align="left",
                           text=f"<b>{v.status}</b> {html.escape(v.name)}",
                           font={"size": 11, "color": color}, bgcolor="rgba(255,255,255,0.85)",
                           name=f"label:{v.name}")


def _layout(fig: go.Figure, rows: list[Row], axes: dict[str, _Axes], n_verdicts: int, plot_px: int,
            x_lo: float, x_hi: float) -> None:
    top = 40 + _LABEL_STEP_PX * n_verdicts
    fig.update_layout(template="plotly_white", height=plot_px + top + 10 + 50,
                      margin={"t": top + 10, "l": 70, "r": 250, "b": 50},
                      hovermode="x", hoverlabel={"align": "left"}, font={"size": 12},
                      meta={"rows": {r.key: {"row": axes[r.key].row, "x": axes[r.key].x, "y": axes[r.key].y,
                                             "y2": axes[r.key].y2} for r in rows}})
    for r in rows:
        ax = axes[r.key]
        d0, d1 = fig.layout[ax.y.replace("y", "yaxis", 1)].domain
        if not any(len(t.x or ()) for t in fig.select_traces(row=ax.row, col=1)):
            fig.add_annotation(xref="paper", yref="paper", x=0.5, y=(d0 + d1) / 2, showarrow=False,
                               text="no data recorded", font={"size": 13, "color": "#8c959f"},
                               name=f"empty:{r.key}")
        fig.update_layout({_legend(ax): {"x": 1.01, "xanchor": "left", "y": d1, "yanchor": "top",
                                         "bgcolor": "rgba(255,255,255,0.9)", "font": {"size": 11}}})
        fig.add_annotation(xref="paper", yref="paper", x=0, y=d1, xanchor="left", yanchor="bottom",
                           showarrow=False, text=f"<b>{html.escape(r.title)}</b>",
                           font={"size": 12, "color": "#24292f"}, name=f"title:{r.key}")
        if r.ytitle:
            fig.update_yaxes(title_text=r.ytitle, row=ax.row, col=1, secondary_y=False)
    instances = axes["instances"]
    top_count = max((t for tr in fig.select_traces(row=instances.row, col=1) for t in (tr.y or ())
                     if isinstance(t, int | float)), default=0)
    if top_count <= 12:
        fig.update_yaxes(dtick=1, row=instances.row, col=1)
    # type="date" explicitly: with no data at all plotly.js would otherwise fall back to a linear axis.
    fig.update_xaxes(type="date", range=[utc(x_lo), utc(x_hi)], showticklabels=True,
                     tickformatstops=[{"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
                                      {"dtickrange": [60_000, 86_400_000], "value": "%H:%M"},
                                      {"dtickrange": [86_400_000, None], "value": "%b %d"}])
    fig.update_xaxes(title_text=f"endpoint time (UTC), {utc(x_lo):%Y-%m-%d}", row=len(rows), col=1)
