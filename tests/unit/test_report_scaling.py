"""harness.report for issue 3: async backlog rows, alarm-state bands, step policy lines, scheduled actions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from harness.profile import StepPolicy, parse_profile
from harness.record import AlarmSample, MetricPoint, Recorded, RunFolder
from harness.report.context import (
    alarm_intervals,
    alarm_policies,
    capacity_bounds,
    run_profile,
    scheduled_marks,
    short_alarm_name,
    step_lines,
)
from harness.report.figure_traces import utc
from harness.report.figures import timeline_figure, timeline_rows
from harness.report.html import render_html, scaling_lines
from tests import report_fixtures as rf


def _fig(folder: RunFolder | Recorded) -> go.Figure:
    if isinstance(folder, Recorded):
        return timeline_figure(folder, [])
    return timeline_figure(folder.load(), folder.read_verdicts())


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def _names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def _shapes(fig: go.Figure, prefix: str) -> dict[str, go.layout.Shape]:
    return {s.name: s for s in fig.layout.shapes if (s.name or "").startswith(prefix)}


def _labels(fig: go.Figure, prefix: str = "") -> dict[str, go.layout.Annotation]:
    return {a.name: a for a in fig.layout.annotations if (a.name or "").startswith(prefix)}


def _row(fig: go.Figure, key: str, axis: str = "y") -> str:
    return fig.layout.meta["rows"][key][axis]


def _with_profile(recorded: Recorded, change: Any) -> Recorded:
    """``recorded`` with its run.json profile replaced by ``change(profile dict)``."""
    profile = dict(recorded.run.profile)
    change(profile)
    recorded.run = recorded.run.model_copy(update={"profile": profile})
    return recorded


@pytest.fixture
def with_backlog(tmp_path: Path) -> RunFolder:
    return rf.async_run(tmp_path, rf.WITH)


@pytest.fixture
def without_backlog(tmp_path: Path) -> RunFolder:
    return rf.async_run(tmp_path, rf.WITHOUT)


# --- async: backlog instead of InvocationsPerInstance ----------------------------------------------

def test_async_rows_replace_invocations_per_instance(with_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    assert list(fig.layout.meta["rows"]) == ["load", "backlog", "hbwc", "alarms", "instances", "latency"]
    assert "InvocationsPerInstance (Sum)" not in _names(fig)
    backlog = _row(fig, "backlog")
    for name in ("ApproximateBacklogSize (Average)", "ApproximateBacklogSize (Maximum)",
                 "ApproximateBacklogSizePerInstance (Average)"):
        assert _trace(fig, name).yaxis == backlog, name
    assert max(_trace(fig, "ApproximateBacklogSize (Maximum)").y) == 9  # 3 burst + 6 trickle before the instance
    titles = {a.name: a.text for a in fig.layout.annotations if (a.name or "").startswith("title:")}
    assert titles["title:backlog"] == "<b>Backlog (CloudWatch, EndpointName)</b>"
    assert not [a for a in fig.layout.annotations if (a.name or "").startswith("empty:")]


def test_backlog_target_line_comes_from_the_backlog_tracking_policy(with_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    (target,) = _shapes(fig, "target:").values()
    assert target.name == "target:Invocations-ScalingPolicy"
    assert (target.y0, target.yref) == (5, _row(fig, "backlog"))
    assert _labels(fig)["label:target:Invocations-ScalingPolicy"].text == "target 5 per instance (AlarmHigh above)"
    assert not _shapes(fig, "alarm-low")


def test_has_backlog_without_capacity_is_a_thin_0_1_row(with_backlog: RunFolder, without_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    # The step alarm evaluates the Average: that is what the row shows while the policy exists ...
    hbwc = _trace(fig, "HasBacklogWithoutCapacity (Average)")
    assert hbwc.yaxis == _row(fig, "hbwc") and hbwc.line.shape == "hv"
    assert set(hbwc.y) == {0.0, 1.0}
    assert list(fig.layout[_row(fig, "hbwc").replace("y", "yaxis")].tickvals) == [0, 1]
    # ... with its threshold; the only step starts at the threshold, so there is no other step line.
    threshold = _shapes(fig, "threshold:")["threshold:HasBacklogWithoutCapacity-ScalingPolicy"]
    assert (threshold.y0, threshold.yref) == (1, _row(fig, "hbwc"))
    assert not _shapes(fig, "step:")
    assert _labels(fig)["label:threshold:HasBacklogWithoutCapacity-ScalingPolicy"].text.endswith(
        "alarm ≥ 1 · +1 instance")
    # Without the step policy: the exact 0/1 Maximum.
    assert "HasBacklogWithoutCapacity (Maximum)" in _names(_fig(without_backlog))


def test_async_metrics_are_the_endpoints_own(with_backlog: RunFolder) -> None:
    """Endpoint-level metrics carry only EndpointName: another endpoint's points are not drawn."""
    recorded = with_backlog.load()
    common = dict(namespace="AWS/SageMaker", stat="Average", period_s=60, value=999.0)
    recorded.metrics += [
        MetricPoint(ts=rf.T0, metric="ApproximateBacklogSize", dims={"EndpointName": "another"}, **common),
        MetricPoint(ts=rf.T0, metric="ApproximateBacklogSizePerInstance",
                    dims={"EndpointName": rf.ASYNC_EP, "VariantName": "other-variant"}, **common)]
    fig = _fig(recorded)
    assert 999.0 not in _trace(fig, "ApproximateBacklogSize (Average)").y
    assert 999.0 not in _trace(fig, "ApproximateBacklogSizePerInstance (Average)").y


