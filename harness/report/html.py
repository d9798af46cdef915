"""The HTML report: one self-contained page per run folder.

:func:`render_html` returns the page as a string; :func:`write_report` writes it to
``<folder>/report.html``. The page works offline and makes no network request: plotly.js is inlined,
there are no external scripts, styles, fonts or images, and a Content-Security-Policy ``<meta>``
forbids any fetch even if a future plotly.js tried one. Every text taken from the folder is escaped.
The run's status says why it ended early (aborted, invalid, stopped by a stop condition or the cost cap)
and ``cost.json``, when present, is shown as a short cost row (:mod:`harness.report.cost`). The page holds
what the folder holds — no credentials, no environment data; the emulator's
``endpoint_url`` and the resolved profile are deliberately left out (the profile may name an IAM role
or an S3 location; the user's expectation text is quoted per verdict).

Times are endpoint time (docs/architecture.md "Time"), shown in UTC; verdict times are shown relative to the
verdict's trigger (``T+9m00s``).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import plotly.io as pio

from harness.profile import Profile, StepPolicy, TargetTrackingPolicy
from harness.record import Recorded, RunFolder, RunInfo, Verdict
from harness.report.context import adjustment_text, comparison_symbol, run_profile
from harness.report.cost import cost_lines, read_cost
from harness.report.figures import timeline_figure

# plotly.js offers a "Share chart..." button that uploads the chart to Plotly Cloud: a report must
# never send its data anywhere, so the button is off and its upload URL empty.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False, "plotlyServerURL": "",
                 "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendChartToCloud"],
                 "toImageButtonOptions": {"format": "png", "scale": 1}}
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")

PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px 32px;
color:#24292f;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin:0 0 14px;font-size:13px}
.badge{display:inline-block;padding:2px 9px;border-radius:12px;font-size:13px;font-weight:600;
color:#fff;vertical-align:middle;margin-left:6px}
.badge.prediction{background:#8250df} .badge.PASS{background:#1a7f37} .badge.FAIL{background:#cf222e}
.badge.INCONCLUSIVE{background:#57606a}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:3px 16px;margin:0;font-size:14px}
dl.meta dt{color:#57606a} dl.meta dd{margin:0}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.status{font-weight:700;white-space:nowrap} td.t{white-space:nowrap}
tr.PASS td.status{color:#1a7f37} tr.FAIL td.status{color:#cf222e} tr.INCONCLUSIVE td.status{color:#57606a}
code{font-size:12px;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.empty{color:#57606a;font-style:italic} table.data{width:auto}
"""


def overall_outcome(verdicts: list[Verdict]) -> str:
    """FAIL if any verdict failed, else INCONCLUSIVE if any was (or there are none), else PASS."""
    statuses = {v.status for v in verdicts}
    if "FAIL" in statuses:
        return "FAIL"
    if "INCONCLUSIVE" in statuses or not verdicts:
        return "INCONCLUSIVE"
    return "PASS"


def fmt_utc(ts: float | None) -> str:
    """``2026-11-21 19:40:30 UTC`` (``—`` when unknown)."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: float) -> str:
    """``45s``, ``9m00s``, ``1h02m03s`` (rounded to the second; negative with ``−``)."""
    sign, s = ("−" if seconds < 0 else ""), round(abs(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{sign}{h}h{m:02d}m{sec:02d}s"
    return f"{sign}{m}m{sec:02d}s" if m else f"{sign}{sec}s"


def fmt_rel(ts: float | None, trigger_ts: float | None) -> str:
    """``ts`` as ``T+…`` after the trigger, or as UTC when there is no trigger."""
    if ts is None:
        return "—"
    if trigger_ts is None:
        return fmt_utc(ts)
    delta = ts - trigger_ts
    return f"T{'+' if delta >= 0 else ''}{fmt_duration(delta)}"


def _step_range(threshold: float, lower: float | None, upper: float | None) -> str:
    """A step's metric interval: lower bound inclusive above the threshold, upper inclusive below it."""
    below = upper is not None and upper <= 0
    lo = "−∞" if lower is None else f"{threshold + lower:g}"
    hi = "+∞" if upper is None else f"{threshold + upper:g}"
    return f"{'(' if below or lower is None else '['}{lo}, {hi}{']' if below else ')'}"


def _policy_line(policy: TargetTrackingPolicy | StepPolicy) -> str:
    if isinstance(policy, TargetTrackingPolicy):
        return (f"target tracking “{policy.name}”: {policy.metric_label} target {policy.target_value:g}, "
                f"cooldowns out {fmt_duration(policy.scale_out_cooldown_s)} / "
                f"in {fmt_duration(policy.scale_in_cooldown_s)}"
                + (", scale-in disabled" if policy.disable_scale_in else ""))
    a = policy.alarm
    steps = ", ".join(f"{_step_range(a.threshold, s.lower, s.upper)} {adjustment_text(policy, s.adjustment)}"
                      for s in sorted(policy.steps, key=lambda s: -float("inf") if s.lower is None else s.lower))
    of = a.datapoints_to_alarm or a.evaluation_periods
    return (f"step “{policy.name}”: alarm {policy.alarm_name} when {a.name} {a.statistic} "
            f"{comparison_symbol(a.comparison)} {a.threshold:g} for {of} of {a.evaluation_periods} × "
            f"{fmt_duration(a.period_s)}; steps {steps}; cooldown {fmt_duration(policy.cooldown_s)}")


