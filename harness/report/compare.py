"""The comparison page of a scenario run: ``<parent>/comparison.html``, one page for every scenario.

``scalecheck run`` of a profile with ``scenarios`` leaves ``reports/<stamp>-<profile>/`` holding one run
folder per scenario; :func:`write_comparison` reads them (their streams and ``verdicts.json``) and writes
a page as self-contained as ``report.html`` (same Content-Security-Policy, plotly.js inlined, no
network) with

* a sentence stating how much sooner the fastest scenario got its first instance;
* a table with one row per scenario: its verdicts, the time to its first instance, to its peak, the
  peak, and the time back to its min capacity after the load, and a relative link to its report;
* one figure overlaying every scenario's instance curve against minutes since its first request,
  each scenario's first instance marked.

All durations are endpoint time, from each scenario's own first request (``RunInfo.first_request_ts``,
else its ``load_start_ts``): "time to first instance" ends at the first DescribeEndpoint sample with
``current_instances >= 1``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import quote

import plotly.graph_objects as go
import plotly.io as pio

from harness.record import EndpointSample, RunFolder, RunInfo, Verdict, scenario_folders
from harness.report.context import run_profile
from harness.report.html import CSP, PAGE_CSS, PLOTLY_CONFIG, fmt_duration, overall_outcome, write_text_atomic

SCENARIO_COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#9a6700", "#bf3989")

_EXTRA_CSS = """
p.lead{font-size:15px;margin:10px 0 18px;padding:10px 14px;background:#f6f8fa;border-left:4px solid #0969da}
.chip{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;margin:1px 3px 1px 0;color:#fff}
.chip.PASS{background:#1a7f37} .chip.FAIL{background:#cf222e} .chip.INCONCLUSIVE{background:#57606a}
td.num{white-space:nowrap;text-align:right} .swatch{display:inline-block;width:12px;height:12px;
border-radius:2px;margin-right:6px;vertical-align:-1px}
"""


@dataclass
class ScenarioSummary:
    """What the comparison shows of one scenario's run folder (durations in endpoint seconds)."""

    name: str
    path: Path
    run: RunInfo | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    samples: list[EndpointSample] = field(default_factory=list)
    error: str | None = None
    start_ts: float | None = None  # first request, else load start
    first_instance_s: float | None = None
    instances_at_start: int | None = None  # instances already serving at the first request
    peak_instances: int | None = None
    time_to_peak_s: float | None = None
    min_capacity: int | None = None
    back_to_min_s: float | None = None
    observed_s: float | None = None  # last sample, after the start

    @property
    def already_serving(self) -> bool:
        return bool(self.instances_at_start)


def summarize(path: Path) -> ScenarioSummary:
    """Read one scenario's run folder and compute its comparison figures; an unreadable folder gives a
    summary with ``error`` set."""
    folder = RunFolder(path)
    try:
        recorded = folder.load()
        verdicts = folder.read_verdicts()
    except (OSError, ValueError) as err:
        return ScenarioSummary(name=path.name, path=path, error=f"cannot read the run folder: {err}")
    run = recorded.run
    out = ScenarioSummary(name=run.scenario or run.run_id, path=path, run=run, verdicts=verdicts)
    profile = run_profile(recorded)
    out.min_capacity = profile.scaling.min_capacity if profile is not None else None
    out.samples = [s for s in recorded.endpoint if s.current_instances is not None]
    out.start_ts = run.first_request_ts if run.first_request_ts is not None else run.load_start_ts
    t0, samples = out.start_ts, out.samples
    if t0 is None or not samples:
        return out
    before = [s for s in samples if s.ts <= t0]
    after = [s for s in samples if s.ts > t0]
    out.observed_s = samples[-1].ts - t0
    if before and (before[-1].current_instances or 0) >= 1:
        out.instances_at_start, out.first_instance_s = before[-1].current_instances, 0.0
    else:
        first = next((s for s in after if (s.current_instances or 0) >= 1), None)
        out.first_instance_s = None if first is None else first.ts - t0
    window = ([before[-1]] if before else []) + after
    if window:
        peak = max(s.current_instances or 0 for s in window)
        out.peak_instances = peak
        peak_sample = next(s for s in window if (s.current_instances or 0) == peak)
        out.time_to_peak_s = max(0.0, peak_sample.ts - t0)
        end = run.load_end_ts
        if end is not None and out.min_capacity is not None:
            since = max(end, peak_sample.ts)
            back = next((s for s in samples if s.ts >= since and (s.current_instances or 0) <= out.min_capacity),
                        None)
            out.back_to_min_s = None if back is None else max(0.0, back.ts - end)
    return out


def difference_sentence(summaries: list[ScenarioSummary]) -> str:
    """One sentence comparing the scenarios' time to first instance (plain text)."""
    readable = [s for s in summaries if s.error is None and s.start_ts is not None]
    got = [s for s in readable if s.first_instance_s is not None]
    if not readable:
        return "No scenario has a readable run with a first request."
    if not got:
        return "No scenario got an instance within its run."

    def when(s: ScenarioSummary) -> str:
        if s.already_serving:
            return f"already had {s.instances_at_start} instance{'s' if s.instances_at_start != 1 else ''} " \
                   "at the first request"
        return f"got its first instance {fmt_duration(s.first_instance_s or 0.0)} after the first request"

    best = min(got, key=lambda s: s.first_instance_s or 0.0)
    if len(readable) == 1:
        return f"{best.name} {when(best)}."
    parts = []
    for other in readable:
        if other is best:
            continue
        if other.first_instance_s is None:
            seen = f" ({fmt_duration(other.observed_s)} observed)" if other.observed_s is not None else ""
            parts.append(f"while {other.name} got no instance within its run{seen}")
            continue
        diff = other.first_instance_s - (best.first_instance_s or 0.0)
        if diff < 1:
            parts.append(f"at the same time as {other.name}")
        else:
            parts.append(f"{fmt_duration(diff)} sooner than {other.name} ({fmt_duration(other.first_instance_s)})")
    return f"{best.name} {when(best)}, " + "; ".join(parts) + "."


def comparison_figure(summaries: list[ScenarioSummary]) -> go.Figure:
    """Every scenario's current instances against minutes since its first request, first instance marked."""
    fig = go.Figure()
    top = 1
    for i, s in enumerate(summaries):
        if s.start_ts is None or not s.samples:
            continue
        color = SCENARIO_COLORS[i % len(SCENARIO_COLORS)]
        t0 = s.start_ts
        xs = [(x.ts - t0) / 60 for x in s.samples]
        ys = [x.current_instances for x in s.samples]
        top = max([top, *(y or 0 for y in ys)])
        fig.add_trace(go.Scatter(name=s.name, x=xs, y=ys, mode="lines", line={"color": color, "shape": "hv",
                                                                              "width": 2.5},
                                 hovertemplate=f"{escape(s.name)}<br>%{{x:.1f}} min: %{{y}} instances<extra></extra>"))
        if s.first_instance_s is not None:
            m = s.first_instance_s / 60
            label = f"first instance {fmt_duration(s.first_instance_s)}"
            fig.add_trace(go.Scatter(name=f"first instance: {s.name}", x=[m], y=[1], mode="markers+text",
                                     marker={"color": color, "size": 12, "symbol": "star",
                                             "line": {"color": "white", "width": 1}},
                                     text=[escape(label)], textposition="top right",
                                     textfont={"color": color, "size": 12}, showlegend=False,
                                     hovertemplate=f"{escape(s.name)}: {escape(label)} after the first request"
                                     "<extra></extra>"))
            fig.add_vline(x=m, line={"color": color, "dash": "dot", "width": 1.5}, name=f"first-instance:{s.name}")
        if s.run is not None and s.run.load_end_ts is not None:
            fig.add_vline(x=(s.run.load_end_ts - t0) / 60, line={"color": color, "dash": "longdash", "width": 1},
                          opacity=0.5, name=f"load-end:{s.name}")
    fig.update_layout(template="plotly_white", height=460, margin={"t": 30, "l": 70, "r": 30, "b": 60},
                      hovermode="closest", legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
                      font={"size": 12})
    fig.update_xaxes(title_text="minutes since the scenario's first request (endpoint time); "
                     "long dashes: load end", rangemode="tozero", zeroline=True)
    fig.update_yaxes(title_text="current instances", rangemode="tozero", range=[0, top + 0.6],
                     **({"dtick": 1} if top <= 12 else {}))
    return fig


def _dur(seconds: float | None, missing: str = "—") -> str:
    return missing if seconds is None else fmt_duration(seconds)


def _report_link(parent: Path, s: ScenarioSummary) -> str:
    rel = os.path.relpath(s.path / "report.html", parent)
    href = "/".join(quote(part) for part in Path(rel).parts)
    missing = "" if (s.path / "report.html").exists() else ' <span class="empty">(not written yet)</span>'
    return f'<a href="{escape(href)}">{escape(Path(rel).as_posix())}</a>{missing}'


def _table(parent: Path, summaries: list[ScenarioSummary]) -> str:
    head = ("<tr><th>Scenario</th><th>Verdicts</th><th>Time to first instance</th><th>Time to peak</th>"
            "<th>Peak instances</th><th>Back to min capacity after the load</th><th>Report</th></tr>")
    rows = []
    for i, s in enumerate(summaries):
        swatch = f'<span class="swatch" style="background:{SCENARIO_COLORS[i % len(SCENARIO_COLORS)]}"></span>'
        if s.error is not None or s.run is None:
            rows.append(f'<tr class="scenario"><td>{swatch}<b>{escape(s.name)}</b></td>'
                        f'<td colspan="5" class="empty">{escape(s.error or "unreadable")}</td>'
                        f"<td>{_report_link(parent, s)}</td></tr>")
            continue
        run = s.run
        desc = ""
        profile_desc = str(run.profile.get("description") or "").strip() if isinstance(run.profile, dict) else ""
        if profile_desc:
            desc = f'<br><span class="sub">{escape(profile_desc)}</span>'
        if run.status != "complete":
            desc += f'<br><span class="empty">run {escape(run.status)}' + (
                f": {escape(run.status_reason)}" if run.status_reason else "") + "</span>"
        chips = "".join(f'<span class="chip {v.status}" title="{escape(v.summary)}">{v.status} {escape(v.name)}'
                        "</span>" for v in s.verdicts) or '<span class="empty">no verdicts</span>'
        outcome = overall_outcome(s.verdicts)
        if s.start_ts is None:
            first = "— (no first request recorded)"
        elif s.already_serving:
            first = f"0s (already {s.instances_at_start} at the first request)"
        else:
            first = _dur(s.first_instance_s, "none within the run")
        back = "—" if s.min_capacity is None else _dur(s.back_to_min_s, "not within the run")
        rows.append(
            f'<tr class="scenario" data-scenario="{escape(s.name)}"><td>{swatch}<b>{escape(s.name)}</b> '
            f'<span class="chip {outcome}">{outcome}</span>{desc}</td><td>{chips}</td>'
            f'<td class="num first-instance">{escape(first)}</td><td class="num">{escape(_dur(s.time_to_peak_s))}</td>'
            f'<td class="num">{"—" if s.peak_instances is None else s.peak_instances}</td>'
            f'<td class="num">{escape(back)}'
            f'{"" if s.min_capacity is None else f" (to {s.min_capacity})"}</td>'
            f"<td>{_report_link(parent, s)}</td></tr>")
    return f'<table class="comparison">{head}{"".join(rows)}</table>'


def _profile_name(parent: Path, summaries: list[ScenarioSummary]) -> str:
    index = parent / "scenarios.json"
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("profile")
        if isinstance(name, str) and name:
            return name
    except (OSError, ValueError, AttributeError):
        pass
    for s in summaries:
        if s.run is not None:
            suffix = f"-{s.run.scenario}" if s.run.scenario else ""
            return s.run.profile_name.removesuffix(suffix) if suffix else s.run.profile_name
    return parent.name


def render_comparison(parent: Path, run_dirs: list[Path]) -> str:
    """The comparison page of the scenario run folders ``run_dirs`` (links relative to ``parent``)."""
    summaries = [summarize(Path(d)) for d in run_dirs]
    profile = _profile_name(parent, summaries)
    fig = comparison_figure(summaries)
    plot = pio.to_html(fig, include_plotlyjs=True, full_html=False, config=PLOTLY_CONFIG, div_id="comparison",
                       default_height=f"{fig.layout.height}px")
    title = f"scalecheck comparison: {profile}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{PAGE_CSS}{_EXTRA_CSS}</style></head>
<body>
<h1>{escape(profile)} — {len(summaries)} scenario{'s' if len(summaries) != 1 else ''}</h1>
<p class="sub">scalecheck comparison · durations are endpoint time from each scenario's first request
(its load start when no first request was recorded) · time to first instance ends at the first DescribeEndpoint
sample with at least one current instance</p>
<p class="lead" id="difference">{escape(difference_sentence(summaries))}</p>
<h2>Scenarios</h2>
{_table(parent, summaries)}
<h2>Instances</h2>
<p class="sub">Current instances of every scenario; stars and dotted lines: first instance; long dashes: end of
the load. Hover for values; drag to zoom, double-click to reset.</p>
{plot}
</body></html>
"""


def write_comparison(parent: Path, run_dirs: list[Path]) -> Path:
    """Write ``parent/comparison.html`` comparing the scenario run folders ``run_dirs``; returns its path."""
    parent = Path(parent)
    path = parent / "comparison.html"
    write_text_atomic(path, render_comparison(parent, [Path(d) for d in run_dirs]))
    return path


def write_comparison_of(parent: Path) -> Path:
    """Rewrite ``comparison.html`` of a scenarios parent folder from the run folders its index names."""
    return write_comparison(Path(parent), [f for _n, f in scenario_folders(parent)])
