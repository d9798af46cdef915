"""World.invoke's in-place metric path: the same CloudWatch data as one MetricStore.add per sample.

:meth:`World.invoke` adds its samples straight to cached per-period buckets (``_Meter``). These tests
script requests across several metric periods — served, failed (overload, timeout), throttled, with and
without instances, late callers back in a closed period, two variants — and compare the model's store
with a reference built independently from what each call returned: one :meth:`MetricStore.add` per
sample, in the order the metrics are published (which is also the order ListMetrics lists them in), and
hand-computed Sum / SampleCount / Average / Minimum / Maximum.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from harness.autoscaling.metrics import STATISTICS, MetricKey, MetricStore
from harness.autoscaling.params import ModelParams
from harness.autoscaling.physics import Admission, admit
from harness.autoscaling.world import IDLE_ZERO_METRICS, NAMESPACE, Variant, World
from tests.unit.test_autoscaling_world import EP, START, VARIANT, in_service_world

FAR = 10**10  # a "now" at which every period is published


def key(metric: str, variant: str = VARIANT) -> MetricKey:
    return MetricKey.of(NAMESPACE, metric, EndpointName=EP, VariantName=variant)


class Recorder:
    """Drives ``world`` and replays, per request, the samples SageMaker publishes into ``reference``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.reference = MetricStore(world.params.metric_period_s, world.params.metric_publish_lag_s)
        self.outcomes: list[tuple[float, str, Admission, int]] = []

    def invoke(self, now: float, target_variant: str | None = None, *, finish: bool = True) -> Admission:
        admission, variant = self.world.invoke(EP, now, target_variant)
        instances = self.world.endpoints[EP].variants[variant].current
        self.outcomes.append((now, variant, admission, instances))
        if admission.error != "ThrottlingException":
            failed = 1.0 if admission.error is not None else 0.0
            add = self.reference.add
            add(key("Invocations", variant), now, 1.0)
            if instances > 0:
                add(key("InvocationsPerInstance", variant), now, 1.0 / instances)
            add(key("Invocation4XXErrors", variant), now, 0.0)
            add(key("Invocation5XXErrors", variant), now, failed)
            add(key("InvocationModelErrors", variant), now, failed)
            if not failed:
                add(key("ModelLatency", variant), now, admission.latency_s * 1e6)
        if finish and admission.error is None:
            self.world.finish(EP, variant)
        return admission

    def assert_same_as_reference(self) -> None:
        """Every invocation metric, in order of first publication, and every statistic of every period, exactly."""
        got, ref = self.world.metrics, self.reference
        sent = ref.keys()
        assert [k for k in got.keys() if k in set(sent)] == sent
        for k in sent:
            for statistic in STATISTICS:
                theirs = ref.datapoints(k, statistic, 60, 0, FAR, FAR)
                periods = {ts for ts, _ in theirs}
                ours = got.datapoints(k, statistic, 60, 0, FAR, FAR)
                assert [p for p in ours if p[0] in periods] == theirs, (k, statistic)
                # the model also holds the zeros it emits for idle periods, which the reference does not send
                idle = [value for ts, value in ours if ts not in periods]
                assert not idle or k.name in IDLE_ZERO_METRICS, (k, statistic)
                assert all(value == 0.0 for value in idle), (k, statistic)


def stats(values: list[float]) -> dict[str, float]:
    total = 0.0
    for v in values:
        total += v
    return {"Sum": total, "SampleCount": float(len(values)), "Average": total / len(values),
            "Minimum": min(values), "Maximum": max(values)}


def datapoint(world: World, metric: str, statistic: str, period_ts: int, variant: str = VARIANT) -> float:
    points = dict(world.metrics.datapoints(key(metric, variant), statistic, 60, 0, FAR, FAR))
    return points[period_ts]


