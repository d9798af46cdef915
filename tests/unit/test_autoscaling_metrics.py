"""harness.autoscaling.metrics and what the World publishes to it (aws-semantics §5, §8).

The store tests use period 60 and publish lag 60 unless a case says otherwise: a sample at ts 1000
falls in bucket 960, which closes at 1020 and is visible from 1080.
"""

from __future__ import annotations

import pytest

from harness.autoscaling.metrics import Bucket, MetricKey, MetricStore
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import NAMESPACE, Variant, World
from tests.unit.test_autoscaling_world import EP, START, VARIANT, in_service_world

KEY = MetricKey.of("AWS/SageMaker", "InvocationsPerInstance", EndpointName="ep", VariantName="AllTraffic")


def world_key(metric: str) -> MetricKey:
    return MetricKey.of(NAMESPACE, metric, EndpointName=EP, VariantName=VARIANT)


def per_minute(world: World, metric: str, start_ts: float, end_ts: float, now: float,
               statistic: str = "Sum") -> list[tuple[int, float]]:
    return world.metrics.datapoints(world_key(metric), statistic, 60, start_ts, end_ts, now)


# ----------------------------------------------------------------------------------- MetricStore
def test_metric_key_sorts_dimensions() -> None:
    # §5: a metric is namespace + name + the set of dimensions (order-free).
    assert MetricKey.of("NS", "M", VariantName="v", EndpointName="e") == MetricKey(
        "NS", "M", (("EndpointName", "e"), ("VariantName", "v")))


@pytest.mark.parametrize(("ts", "bucket"), [
    pytest.param(960.0, 960, id="period-start-is-in-the-period"),
    pytest.param(1019.999, 960, id="just-before-period-end"),
    pytest.param(1020.0, 1020, id="period-end-starts-the-next"),
    pytest.param(-1.0, -60, id="floor-not-truncate"),
])
def test_bucket_ts(ts: float, bucket: int) -> None:
    # §5 [S15-mon]: 1-minute periods, floor(ts / 60) * 60.
    assert MetricStore(60, 60.0).bucket_ts(ts) == bucket


@pytest.mark.parametrize(("lag_s", "now", "visible"), [
    pytest.param(60.0, 1079.999, [], id="§5-lag60-not-before-period-end-plus-lag"),
    pytest.param(60.0, 1080.0, [(960, 2.0)], id="§5-lag60-visible-at-period-end-plus-lag"),
    pytest.param(0.0, 1019.999, [], id="§5-lag0-not-before-period-end"),
    pytest.param(0.0, 1020.0, [(960, 2.0)], id="§5-lag0-visible-at-period-end"),
    pytest.param(90.0, 1109.999, [], id="§5-lag90-not-yet"),
    pytest.param(90.0, 1110.0, [(960, 2.0)], id="§5-lag90-visible"),
])
def test_datapoint_visible_only_after_period_end_plus_lag(lag_s: float, now: float,
                                                          visible: list[tuple[int, float]]) -> None:
    # §5 (publication delay UNCONFIRMED, ModelParams.metric_publish_lag_s).
    store = MetricStore(60, lag_s)
    store.add(KEY, 1000.0, 1.0)
    store.add(KEY, 1019.0, 1.0)
    store.add(KEY, 1020.0, 5.0)  # the next period: never visible in these cases
    assert store.datapoints(KEY, "Sum", 60, 0, 10_000, now) == visible


def _five_minutes_store() -> MetricStore:
    """Samples in minutes 0, 60, 240 (first 300 s period) and 600 (third); the second period is empty."""
    store = MetricStore(60, 60.0)
    for ts, value in [(0.0, 3.0), (30.0, 1.0), (60.0, 2.0), (240.0, 6.0), (600.0, 4.0)]:
        store.add(KEY, ts, value)
    return store


@pytest.mark.parametrize(("statistic", "expected"), [
    pytest.param("Sum", [(0, 12.0), (600, 4.0)], id="§8-Sum-over-300s-empty-period-omitted"),
    pytest.param("SampleCount", [(0, 4.0), (600, 1.0)], id="§8-SampleCount"),
    pytest.param("Average", [(0, 3.0), (600, 4.0)], id="§8-Average-is-sum-over-samples"),
    pytest.param("Minimum", [(0, 1.0), (600, 4.0)], id="§8-Minimum"),
    pytest.param("Maximum", [(0, 6.0), (600, 4.0)], id="§8-Maximum"),
])
def test_get_metric_data_aggregates_to_300s(statistic: str, expected: list[tuple[int, float]]) -> None:
    # §8 [S11]: Period 300 aggregates the 1-minute data; periods without data are omitted.
    assert _five_minutes_store().datapoints(KEY, statistic, 300, 0, 900, now=10_000) == expected


