"""The timeline's rows of measured series (pure, no I/O): load, scaling metrics, policy lines, latency.

Each ``*_row(s)`` function adds traces to ``fig`` on the row at the given
:class:`~harness.report.figure_traces.Axes`; any series may be empty (the trace is then empty, never an
error). Units: load in requests per second of endpoint time (counts divided by the interval); CloudWatch
metrics as recorded (a statistic per period); ``ModelLatency`` converted from µs to ms; client latency in
wall-clock ms; async completion times in endpoint seconds.

:func:`main_rows` and :func:`policy_row` say which row shows a metric (the figure chooses its rows with
them too); :func:`policy_lines` draws each policy's target, AlarmLow threshold, or step threshold and
boundaries as named, labelled horizontal lines on the row showing its metric, and skips a policy whose
row is not drawn. :func:`hbwc_statistic` picks the HasBacklogWithoutCapacity statistic to draw.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from harness.profile import Profile, StepPolicy, TargetTrackingPolicy
from harness.record import LoadInterval, Recorded
from harness.report.context import step_lines, tracked_metric
from harness.report.figure_traces import Axes, Row, legend_of, plot, run_points, series, trace, utc

POLICY_COLORS = ("#bc4c00", "#0550ae", "#8250df", "#1b7c83", "#9a6700", "#bf3989")
BACKLOG_TARGET_METRIC = "ApproximateBacklogSizePerInstance"


def is_async(recorded: Recorded, profile: Profile | None) -> bool:
    """Whether the run is against an async endpoint (by its profile, else by its metrics)."""
    if profile is not None:
        return profile.endpoint.is_async
    return any(p.metric == "ApproximateBacklogSize" for p in recorded.metrics)


def has_completions(recorded: Recorded) -> bool:
    return any(i.completions or i.completion_failures or i.completion_s.p50 is not None for i in recorded.load)


def main_rows(asynchronous: bool) -> dict[tuple[str, str], str]:
    """(metric, statistic) → the key of the main row that draws it."""
    if asynchronous:
        return {("ApproximateBacklogSize", "Average"): "backlog", ("ApproximateBacklogSize", "Maximum"): "backlog",
                (BACKLOG_TARGET_METRIC, "Average"): "backlog", ("HasBacklogWithoutCapacity", "Average"): "hbwc",
                ("HasBacklogWithoutCapacity", "Maximum"): "hbwc"}
    return {("InvocationsPerInstance", "Sum"): "ipi"}


def policy_row(policy: TargetTrackingPolicy | StepPolicy, main: dict[tuple[str, str], str]) -> tuple[str, str, str]:
    """(row key, metric, statistic) of the row that shows ``policy``'s metric."""
    if isinstance(policy, StepPolicy):
        metric, stat = policy.alarm.name, policy.alarm.statistic
    else:
        metric = tracked_metric(policy)
        stat = policy.custom_metric.statistic if policy.custom_metric is not None else "Sum"
        if metric == "InvocationsPerInstance" and ("InvocationsPerInstance", "Sum") in main:
            stat = "Sum"  # the predefined metric's alarms watch the Sum
    return main.get((metric, stat), f"metric:{metric}:{stat}"), metric, stat


# --- load and scaling metrics ----------------------------------------------------------------------

def _rate(count: int, interval: LoadInterval) -> float | None:
    return count / interval.interval_s if interval.interval_s > 0 else None


def load_row(fig: go.Figure, recorded: Recorded, ax: Axes, asynchronous: bool) -> None:
    load, legend = recorded.load, legend_of(ax)
    x = [utc(i.ts) for i in load]
    plot(fig, trace("offered req/s", x, [i.offered_rps for i in load], legend,
                    line={"dash": "dash", "color": "#8c959f", "shape": "hv"}), ax)
    plot(fig, trace("achieved req/s", x, [i.achieved_rps for i in load], legend,
                    line={"color": "#0969da", "shape": "hv"}), ax)
    plot(fig, trace("failures/s", x, [_rate(i.failures, i) for i in load], legend,
                    line={"color": "#cf222e", "shape": "hv"}), ax)
    peak = max((max(i.offered_rps, i.achieved_rps) for i in load), default=0.0)
    if asynchronous and has_completions(recorded):
        done = [_rate(i.completions, i) for i in load]
        plot(fig, trace("completions/s", x, done, legend, line={"color": "#1a7f37", "shape": "hv"},
                        hovertext=[f"{i.completions} completed in {i.interval_s:g}s" for i in load]), ax)
        peak = max([peak, *(d for d in done if d is not None)])
        if any(i.completion_failures for i in load):
            plot(fig, trace("completion failures/s", x, [_rate(i.completion_failures, i) for i in load], legend,
                            line={"color": "#8a4600", "shape": "hv", "dash": "dot"}), ax)
    if peak > 0:  # headroom for the stage labels at the top of the row
        fig.update_yaxes(range=[0, peak * 1.2], row=ax.row, col=1)


def ipi_row(fig: go.Figure, recorded: Recorded, ax: Axes) -> None:
    x, y = series(run_points(recorded, "InvocationsPerInstance", "Sum"))
    plot(fig, go.Scatter(name="InvocationsPerInstance (Sum)", x=x, y=y, mode="lines+markers",
                         line={"color": "#8250df", "shape": "hv"}, marker={"size": 5}, legend=legend_of(ax)), ax)