def test_served_requests_over_several_periods_match_hand_computed_statistics() -> None:
    world, ready = in_service_world(ModelParams(latency_jitter=0.3), instances=2)
    rec = Recorder(world)
    arrivals = [ready + 0.5 * i for i in range(300)]  # 150 s: periods ready, ready+60, ready+120 (half)
    latencies: dict[int, list[float]] = {}
    for t in arrivals:
        admission = rec.invoke(t)
        assert admission.error is None
        latencies.setdefault(int(t // 60) * 60, []).append(admission.latency_s * 1e6)
    periods = sorted(latencies)
    assert periods == [ready, ready + 60, ready + 120]
    for p in periods:
        n = len(latencies[p])
        assert datapoint(world, "Invocations", "Sum", p) == n
        assert datapoint(world, "Invocations", "SampleCount", p) == n
        assert datapoint(world, "InvocationsPerInstance", "Sum", p) == pytest.approx(n / 2)
        assert datapoint(world, "InvocationsPerInstance", "Maximum", p) == 0.5
        for metric in ("Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors"):
            assert datapoint(world, metric, "Sum", p) == 0.0
            assert datapoint(world, metric, "SampleCount", p) == n
            assert datapoint(world, metric, "Maximum", p) == 0.0
        expected = stats(latencies[p])
        for statistic, value in expected.items():
            assert datapoint(world, "ModelLatency", statistic, p) == value, (p, statistic)
    rec.assert_same_as_reference()


def test_failures_throttles_late_callers_and_capacity_changes_match_one_add_per_sample() -> None:
    # One instance, one slot, a short queue: bursts overload it (ModelError 424, counted as 5XX and model
    # errors, no ModelLatency sample). Requests are finished late, so requests pile up.
    params = ModelParams(instance_concurrency=1, max_queue_per_instance=2, latency_jitter=0.2,
                         provisioning_delay_s=90.0, invocation_timeout_s=0.3, model_latency_ms=100)
    world, ready = in_service_world(params, instances=1)
    rec = Recorder(world)
    rng = random.Random(5)
    t = ready + 1.0
    open_requests: list[tuple[float, str]] = []
    for i in range(400):
        t += rng.choice([0.01, 0.05, 0.4, 1.5])
        while open_requests and open_requests[0][0] <= t:
            world.finish(EP, open_requests.pop(0)[1])
        if i == 150:  # scale to 2: Updating, the new instance arrives 90 s later, mid-period
            world.update_capacities(EP, {VARIANT: 2}, t)
        if i % 37 == 5:  # a late caller, back in the previous period sometimes
            rec.invoke(t - 2.5 - rng.random() * 3)
            continue
        admission = rec.invoke(t, finish=False)
        if admission.error is None:
            open_requests.append((t + admission.latency_s * 3, VARIANT))
            open_requests.sort()
    errors = [a.error for _, _, a, _ in rec.outcomes]
    assert errors.count("ModelError") > 10 and errors.count(None) > 100
    assert {n for *_, n in rec.outcomes} == {1, 2}
    rec.assert_same_as_reference()
    # hand check of one period with failures: counts of what each call returned
    p = next(int(now // 60) * 60 for now, _, a, _ in rec.outcomes if a.error is not None)
    in_p = [a for now, _, a, _ in rec.outcomes if int(now // 60) * 60 == p]
    failed = sum(a.error is not None for a in in_p)
    assert datapoint(world, "Invocations", "Sum", p) == len(in_p)
    assert datapoint(world, "Invocation5XXErrors", "Sum", p) == failed
    assert datapoint(world, "InvocationModelErrors", "Average", p) == failed / len(in_p)
    assert datapoint(world, "ModelLatency", "SampleCount", p) == len(in_p) - failed


def test_no_instances_then_instances_in_one_period_creates_per_instance_metrics_late() -> None:
    # Zero instances: requests fail (ModelError) and publish no InvocationsPerInstance until an instance
    # comes InService mid-period; the order of first publication is the order ListMetrics lists them in.
    params = ModelParams(endpoint_create_delay_s=0.0, provisioning_delay_s=30.0)
    world = World(params, start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=0, desired=0)], START)
    world.advance(START)
    rec = Recorder(world)
    rec.invoke(START + 1.0)
    world.update_capacities(EP, {VARIANT: 1}, START + 2.0)
    rec.invoke(START + 3.0)
    rec.invoke(START + 40.0)  # the instance came at START + 32
    assert [a.error for _, _, a, _ in rec.outcomes] == ["ModelError", "ModelError", None]
    assert [k.name for k in world.metrics.keys()] == [
        "Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors",
        "InvocationsPerInstance", "ModelLatency"]
    rec.assert_same_as_reference()
    assert datapoint(world, "InvocationsPerInstance", "SampleCount", START) == 1


def test_throttled_requests_publish_nothing() -> None:
    params = ModelParams(instance_concurrency=1, max_queue_per_instance=0, overload_error="ThrottlingException")
    world, ready = in_service_world(params, instances=1)
    rec = Recorder(world)
    assert rec.invoke(ready + 1.0, finish=False).error is None
    assert rec.invoke(ready + 2.0).error == "ThrottlingException"
    assert rec.invoke(ready + 61.0).error == "ThrottlingException"  # a new period: still nothing for it
    assert datapoint(world, "Invocations", "Sum", ready) == 1
    assert ready + 60 not in dict(world.metrics.datapoints(key("Invocations"), "Sum", 60, 0, FAR, FAR))
    rec.assert_same_as_reference()


def test_two_variants_get_their_own_buckets() -> None:
    params = ModelParams(endpoint_create_delay_s=0.0, seed=3)
    world = World(params, start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant("A", "ml.m5.large", current=1, desired=1),
                                      Variant("B", "ml.m5.large", current=3, desired=3, weight=2.0)], START)
    world.advance(START)
    rec = Recorder(world)
    for i in range(240):
        rec.invoke(START + 0.5 * i, "A" if i % 10 == 0 else None)
    by_variant = {v: [a for _, name, a, _ in rec.outcomes if name == v] for v in ("A", "B")}
    assert len(by_variant["A"]) > 24 and len(by_variant["B"]) > 100
    total = sum(datapoint(world, "Invocations", "Sum", START + 60 * p, "B") for p in range(2))
    assert total == len(by_variant["B"])
    rec.assert_same_as_reference()


def test_a_served_admission_is_a_plain_frozen_admission() -> None:
    params = ModelParams(latency_jitter=0.0)
    got = admit(inflight=0, instances=1, params=params, rng=random.Random(0), endpoint="ep")
    assert got == Admission(params.model_latency_ms / 1000.0)
    assert hash(got) == hash(Admission(params.model_latency_ms / 1000.0))
    assert repr(got) == repr(Admission(params.model_latency_ms / 1000.0))
    assert dataclasses.asdict(got) == {"latency_s": params.model_latency_ms / 1000.0, "error": None, "message": ""}
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.latency_s = 1.0  # type: ignore[misc]
