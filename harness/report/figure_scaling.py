"""The timeline's rows of what scaling did (pure, no I/O): alarm states and instance counts.

:func:`alarm_row` draws one band per alarm (first recorded on top), one trace per state so that the
legend is the colour key (:data:`ALARM_COLOR`; a state outside it is drawn as ``INSUFFICIENT_DATA``);
the last recorded state holds until the end of the observation; no alarm states, no bands.
:func:`instances_row` draws the current and desired instance counts as steps, the capacity bounds, one
marker per scaling activity at its start, one line per scheduled action (``scheduled:<action>``) and,
from ``run.json``, the predicted current instance count (:func:`predicted_steps`: ``(ts, count)`` steps in
endpoint epoch seconds, empty without a usable prediction).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go

from harness.profile import Profile
from harness.record import EndpointSample, Recorded
from harness.report.context import (
    alarm_intervals,
    alarm_policies,
    capacity_bounds,
    comparison_symbol,
    ellipsize,
    scheduled_marks,
    short_alarm_name,
)
from harness.report.figure_traces import Axes, legend_of, plot, trace, utc

ALARM_COLOR = {"OK": "#2da44e", "ALARM": "#cf222e", "INSUFFICIENT_DATA": "#afb8c1"}
ACTIVITY_SYMBOL = {"Successful": "diamond", "Failed": "x", "Unfulfilled": "x"}
SCHEDULED_COLOR = "#9a6700"


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


def alarm_row(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: Axes,
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
        plot(fig, go.Scatter(name=state, x=xs[state], y=ys[state], mode="lines", legend=legend_of(ax),
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


def instances_row(fig: go.Figure, recorded: Recorded, profile: Profile | None, ax: Axes,
                  x_lo: float, x_hi: float) -> None:
    ep, legend = recorded.endpoint, legend_of(ax)
    x = [utc(s.ts) for s in ep]
    plot(fig, trace("current instances", x, [s.current_instances for s in ep], legend,
                    line={"color": "#1a7f37", "shape": "hv", "width": 2.5}), ax)
    predicted = predicted_steps(recorded, x_hi)
    if predicted:
        plot(fig, trace("predicted current", [utc(t) for t, _ in predicted], [n for _, n in predicted], legend,
                        line={"color": "#8250df", "shape": "hv", "dash": "dot", "width": 2},
                        hovertemplate="predicted %{y} instances<extra></extra>"), ax)
    plot(fig, trace("desired instances", x, [s.desired_instances for s in ep], legend,
                    line={"color": "#bc4c00", "shape": "hv", "dash": "dash"}), ax)
    marks = scheduled_marks(recorded, profile, x_lo, x_hi)
    if profile is not None:
        lows, highs = capacity_bounds(profile, marks, x_lo)
        if len(lows) > 1 or len(highs) > 1:  # scheduled actions change the bounds: draw them as steps
            for name, steps, color, dash in (("min capacity", lows, "#0550ae", "dashdot"),
                                             ("max capacity", highs, "#57606a", "longdash")):
                sx = [utc(t) for t, _ in steps] + [utc(x_hi)]
                sy = [v for _, v in steps] + [steps[-1][1]]
                plot(fig, trace(name, sx, sy, legend, line={"color": color, "shape": "hv", "dash": dash,
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
    plot(fig, go.Scatter(
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
