"""harness.report: the timeline figure, the HTML page and the JUnit XML, on synthetic run folders."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline
import pytest

from harness.record import Recorded, RunFolder, Verdict, VerdictStatus
from harness.report.figure_traces import utc
from harness.report.figures import WINDOW_FILL, timeline_figure
from harness.report.html import fmt_duration, fmt_rel, overall_outcome, render_html, write_report
from harness.report.junit import junit_xml, write_junit
from tests import fixtures_runs as fx

ALL_STATUSES: dict[str, VerdictStatus] = {
    fx.NAMES[0]: "PASS", fx.NAMES[1]: "INCONCLUSIVE", fx.NAMES[2]: "FAIL"}


@pytest.fixture
def folder(tmp_path: Path) -> RunFolder:
    return fx.scale_out_in_run(tmp_path, status=ALL_STATUSES)


@pytest.fixture
def recorded(folder: RunFolder) -> Recorded:
    return folder.load()


def _fig(folder: RunFolder) -> go.Figure:
    return timeline_figure(folder.load(), folder.read_verdicts())


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def _shapes(fig: go.Figure, prefix: str) -> list[go.layout.Shape]:
    return [s for s in fig.layout.shapes if (s.name or "").startswith(prefix)]


def _row(fig: go.Figure, key: str, axis: str = "y") -> str:
    """The axis reference (``y3``, ``x3``) of a timeline row, from ``layout.meta["rows"]``."""
    return fig.layout.meta["rows"][key][axis]


def _last_xaxis(fig: go.Figure) -> go.layout.XAxis:
    last = max(r["row"] for r in fig.layout.meta["rows"].values())
    return fig.layout[f"xaxis{last}"]


# --- figure ---------------------------------------------------------------------------------------

def test_figure_has_every_trace_by_name(folder: RunFolder) -> None:
    names = [t.name for t in _fig(folder).data]
    assert names == ["offered req/s", "achieved req/s", "failures/s", "InvocationsPerInstance (Sum)",
                     "OK", "ALARM", "INSUFFICIENT_DATA",
                     "current instances", "desired instances", "scaling activity", "p50 (client)",
                     "p95 (client)", "p99 (client)", "ModelLatency avg (CloudWatch)"]


def test_traces_sit_on_their_rows(folder: RunFolder) -> None:
    fig = _fig(folder)
    assert list(fig.layout.meta["rows"]) == ["load", "ipi", "alarms", "instances", "latency"]
    rows = {t.name: t.yaxis for t in fig.data}
    assert rows["achieved req/s"] == "y" and rows["InvocationsPerInstance (Sum)"] == "y2"
    assert rows["ALARM"] == "y3" and rows["scaling activity"] == "y4" and rows["p99 (client)"] == "y5"
    assert {t.xaxis for t in fig.data} <= {"x", "x2", "x3", "x4", "x5"}
    assert all(fig.layout[f"xaxis{n}"].matches == "x5" for n in ("", "2", "3", "4"))


def test_load_row_values(folder: RunFolder) -> None:
    fig = _fig(folder)
    assert list(_trace(fig, "offered req/s").y) == [2.0] * 25
    failures = list(_trace(fig, "failures/s").y)
    assert failures[1] == pytest.approx(0.1) and failures[0] == 0  # 1 failure in a 10 s interval
    assert _trace(fig, "achieved req/s").x[0] == utc(fx.LOAD_START)


def test_target_and_alarm_low_lines_at_the_policy_values(folder: RunFolder) -> None:
    fig = _fig(folder)
    (target,) = _shapes(fig, "target:InvocationsPerInstance-target-10")
    (low,) = _shapes(fig, "alarm-low:InvocationsPerInstance-target-10")
    assert (target.y0, target.y1, target.yref) == (10, 10, "y2")
    assert (low.y0, low.y1, low.yref) == (pytest.approx(9.0), pytest.approx(9.0), "y2")
    labels = {a.name: a.text for a in fig.layout.annotations if a.name}
    assert labels["label:target:InvocationsPerInstance-target-10"] == "target 10 (AlarmHigh above)"
    assert labels["label:alarm-low:InvocationsPerInstance-target-10"].startswith("90 % of target = 9")


def test_instances_are_steps_with_max_capacity_and_activity_markers(folder: RunFolder) -> None:
    fig = _fig(folder)
    assert _trace(fig, "current instances").line.shape == "hv"
    assert _trace(fig, "desired instances").line.shape == "hv"
    assert {v for v in _trace(fig, "current instances").y} == {1, 4}
    (cap,) = _shapes(fig, "max-capacity")
    assert (cap.y0, cap.yref, cap.line.dash) == (4, _row(fig, "instances"), "longdash")
    assert "min capacity" not in [t.name for t in fig.data]  # no scheduled action changes the bounds
    acts = _trace(fig, "scaling activity")
    assert list(acts.x) == [utc(fx.SCALE_OUT_TS), utc(fx.SCALE_IN_TS)]
    assert list(acts.y) == [4, 1]
    assert "Setting desired instance count to 4." in acts.hovertext[0]
    assert "AlarmHigh" in acts.hovertext[0] and "end: 19:49:30 UTC" in acts.hovertext[0]


def test_model_latency_is_converted_to_ms(folder: RunFolder) -> None:
    y = list(_trace(_fig(folder), "ModelLatency avg (CloudWatch)").y)
    assert y[0] == pytest.approx(4.2)


def test_windows_are_shaded_by_status_with_observed_lines(folder: RunFolder) -> None:
    fig = _fig(folder)
    windows = {s.name: s for s in _shapes(fig, "window:")}
    assert set(windows) == {f"window:{n}" for n in fx.NAMES}
    for name, status in ALL_STATUSES.items():
        shape = windows[f"window:{name}"]
        assert shape.fillcolor == WINDOW_FILL[status]
        assert (shape.yref, shape.y0, shape.y1, shape.layer) == ("paper", 0, 1, "below")
    assert windows[f"window:{fx.NAMES[0]}"].x0 == utc(fx.LOAD_START)
    assert windows[f"window:{fx.NAMES[0]}"].x1 == utc(fx.LOAD_START + 720)
    observed = {s.name: s.x0 for s in _shapes(fig, "observed:")}
    assert observed == {f"observed:{fx.NAMES[0]}": utc(fx.SCALE_OUT_DONE),
                        f"observed:{fx.NAMES[1]}": utc(fx.SCALE_IN_DONE)}
    labels = [a.text for a in fig.layout.annotations if (a.name or "").startswith("label:scale")]
    assert labels == ["<b>PASS</b> scale_out to 4", "<b>INCONCLUSIVE</b> scale_in to 1"]
    assert [s.name for s in _shapes(fig, "stage:")] == ["stage:stress"]
    assert not [a for a in fig.layout.annotations if (a.name or "").startswith("empty:")]


def test_empty_aborted_run_still_draws(tmp_path: Path) -> None:
    folder = fx.empty_aborted_run(tmp_path)
    fig = _fig(folder)
    assert all(len(t.x or ()) == 0 for t in fig.data)
    assert "ModelLatency avg (CloudWatch)" not in [t.name for t in fig.data]
    assert _last_xaxis(fig).range[0] == utc(fx.T0) and _last_xaxis(fig).type == "date"
    empty = [a.name for a in fig.layout.annotations if (a.name or "").startswith("empty:")]
    assert empty == ["empty:load", "empty:ipi", "empty:alarms", "empty:instances", "empty:latency"]
    fig.to_json()  # serialisable, i.e. renderable


def test_unparseable_profile_omits_the_policy_lines(tmp_path: Path) -> None:
    folder = fx.scale_out_in_run(tmp_path, profile={"name": "from-an-older-schema"})
    fig = _fig(folder)
    assert not _shapes(fig, "target") and not _shapes(fig, "max-capacity")
    assert "<dt>Scaling</dt>" not in render_html(folder.load(), [])


def test_verdicts_without_windows_or_times(recorded: Recorded) -> None:
    bare = [Verdict(name="no data", kind="scale_out", status="INCONCLUSIVE", summary="no samples"),
            Verdict(name="open", kind="scale_in", status="FAIL", summary="x", window_start_ts=fx.LOAD_END)]
    fig = timeline_figure(recorded, bare)
    (window,) = _shapes(fig, "window:")
    assert window.name == "window:open" and window.x1 == _last_xaxis(fig).range[1]


# --- HTML -----------------------------------------------------------------------------------------

def test_html_is_self_contained(recorded: Recorded, folder: RunFolder) -> None:
    page = render_html(recorded, folder.read_verdicts())
    plotly_js = plotly.offline.get_plotlyjs()
    assert page.count(plotly_js) == 1, "plotly.js must be inlined exactly once"
    rest = page.replace(plotly_js, "")
    assert not re.search(r"<script[^>]*\bsrc\s*=", rest, re.I)
    assert not re.search(r"<link\b|@import|url\(|<img\b|<iframe\b", rest, re.I)
    assert "http://" not in rest and "https://" not in rest, "no URL outside plotly.js's own inert strings"
    assert "Content-Security-Policy" in rest and "connect-src 'none'" in html.unescape(rest)
    assert "127.0.0.1" not in page  # the emulator's endpoint_url is not reported


def test_html_header(recorded: Recorded, folder: RunFolder) -> None:
    page = render_html(recorded, folder.read_verdicts())
    assert ("<title>scalecheck: realtime-target-tracking — "
            "20261121T194000Z-realtime-target-tracking</title>") in page
    for text in ("local emulator", "endpoint time ran 30× faster than wall time",
                 "xgboost-abalone / AllTraffic", "us-east-1", "2026-11-21 19:40:00 UTC",
                 "2026-11-21 20:03:00 UTC", "<dd>complete</dd>",
                 'id="outcome">FAIL</span> 1 PASS, 1 FAIL, 1 INCONCLUSIVE'):
        assert text in page, text
    assert "PREDICTION (simulated)" not in page


def test_html_on_aws_in_real_time(tmp_path: Path) -> None:
    folder = fx.scale_out_in_run(tmp_path, mode="aws", speed=1.0, clock=None)
    page = render_html(folder.load(), folder.read_verdicts())
    assert "<dd>AWS</dd>" in page and "faster than wall time" not in page


def test_html_prediction_has_a_badge(tmp_path: Path) -> None:
    folder = fx.scale_out_in_run(tmp_path, kind="prediction")
    page = render_html(folder.load(), folder.read_verdicts())
    assert '<span class="badge prediction" id="prediction">PREDICTION (simulated)</span>' in page
    assert "<title>PREDICTION — " in page and 'class="main-svg"' not in page  # rendering is the browser's


def test_html_verdict_table_times_are_relative_to_the_trigger(recorded: Recorded, folder: RunFolder) -> None:
    page = render_html(recorded, folder.read_verdicts())
    row = re.search(r'<tr class="PASS">.*?</tr>', page, re.S)
    assert row is not None
    assert "scale_out to 4" in row[0] and "{type: scale_out, to: 4, within: 12m, after: load_start}" in row[0]
    assert "2026-11-21 19:40:30 UTC" in row[0] and "T+9m00s" in row[0] and "T+0s … T+12m00s" in row[0]


def test_html_escapes_everything(recorded: Recorded) -> None:
    evil = Verdict(name="<img src=x onerror=alert(1)>", kind="x", status="FAIL",
                   summary="</script><script>alert(2)</script>", source='"quoted" & <b>')
    page = render_html(recorded, [evil])
    assert "<img src=x" not in page and "<script>alert(2)" not in page and "<b>\n" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&quot;quoted&quot; &amp; &lt;b&gt;" in page


def test_html_of_an_empty_aborted_run(tmp_path: Path) -> None:
    page = render_html(fx.empty_aborted_run(tmp_path).load(), [])
    assert "aborted — interrupted (SIGINT) before the load started" in page
    assert 'id="outcome">INCONCLUSIVE</span> no verdicts recorded' in page
    assert "No verdicts" in page and "<dd>—</dd>" in page  # no end time


def test_write_report(folder: RunFolder) -> None:
    path = write_report(folder)
    assert path == folder.path / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("seconds", "text"), [
    pytest.param(0, "0s", id="zero"), pytest.param(45.4, "45s", id="seconds"),
    pytest.param(540, "9m00s", id="minutes"), pytest.param(3723, "1h02m03s", id="hours"),
    pytest.param(-30, "−30s", id="negative"),
])
def test_fmt_duration(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_fmt_rel() -> None:
    assert fmt_rel(130.0, 100.0) == "T+30s" and fmt_rel(70.0, 100.0) == "T−30s"
    assert fmt_rel(None, 100.0) == "—" and fmt_rel(0.0, None) == "1970-01-01 00:00:00 UTC"


@pytest.mark.parametrize(("statuses", "outcome"), [
    pytest.param(["PASS", "PASS"], "PASS", id="all-pass"),
    pytest.param(["PASS", "INCONCLUSIVE"], "INCONCLUSIVE", id="inconclusive"),
    pytest.param(["INCONCLUSIVE", "FAIL"], "FAIL", id="fail-wins"),
    pytest.param([], "INCONCLUSIVE", id="no-verdicts-is-not-a-pass"),
])
def test_overall_outcome(statuses: list[VerdictStatus], outcome: str) -> None:
    verdicts = [Verdict(name=str(i), kind="k", status=s, summary="") for i, s in enumerate(statuses)]
    assert overall_outcome(verdicts) == outcome


# --- JUnit ----------------------------------------------------------------------------------------

def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    (suite,) = root
    return suite


@pytest.mark.parametrize(("status", "counts"), [
    pytest.param({}, ("3", "1", "0"), id="default-one-fail"),
    pytest.param(ALL_STATUSES, ("3", "1", "1"), id="inconclusive-is-an-error"),
    pytest.param({n: "PASS" for n in fx.NAMES}, ("3", "0", "0"), id="all-pass"),
])
def test_junit_counts(status: dict[str, VerdictStatus], counts: tuple[str, str, str]) -> None:
    suite = _suite(junit_xml(fx.run_info(), fx.verdicts(status)))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == counts
    assert len(suite.findall("testcase")) == int(counts[0])
    assert len(suite.findall("testcase/failure")) == int(counts[1])
    assert len(suite.findall("testcase/error")) == int(counts[2])
    assert suite.get("skipped") == "0"


def test_junit_testcases_carry_evidence() -> None:
    suite = _suite(junit_xml(fx.run_info(), fx.verdicts(ALL_STATUSES)))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == list(fx.NAMES)
    assert all(c.get("classname") == "scalecheck.realtime-target-tracking" for c in cases.values())
    failure = cases[fx.NAMES[2]].find("failure")
    assert failure is not None and failure.get("message") == "8 of 488 requests failed (1.64 %) > max 1 %"
    error = cases[fx.NAMES[1]].find("error")
    assert error is not None and error.get("type") == "inconclusive"
    assert error.get("message", "").startswith("INCONCLUSIVE: ")
    assert "trigger +1050s" in (error.text or "")  # observed 17m30s after load_end
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["speed"] == "30" and props["mode"] == "local" and props["status"] == "complete"


def test_junit_aborted_run_is_an_error_and_text_is_cleaned() -> None:
    weird = Verdict(name="bell\x07 <&>", kind="k", status="PASS", summary="ok\x00")
    run = fx.run_info(status="aborted", status_reason="collector lost the endpoint")
    suite = _suite(junit_xml(run, [weird]))
    assert (suite.get("tests"), suite.get("errors")) == ("2", "1")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["bell <&>", "run"]
    error = suite.find("testcase[@name='run']/error")
    assert error is not None and error.get("type") == "aborted"
    assert error.get("message") == "run aborted: collector lost the endpoint"


def test_junit_prediction_and_write(folder: RunFolder, tmp_path: Path) -> None:
    suite = _suite(junit_xml(fx.run_info(kind="prediction"), []))
    assert suite.get("name") == "scalecheck.realtime-target-tracking (prediction)"
    assert suite.get("tests") == "0"
    path = write_junit(folder)
    assert path == folder.path / "junit.xml"
    assert _suite(path.read_text(encoding="utf-8")).get("tests") == "3"


# --- prediction overlay -----------------------------------------------------------------------------

def _predicted_folder(tmp_path: Path) -> RunFolder:
    from harness.record import PredictedChange, PredictionInfo

    info = PredictionInfo(load_start_ts=fx.LOAD_START, tolerance_s=120, relative_tolerance=0.25,
                          windows={fx.NAMES[0]: 545.0}, predicted_s={fx.NAMES[0]: 340.0},
                          changes=[PredictedChange(start_ts=fx.LOAD_START + 220, end_ts=fx.LOAD_START + 340,
                                                   from_count=1, to_count=4),
                                   PredictedChange(start_ts=fx.LOAD_START + 900, end_ts=fx.LOAD_START + 930,
                                                   from_count=4, to_count=1)],
                          initial_instances=1)
    return fx.scale_out_in_run(tmp_path, status=ALL_STATUSES, prediction=info)


def test_instances_row_overlays_the_predicted_capacity(tmp_path: Path) -> None:
    fig = _fig(_predicted_folder(tmp_path))
    trace = _trace(fig, "predicted current")
    assert trace.yaxis == _row(fig, "instances")
    assert trace.line.dash == "dot" and trace.line.shape == "hv"
    assert list(trace.y) == [1, 4, 1, 1]
    assert list(trace.x)[:3] == [utc(fx.LOAD_START), utc(fx.LOAD_START + 340), utc(fx.LOAD_START + 930)]


def test_no_overlay_without_a_prediction(folder: RunFolder) -> None:
    assert "predicted current" not in [t.name for t in _fig(folder).data]


def test_verdict_table_shows_auto_windows(tmp_path: Path) -> None:
    folder = _predicted_folder(tmp_path)
    verdicts = folder.read_verdicts()
    auto = verdicts[0].model_copy(update={"details": {**verdicts[0].details, "window": "auto",
                                                      "predicted_s": 340.0, "slack_s": 205.0}})
    page = render_html(folder.load(), [auto, *verdicts[1:]])
    assert f"auto: predicted T+{fmt_duration(340)} + {fmt_duration(205)} slack" in page
    assert "predicted current" in page


def test_html_of_an_invalid_run_gives_the_reason(recorded: Recorded) -> None:
    reason = "invalid load: achieved 9.5% of offered (90.5% short, 1808 dropped); stage 'overload'"
    run = recorded.run.model_copy(update={"status": "invalid", "status_reason": reason})
    page = render_html(Recorded(path=recorded.path, run=run, events=recorded.events, load=recorded.load,
                                metrics=recorded.metrics, endpoint=recorded.endpoint,
                                activities=recorded.activities, alarms=recorded.alarms), [])
    assert "invalid load, the verdicts cannot be trusted — invalid load: achieved 9.5% of offered" in page
