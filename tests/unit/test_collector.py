"""harness.observe.collector: which metrics and alarms it reads, and how it asks and records them.

The pure query builders are tested on profiles; the polls on fake boto3 clients that answer like
CloudWatch and Application Auto Scaling (the emulator round trip is an integration test).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.observe.collector import (
    ALARM_NAMES_REFRESH_S,
    MAX_QUERIES_PER_CALL,
    Collector,
    alarm_names,
    alarm_sample,
    metric_points,
    metric_requests,
)
from harness.profile import Profile, parse_profile
from harness.profile.series import ASYNC_METRICS, REALTIME_METRICS, MetricQuery, metric_queries
from harness.record import AlarmSample, MetricPoint, RunFolder, read_stream
from tests.fixtures_runs import run_info

EP = {"EndpointName": "ep"}
EP_VARIANT = {"EndpointName": "ep", "VariantName": "AllTraffic"}
T = 1_795_290_000.0  # minute-aligned


def step(name: str, metric: str, **alarm: Any) -> dict[str, Any]:
    return {"type": "step", "name": name, "steps": [{"lower": 0, "adjustment": 1}],
            "alarm": {"name": metric, "threshold": 1, "comparison": "GreaterThanOrEqualToThreshold", **alarm}}


def make_profile(kind: str = "realtime", *policies: dict[str, Any]) -> Profile:
    return parse_profile({
        "name": "t",
        "endpoint": {"name": "ep", "type": kind, "initial_instance_count": 1},
        "scaling": {"min_capacity": 0 if kind == "async" else 1, "max_capacity": 4, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 5,
             **({"custom_metric": {"name": "ApproximateBacklogSizePerInstance"}} if kind == "async" else {})},
            *policies]},
        "traffic": {"stages": [{"name": "s", "duration": "60s", "rate_rps": 1}]},
    })


def as_tuples(queries: list[MetricQuery]) -> list[tuple[str, str, str, dict[str, str], int]]:
    return [(q.namespace, q.metric, q.stat, dict(q.dims), q.period_s) for q in queries]


# --- metric_queries -----------------------------------------------------------------------------


def test_realtime_reads_todays_metrics_with_variant_dimensions() -> None:
    assert as_tuples(metric_queries(make_profile())) == [
        ("AWS/SageMaker", name, stat, EP_VARIANT, 60) for name, stat in REALTIME_METRICS]


def test_async_reads_the_async_metrics() -> None:
    got = as_tuples(metric_queries(make_profile("async")))
    assert [(name, stat) for _, name, stat, _, _ in got] == list(ASYNC_METRICS)
    dims = {(name, stat): d for _, name, stat, d, _ in got}
    for name in ("ApproximateBacklogSize", "ApproximateBacklogSizePerInstance", "ApproximateAgeOfOldestRequest",
                 "HasBacklogWithoutCapacity"):
        assert all(d == EP for (n, _), d in dims.items() if n == name), name
    for name in ("InvocationsProcesssed", "InvocationsProcessed", "TimeInBacklog", "TotalProcessingTime",
                 "InvocationFailures", "ExpiredRequests"):
        assert dims[next(k for k in dims if k[0] == name)] == EP_VARIANT, name
    assert {("ApproximateBacklogSize", "Average"), ("ApproximateBacklogSize", "Maximum"),
            ("InvocationsProcesssed", "Sum"), ("InvocationsProcessed", "Sum")} <= set(dims)
    assert not {"Invocations", "InvocationsPerInstance"} & {n for n, _ in dims}


@pytest.mark.parametrize(("kind", "policy", "extra"), [
    pytest.param("async", step("wake", "HasBacklogWithoutCapacity", statistic="Average"), [],
                 id="same-as-a-collected-series-asked-once"),
    pytest.param("async", step("wake", "HasBacklogWithoutCapacity", statistic="Average", period="120s"),
                 [("AWS/SageMaker", "HasBacklogWithoutCapacity", "Average", EP, 120)], id="alarm-period"),
    pytest.param("async", step("wake", "HasBacklogWithoutCapacity", statistic="Minimum"),
                 [("AWS/SageMaker", "HasBacklogWithoutCapacity", "Minimum", EP, 60)], id="alarm-statistic"),
    pytest.param("realtime", step("slow", "ModelLatency", statistic="Maximum"),
                 [("AWS/SageMaker", "ModelLatency", "Maximum", EP_VARIANT, 60)], id="realtime-variant-dims"),
    pytest.param("realtime", step("cpu", "CPUUtilization", namespace="/aws/sagemaker/Endpoints",
                                  dimensions={"EndpointName": "ep", "VariantName": "AllTraffic"}),
                 [("/aws/sagemaker/Endpoints", "CPUUtilization", "Average", EP_VARIANT, 60)], id="alarm-namespace"),
    pytest.param("realtime", step("custom", "Queue", namespace="App", dimensions={"Queue": "q"}, statistic="Sum"),
                 [("App", "Queue", "Sum", {"Queue": "q"}, 60)], id="explicit-dimensions"),
])
def test_step_alarm_metrics(kind: str, policy: dict[str, Any], extra: list[Any]) -> None:
    base = as_tuples(metric_queries(make_profile(kind)))
    assert as_tuples(metric_queries(make_profile(kind, policy))) == base + extra


def test_two_step_policies_on_one_metric_ask_it_once() -> None:
    profile = make_profile("realtime", step("a", "Queue", namespace="App", dimensions={"Q": "q"}),
                           step("b", "Queue", namespace="App", dimensions={"Q": "q"}, threshold=5))
    assert len(metric_queries(profile)) == len(REALTIME_METRICS) + 1


# --- metric_requests / metric_points ------------------------------------------------------------


def test_one_call_with_ids_by_index() -> None:
    queries = metric_queries(make_profile("async"))
    (req,) = metric_requests(queries, since_ts=T - 600, now_ts=T + 125)
    assert [q["Id"] for q in req["MetricDataQueries"]] == [f"m{i}" for i in range(len(queries))]
    assert req["MetricDataQueries"][0] == {"Id": "m0", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ApproximateBacklogSize",
                   "Dimensions": [{"Name": "EndpointName", "Value": "ep"}]}, "Period": 60, "Stat": "Average"}}
    assert req["StartTime"] == datetime.fromtimestamp(T - 660, tz=UTC)  # a period before since
    assert req["EndTime"] == datetime.fromtimestamp(T + 180, tz=UTC)  # the end of the current minute
    assert req["ScanBy"] == "TimestampAscending"


def test_lookback_is_bounded_and_aligned_to_every_period() -> None:
    queries = [MetricQuery.of("A", "Sum", EP), MetricQuery.of("B", "Sum", EP, period_s=300)]
    (req,) = metric_requests(queries, since_ts=T - 7200, now_ts=T + 30)
    start = req["StartTime"].timestamp()
    assert start % 300 == 0 and T - 20 * 60 - 300 < start <= T - 20 * 60


def test_long_periods_look_back_three_of_them() -> None:
    (req,) = metric_requests([MetricQuery.of("A", "Sum", EP, period_s=3600)], since_ts=T - 86400, now_ts=T)
    assert req["StartTime"].timestamp() <= T - 3 * 3600


def test_more_than_500_queries_split_into_calls() -> None:
    queries = [MetricQuery.of(f"M{i}", "Sum", EP) for i in range(MAX_QUERIES_PER_CALL + 1)]
    reqs = metric_requests(queries, since_ts=T, now_ts=T + 60)
    assert [len(r["MetricDataQueries"]) for r in reqs] == [500, 1]
    assert reqs[1]["MetricDataQueries"][0]["Id"] == "m500"
    assert metric_requests([], since_ts=T, now_ts=T) == []


def test_metric_points_carry_their_query() -> None:
    queries = [MetricQuery.of("InvocationsProcesssed", "Sum", EP_VARIANT),
               MetricQuery.of("Queue", "Maximum", {"Q": "q"}, period_s=120, namespace="App")]
    results = [{"Id": "m1", "Timestamps": [datetime.fromtimestamp(T, tz=UTC), datetime.fromtimestamp(T + 120, tz=UTC)],
                "Values": [3, 4.5]},
               {"Id": "m0", "Timestamps": [], "Values": []}]
    assert metric_points(queries, results, observed_ts=T + 300) == [
        MetricPoint(ts=T, namespace="App", metric="Queue", dims={"Q": "q"}, stat="Maximum", period_s=120,
                    value=3.0, observed_ts=T + 300),
        MetricPoint(ts=T + 120, namespace="App", metric="Queue", dims={"Q": "q"}, stat="Maximum", period_s=120,
                    value=4.5, observed_ts=T + 300)]


# --- alarms -------------------------------------------------------------------------------------


def test_alarm_names_profile_step_alarms_then_the_policies_alarms() -> None:
    profile = make_profile("realtime", step("b", "Queue", alarm_name="mine"), step("c", "Queue2"))
    pages = [{"ScalingPolicies": [
        {"PolicyName": "tt", "Alarms": [{"AlarmName": "TargetTracking-x-AlarmHigh-1", "AlarmARN": "arn"},
                                        {"AlarmName": "TargetTracking-x-AlarmLow-2", "AlarmARN": "arn"}]},
        {"PolicyName": "b", "Alarms": [{"AlarmName": "mine", "AlarmARN": "arn"}]}]},
        {"ScalingPolicies": [{"PolicyName": "late"}]}]
    assert alarm_names(profile, pages) == ["mine", "c-alarm", "TargetTracking-x-AlarmHigh-1",
                                           "TargetTracking-x-AlarmLow-2"]


def test_alarm_sample_records_metric_comparison_and_reason() -> None:
    alarm = {"AlarmName": "wake-alarm", "StateValue": "ALARM", "Threshold": 1.0,
             "MetricName": "HasBacklogWithoutCapacity", "ComparisonOperator": "GreaterThanOrEqualToThreshold",
             "StateReason": "Threshold Crossed: 2 out of the last 2 datapoints [1.0, 1.0] were >= 1.0",
             "StateUpdatedTimestamp": datetime.fromtimestamp(T, tz=UTC)}
    assert alarm_sample(alarm, T + 5) == AlarmSample(
        ts=T + 5, alarm_name="wake-alarm", state="ALARM", threshold=1.0, state_updated_ts=T,
        metric="HasBacklogWithoutCapacity", comparison="GreaterThanOrEqualToThreshold",
        state_reason="Threshold Crossed: 2 out of the last 2 datapoints [1.0, 1.0] were >= 1.0")
    assert alarm_sample({"AlarmName": "x", "StateValue": "OK"}, T).state_updated_ts is None


# --- polls on fake clients ----------------------------------------------------------------------


class FakeClock:
    def __init__(self, ts: float) -> None:
        self.ts = ts

    def endpoint_ts(self, wall_ts: float | None = None) -> float:
        return self.ts


class Pages:
    def __init__(self, calls: list[dict[str, Any]], answer: Any) -> None:
        self.calls, self.answer = calls, answer

    def paginate(self, **kw: Any) -> list[dict[str, Any]]:
        self.calls.append(kw)
        return self.answer(kw)


class FakeAws:
    """CloudWatch + Application Auto Scaling answering from in-memory state, recording the calls."""

    def __init__(self) -> None:
        self.calls: dict[str, list[dict[str, Any]]] = {"get_metric_data": [], "describe_scaling_policies": [],
                                                       "describe_alarms": []}
        self.policy_alarms = ["TT-AlarmHigh"]
        self.alarms = {"TT-AlarmHigh": ("OK", T - 600), "wake-alarm": ("OK", T - 600)}
        self.cloudwatch = SimpleNamespace(get_metric_data=self.get_metric_data, get_paginator=self.paginator)
        self.autoscaling = SimpleNamespace(get_paginator=self.paginator)

    def get_metric_data(self, **kw: Any) -> dict[str, Any]:
        self.calls["get_metric_data"].append(kw)
        first = "NextToken" not in kw
        results = [{"Id": "m0", "Timestamps": [datetime.fromtimestamp(T if first else T + 60, tz=UTC)],
                    "Values": [7.0 if first else 0.0]}]
        return {"MetricDataResults": results, **({"NextToken": "more"} if first else {})}

    def paginator(self, op: str) -> Pages:
        if op == "describe_scaling_policies":
            return Pages(self.calls[op], lambda kw: [{"ScalingPolicies": [
                {"PolicyName": "tt", "Alarms": [{"AlarmName": n} for n in self.policy_alarms]}]}])
        assert op == "describe_alarms"
        return Pages(self.calls[op], lambda kw: [{"MetricAlarms": [
            {"AlarmName": n, "StateValue": self.alarms[n][0], "StateUpdatedTimestamp": self.alarms[n][1],
             "MetricName": "M", "ComparisonOperator": "GreaterThanThreshold", "StateReason": "r"}
            for n in kw["AlarmNames"] if n in self.alarms]}])


@pytest.fixture
def collector(tmp_path: Path) -> tuple[Collector, FakeAws, FakeClock, RunFolder]:
    aws, clock = FakeAws(), FakeClock(T)
    folder = RunFolder.create(tmp_path, run_info())
    profile = make_profile("async", step("wake", "HasBacklogWithoutCapacity"))
    c = Collector(aws, profile, folder, clock, since_ts=T - 600)  # type: ignore[arg-type]
    return c, aws, clock, folder


def test_poll_metrics_follows_next_token_and_skips_unchanged(
        collector: tuple[Collector, FakeAws, FakeClock, RunFolder]) -> None:
    c, aws, _clock, folder = collector
    assert [(p.metric, p.stat, p.dims, p.value) for p in c.poll_metrics()] == [
        ("ApproximateBacklogSize", "Average", EP, 7.0), ("ApproximateBacklogSize", "Average", EP, 0.0)]
    assert len(aws.calls["get_metric_data"]) == 2
    assert aws.calls["get_metric_data"][1]["NextToken"] == "more"
    assert len(aws.calls["get_metric_data"][0]["MetricDataQueries"]) == len(c.queries)
    assert c.poll_metrics() == []
    folder.close()
    assert len(list(read_stream(folder.stream_path("metrics"), MetricPoint))) == 2


def test_poll_alarms_watches_profile_and_policy_alarms_and_refreshes_the_names(
        collector: tuple[Collector, FakeAws, FakeClock, RunFolder]) -> None:
    c, aws, clock, folder = collector
    first = c.poll_alarms()
    assert [(s.alarm_name, s.state, s.metric, s.comparison, s.state_reason) for s in first] == [
        ("wake-alarm", "OK", "M", "GreaterThanThreshold", "r"),
        ("TT-AlarmHigh", "OK", "M", "GreaterThanThreshold", "r")]
    assert aws.calls["describe_alarms"][0]["AlarmNames"] == ["wake-alarm", "TT-AlarmHigh"]

    # A policy put later: its alarm is watched once the names are re-read.
    aws.policy_alarms.append("Late-AlarmHigh")
    aws.alarms["Late-AlarmHigh"] = ("ALARM", T + 10)
    clock.ts = T + 60
    assert c.poll_alarms() == []
    assert len(aws.calls["describe_scaling_policies"]) == 1
    clock.ts = T + ALARM_NAMES_REFRESH_S
    assert [s.alarm_name for s in c.poll_alarms()] == ["Late-AlarmHigh"]
    assert len(aws.calls["describe_scaling_policies"]) == 2

    # Back to the same state between two polls is still a change (StateUpdatedTimestamp moved).
    aws.alarms["wake-alarm"] = ("OK", T + 100)
    assert [(s.alarm_name, s.state_updated_ts) for s in c.poll_alarms()] == [("wake-alarm", T + 100)]
    folder.close()
    assert len(list(read_stream(folder.stream_path("alarms"), AlarmSample))) == 4


def test_botocore_accepts_the_requests(tmp_path: Path) -> None:
    """The polls' parameters validate against the pinned botocore's service models (no network)."""
    import boto3
    from botocore.stub import Stubber

    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    clients = SimpleNamespace(cloudwatch=session.client("cloudwatch"),
                              autoscaling=session.client("application-autoscaling"))
    profile = make_profile("async", step("wake", "HasBacklogWithoutCapacity", period="120s"))
    folder = RunFolder.create(tmp_path, run_info())
    c = Collector(clients, profile, folder, FakeClock(T + 90), since_ts=T)  # type: ignore[arg-type]
    with Stubber(clients.cloudwatch) as cw, Stubber(clients.autoscaling) as aas:
        cw.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": f"m{len(c.queries) - 1}", "Timestamps": [datetime.fromtimestamp(T, tz=UTC)], "Values": [1.0]}]})
        aas.add_response("describe_scaling_policies", {"ScalingPolicies": []})
        cw.add_response("describe_alarms", {"MetricAlarms": [
            {"AlarmName": "wake-alarm", "StateValue": "OK", "MetricName": "HasBacklogWithoutCapacity"}]})
        assert [(p.metric, p.period_s) for p in c.poll_metrics()] == [("HasBacklogWithoutCapacity", 120)]
        assert [s.alarm_name for s in c.poll_alarms()] == ["wake-alarm"]
        cw.assert_no_pending_responses()
    folder.close()