@pytest.mark.parametrize(("start_ts", "end_ts", "now", "expected"), [
    pytest.param(120, 900, 10_000, [(0, 12.0), (600, 4.0)], id="§8-start-rounded-down-to-period"),
    pytest.param(0, 600, 10_000, [(0, 12.0)], id="§8-end-exclusive"),
    pytest.param(0, 900, 959.999, [(0, 12.0)], id="§8-300s-period-hidden-until-its-last-minute-is-visible"),
    pytest.param(0, 900, 960.0, [(0, 12.0), (600, 4.0)], id="§8-300s-period-visible-with-its-last-minute"),
    pytest.param(0, 900, 359.999, [], id="§8-first-300s-period-not-yet-complete"),
    pytest.param(0, 900, 360.0, [(0, 12.0)], id="§8-first-300s-period-complete-at-240-plus-120"),
])
def test_get_metric_data_window(start_ts: float, end_ts: float, now: float,
                                expected: list[tuple[int, float]]) -> None:
    # §8 [S11]: StartTime inclusive (rounded down), EndTime exclusive; the model publishes a 300 s
    # aggregate only once its last minute is visible (minute 840 of [600, 900) at 840 + 60 + 60).
    assert _five_minutes_store().datapoints(KEY, "Sum", 300, start_ts, end_ts, now) == expected


@pytest.mark.parametrize(("period_s", "statistic", "message"), [
    pytest.param(90, "Sum", "period 90 is not a multiple of 60", id="§8-period-not-multiple-of-60"),
    pytest.param(60, "p99", "unsupported statistic 'p99'", id="unsupported-statistic"),
])
def test_datapoints_rejects_bad_queries(period_s: int, statistic: str, message: str) -> None:
    store = MetricStore(60, 60.0)
    store.add(KEY, 0.0, 1.0)
    with pytest.raises(ValueError, match=message):
        store.datapoints(KEY, statistic, period_s, 0, 600, now=10_000)


def test_unknown_metric_has_no_datapoints() -> None:
    assert MetricStore(60, 60.0).datapoints(KEY, "Sum", 60, 0, 600, now=10_000) == []


@pytest.mark.parametrize(("recorded", "expected"), [
    pytest.param(None, [(960, 0.0)], id="§1-S15-prereq-idle-period-reads-zero"),
    pytest.param(7.0, [(960, 7.0)], id="emit-zero-never-overwrites-data"),
])
def test_emit_zero(recorded: float | None, expected: list[tuple[int, float]]) -> None:
    store = MetricStore(60, 60.0)
    if recorded is not None:
        store.add(KEY, 965.0, recorded)
    store.emit_zero(KEY, 960)
    assert store.datapoints(KEY, "Sum", 60, 0, 10_000, now=10_000) == expected


@pytest.mark.parametrize(("statistic", "value"), [
    pytest.param("Sum", 0.0, id="Sum"),
    pytest.param("Average", 0.0, id="Average"),
    pytest.param("Minimum", 0.0, id="Minimum"),
    pytest.param("Maximum", 0.0, id="Maximum"),
    pytest.param("SampleCount", 0.0, id="SampleCount-of-an-idle-zero-is-0"),
])
def test_zero_bucket_statistics(statistic: str, value: float) -> None:
    assert Bucket(minimum=0.0, maximum=0.0).stat(statistic) == value


@pytest.mark.parametrize(("now", "count", "expected"), [
    pytest.param(300.0, 3, [(60, 2.0), (180, 4.0)], id="last-3-visible-periods-with-a-gap"),
    pytest.param(300.0, 4, [(0, 1.0), (60, 2.0), (180, 4.0)], id="last-4"),
    pytest.param(300.0, 1, [(180, 4.0)], id="last-1"),
    pytest.param(360.0, 3, [(180, 4.0)], id="a-missing-period-is-left-out-not-zero"),
    pytest.param(119.999, 3, [], id="nothing-visible-yet"),
])
def test_latest(now: float, count: int, expected: list[tuple[int, float]]) -> None:
    # §1: the alarm looks at its last N periods and sees only the datapoints among them.
    store = MetricStore(60, 60.0)
    for ts, value in [(0.0, 1.0), (60.0, 2.0), (180.0, 4.0)]:  # period 120 has no data
        store.add(KEY, ts, value)
    assert store.latest(KEY, "Sum", now, count) == expected


# --------------------------------------------------------------------- what the World publishes
def test_invocations_per_instance_is_one_over_in_service_count_at_arrival() -> None:
    # §5 [S15-mon, S27]: each request emits 1/N, N = InService instances when it arrives.
    params = ModelParams()
    world, ready = in_service_world(params)
    for i in range(60):  # minute `ready`: 60 requests on 1 instance
        world.invoke(EP, ready + i)
    world.update_capacities(EP, {VARIANT: 3}, ready + 60)
    for i in range(30):  # minute ready+120: the 2 new instances are still provisioning -> N = 1
        world.invoke(EP, ready + 120 + i)
    in_service_ts = ready + 60 + params.provisioning_delay_s  # ready + 360, a minute boundary
    for i in range(60):  # minute ready+360: 60 requests on 3 instances
        world.invoke(EP, in_service_ts + i)
    now = in_service_ts + 60 + params.metric_publish_lag_s  # minute ready+360 just became visible
    zeros = [(ready + m, 0.0) for m in (60, 180, 240, 300)]  # idle minutes of the InService/Updating endpoint
    assert per_minute(world, "InvocationsPerInstance", ready, now, now) == sorted(
        [(ready, 60.0), (ready + 120, 30.0), (in_service_ts, pytest.approx(20.0)), *zeros])
    assert per_minute(world, "Invocations", ready, now, now) == sorted(
        [(ready, 60.0), (ready + 120, 30.0), (in_service_ts, 60.0), *zeros])


