"""harness.autoscaling.asynchronous: async endpoints — backlog, dispatch, timeouts, TTL, metrics — and
scaling them from and to zero with the AWS guide's policies (aws-semantics §6 [S15-async-as]).

Rules are the A-numbers of ``harness/autoscaling/asynchronous.py`` and the R-numbers of
``harness/autoscaling/policy.py``. Times are endpoint seconds computed from ModelParams; ``START`` is a
minute boundary (and a multiple of the 10 s sampling interval).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.autoscaling.entities import AsyncConfig, AsyncResult
from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import DIMENSION, NAMESPACE, Variant, World, WorldError
from tests.unit.test_autoscaling_world import EP, RID, START, VARIANT, capacity_events, tt_config

EP_DIMS = {"EndpointName": EP}
VARIANT_DIMS = {"EndpointName": EP, "VariantName": VARIANT}
BACKLOG_METRICS = ("ApproximateBacklogSize", "ApproximateBacklogSizePerInstance", "ApproximateAgeOfOldestRequest",
                   "HasBacklogWithoutCapacity")
OUTCOME_METRICS = ("InvocationsProcesssed", "InvocationsProcessed", "TimeInBacklog", "TotalProcessingTime",
                   "InvocationFailures", "ExpiredRequests")
# The AWS guide's policies (aws-semantics §6, §2 [S15-async-as]).
GUIDE_TARGET = 5.0
GUIDE_STEP_DATAPOINTS = 2  # the user alarm: Period 60, EvaluationPeriods 2, DatapointsToAlarm 2
GUIDE_TRACKING = {
    "TargetValue": GUIDE_TARGET, "ScaleInCooldown": 600, "ScaleOutCooldown": 300,
    "CustomizedMetricSpecification": {"MetricName": "ApproximateBacklogSizePerInstance", "Namespace": NAMESPACE,
                                      "Dimensions": [{"Name": "EndpointName", "Value": EP}], "Statistic": "Average"},
}
GUIDE_STEP = {"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average", "Cooldown": 300,
              "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}


# ------------------------------------------------------------------------------------- helpers
def async_world(params: ModelParams | None = None, *, instances: int = 1,
                max_concurrent: int | None = None) -> tuple[World, float]:
    """A World whose async endpoint was created at START and just came InService; returns it and that time."""
    params = params or ModelParams()
    world = World(params, start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=instances, desired=instances)],
                          START, async_config=AsyncConfig(max_concurrent))
    ready = START + params.endpoint_create_delay_s
    world.advance(ready)
    return world, ready


def submit(world: World, ts: float, count: int, *, first: int = 0, **kw: Any) -> list[str]:
    """``count`` InvokeEndpointAsync requests at ``ts`` (ids r<first>...); returns the ids."""
    ids = [f"r{i}" for i in range(first, first + count)]
    for rid in ids:
        assert world.invoke_async(EP, ts, inference_id=rid, input_location=f"s3://in/{rid}",
                                  output_location=f"s3://out/{rid}.out",
                                  failure_location=f"s3://fail/{rid}.out", **kw) == VARIANT
    return ids


def points(world: World, metric: str, dims: dict[str, str], now: float,
           statistic: str = "Sum") -> list[tuple[int, float]]:
    return world.metrics.datapoints(MetricKey.of(NAMESPACE, metric, **dims), statistic, 60, START, now, now)


def minute_of(ts: float) -> int:
    return int(ts // 60) * 60


def visible(ts: float, params: ModelParams) -> float:
    """When the minute containing ``ts`` becomes visible (metrics.py: period end + publish lag)."""
    return minute_of(ts) + params.metric_period_s + params.metric_publish_lag_s


def first_eval_at_or_after(ts: float, params: ModelParams) -> float:
    """Alarms evaluate once per period at ``k x period + (publish lag mod period)`` (World.advance)."""
    period, phase = params.metric_period_s, params.metric_publish_lag_s % params.metric_period_s
    return phase + math.ceil((ts - phase) / period) * period


# ------------------------------------------------------------------------------ A2 dispatch
@pytest.mark.parametrize("max_concurrent", [
    pytest.param(1, id="A2-S10-one-slot-per-instance"),
    pytest.param(3, id="A2-S10-three-slots-per-instance"),
    pytest.param(None, id="A2-unset-uses-async_default_max_concurrent"),
])
def test_backlog_is_fifo_with_max_concurrent_slots_per_instance(max_concurrent: int | None) -> None:
    # A2: 2 instances x MaxConcurrentInvocationsPerInstance slots; A3 with jitter 0 every request takes
    # async_processing_s, so request i (FIFO) starts after i // slots processing rounds.
    params = ModelParams(latency_jitter=0.0)
    world, ready = async_world(params, instances=2, max_concurrent=max_concurrent)
    slots = 2 * (max_concurrent or params.async_default_max_concurrent)
    arrival = ready + 1
    ids = submit(world, arrival, 2 * slots + 1)
    processing = params.async_processing_s
    assert world.backlog_size(EP) == len(ids)
    world.advance(arrival + 3 * processing)
    results = world.drain_async_results()
    assert [r.inference_id for r in results] == ids  # completion order = arrival order here
    for i, r in enumerate(results):
        start = arrival + (i // slots) * processing
        assert (r.status, r.start_ts, r.done_ts, r.message) == ("Completed", start, start + processing, "")
    assert world.backlog_size(EP) == 0
    assert world.drain_async_results() == []  # drained once


def test_result_carries_the_request_and_drain_returns_only_what_finished() -> None:
    # A3: processing = async_processing_s x (1 ± latency_jitter); drain after advance(t) returns exactly the
    # requests done by t.
    params = ModelParams()
    world, ready = async_world(params, max_concurrent=1)
    submit(world, ready + 1, 2, ttl_s=3600, timeout_s=600)
    first_done_max = ready + 1 + params.async_processing_s * (1 + params.latency_jitter)
    world.advance(first_done_max)
    (first,) = world.drain_async_results()
    assert first == AsyncResult(
        inference_id="r0", endpoint=EP, variant=VARIANT, status="Completed", arrival_ts=ready + 1,
        start_ts=ready + 1, done_ts=first.done_ts, input_location="s3://in/r0", output_location="s3://out/r0.out",
        failure_location="s3://fail/r0.out", message="")
    low, high = (params.async_processing_s * (1 + s * params.latency_jitter) for s in (-1, 1))
    assert low <= first.done_ts - first.start_ts <= high
    world.advance(first.done_ts + high)
    (second,) = world.drain_async_results()
    assert second.start_ts == first.done_ts  # the freed slot is taken at once
    assert low <= second.done_ts - second.start_ts <= high


def test_scaled_in_instances_take_no_new_work_but_finish_theirs() -> None:
    # A2: 2 instances, 1 slot each, 4 requests. Scale-in to 1 right after dispatch completes
    # (deprovision_delay_s) before the two running requests end; both finish, then one slot serves the rest.
    params = ModelParams(latency_jitter=0.0, async_processing_s=100.0, deprovision_delay_s=60.0)
    assert params.deprovision_delay_s < params.async_processing_s
    world, ready = async_world(params, instances=2, max_concurrent=1)
    submit(world, ready, 4)
    world.update_capacities(EP, {VARIANT: 1}, ready + 1)
    p = params.async_processing_s
    world.advance(ready + 3 * p)
    starts = {r.inference_id: r.start_ts for r in world.drain_async_results()}
    assert starts == {"r0": ready, "r1": ready, "r2": ready + p, "r3": ready + 2 * p}


def test_requests_queue_at_zero_instances_and_start_when_an_instance_is_in_service() -> None:
    # A2 [S15-async-as]: requests received at 0 instances are queued; they start when capacity arrives.
    params = ModelParams(latency_jitter=0.0)
    world, ready = async_world(params)
    world.update_capacities(EP, {VARIANT: 0}, ready)
    zero_ts = ready + params.deprovision_delay_s
    submit(world, zero_ts + 5, 3)
    world.advance(zero_ts + 600)
    assert world.drain_async_results() == [] and world.backlog_size(EP) == 3
    world.update_capacities(EP, {VARIANT: 1}, zero_ts + 600)
    up = zero_ts + 600 + params.provisioning_delay_s
    world.advance(up + params.async_processing_s)
    assert [(r.start_ts, r.done_ts) for r in world.drain_async_results()] == [
        (up, up + params.async_processing_s)] * 3


# -------------------------------------------------------------------------- A3 timeout, A4 TTL
def test_processing_past_the_invocation_timeout_fails() -> None:
    # A3 [S9]: processing (async_processing_s, jitter 0) > InvocationTimeoutSeconds -> Failed at
    # dispatch + timeout, with a reason; one InvocationFailures, no InvocationsProcessed.
    params = ModelParams(latency_jitter=0.0, async_processing_s=30.0)
    world, ready = async_world(params)
    timeout = params.async_processing_s - 10
    submit(world, ready + 1, 1, timeout_s=timeout)
    world.advance(ready + 1 + timeout)
    (result,) = world.drain_async_results()
    assert (result.status, result.start_ts, result.done_ts) == ("Failed", ready + 1, ready + 1 + timeout)
    assert "timed out" in result.message and f"{timeout:g} s" in result.message
    now = visible(ready, params)
    world.advance(now)
    assert points(world, "InvocationFailures", VARIANT_DIMS, now) == [(ready, 1.0)]
    for metric in ("InvocationsProcessed", "InvocationsProcesssed", "ExpiredRequests"):
        assert points(world, metric, VARIANT_DIMS, now) == [(ready, 0.0)], metric  # idle zero
    assert points(world, "TotalProcessingTime", VARIANT_DIMS, now, "SampleCount") == []


def test_request_queued_past_its_ttl_expires() -> None:
    # A4 [S9]: 1 slot busy for async_processing_s; the second request's TTL passes while it is queued
    # -> Expired at arrival + TTL, never dispatched; one ExpiredRequests.
    params = ModelParams(latency_jitter=0.0, async_processing_s=200.0)
    world, ready = async_world(params, max_concurrent=1)
    ttl = 60
    assert ttl < params.async_processing_s
    submit(world, ready + 1, 2, ttl_s=ttl)
    world.advance(ready + 1 + params.async_processing_s)
    expired, completed = world.drain_async_results()  # completion order
    assert (expired.inference_id, expired.status, expired.start_ts, expired.done_ts) == (
        "r1", "Expired", None, ready + 1 + ttl)
    assert "expired" in expired.message
    assert (completed.inference_id, completed.status) == ("r0", "Completed")
    assert world.backlog_size(EP) == 0
    now = visible(ready + 1 + ttl, params)
    world.advance(now)
    expired_points = points(world, "ExpiredRequests", VARIANT_DIMS, now)
    assert (minute_of(ready + 1 + ttl), 1.0) in expired_points
    assert sum(v for _, v in expired_points) == 1.0  # the other minutes are idle zeros


@pytest.mark.parametrize(("kwargs", "message"), [
    pytest.param({"ttl_s": 59}, "'requestTTLSeconds' failed to satisfy constraint", id="S9-ttl-below-60"),
    pytest.param({"ttl_s": 21601}, "'requestTTLSeconds' failed to satisfy constraint", id="S9-ttl-above-21600"),
    pytest.param({"timeout_s": 0}, "'invocationTimeoutSeconds' failed", id="S9-timeout-below-1"),
    pytest.param({"timeout_s": 3601}, "'invocationTimeoutSeconds' failed", id="S9-timeout-above-3600"),
])
def test_invoke_async_validates_ttl_and_timeout(kwargs: dict[str, float], message: str) -> None:
    world, ready = async_world()
    with pytest.raises(WorldError, match=message) as err:
        submit(world, ready, 1, **kwargs)
    assert err.value.code == "ValidationError"


# --------------------------------------------------------------------------------- A1 routing
def test_async_and_real_time_invocations_do_not_mix() -> None:
    # A1 [S15-async]: an async endpoint accepts only async invocations; InvokeEndpointAsync needs one.
    world, ready = async_world()
    with pytest.raises(WorldError, match=f"Endpoint {EP} of account 000000000000 is an asynchronous") as err:
        world.invoke(EP, ready)
    assert err.value.code == "ValidationError"
    world.create_endpoint("rt", "cfg", [Variant(VARIANT, "ml.m5.large", 1, 1)], ready)
    world.advance(ready + world.params.endpoint_create_delay_s)
    with pytest.raises(WorldError, match="Endpoint rt of account 000000000000 is not an asynchronous") as err:
        world.invoke_async("rt", world.now, inference_id="x", input_location="s3://a/b", output_location="o",
                           failure_location="f")
    assert err.value.code == "ValidationError"


@pytest.mark.parametrize("when", [pytest.param("unknown", id="§9-unknown"), pytest.param("creating", id="creating")])
def test_invoke_async_needs_a_serving_endpoint(when: str) -> None:
    # §9 (same message as InvokeEndpoint): ValidationError "Endpoint <name> of account <acct> not found."
    world = World(ModelParams(), start_ts=START)
    if when == "creating":
        world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", 1, 1)], START, async_config=AsyncConfig())
    with pytest.raises(WorldError, match=f"^ValidationError: Endpoint {EP} of account 000000000000 not found.$"):
        submit(world, START + 1, 1)


def test_async_config_validates_max_concurrent() -> None:
    # §6 [S10]: MaxConcurrentInvocationsPerInstance is 1-1000.
    with pytest.raises(WorldError, match="between 1 and 1000"):
        AsyncConfig(0)
    assert AsyncConfig(1000).max_concurrent_per_instance == 1000


def test_deleted_endpoint_drops_its_backlog() -> None:
    world, ready = async_world(ModelParams(latency_jitter=0.0))
    submit(world, ready, 10)
    world.delete_endpoint(EP, ready + 1)
    world.advance(ready + 3600)
    assert world.drain_async_results() == [] and world.backlog_size(EP) == 0


# -------------------------------------------------------------------------------- A5 metrics
def test_metric_dimensions_and_both_spellings() -> None:
    # A5 [S15-asyncmon]: backlog metrics carry EndpointName only; per-request metrics EndpointName +
    # VariantName, with InvocationsProcesssed and InvocationsProcessed both published; no Invocations,
    # InvocationsPerInstance, OverheadLatency (nor the other real-time metrics) for an async endpoint.
    params = ModelParams(latency_jitter=0.0)
    world, ready = async_world(params)
    submit(world, ready + 1, 3)
    now = visible(ready + 120, params)
    world.advance(now)
    by_dims: dict[tuple[tuple[str, str], ...], set[str]] = {}
    for key in world.metrics.keys(NAMESPACE):
        by_dims.setdefault(key.dims, set()).add(key.name)
    assert by_dims == {(("EndpointName", EP),): set(BACKLOG_METRICS),
                       (("EndpointName", EP), ("VariantName", VARIANT)): set(OUTCOME_METRICS)}
    for spelling in ("InvocationsProcesssed", "InvocationsProcessed"):
        assert points(world, spelling, VARIANT_DIMS, now)[0] == (ready, 3.0)


@pytest.mark.parametrize(("unit", "factor"), [
    pytest.param("Milliseconds", 1e3, id="A5-2023-docs-milliseconds"),
    pytest.param("Microseconds", 1e6, id="A5-other-docs-microseconds"),
])
def test_time_in_backlog_and_total_processing_time(unit: str, factor: float) -> None:
    # A5: 1 slot, jitter 0: r0 waits 0 and takes P; r1 waits P and is done after 2P.
    params = ModelParams(latency_jitter=0.0, async_time_unit=unit)
    world, ready = async_world(params, max_concurrent=1)
    submit(world, ready + 1, 2)
    p = params.async_processing_s
    now = visible(ready + 1 + 2 * p, params)
    world.advance(now)
    assert minute_of(ready + 1 + 2 * p) == ready  # both land in minute `ready`
    for stat, backlog, total in [("Minimum", 0.0, p), ("Maximum", p, 2 * p)]:
        assert points(world, "TimeInBacklog", VARIANT_DIMS, now, stat) == [(ready, backlog * factor)]
        assert points(world, "TotalProcessingTime", VARIANT_DIMS, now, stat) == [(ready, total * factor)]


def test_backlog_metrics_are_sampled_every_sample_interval() -> None:
    # A5: one sample per async_metric_sample_s instant. 1 slot, jitter 0, 3 requests just after `ready`:
    # r_i is in the backlog from arrival a to a + (i + 1) P. A sample at s sees completions at s but not
    # arrivals at s (the arrival advances the model to s first), so the backlog at s counts a < s < done.
    params = ModelParams(latency_jitter=0.0, async_processing_s=25.0)
    world, ready = async_world(params, max_concurrent=1)
    arrival = ready + params.async_metric_sample_s / 2
    submit(world, arrival, 3)
    p, step = params.async_processing_s, params.async_metric_sample_s
    now = visible(ready, params)
    world.advance(now)
    samples = [ready + k * step for k in range(params.metric_period_s // step)]
    backlog = [sum(1 for i in range(3) if arrival < s < arrival + (i + 1) * p) for s in samples]
    age = [s - arrival if b else 0.0 for s, b in zip(samples, backlog, strict=True)]
    expected = {
        "ApproximateBacklogSize": backlog,
        "ApproximateBacklogSizePerInstance": backlog,  # 1 instance
        "ApproximateAgeOfOldestRequest": age,
        "HasBacklogWithoutCapacity": [0.0] * len(samples),
    }
    for metric, values in expected.items():
        for stat, value in [("Average", sum(values) / len(values)), ("Maximum", max(values)),
                            ("SampleCount", float(len(values)))]:
            assert points(world, metric, EP_DIMS, now, stat) == [(ready, pytest.approx(value))], (metric, stat)


@pytest.mark.parametrize(("mode", "expected"), [
    pytest.param("backlog", 3.0, id="A5-at-zero-the-whole-backlog"),
    pytest.param("zero", 0.0, id="A5-at-zero-reads-zero"),
    pytest.param("absent", None, id="A5-at-zero-no-sample"),
])
def test_backlog_per_instance_at_zero_instances(mode: str, expected: float | None) -> None:
    # A5 (UNCONFIRMED, ModelParams.backlog_per_instance_at_zero); HasBacklogWithoutCapacity is 1.
    params = ModelParams(backlog_per_instance_at_zero=mode)
    world, ready = async_world(params)
    world.update_capacities(EP, {VARIANT: 0}, ready)
    zero_minute = minute_of(ready + params.deprovision_delay_s) + 60  # a whole minute at 0 instances
    submit(world, zero_minute - params.async_metric_sample_s / 2, 3)
    now = visible(zero_minute, params)
    world.advance(now)

    def at(metric: str, stat: str) -> list[tuple[int, float]]:
        return [p for p in points(world, metric, EP_DIMS, now, stat) if p[0] == zero_minute]

    assert at("ApproximateBacklogSizePerInstance", "Average") == ([] if expected is None else [
        (zero_minute, expected)])
    assert at("HasBacklogWithoutCapacity", "Average") == [(zero_minute, 1.0)]
    assert at("ApproximateBacklogSize", "Average") == [(zero_minute, 3.0)]


def test_idle_async_endpoint_publishes_zero_counts_and_samples() -> None:
    # A5 (like §1 [S15-prereq] for real time): an idle InService async variant reads 0 every minute.
    params = ModelParams()
    world, ready = async_world(params)
    now = visible(ready + 120, params)
    world.advance(now)
    minutes = [(ready + m, 0.0) for m in (0, 60, 120)]
    for metric in ("InvocationsProcesssed", "InvocationsProcessed", "InvocationFailures", "ExpiredRequests"):
        assert points(world, metric, VARIANT_DIMS, now) == minutes, metric
    for metric in BACKLOG_METRICS:
        assert points(world, metric, EP_DIMS, now, "Maximum") == minutes, metric
    assert points(world, "ApproximateBacklogSize", EP_DIMS, now, "SampleCount") == [
        (m, params.metric_period_s / params.async_metric_sample_s) for m, _ in minutes]


# ------------------------------------------------------------------ target tracking, customized
def test_target_tracking_on_a_customized_metric_watches_that_metric() -> None:
    # §1 [S8]: CustomizedMetricSpecification {MetricName, Namespace, Dimensions, Statistic, Unit}; the two
    # managed alarms watch exactly that key with that statistic, with the usual AlarmHigh/AlarmLow settings.
    params = ModelParams()
    world, ready = async_world(params)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready, min_capacity=0,
                          max_capacity=5)
    config = {**GUIDE_TRACKING, "CustomizedMetricSpecification": {
        **GUIDE_TRACKING["CustomizedMetricSpecification"], "Unit": "None"}}
    policy = world.put_target_tracking(name="p", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                       configuration=config, now=ready)
    key = MetricKey.of(NAMESPACE, "ApproximateBacklogSizePerInstance", EndpointName=EP)
    high, low = world.alarms[policy.alarm_high], world.alarms[policy.alarm_low]
    assert (high.metric, high.statistic, high.unit, high.threshold, high.comparison, high.evaluation_periods) == (
        key, "Average", "None", GUIDE_TARGET, "GreaterThanThreshold", params.alarm_high_datapoints)
    assert (low.metric, low.statistic, low.threshold, low.comparison, low.datapoints_to_alarm) == (
        key, "Average", GUIDE_TARGET * params.alarm_low_ratio, "LessThanThreshold", params.alarm_low_datapoints)


@pytest.mark.parametrize(("config", "message"), [
    pytest.param({"TargetValue": 5.0, "CustomizedMetricSpecification": {"Metrics": [{"Id": "m1"}]}},
                 "does not support metric math|not supported by this emulator", id="§1-metric-math-refused"),
    pytest.param({**tt_config(), "CustomizedMetricSpecification": GUIDE_TRACKING["CustomizedMetricSpecification"]},
                 "Only one of", id="predefined-and-customized"),
    pytest.param({"TargetValue": 5.0, "CustomizedMetricSpecification": {"MetricName": "M", "Namespace": "N"}},
                 "requires Statistic", id="customized-without-statistic"),
    pytest.param({"TargetValue": 5.0, "CustomizedMetricSpecification": {
        "MetricName": "M", "Namespace": "N", "Statistic": "p99"}}, "Unsupported Statistic", id="bad-statistic"),
    pytest.param({"TargetValue": 5.0}, "Unsupported metric for this emulator", id="no-metric"),
])
def test_target_tracking_metric_validation(config: dict[str, Any], message: str) -> None:
    world, ready = async_world()
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready, min_capacity=0,
                          max_capacity=5)
    with pytest.raises(WorldError, match=message) as err:
        world.put_target_tracking(name="p", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                  configuration=config, now=ready)
    assert err.value.code == "ValidationException"


# -------------------------------------------------- external UpdateEndpointWeightsAndCapacities
def test_external_capacity_update_becomes_the_targets_desired() -> None:
    # §1 [S31]: Application Auto Scaling reads the resource's capacity; an UpdateEndpointWeightsAndCapacities
    # outside it is not undone. Target [0, 5] on a variant at 1, updated to 0 -> 0 and stays there.
    params = ModelParams()
    world, ready = async_world(params)
    target = world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                                   min_capacity=0, max_capacity=5)
    world.update_capacities(EP, {VARIANT: 0}, ready + 1)
    assert target.desired == 0
    world.advance(ready + 3600)
    variant = world.endpoints[EP].variants[VARIANT]
    assert (world.endpoints[EP].status, variant.current, variant.desired) == ("InService", 0, 0)
    assert world.activities == []
    assert capacity_events(world)[-1] == (ready + 1 + params.deprovision_delay_s, "InService", 0, 0)


# -------------------------------------------------------------- the AWS guide: scale from zero
def guide_world(params: ModelParams, *, step_policy: bool) -> tuple[World, float]:
    """The guide's setup [S15-async-as] on an async endpoint brought to 0 instances; returns the world and
    the time it reached 0 (InService)."""
    world, ready = async_world(params)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready, min_capacity=0,
                          max_capacity=5)
    world.update_capacities(EP, {VARIANT: 0}, ready)
    zero_ts = ready + params.deprovision_delay_s
    world.advance(zero_ts)
    assert world.endpoints[EP].variants[VARIANT].current == 0
    world.put_target_tracking(name="Invocations-ScalingPolicy", namespace="sagemaker", resource_id=RID,
                              dimension=DIMENSION, configuration=GUIDE_TRACKING, now=zero_ts)
    if step_policy:
        step = world.put_step_scaling(name="HasBacklogWithoutCapacity-ScalingPolicy", namespace="sagemaker",
                                      resource_id=RID, dimension=DIMENSION, configuration=GUIDE_STEP, now=zero_ts)
        world.put_metric_alarm(name="async-has-backlog-without-capacity",
                               metric=MetricKey.of(NAMESPACE, "HasBacklogWithoutCapacity", EndpointName=EP),
                               statistic="Average", period_s=60, evaluation_periods=GUIDE_STEP_DATAPOINTS,
                               datapoints_to_alarm=GUIDE_STEP_DATAPOINTS, threshold=1.0,
                               comparison="GreaterThanOrEqualToThreshold", treat_missing="missing",
                               actions=[step.arn], now=zero_ts)
    return world, zero_ts


def arrival_before_minute(world: World, zero_ts: float) -> tuple[float, int]:
    """An arrival half a sampling interval before minute ``b`` (20 min after reaching 0): minute b is the
    first whose every sample sees the request, and the minute before it saw none."""
    b = minute_of(zero_ts + 20 * 60)
    return b - world.params.async_metric_sample_s / 2, b


def activities(world: World) -> list[tuple[float, int]]:
    return [(a.start_ts, a.target_capacity) for a in sorted(world.activities, key=lambda a: a.start_ts)]


def in_service_at(world: World, count: int, after: float) -> float:
    """When the variant was next InService with ``count`` instances after ``after``."""
    return next(ts for ts, status, current, _ in capacity_events(world)
                if ts > after and status == "InService" and current == count)


def test_guide_step_policy_scales_one_request_up_from_zero() -> None:
    # (a) §6 [S15-async-as], §2: one request at 0 instances. HasBacklogWithoutCapacity is 1 in every sample of
    # minute b (and of each later minute until an instance serves); the user alarm needs 2 of 2 such minutes,
    # so it sees b and b+60 once b+60 is visible: b + 2 x period + publish lag, at the next evaluation tick.
    # Its +1 step requests the first instance then, InService provisioning_delay_s later, when the request
    # starts. (Defaults: b + 120 + 60 = b + 180 requested, b + 480 InService.) The tracking policy does not
    # scale out: the backlog per instance at 0 is 1 <= 5.
    params = ModelParams()
    world, zero_ts = guide_world(params, step_policy=True)
    arrival, b = arrival_before_minute(world, zero_ts)
    submit(world, arrival, 1)
    requested = first_eval_at_or_after(visible(b + (GUIDE_STEP_DATAPOINTS - 1) * 60, params), params)
    up = requested + params.provisioning_delay_s
    world.advance(up + params.async_processing_s * (1 + params.latency_jitter))
    first_ts, first_capacity = activities(world)[0]
    assert first_capacity == 1
    assert abs(first_ts - requested) <= params.metric_period_s
    assert abs(in_service_at(world, 1, arrival) - up) <= params.metric_period_s
    (result,) = world.drain_async_results()
    assert result.status == "Completed" and result.start_ts == in_service_at(world, 1, arrival)


@pytest.mark.parametrize("count", [pytest.param(3, id="§6-backlog-3-below-target-5"),
                                   pytest.param(5, id="§6-backlog-5-equal-to-target-5")])
def test_guide_without_step_policy_never_scales_up_a_backlog_at_or_below_target(count: int) -> None:
    # (b) §6 [S15-async-as]: "scale up from zero only once the backlog exceeds the target" — at 0 instances the
    # metric is the whole backlog (backlog_per_instance_at_zero = backlog), and AlarmHigh needs > 5.
    params = ModelParams()
    assert count <= GUIDE_TARGET
    world, zero_ts = guide_world(params, step_policy=False)
    arrival, _ = arrival_before_minute(world, zero_ts)
    submit(world, arrival, count)
    world.advance(arrival + 3600)
    assert world.activities == []
    assert world.endpoints[EP].variants[VARIANT].current == 0
    assert world.backlog_size(EP) == count and world.drain_async_results() == []


@pytest.mark.parametrize("count", [pytest.param(6, id="R7-backlog-6-gives-2"),
                                   pytest.param(8, id="R7-backlog-8-gives-2"),
                                   pytest.param(11, id="R7-backlog-11-gives-3")])
def test_guide_without_step_policy_scales_out_then_back_to_zero(count: int) -> None:
    # (b) §1, §6, R7: `count` > 5 requests at 0 instances. AlarmHigh (3 of 3 > target) sees minutes b, b+60,
    # b+120 once b+120 is visible (b + 3 x period + lag: b + 240 with defaults) and scales to
    # ceil(1 x count / 5) (R7: the measured basis at 0 instances is backlog / backlog-per-instance = 1),
    # InService provisioning_delay_s later (b + 540), when every request starts (count <= slots).
    params = ModelParams()
    world, zero_ts = guide_world(params, step_policy=False)
    arrival, b = arrival_before_minute(world, zero_ts)
    submit(world, arrival, count)
    requested = first_eval_at_or_after(visible(b + (params.alarm_high_datapoints - 1) * 60, params), params)
    capacity = math.ceil(count / GUIDE_TARGET)
    assert capacity * params.async_default_max_concurrent >= count
    up = requested + params.provisioning_delay_s
    done_by = up + params.async_processing_s * (1 + params.latency_jitter)
    world.advance(done_by)
    ((out_ts, out_capacity),) = activities(world)
    assert out_capacity == capacity and abs(out_ts - requested) <= params.metric_period_s
    assert abs(in_service_at(world, capacity, arrival) - up) <= params.metric_period_s
    results = world.drain_async_results()
    assert len(results) == count and {r.start_ts for r in results} == {in_service_at(world, capacity, arrival)}
    # (c) §1: from the first whole minute the instances serve (minute `up` itself with defaults, as `up` is
    # a minute boundary), every sample of the backlog per instance is at most count / capacity < 4.5, then
    # 0 once the requests are done. AlarmLow (15 of 15 < 0.9 x 5) sees 15 such minutes once the 15th is
    # visible (up + 15 x period + lag: b + 1500 with defaults) and takes the variant to MinCapacity 0
    # (metric 0 -> new capacity 0); deprovision_delay_s later it is at 0, and it stays there.
    assert count / capacity < GUIDE_TARGET * params.alarm_low_ratio
    low_first = math.ceil(up / params.metric_period_s) * params.metric_period_s
    scale_in = first_eval_at_or_after(
        visible(low_first + (params.alarm_low_datapoints - 1) * params.metric_period_s, params), params)
    world.advance(scale_in + params.deprovision_delay_s + 3600)
    (_, (in_ts, in_capacity)) = activities(world)
    assert in_capacity == 0 and abs(in_ts - scale_in) <= params.metric_period_s
    variant = world.endpoints[EP].variants[VARIANT]
    assert (variant.current, variant.desired, world.backlog_size(EP)) == (0, 0, 0)
    assert capacity_events(world)[-1][:3] == (in_ts + params.deprovision_delay_s, "InService", 0)