def test_async_load_row_shows_completions_as_a_rate(with_backlog: RunFolder) -> None:
    recorded = with_backlog.load()
    fig = _fig(recorded)
    done = _trace(fig, "completions/s")
    assert done.yaxis == "y" and done.line.shape == "hv"
    assert sum(y * 10 for y in done.y) == pytest.approx(12)  # every request of the burst and trickle completed
    assert "completion failures/s" not in _names(fig)
    assert "async completions" in _labels(fig)["title:load"].text


def test_async_latency_row_has_completion_time_on_the_left_and_client_ms_on_the_right(
        with_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    row = fig.layout.meta["rows"]["latency"]
    p50 = _trace(fig, "completion p50 (endpoint s)")
    assert p50.yaxis == row["y"] and row["y2"] is not None
    assert _trace(fig, "p99 (client)").yaxis == row["y2"]
    p95 = next(y for y in _trace(fig, "completion p95 (endpoint s)").y if y is not None)
    assert p95 == rf.FIRST_INSTANCE_S[rf.WITH] + rf.PROCESS_S  # the first request waited for the first instance
    assert fig.layout[row["y2"].replace("y", "yaxis")].ticksuffix == " ms"


def test_async_without_completions_keeps_the_client_latency_row(with_backlog: RunFolder) -> None:
    recorded = with_backlog.load()
    recorded.load = [i.model_copy(update={"completions": 0, "completion_s": i.latency_ms.__class__()})
                     for i in recorded.load]
    fig = _fig(recorded)
    assert "completions/s" not in _names(fig) and "completion p50 (endpoint s)" not in _names(fig)
    assert fig.layout.meta["rows"]["latency"]["y2"] is None
    assert _trace(fig, "p50 (client)").yaxis == _row(fig, "latency")


def test_async_html_names_the_endpoint_type_and_scenario(with_backlog: RunFolder) -> None:
    page = render_html(with_backlog.load(), with_backlog.read_verdicts())
    assert "async-zero / variant1 (asynchronous endpoint)" in page
    assert "<dt>Scenario</dt><dd>with-backlog-policy</dd>" in page
    assert ("step “HasBacklogWithoutCapacity-ScalingPolicy”: alarm async-zero-HasBacklogWithoutCapacity when "
            "HasBacklogWithoutCapacity Average ≥ 1 for 2 of 2 × 1m00s; steps [1, +∞) +1 instance") in page


# --- alarm-state bands -----------------------------------------------------------------------------

def test_alarm_bands_one_per_alarm_with_a_legend_per_state(with_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    row = _row(fig, "alarms")
    for state in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        trace = _trace(fig, state)
        assert trace.yaxis == row and trace.legend == f"legend{fig.layout.meta['rows']['alarms']['row']}"
    assert _trace(fig, "ALARM").line.color == "#cf222e" and _trace(fig, "OK").line.color == "#2da44e"
    labels = {a.hovertext: a.text for a in _labels(fig, "alarm:").values()}
    assert labels == {rf.ALARM_HIGH: "AlarmHigh (Invocations-ScalingPolicy)",
                      rf.STEP_ALARM: rf.STEP_ALARM,
                      rf.ALARM_LOW: "AlarmLow (Invocations-ScalingPolicy)"}
    # first recorded on top: AlarmHigh at y=2, the step alarm at 1, AlarmLow at 0
    ys = {a.hovertext: a.y for a in _labels(fig, "alarm:").values()}
    assert ys == {rf.ALARM_HIGH: 2, rf.STEP_ALARM: 1, rf.ALARM_LOW: 0}
    assert fig.layout[row.replace("y", "yaxis")].range == (-0.6, 2.95)


def test_alarm_band_starts_at_state_updated_ts(with_backlog: RunFolder) -> None:
    fig = _fig(with_backlog)
    alarm = _trace(fig, "ALARM")
    desired_ts = rf.FIRST_REQUEST + rf.FIRST_INSTANCE_S[rf.WITH] - 300
    segments: list[list[tuple[datetime, float]]] = [[]]
    for x, y in zip(alarm.x, alarm.y, strict=True):
        if x is None:
            segments.append([])
        else:
            segments[-1].append((x, y))
    step = next(s for s in segments if s and s[0][1] == 1)
    assert step[0][0] == utc(desired_ts - 5)  # state_updated_ts, not the sample's ts
    assert step[-1][0] == utc(rf.FIRST_REQUEST + rf.FIRST_INSTANCE_S[rf.WITH] + 140)
    hover = alarm.hovertext[0]
    assert rf.STEP_ALARM in hover and "Threshold Crossed" in hover and "HasBacklogWithoutCapacity ≥ 1" in hover
    # The initial INSUFFICIENT_DATA of AlarmHigh changed before the run: clipped to the start of the figure.
    assert _trace(fig, "INSUFFICIENT_DATA").x[0] == utc(rf.T0)


def test_alarm_intervals() -> None:
    def s(ts: float, state: str, updated: float | None = None, name: str = "a") -> AlarmSample:
        return AlarmSample(ts=ts, alarm_name=name, state=state, state_updated_ts=updated)

    out = alarm_intervals([s(100, "OK", 10), s(150, "OK", 140), s(200, "ALARM", 190), s(260, "OK"),
                           s(120, "ALARM", name="b")], lo_ts=50, hi_ts=400)
    assert list(out) == ["a", "b"]
    assert [(i.state, i.start_ts, i.end_ts) for i in out["a"]] == [
        ("OK", 50, 190), ("ALARM", 190, 260), ("OK", 260, 400)]  # clipped; a repeated state is one band
    assert [(i.state, i.start_ts, i.end_ts) for i in out["b"]] == [("ALARM", 120, 400)]
    assert alarm_intervals([], 0, 1) == {}


def test_short_alarm_names() -> None:
    assert short_alarm_name(rf.ALARM_HIGH, "Invocations-ScalingPolicy") == "AlarmHigh (Invocations-ScalingPolicy)"
    assert short_alarm_name(rf.ALARM_LOW) == "AlarmLow (0be8c1d4…)"
    long_policy = "p" * 80
    assert len(short_alarm_name(rf.ALARM_HIGH, long_policy)) <= 42
    assert short_alarm_name("x" * 60).endswith("…") and len(short_alarm_name("x" * 60)) == 42
    assert short_alarm_name("my-alarm") == "my-alarm"


def test_alarm_policies_from_activity_causes_and_metrics(with_backlog: RunFolder, without_backlog: RunFolder) -> None:
    recorded = with_backlog.load()
    owners = alarm_policies(recorded, run_profile(recorded))
    assert owners == {rf.STEP_ALARM: "HasBacklogWithoutCapacity-ScalingPolicy",
                      rf.ALARM_LOW: "Invocations-ScalingPolicy",  # from the scale-in activity's cause
                      rf.ALARM_HIGH: "Invocations-ScalingPolicy"}  # by its metric: the only tracking policy
    assert alarm_policies(recorded, None) == {rf.STEP_ALARM: "HasBacklogWithoutCapacity-ScalingPolicy",
                                              rf.ALARM_LOW: "Invocations-ScalingPolicy"}  # causes only
    recorded = without_backlog.load()
    assert alarm_policies(recorded, None) == {rf.ALARM_HIGH: "Invocations-ScalingPolicy",
                                              rf.ALARM_LOW: "Invocations-ScalingPolicy"}


def test_realtime_fixture_alarm_row(tmp_path: Path) -> None:
    from tests import fixtures_runs as fx

    fig = _fig(fx.scale_out_in_run(tmp_path))
    assert [a.text for a in _labels(fig, "alarm:").values()] == ["AlarmHigh", "AlarmLow"]
    assert len([x for x in _trace(fig, "ALARM").x if x is None]) == 2
    assert list(_trace(fig, "OK").x) == [None]  # no alarm was OK: still in the legend, as the colour key


# --- step policies ---------------------------------------------------------------------------------

def test_step_lines_on_the_invocations_row(tmp_path: Path) -> None:
    fig = _fig(rf.step_run(tmp_path))
    assert list(fig.layout.meta["rows"]) == ["load", "ipi", "alarms", "instances", "latency"]
    ipi = _row(fig, "ipi")
    lines = {name: (s.y0, s.yref) for name, s in {**_shapes(fig, "threshold:"), **_shapes(fig, "step:")}.items()}
    assert lines == {"threshold:ipi-step-out": (20, ipi), "step:ipi-step-out:35": (35, ipi),
                     "step:ipi-step-out:50": (50, ipi), "threshold:ipi-step-in": (5, ipi)}
    labels = {k.removeprefix("label:"): a.text for k, a in _labels(fig, "label:").items()
              if k.startswith(("label:threshold", "label:step"))}
    assert labels == {"threshold:ipi-step-out": "ipi-step-out: alarm ≥ 20 · +1 instance",
                      "step:ipi-step-out:35": "+2 instances at ≥ 35",
                      "step:ipi-step-out:50": "+4 instances at ≥ 50",
                      "threshold:ipi-step-in": "ipi-step-in: alarm &lt; 5 · −50 %"}
    assert _labels(fig)["label:threshold:ipi-step-in"].yanchor == "top"  # below the line: a scale-in threshold
    assert not _shapes(fig, "target")
    assert [a.text for a in _labels(fig, "alarm:").values()] == ["ipi-step-out-alarm", "ipi-step-in-alarm"]


def test_step_alarm_on_another_metric_gets_its_own_row(tmp_path: Path) -> None:
    recorded = rf.step_run(tmp_path).load()

    def cpu(profile: dict[str, Any]) -> None:
        policy = profile["scaling"]["policies"][0]
        policy["alarm"] = {**policy["alarm"], "name": "CPUUtilization", "statistic": "Average", "threshold": 70,
                           "namespace": "/aws/sagemaker/Endpoints"}

    _with_profile(recorded, cpu)
    recorded.metrics += [MetricPoint(ts=rf.T0 + 60 * m, namespace="/aws/sagemaker/Endpoints", metric="CPUUtilization",
                                     dims=rf.STEP_DIMS, stat="Average", period_s=60, value=40.0 + 5 * m)
                         for m in range(10)]
    fig = _fig(recorded)
    assert list(fig.layout.meta["rows"]) == ["load", "ipi", "metric:CPUUtilization:Average", "alarms",
                                             "instances", "latency"]
    row = _row(fig, "metric:CPUUtilization:Average")
    assert _trace(fig, "CPUUtilization (Average)").yaxis == row
    assert len(_trace(fig, "CPUUtilization (Average)").y) == 10
    assert (_shapes(fig, "threshold:")["threshold:ipi-step-out"].yref) == row
    assert {s.y0 for s in _shapes(fig, "step:ipi-step-out").values()} == {85, 100}
    assert _shapes(fig, "threshold:")["threshold:ipi-step-in"].yref == _row(fig, "ipi")


@pytest.mark.parametrize(("steps", "adjustment_type", "expected"), [
    pytest.param([{"lower": 0, "upper": 10, "adjustment": 1}], "ChangeInCapacity",
                 [("threshold", 50, "p: alarm ≥ 50 · +1 instance"), ("step", 60, "end of steps (p)")],
                 id="bounded-last-step"),
    pytest.param([{"lower": 5, "adjustment": 3}], "ExactCapacity",
                 [("threshold", 50, "p: alarm ≥ 50"), ("step", 55, "set 3 instances at ≥ 55")], id="exact-capacity"),
    pytest.param([{"lower": 0, "upper": 10, "adjustment": 10}, {"lower": 10, "adjustment": 30}],
                 "PercentChangeInCapacity",
                 [("threshold", 50, "p: alarm ≥ 50 · +10 %"), ("step", 60, "+30 % at ≥ 60")], id="percent"),
])
def test_step_lines(steps: list[dict[str, Any]], adjustment_type: str, expected: list[tuple[str, float, str]]) -> None:
    profile = parse_profile({
        "name": "x", "endpoint": {"name": "e"}, "traffic": {"stages": [{"name": "s", "duration": "1m", "rate_rps": 1}]},
        "scaling": {"min_capacity": 1, "max_capacity": 4, "policies": [{
            "type": "step", "name": "p", "adjustment_type": adjustment_type, "steps": steps,
            "alarm": {"name": "M", "threshold": 50, "comparison": "GreaterThanOrEqualToThreshold"}}]}})
    policy = profile.scaling.policies[0]
    assert isinstance(policy, StepPolicy)
    assert [(x.kind, x.y, x.label) for x in step_lines(policy)] == expected


def test_step_lines_below_the_threshold() -> None:
    profile = parse_profile({
        "name": "x", "endpoint": {"name": "e"}, "traffic": {"stages": [{"name": "s", "duration": "1m", "rate_rps": 1}]},
        "scaling": {"min_capacity": 1, "max_capacity": 4, "policies": [{
            "type": "step", "name": "in", "steps": [{"lower": -10, "upper": 0, "adjustment": -1},
                                                    {"upper": -10, "adjustment": -2}],
            "alarm": {"name": "M", "threshold": 30, "comparison": "LessThanOrEqualToThreshold"}}]}})
    policy = profile.scaling.policies[0]
    assert isinstance(policy, StepPolicy)
    lines = step_lines(policy)
    assert [(x.kind, x.y, x.label, x.above) for x in lines] == [
        ("threshold", 30, "in: alarm ≤ 30 · −1 instance", False), ("step", 20, "−2 instances at ≤ 20", False)]


def test_step_html_describes_the_steps(tmp_path: Path) -> None:
    page = render_html(rf.step_run(tmp_path).load(), [])
    assert "steps [20, 35) +1 instance, [35, 50) +2 instances, [50, +∞) +4 instances; cooldown 7m00s" in page
    assert "alarm ipi-step-in-alarm when InvocationsPerInstance Sum &lt; 5 for 5 of 5 × 1m00s; steps (−∞, 5] −50 %" \
        in page


# --- scheduled actions -----------------------------------------------------------------------------

def test_scheduled_actions_are_marked_on_the_instances_row(tmp_path: Path) -> None:
    fig = _fig(rf.scheduled_run(tmp_path))
    inst = _row(fig, "instances")
    marks = _shapes(fig, "scheduled:")
    assert {k: (s.x0, s.yref) for k, s in marks.items()} == {
        "scheduled:prewarm-for-peak": (utc(rf.PREWARM_TS + 2), f"{inst} domain"),  # the activity it caused
        "scheduled:release-after-peak": (utc(rf.RELEASE_TS), f"{inst} domain")}  # the at() the run put
    labels = _labels(fig, "label:scheduled:")
    assert labels["label:scheduled:prewarm-for-peak"].text == "⏱ prewarm-for-peak: min 4"
    assert "fired (scaling activity)" in labels["label:scheduled:prewarm-for-peak"].hovertext
    assert "put as at(2026-11-21T19:55:30)" in labels["label:scheduled:release-after-peak"].hovertext


def test_min_capacity_line_follows_the_scheduled_actions(tmp_path: Path) -> None:
    fig = _fig(rf.scheduled_run(tmp_path))
    low, high = _trace(fig, "min capacity"), _trace(fig, "max capacity")
    assert low.yaxis == _row(fig, "instances") and low.line.shape == "hv"
    assert list(low.y) == [1, 4, 1, 1]
    assert list(low.x[1:3]) == [utc(rf.PREWARM_TS + 2), utc(rf.RELEASE_TS)]
    assert set(high.y) == {6}
    assert not _shapes(fig, "max-capacity")  # the bounds are traces now


def test_scheduled_marks_without_put_events_use_the_profile(tmp_path: Path) -> None:
    recorded = rf.scheduled_run(tmp_path, with_put_events=False).load()
    recorded.activities = []
    marks = scheduled_marks(recorded, run_profile(recorded), rf.T0, rf.SCHED_END)
    assert [(m.name, m.ts, m.how, m.bounds_text) for m in marks] == [
        ("prewarm-for-peak", rf.PREWARM_TS, "due at load_start+3m", "min 4"),
        ("release-after-peak", rf.RELEASE_TS, "due at load_start+15m", "min 1")]


def test_scheduled_marks_of_schedule_expressions(tmp_path: Path) -> None:
    recorded = rf.scheduled_run(tmp_path, with_put_events=False).load()
    recorded.activities = []

    def expressions(profile: dict[str, Any]) -> None:
        profile["scaling"] = {**profile["scaling"], "scheduled_actions": [
            {"name": "every-10m", "schedule": "rate(10 minutes)", "max_capacity": 3},
            {"name": "at-20-05", "schedule": "at(2026-11-21T20:05:00)", "min_capacity": 2, "max_capacity": 5},
            {"name": "yesterday", "schedule": "at(2026-11-20T20:05:00)", "min_capacity": 2}]}

    _with_profile(recorded, expressions)
    profile = run_profile(recorded)
    assert profile is not None
    marks = scheduled_marks(recorded, profile, rf.T0, rf.SCHED_END)
    at_ts = datetime(2026, 11, 21, 20, 5, tzinfo=UTC).timestamp()
    assert [(m.name, m.ts) for m in marks] == [
        ("every-10m", rf.T0 + 600), ("every-10m", rf.T0 + 1200), ("at-20-05", at_ts), ("every-10m", rf.T0 + 1800)]
    lows, highs = capacity_bounds(profile, marks, rf.T0)
    assert lows == [(rf.T0, 1), (at_ts, 2)]
    assert highs == [(rf.T0, 6), (rf.T0 + 600, 3), (at_ts, 5), (rf.T0 + 1800, 3)]


def test_scheduled_action_named_only_by_an_activity(tmp_path: Path) -> None:
    recorded = rf.scheduled_run(tmp_path, with_put_events=False).load()
    _with_profile(recorded, lambda p: p["scaling"].update(scheduled_actions=[]))
    marks = scheduled_marks(recorded, run_profile(recorded), rf.T0, rf.SCHED_END)
    assert [(m.name, m.ts, m.bounds_text) for m in marks] == [
        ("prewarm-for-peak", rf.PREWARM_TS + 2, "bounds unknown")]


def test_scheduled_action_known_only_from_the_put_event(tmp_path: Path) -> None:
    """An action the profile no longer names (e.g. an edited run.json) still shows, with the bounds put."""
    recorded = rf.scheduled_run(tmp_path).load()
    recorded.activities = []
    _with_profile(recorded, lambda p: p["scaling"].update(scheduled_actions=[]))
    marks = scheduled_marks(recorded, run_profile(recorded), rf.T0, rf.SCHED_END)
    assert [(m.name, m.ts, m.bounds_text, m.how) for m in marks] == [
        ("prewarm-for-peak", rf.PREWARM_TS, "min 4", "put as at(2026-11-21T19:43:30)"),
        ("release-after-peak", rf.RELEASE_TS, "min 1", "put as at(2026-11-21T19:55:30)")]


def test_scheduled_html_lists_the_actions(tmp_path: Path) -> None:
    folder = rf.scheduled_run(tmp_path)
    profile = run_profile(folder.load())
    assert profile is not None
    assert scaling_lines(profile) == [
        "capacity 1…6",
        "target tracking “ipi-target-60”: SageMakerVariantInvocationsPerInstance target 60, cooldowns out 5m00s / "
        "in 5m00s",
        "scheduled “prewarm-for-peak”: load_start+3m → min 4",
        "scheduled “release-after-peak”: load_start+15m → min 1"]
    page = render_html(folder.load(), [])
    assert "scheduled “prewarm-for-peak”: load_start+3m → min 4" in page


def test_rows_of_a_run_without_a_parseable_profile(with_backlog: RunFolder) -> None:
    """An older run.json: async is recognised by its backlog metrics, the policy lines are left out."""
    recorded = with_backlog.load()
    recorded.run = recorded.run.model_copy(update={"profile": {"name": "older"}})
    assert run_profile(recorded) is None
    assert [r.key for r in timeline_rows(recorded, None)] == [
        "load", "backlog", "hbwc", "alarms", "instances", "latency"]
    fig = _fig(recorded)
    assert not _shapes(fig, "target") and not _shapes(fig, "threshold") and not _shapes(fig, "scheduled")
    assert [a.text for a in _labels(fig, "alarm:").values()][0] == "AlarmHigh (7d1a0f52…)"
