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

This module chooses the rows and lays out the figure; the rows are drawn by
:mod:`harness.report.figure_metrics` (load, scaling metrics, policy lines, latency) and
:mod:`harness.report.figure_scaling` (alarms, instances), with the helpers of
:mod:`harness.report.figure_traces`.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.profile import Profile, StepPolicy, TargetTrackingPolicy
from harness.record import Recorded, Verdict
from harness.report.context import ellipsize, run_profile
from harness.report.figure_metrics import (
    backlog_rows,
    has_completions,
    hbwc_statistic,
    ipi_row,
    is_async,
    latency_row,
    load_row,
    main_rows,
    metric_rows,
    policy_lines,
    policy_row,
)
from harness.report.figure_scaling import alarm_row, instances_row
from harness.report.figure_traces import Axes, Row, legend_of, utc

WINDOW_FILL = {
    "PASS": "rgba(46, 160, 67, 0.13)",
    "FAIL": "rgba(215, 58, 73, 0.15)",
    "INCONCLUSIVE": "rgba(128, 128, 128, 0.17)",
}
STATUS_COLOR = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#57606a"}
STAGE_FILL = "rgba(84, 110, 250, 0.07)"
_LABEL_STEP_PX = 17
_SPACING_PX = 48
_ALARM_SLOT_PX = 34


def timeline_rows(recorded: Recorded, profile: Profile | None) -> list[Row]:
    """The rows :func:`timeline_figure` draws for this run (``profile``: its :func:`run_profile`), top to
    bottom."""
    asynchronous = is_async(recorded, profile)
    main = main_rows(asynchronous)
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
        key, metric, stat = policy_row(policy, main)
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
    axes: dict[str, Axes] = {}
    for i, r in enumerate(rows, start=1):
        sub = fig.get_subplot(i, 1)
        sec = fig.get_subplot(i, 1, secondary_y=True) if r.secondary else None
        axes[r.key] = Axes(i, sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", ""),
                           sec.yaxis.plotly_name.replace("axis", "") if sec is not None else None)
    fig.update_yaxes(rangemode="tozero", zeroline=True, zerolinecolor="#d0d7de")
    asynchronous = is_async(recorded, profile)
    x_lo, x_hi = _x_range(recorded, verdicts)
    load_row(fig, recorded, axes["load"], asynchronous)
    if asynchronous:
        backlog_rows(fig, recorded, profile, axes["backlog"], axes["hbwc"])
    else:
        ipi_row(fig, recorded, axes["ipi"])
    metric_rows(fig, recorded, profile, rows, axes)
    policy_lines(fig, profile, axes, asynchronous)
    alarm_row(fig, recorded, profile, axes["alarms"], x_lo, x_hi)
    instances_row(fig, recorded, profile, axes["instances"], x_lo, x_hi)
    latency_row(fig, recorded, axes["latency"])
    _stage_bands(fig, recorded, axes["load"])
    _verdict_marks(fig, verdicts, x_lo, x_hi)
    _layout(fig, rows, axes, len(verdicts), plot_px, x_lo, x_hi)
    return fig


# --- frame -----------------------------------------------------------------------------------------

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


def _stage_bands(fig: go.Figure, recorded: Recorded, ax: Axes) -> None:
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


def _layout(fig: go.Figure, rows: list[Row], axes: dict[str, Axes], n_verdicts: int, plot_px: int,
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
        fig.update_layout({legend_of(ax): {"x": 1.01, "xanchor": "left", "y": d1, "yanchor": "top",
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