def test_model_latency_is_in_microseconds() -> None:
    # §5 [S15-mon]: ModelLatency unit is Microseconds. Jitter 0: 50 ms idle, 100 ms for the second of 2
    # requests sharing 1 slot (physics: latency x in-flight / slots).
    params = ModelParams(latency_jitter=0.0, model_latency_ms=50.0, instance_concurrency=1)
    world, ready = in_service_world(params)
    world.invoke(EP, ready + 1)
    world.invoke(EP, ready + 2)  # the first is still in flight
    now = ready + 60 + params.metric_publish_lag_s
    for statistic, value in [("Minimum", 50_000.0), ("Maximum", 100_000.0), ("SampleCount", 2.0)]:
        assert per_minute(world, "ModelLatency", ready, now, now, statistic) == [(ready, value)], statistic


@pytest.mark.parametrize(("overload_error", "expected"), [
    pytest.param("ModelError", {"Invocations": 2.0, "InvocationsPerInstance": 2.0, "Invocation4XXErrors": 0.0,
                                "Invocation5XXErrors": 1.0, "InvocationModelErrors": 1.0},
                 id="§5-§9-overload-ModelError-counts-as-5xx-and-model-error"),
    pytest.param("ThrottlingException", {"Invocations": 1.0, "InvocationsPerInstance": 1.0,
                                         "Invocation4XXErrors": 0.0, "Invocation5XXErrors": 0.0,
                                         "InvocationModelErrors": 0.0},
                 id="§5-§9-throttled-request-never-reaches-the-model"),
])
def test_error_counts_on_overload(overload_error: str, expected: dict[str, float]) -> None:
    # §5: Invocation4XX/5XXErrors count 4xx/5xx from the model; §9: both overload answers are reported.
    params = ModelParams(instance_concurrency=1, max_queue_per_instance=0, overload_error=overload_error)
    world, ready = in_service_world(params)
    first, _ = world.invoke(EP, ready + 1)
    second, _ = world.invoke(EP, ready + 2)  # the first still holds the only slot
    assert (first.error, second.error) == (None, overload_error)
    now = ready + 60 + params.metric_publish_lag_s
    got = {m: per_minute(world, m, ready, now, now) for m in expected}
    assert got == {m: [(ready, v)] for m, v in expected.items()}
    assert per_minute(world, "ModelLatency", ready, now, now, "SampleCount") == [(ready, 1.0)]


def test_no_metric_before_the_endpoint_serves() -> None:
    # §1 [S15-prereq]: zeros are published for an idle InService variant, nothing before it exists
    # or while it is Creating; the first datapoint is the first period it was InService.
    params = ModelParams()
    world = World(params, start_ts=START)
    world.advance(START + 120)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=1, desired=1)], START + 120)
    in_service = START + 120 + params.endpoint_create_delay_s  # a minute boundary
    world.advance(in_service)
    assert world.metrics.keys() == []
    now = in_service + 3 * 60 + params.metric_publish_lag_s
    world.advance(now)
    assert per_minute(world, "InvocationsPerInstance", START, now, now) == [
        (in_service, 0.0), (in_service + 60, 0.0), (in_service + 120, 0.0)]
    assert sorted(k.name for k in world.metrics.keys()) == [
        "Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors", "Invocations",
        "InvocationsPerInstance"]


def test_endpoint_in_service_mid_minute_publishes_that_minute() -> None:
    # §1 [S15-prereq]: InService at 250 s into its minute -> that minute gets its zero.
    params = ModelParams(endpoint_create_delay_s=250.0)
    world = World(params, start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=1, desired=1)], START)
    now = START + 300 + 60 + params.metric_publish_lag_s
    world.advance(now)
    assert per_minute(world, "Invocations", START, now, now) == [(START + 240, 0.0), (START + 300, 0.0)]


def test_world_publishes_each_minute_after_its_lag() -> None:
    # §5: a request's minute becomes visible at period end + metric_publish_lag_s, not earlier.
    params = ModelParams(metric_publish_lag_s=120.0)
    world, ready = in_service_world(params)
    world.invoke(EP, ready + 10)
    visible_ts = ready + 60 + params.metric_publish_lag_s
    assert per_minute(world, "Invocations", ready, ready + 60, visible_ts - 0.001) == []
    assert per_minute(world, "Invocations", ready, ready + 60, visible_ts) == [(ready, 1.0)]