def scaling_lines(profile: Profile) -> list[str]:
    """The scaling setup in words: capacity, then one line per policy and per scheduled action."""
    s = profile.scaling
    lines = [f"capacity {s.min_capacity}…{s.max_capacity}"
             + (f", {s.start_capacity} instance(s) before the load" if s.start_capacity is not None else "")]
    lines += [_policy_line(p) for p in s.policies]
    for a in s.scheduled_actions:
        bounds = ", ".join(f"{k} {v}" for k, v in (("min", a.min_capacity), ("max", a.max_capacity)) if v is not None)
        lines.append(f"scheduled “{a.name}”: {a.schedule or a.at} → {bounds}")
    if not s.applies:
        lines.append("(apply: false — the endpoint's existing setup was left as it was)")
    return lines


def _meta(run: RunInfo, verdicts: list[Verdict], recorded: Recorded) -> str:
    prediction = run.kind == "prediction"
    if prediction:
        mode = "prediction — simulated by the autoscaling model; no request was sent"
    else:
        mode = "local emulator" if run.mode == "local" else "AWS"
    if prediction:
        speed = "virtual time (simulated)"
    elif run.speed != 1:
        speed = f"endpoint time ran {run.speed:g}× faster than wall time"
    else:
        speed = "real time (endpoint time is wall time)"
    status = run.status
    if run.status == "aborted":
        status = f"aborted — {run.status_reason or 'no reason recorded'}"
    elif run.status == "invalid":
        status = f"invalid load, the verdicts cannot be trusted — {run.status_reason or 'no reason recorded'}"
    elif run.status == "stopped":
        status = f"stopped early — {run.status_reason or 'no reason recorded'}"
    elif run.status == "running":
        status = "did not finish (status still ‘running’: the folder may be incomplete)"
    outcome = overall_outcome(verdicts)
    counts = Counter(v.status for v in verdicts)
    tally = ", ".join(f"{counts[s]} {s}" for s in ("PASS", "FAIL", "INCONCLUSIVE") if counts[s])
    profile = run_profile(recorded)
    endpoint = f"{run.endpoint_name} / {run.variant_name}"
    if profile is not None and profile.endpoint.is_async:
        endpoint += " (asynchronous endpoint)"
    rows: list[tuple[str, str | list[str]]] = [
        ("Mode", mode), ("Speed", speed), ("Endpoint / variant", endpoint), ("Region", run.region),
    ]
    if run.scenario:
        rows.append(("Scenario", run.scenario))
    if profile is not None:
        source = {"live": ["the endpoint's own setup, read live and verified; the run changed nothing"],
                  "profile": ["the profile's, put on the endpoint for the run"]}
        rows.append(("Scaling", source.get(run.scaling_source or "", []) + scaling_lines(profile)))
    rows += [
        ("Started", fmt_utc(run.started_ts)), ("Ended", fmt_utc(run.ended_ts)),
        ("Load", f"{fmt_utc(run.load_start_ts)} → {fmt_utc(run.load_end_ts)}"),
        ("Run status", status),
    ]
    if recorded.problems:
        shown = recorded.problems[:10] + ([f"… and {len(recorded.problems) - 10} more"]
                                          if len(recorded.problems) > 10 else [])
        rows.append(("Unreadable lines", shown))
    cost = read_cost(recorded.path)
    if cost is not None:
        rows.append(("Cost", cost_lines(cost)))
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v) if isinstance(v, str) else '<br>'.join(map(escape, v))}</dd>"
                   for k, v in rows)
    body += (f'<dt>Outcome</dt><dd><span class="badge {outcome}" id="outcome">{outcome}</span> '
             f"{escape(tally or 'no verdicts recorded')}</dd>")
    return f'<dl class="meta">{body}</dl>'


