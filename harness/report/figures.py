"""Figures of a run: pure functions from recorded data to plotly figures (no I/O).

:func:`timeline_figure` draws one figure of four stacked rows that share an x axis of endpoint time
(UTC, shown as naive UTC datetimes because plotly.js ignores time zones):

1. **load** — offered and achieved request rate and failures per second (requests per second of
   endpoint time, from ``load.jsonl``);
2. **InvocationsPerInstance** — the CloudWatch ``Sum`` per period, with the target-tracking target
   and the AlarmLow threshold (90 % of it) of the profile's first target-tracking policy;
3. **instances** — current and desired instance counts as steps, the max capacity, and one marker
   per scaling activity at its start;
4. **latency** — client-measured p50/p95/p99 (wall-clock ms) and CloudWatch ``ModelLatency``
   average (µs converted to ms) when recorded.

Expectation windows are shaded across all rows (:data:`WINDOW_FILL` by status) and named above the
plot; each ``observed_ts`` is a vertical line; stages are light bands on the load row. Every series
may be empty — an interrupted run with no data still gives a valid (mostly empty) figure. Shapes
carry a ``name`` (``window:<verdict>``, ``observed:<verdict>``, ``stage:<stage>``, ``target``,
``alarm-low``, ``max-capacity``) so that callers and tests can find them.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.profile import ProfileError, TargetTrackingPolicy, parse_profile
from harness.record import EndpointSample, MetricPoint, Recorded, Verdict

ROW_TITLES = (
    "Load (requests/s of endpoint time)",
    "InvocationsPerInstance (CloudWatch Sum per period)",
    "Instances",
    "Latency",
)
ROW_HEIGHTS = (0.25, 0.23, 0.28, 0.24)
WINDOW_FILL = {
    "PASS": "rgba(46, 160, 67, 0.13)",
    "FAIL": "rgba(215, 58, 73, 0.15)",
    "INCONCLUSIVE": "rgba(128, 128, 128, 0.17)",
}
STATUS_COLOR = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#57606a"}
STAGE_FILL = "rgba(84, 110, 250, 0.07)"
ACTIVITY_SYMBOL = {"Successful": "diamond", "Failed": "x", "Unfulfilled": "x"}
_LABEL_STEP_PX = 17


def utc(ts: float) -> datetime:
    """Endpoint-time epoch seconds → naive UTC datetime (the figure's x values)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def target_policy(recorded: Recorded) -> tuple[TargetTrackingPolicy | None, int | None]:
    """The first target-tracking policy and the max capacity of the run's profile.

    ``(None, None)`` when ``run.profile`` does not parse (e.g. an older schema): the figure then
    simply omits the lines that depend on it.
    """
    try:
        profile = parse_profile(recorded.run.profile, source="run.json profile")
    except ProfileError:
        return None, None
    policy = next((p for p in profile.scaling.policies if p.type == "target_tracking"), None)
    return policy, profile.scaling.max_capacity


def timeline_figure(recorded: Recorded, verdicts: list[Verdict]) -> go.Figure:
    """The run's timeline: load, InvocationsPerInstance, instances and latency over endpoint time."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.045,
                        row_heights=list(ROW_HEIGHTS))
    policy, max_capacity = target_policy(recorded)
    _load_row(fig, recorded)
    _ipi_row(fig, recorded, policy)
    _instances_row(fig, recorded, max_capacity)
    _latency_row(fig, recorded)
    x_lo, x_hi = _x_range(recorded, verdicts)
    _stage_bands(fig, recorded)
    _verdict_marks(fig, verdicts, x_lo, x_hi)
    _layout(fig, recorded, len(verdicts), x_lo, x_hi)
    return fig


def _series(points: Iterable[MetricPoint], scale: float = 1.0) -> tuple[list[datetime], list[float]]:
    pts = sorted(points, key=lambda p: p.ts)
    return [utc(p.ts) for p in pts], [p.value * scale for p in pts]


def _variant_points(recorded: Recorded, metric: str, stat: str) -> list[MetricPoint]:
    """Datapoints of ``metric``/``stat`` for the run's variant (points without a VariantName kept)."""
    variant = recorded.run.variant_name
    return [p for p in recorded.metric_series(metric, stat)
            if p.dims.get("VariantName", variant) == variant]


def _line(name: str, x: Sequence[datetime], y: Sequence[float | None], legend: str,
          **kw: object) -> go.Scatter:
    kw.setdefault("mode", "lines")
    return go.Scatter(name=name, x=list(x), y=list(y), legend=legend, **kw)


def _load_row(fig: go.Figure, recorded: Recorded) -> None:
    x = [utc(i.ts) for i in recorded.load]
    fig.add_trace(_line("offered req/s", x, [i.offered_rps for i in recorded.load], "legend",
                        line={"dash": "dash", "color": "#8c959f", "shape": "hv"}), row=1, col=1)
    fig.add_trace(_line("achieved req/s", x, [i.achieved_rps for i in recorded.load], "legend",
                        line={"color": "#0969da", "shape": "hv"}), row=1, col=1)
    fig.add_trace(_line("failures/s", x, [i.failures / i.interval_s if i.interval_s > 0 else None
                                          for i in recorded.load], "legend",
                        line={"color": "#cf222e", "shape": "hv"}), row=1, col=1)
    peak = max((max(i.offered_rps, i.achieved_rps) for i in recorded.load), default=0.0)
    if peak > 0:  # headroom for the stage labels at the top of the row
        fig.update_yaxes(range=[0, peak * 1.2], row=1, col=1)


def _ipi_row(fig: go.Figure, recorded: Recorded, policy: TargetTrackingPolicy | None) -> None:
    x, y = _series(_variant_points(recorded, "InvocationsPerInstance", "Sum"))
    fig.add_trace(go.Scatter(name="InvocationsPerInstance (Sum)", x=x, y=y, mode="lines+markers",
                             line={"color": "#8250df", "shape": "hv"}, marker={"size": 5},
                             legend="legend2"), row=2, col=1)
    if policy is None:
        return
    target = policy.target_value
    lines = (("target", target, f"target {target:g} (AlarmHigh above)", "#bc4c00", "dash", 7),
             ("alarm-low", 0.9 * target, f"90 % of target = {0.9 * target:g} (AlarmLow below)",
              "#0550ae", "dot", -7))
    for name, y, label, color, dash, shift in lines:
        fig.add_hline(y=y, row=2, col=1, exclude_empty_subplots=False, name=name,
                      line={"color": color, "dash": dash, "width": 1.5})
        # Labelled in the right margin: the two lines are 10 % apart, too close to label inside.
        fig.add_annotation(xref="x2 domain", yref="y2", x=1.0, y=y, xanchor="left", yshift=shift,
                           showarrow=False, text=label, font={"size": 11, "color": color},
                           name=f"label:{name}")


def _instances_at(samples: Sequence[EndpointSample], ts: float) -> int | None:
    last = None
    for s in samples:
        if s.ts > ts:
            break
        last = s.current_instances if s.current_instances is not None else last
    return last


def _wrap(text: str, width: int = 90) -> str:
    return "<br>".join(textwrap.wrap(html.escape(text), width)) or "-"


def _instances_row(fig: go.Figure, recorded: Recorded, max_capacity: int | None) -> None:
    ep = recorded.endpoint
    x = [utc(s.ts) for s in ep]
    fig.add_trace(_line("current instances", x, [s.current_instances for s in ep], "legend3",
                        line={"color": "#1a7f37", "shape": "hv", "width": 2.5}), row=3, col=1)
    fig.add_trace(_line("desired instances", x, [s.desired_instances for s in ep], "legend3",
                        line={"color": "#bc4c00", "shape": "hv", "dash": "dash"}), row=3, col=1)
    if max_capacity is not None:
        fig.add_hline(y=max_capacity, row=3, col=1, exclude_empty_subplots=False, name="max-capacity",
                      line={"color": "#57606a", "dash": "longdash", "width": 1},
                      annotation={"text": f"max capacity {max_capacity}", "font": {"size": 11}},
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
    fig.add_trace(go.Scatter(
        name="scaling activity", x=[utc(a.start_ts) for a in acts], y=ys, mode="markers",
        marker={"size": 13, "color": "#6639ba", "line": {"width": 1, "color": "white"},
                "symbol": [ACTIVITY_SYMBOL.get(a.status_code, "circle-open") for a in acts]},
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", legend="legend3"), row=3, col=1)


def _latency_row(fig: go.Figure, recorded: Recorded) -> None:
    x = [utc(i.ts) for i in recorded.load]
    colors = {"p50": "#0969da", "p95": "#bf8700", "p99": "#cf222e"}
    for pct, color in colors.items():
        y = [getattr(i.latency_ms, pct) for i in recorded.load]
        fig.add_trace(_line(f"{pct} (client)", x, y, "legend4", line={"color": color}), row=4, col=1)
    model = _variant_points(recorded, "ModelLatency", "Average")
    if model:
        mx, my = _series(model, scale=1e-3)  # CloudWatch reports ModelLatency in microseconds
        fig.add_trace(_line("ModelLatency avg (CloudWatch)", mx, my, "legend4",
                            line={"color": "#8250df", "dash": "dot"}, mode="lines+markers"),
                      row=4, col=1)


def _x_range(recorded: Recorded, verdicts: list[Verdict]) -> tuple[float, float]:
    run = recorded.run
    ts = [run.started_ts]
    ts += [t for t in (run.ended_ts, run.load_start_ts, run.load_end_ts) if t is not None]
    ts += [i.ts + i.interval_s for i in recorded.load] + [i.ts for i in recorded.load]
    ts += [p.ts + p.period_s for p in recorded.metrics] + [s.ts for s in recorded.endpoint]
    ts += [t for a in recorded.activities for t in (a.start_ts, a.end_ts) if t is not None]
    ts += [t for s in run.stages for t in (s.start_ts, s.end_ts)]
    ts += [t for v in verdicts for t in (v.trigger_ts, v.observed_ts, v.window_start_ts, v.window_end_ts)
           if t is not None]
    lo, hi = min(ts), max(ts)
    return lo, max(hi, lo + 60.0)


def _stage_bands(fig: go.Figure, recorded: Recorded) -> None:
    for stage in recorded.run.stages:
        fig.add_shape(type="rect", xref="x", yref="y domain", x0=utc(stage.start_ts), x1=utc(stage.end_ts),
                      y0=0, y1=1, fillcolor=STAGE_FILL, line={"width": 0}, layer="below",
                      name=f"stage:{stage.name}")
        fig.add_annotation(xref="x", yref="y domain", x=utc(stage.start_ts), y=1, xanchor="left",
                           yanchor="top", showarrow=False, text=f"stage {html.escape(stage.name)}",
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


def _layout(fig: go.Figure, recorded: Recorded, n_verdicts: int, x_lo: float, x_hi: float) -> None:
    top = 40 + _LABEL_STEP_PX * n_verdicts
    fig.update_layout(template="plotly_white", height=1100 + top, margin={"t": top + 10, "l": 70,
                                                                          "r": 250, "b": 50},
                      hovermode="x", hoverlabel={"align": "left"}, font={"size": 12})
    for row, title in enumerate(ROW_TITLES, start=1):
        yaxis = fig.layout[f"yaxis{'' if row == 1 else row}"]
        d0, d1 = yaxis.domain
        if not any(len(t.x or ()) for t in fig.select_traces(row=row, col=1)):
            fig.add_annotation(xref="paper", yref="paper", x=0.5, y=(d0 + d1) / 2, showarrow=False,
                               text="no data recorded", font={"size": 13, "color": "#8c959f"},
                               name=f"empty:{row}")
        key = "legend" if row == 1 else f"legend{row}"
        fig.update_layout({key: {"x": 1.01, "xanchor": "left", "y": d1, "yanchor": "top",
                                 "bgcolor": "rgba(255,255,255,0.9)", "font": {"size": 11}}})
        fig.add_annotation(xref="paper", yref="paper", x=0, y=d1, xanchor="left", yanchor="bottom",
                           showarrow=False, text=f"<b>{title}</b>", font={"size": 12, "color": "#24292f"})
    fig.update_yaxes(rangemode="tozero", zeroline=True, zerolinecolor="#d0d7de")
    fig.update_yaxes(title_text="req/s", row=1, col=1)
    fig.update_yaxes(title_text="invocations / instance", row=2, col=1)
    fig.update_yaxes(title_text="instances", dtick=1, row=3, col=1)
    fig.update_yaxes(title_text="ms<br>(client wall clock)", row=4, col=1)
    # type="date" explicitly: with no data at all plotly.js would otherwise fall back to a linear axis.
    fig.update_xaxes(type="date", range=[utc(x_lo), utc(x_hi)], showticklabels=True,
                     tickformatstops=[{"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
                                      {"dtickrange": [60_000, 86_400_000], "value": "%H:%M"},
                                      {"dtickrange": [86_400_000, None], "value": "%b %d"}])
    fig.update_xaxes(title_text=f"endpoint time (UTC), {utc(x_lo):%Y-%m-%d}", row=4, col=1)