def backlog_rows(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: Axes, hbwc: Axes) -> None:
    legend = legend_of(ax)
    for metric, stat, color, dash in (("ApproximateBacklogSize", "Average", "#0969da", None),
                                      ("ApproximateBacklogSize", "Maximum", "#0969da", "dot"),
                                      (BACKLOG_TARGET_METRIC, "Average", "#8250df", None)):
        pts = run_points(recorded, metric, stat)
        if stat == "Maximum" and not pts:
            continue
        x, y = series(pts)
        plot(fig, go.Scatter(name=f"{metric} ({stat})", x=x, y=y, mode="lines+markers", legend=legend,
                             line={"color": color, "shape": "hv", **({"dash": dash} if dash else {})},
                             marker={"size": 4}), ax)
    stat = hbwc_statistic(recorded, profile)
    x, y = series(run_points(recorded, "HasBacklogWithoutCapacity", stat))
    # No legend entry: the row's title names the series, and a thin row has no room for both.
    plot(fig, go.Scatter(name=f"HasBacklogWithoutCapacity ({stat})", x=x, y=y, mode="lines", showlegend=False,
                         line={"color": "#cf222e", "shape": "hv", "width": 2}, fill="tozeroy",
                         fillcolor="rgba(207, 34, 46, 0.12)", legend=legend_of(hbwc)), hbwc)
    fig.update_yaxes(range=[-0.08, 1.25], tickvals=[0, 1], row=hbwc.row, col=1)


def hbwc_statistic(recorded: Recorded, profile: Profile | None) -> str:
    """The HasBacklogWithoutCapacity statistic to draw: a step alarm's own (what it evaluates) when
    recorded, else Maximum (exactly 0/1), else Average."""
    for p in profile.scaling.policies if profile is not None else []:
        if isinstance(p, StepPolicy) and p.alarm.name == "HasBacklogWithoutCapacity" \
                and run_points(recorded, p.alarm.name, p.alarm.statistic):
            return p.alarm.statistic
    return "Maximum" if run_points(recorded, "HasBacklogWithoutCapacity", "Maximum") else "Average"


def metric_rows(fig: go.Figure, recorded: Recorded, profile: Profile | None, rows: list[Row],
                axes: dict[str, Axes]) -> None:
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
        x, y = series(run_points(recorded, metric, stat, dims, period))
        ax = axes[r.key]
        plot(fig, go.Scatter(name=f"{metric} ({stat})", x=x, y=y, mode="lines+markers", legend=legend_of(ax),
                             line={"color": "#1b7c83", "shape": "hv"}, marker={"size": 5}), ax)


def _hline(fig: go.Figure, ax: Axes, y: float, name: str, label: str, color: str, dash: str,
           above: bool = True, width: float = 1.5) -> None:
    fig.add_hline(y=y, row=ax.row, col=1, exclude_empty_subplots=False, name=name,
                  line={"color": color, "dash": dash, "width": width})
    # Labelled inside the plot at its right end (the row's legend holds the right margin), above the
    # line, or below it for lines under a threshold.
    fig.add_annotation(xref=f"{ax.x} domain", yref=ax.y, x=0.998, y=y, xanchor="right",
                       yanchor="bottom" if above else "top", yshift=1 if above else -1, showarrow=False,
                       text=html.escape(label), font={"size": 11, "color": color}, bgcolor="rgba(255,255,255,0.7)",
                       borderpad=1, name=f"label:{name}")


def policy_lines(fig: go.Figure, profile: Profile | None, axes: dict[str, Axes], asynchronous: bool) -> None:
    """Target lines of target-tracking policies and threshold/step lines of step policies, each on the
    row that shows its metric."""
    if profile is None:
        return
    main = main_rows(asynchronous)
    for i, policy in enumerate(profile.scaling.policies):
        key, metric, _ = policy_row(policy, main)
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


# --- latency ---------------------------------------------------------------------------------------

def latency_row(fig: go.Figure, recorded: Recorded, ax: Axes) -> None:
    load, legend = recorded.load, legend_of(ax)
    x = [utc(i.ts) for i in load]
    ms_on_right = ax.y2 is not None
    if ms_on_right:
        for pct, color in (("p50", "#1a7f37"), ("p95", "#9a6700")):
            y = [getattr(i.completion_s, pct) for i in load]
            plot(fig, trace(f"completion {pct} (endpoint s)", x, y, legend, mode="lines+markers",
                            line={"color": color, "width": 2.5}, marker={"size": 4}, connectgaps=True), ax)
    colors = {"p50": "#0969da", "p95": "#bf8700", "p99": "#cf222e"}
    for pct, color in colors.items():
        y = [getattr(i.latency_ms, pct) for i in load]
        style = {"color": color, **({"dash": "dot", "width": 1} if ms_on_right else {})}
        plot(fig, trace(f"{pct} (client)", x, y, legend, line=style), ax, secondary=ms_on_right)
    model = run_points(recorded, "ModelLatency", "Average")
    if model:
        mx, my = series(model, scale=1e-3)  # CloudWatch reports ModelLatency in microseconds
        plot(fig, trace("ModelLatency avg (CloudWatch)", mx, my, legend,
                        line={"color": "#8250df", "dash": "dot"}, mode="lines+markers"), ax, secondary=ms_on_right)
    if ms_on_right:
        fig.update_yaxes(secondary_y=True, row=ax.row, col=1, ticksuffix=" ms", ticklabelposition="inside",
                         showgrid=False, rangemode="tozero")