def _verdict_table(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return '<p class="empty">No verdicts: verdicts.json is missing or empty.</p>'
    head = ("<tr><th>Status</th><th>Expectation</th><th>Summary</th><th>Trigger</th>"
            "<th>Observed</th><th>Window</th></tr>")
    rows = []
    for v in verdicts:
        source = f"<br><code>{escape(v.source)}</code>" if v.source else ""
        window = (f"{fmt_rel(v.window_start_ts, v.trigger_ts)} … {fmt_rel(v.window_end_ts, v.trigger_ts)}"
                  if v.window_start_ts is not None or v.window_end_ts is not None else "—")
        if v.details.get("window") == "auto":
            predicted, slack = v.details.get("predicted_s"), v.details.get("slack_s")
            auto = ("auto: predicted " + (f"T+{fmt_duration(predicted)}" if predicted is not None else "—")
                    + (f" + {fmt_duration(slack)} slack" if slack is not None else ""))
            window = auto if window == "—" else f"{window} ({auto})"
        rows.append(
            f'<tr class="{v.status}"><td class="status">{v.status}</td>'
            f"<td><b>{escape(v.name)}</b>{source}</td><td>{escape(v.summary)}</td>"
            f'<td class="t">{escape(fmt_utc(v.trigger_ts))}</td>'
            f'<td class="t">{escape(fmt_rel(v.observed_ts, v.trigger_ts))}</td>'
            f'<td class="t">{escape(window)}</td></tr>')
    return f'<table class="verdicts">{head}{"".join(rows)}</table>'


def _span(ts: list[float]) -> str:
    return f"{fmt_utc(min(ts))} → {fmt_utc(max(ts))}" if ts else "—"


def _data_section(recorded: Recorded, verdicts: list[Verdict]) -> str:
    rows = [
        ("load.jsonl", "load intervals", len(recorded.load), _span([x.ts for x in recorded.load])),
        ("metrics.jsonl", "CloudWatch datapoints", len(recorded.metrics),
         _span([x.ts for x in recorded.metrics])),
        ("endpoint.jsonl", "DescribeEndpoint samples", len(recorded.endpoint),
         _span([x.ts for x in recorded.endpoint])),
        ("activities.jsonl", "scaling activities", len(recorded.activities),
         _span([x.start_ts for x in recorded.activities])),
        ("alarms.jsonl", "alarm samples", len(recorded.alarms), _span([x.ts for x in recorded.alarms])),
        ("events.jsonl", "run events", len(recorded.events), _span([x.ts for x in recorded.events])),
        ("verdicts.json", "verdicts", len(verdicts), ""),
    ]
    body = "".join(f"<tr><td><code>{f}</code></td><td>{escape(what)}</td><td>{n}</td>"
                   f"<td>{escape(span)}</td></tr>" for f, what, n, span in rows)
    per_metric = Counter(f"{p.metric} ({p.stat}, {p.period_s}s)" for p in recorded.metrics)
    metrics = ", ".join(f"{escape(k)}: {n}" for k, n in sorted(per_metric.items())) or "none"
    versions = ", ".join(f"{escape(k)} {escape(v)}" for k, v in sorted(recorded.run.versions.items())) or "—"
    return (f'<table class="data"><tr><th>File</th><th>Records</th><th>Count</th><th>Span (UTC)</th></tr>'
            f"{body}</table><p class=\"sub\">Metrics: {metrics}</p>"
            f'<p class="sub">Schema {recorded.run.schema_version}; versions: {versions}</p>')


def render_html(recorded: Recorded, verdicts: list[Verdict]) -> str:
    """The report page of one run as a self-contained HTML document (UTF-8 text)."""
    run = recorded.run
    prediction = run.kind == "prediction"
    badge = ('<span class="badge prediction" id="prediction">PREDICTION (simulated)</span>'
             if prediction else "")
    outcome = overall_outcome(verdicts)
    fig = timeline_figure(recorded, verdicts)
    plot = pio.to_html(fig, include_plotlyjs=True, full_html=False, config=PLOTLY_CONFIG,
                       div_id="timeline", default_height=f"{fig.layout.height}px")
    title = f"{'PREDICTION — ' if prediction else ''}scalecheck: {run.profile_name} — {run.run_id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{PAGE_CSS}</style></head>
<body>
<h1>{escape(run.profile_name)} {badge}<span class="badge {outcome}">{outcome}</span></h1>
<p class="sub">scalecheck report · run <code>{escape(run.run_id)}</code> ·
all times are endpoint time (UTC)</p>
{_meta(run, verdicts, recorded)}
<h2>Verdicts</h2>
{_verdict_table(verdicts)}
<h2>Timeline</h2>
<p class="sub">Shaded: expectation windows (green PASS, red FAIL, grey INCONCLUSIVE); dashed verticals: when
each was observed; blue band: traffic stages. Alarm states: one band per alarm (green OK, red ALARM, grey
INSUFFICIENT_DATA; hover for the full alarm name). Dash-dotted verticals on the instances row: scheduled actions;
dotted purple steps there: the predicted instance count (when the run simulated its profile, <code>prediction/</code>).
Hover for values; drag to zoom, double-click to reset.</p>
{plot}
<h2>Data</h2>
{_data_section(recorded, verdicts)}
</body></html>
"""


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(folder: RunFolder) -> Path:
    """Render ``folder`` (its streams and ``verdicts.json``) into ``report.html``; returns its path."""
    path = folder.path / "report.html"
    write_text_atomic(path, render_html(folder.load(), folder.read_verdicts()))
    return path
