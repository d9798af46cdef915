"""harness.autoscaling.world: endpoint lifecycle, scaling activities and the Foundation scenario.

Rules are cited as in ``docs/aws-semantics.md`` (section + source tag) or by the R-numbers of
``harness/autoscaling/policy.py``. Times are endpoint seconds; ``START`` is a minute boundary so that
``START + endpoint_create_delay_s`` (300 by default) is one too, and period arithmetic stays literal.
The builders here are shared with the alarm and metric tests.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.autoscaling.entities import TargetTrackingPolicy
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import DIMENSION, Variant, World, WorldError

START = 1_700_000_040  # 28_333_334 x 60: a minute boundary
EP, VARIANT = "ep", "AllTraffic"
RID = f"endpoint/{EP}/variant/{VARIANT}"
EP_ARN = f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{EP}"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SUCCESS_4 = "Successfully set desired instance count to 4. Change successfully fulfilled by sagemaker."


def tt_config(target: float = 10.0, **extra: Any) -> dict[str, Any]:
    """A TargetTrackingScalingPolicyConfiguration on SageMakerVariantInvocationsPerInstance."""
    metric = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    return {"TargetValue": target, "PredefinedMetricSpecification": metric, **extra}


def in_service_world(params: ModelParams | None = None, *, instances: int = 1) -> tuple[World, float]:
    """A World created at START whose endpoint just came InService; returns it and that time."""
    params = params or ModelParams()
    world = World(params, start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=instances, desired=instances)],
                          START)
    ready = START + params.endpoint_create_delay_s
    world.advance(ready)
    return world, ready


def with_policy(world: World, now: float, *, min_c: int = 1, max_c: int = 4,
                **config: Any) -> TargetTrackingPolicy:
    """Register ``RID`` with [min_c, max_c] and put target-tracking policy ``p`` on it."""
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=now,
                          min_capacity=min_c, max_capacity=max_c)
    return world.put_target_tracking(name="p", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                     configuration=tt_config(**config), now=now)


def send(world: World, start_ts: float, count: int, interval_s: float) -> None:
    """``count`` requests ``interval_s`` apart from ``start_ts``, each finished at once (latency ≪ gap)."""
    for i in range(count):
        admission, variant = world.invoke(EP, start_ts + i * interval_s)
        assert admission.error is None
        world.finish(EP, variant)


def capacity_events(world: World) -> list[tuple[float, str, int, int]]:
    return [(e.ts, e.detail["status"], e.detail["current"], e.detail["desired"])
            for e in world.truth if e.kind == "capacity"]


def transitions(world: World, alarm: str) -> list[tuple[float, str]]:
    return [(e.ts, e.detail["state"]) for e in world.truth
            if e.kind == "alarm_state" and e.detail["alarm"] == alarm]


# ------------------------------------------------------------------------------ endpoint lifecycle
@pytest.mark.parametrize("create_delay_s", [
    pytest.param(300.0, id="§7-default-create-delay-300s"),
    pytest.param(90.0, id="§7-create-delay-is-a-parameter"),
])
def test_create_endpoint_is_creating_until_the_create_delay(create_delay_s: float) -> None:
    # §7 [S10]: CreateEndpoint -> Creating -> InService after ModelParams.endpoint_create_delay_s.
    world = World(ModelParams(endpoint_create_delay_s=create_delay_s), start_ts=START)
    ep = world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=2, desired=2)], START)
    world.advance(START + create_delay_s - 1)
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired) == ("Creating", 0, 2)
    world.advance(START + create_delay_s)
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired) == ("InService", 2, 2)


@pytest.mark.parametrize(("name", "advance_s"), [
    pytest.param(EP, 0.0, id="§9-invoke-creating-endpoint"),
    pytest.param(EP, 299.0, id="§9-invoke-creating-endpoint-1s-before-InService"),
    pytest.param("nope", 300.0, id="§9-invoke-unknown-endpoint"),
])
def test_invoke_refused_unless_endpoint_serves(name: str, advance_s: float) -> None:
    # §9: a non-InService or unknown endpoint answers ValidationError "... not found." (UNCONFIRMED text).
    world = World(ModelParams(), start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=1, desired=1)], START)
    with pytest.raises(WorldError) as err:
        world.invoke(name, START + advance_s)
    assert (err.value.code, err.value.message) == (
        "ValidationError", f"Endpoint {name} of account 000000000000 not found.")


def test_unknown_endpoint_update_names_the_arn() -> None:
    # §7 [S23]: an unknown endpoint gives ValidationException "Could not find endpoint ...".
    world, ready = in_service_world()
    with pytest.raises(WorldError) as err:
        world.update_capacities("Nope", {VARIANT: 2}, ready)
    assert (err.value.code, err.value.message) == (
        "ValidationException",
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/nope".')


@pytest.mark.parametrize(("params", "to", "delay_s"), [
    pytest.param(ModelParams(), 3, 300.0, id="§7-scale-out-waits-default-provisioning-300s"),
    pytest.param(ModelParams(provisioning_delay_s=420.0), 3, 420.0,
                 id="§7-provisioning-delay-is-a-parameter"),
    pytest.param(ModelParams(), 1, 60.0, id="§7-scale-in-waits-default-deprovision-60s"),
    pytest.param(ModelParams(deprovision_delay_s=30.0), 1, 30.0, id="§7-deprovision-delay-is-a-parameter"),
])
def test_update_capacities_is_updating_until_instances_change(params: ModelParams, to: int,
                                                              delay_s: float) -> None:
    # §7 [S10]: Updating while DesiredInstanceCount != CurrentInstanceCount, InService when done;
    # old instances keep serving (and counting) until then.
    world, ready = in_service_world(params, instances=2)
    ep = world.update_capacities(EP, {VARIANT: to}, ready + 10)
    world.advance(ready + 10 + delay_s - 1)
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired) == ("Updating", 2, to)
    world.advance(ready + 10 + delay_s)
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired) == ("InService", to, to)


def test_update_on_updating_endpoint_is_refused() -> None:
    # §7 [S23]: UpdateEndpointWeightsAndCapacities on an Updating endpoint is refused with
    # "Cannot update in-progress endpoint".
    world, ready = in_service_world()
    world.update_capacities(EP, {VARIANT: 2}, ready)
    with pytest.raises(WorldError) as err:
        world.update_capacities(EP, {VARIANT: 3}, ready + 299)
    assert (err.value.code, err.value.message) == (
        "ValidationException", f'Cannot update in-progress endpoint "{EP_ARN}".')
    assert world.endpoints[EP].variants[VARIANT].desired == 2


# ------------------------------------------------------------------------------------- activities
def test_scale_out_activity_text_and_status_follow_the_instances() -> None:
    # §4 [S26]: Description / Cause / StatusMessage text; InProgress until the instances are InService.
    params = ModelParams()
    world, ready = in_service_world(params)
    policy = with_policy(world, ready)
    send(world, ready, 360, 0.5)  # 2 rps for 3 minutes: 120 per instance per minute, target 10
    alarm_ts = ready + params.alarm_high_datapoints * params.metric_period_s + params.metric_publish_lag_s
    world.advance(alarm_ts)
    [act] = world.activities
    assert (act.description, act.cause, act.start_ts, act.status_code, act.status_message, act.end_ts) == (
        "Setting desired instance count to 4.",
        f"monitor alarm {policy.alarm_high} in state ALARM triggered policy p",
        alarm_ts, "InProgress", "Waiting for change to be fulfilled by sagemaker.", None)
    world.advance(alarm_ts + params.provisioning_delay_s - 1)
    assert act.status_code == "InProgress"
    world.advance(alarm_ts + params.provisioning_delay_s)
    assert (act.status_code, act.status_message, act.end_ts) == (
        "Successful", SUCCESS_4, alarm_ts + params.provisioning_delay_s)


@pytest.mark.parametrize(("min_c", "max_c", "to", "cause"), [
    pytest.param(3, 4, 3, "minimum capacity was set to 3", id="§4-S5-raising-min-above-desired-scales-out"),
    pytest.param(1, 1, 1, "maximum capacity was set to 1", id="§4-S5-lowering-max-below-desired-scales-in"),
])
def test_register_target_outside_bounds_triggers_activity(min_c: int, max_c: int, to: int,
                                                          cause: str) -> None:
    # §4 [S5, S15-history]: changing min/max can itself trigger a scaling activity, with cause
    # "minimum capacity was set to N".
    params = ModelParams()
    world, ready = in_service_world(params, instances=2)
    with_policy(world, ready, min_c=1, max_c=4)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready + 5,
                          min_capacity=min_c, max_capacity=max_c)
    [act] = world.activities
    assert (act.description, act.cause, act.start_ts, act.status_code) == (
        f"Setting desired instance count to {to}.", cause, ready + 5, "InProgress")
    assert world.endpoints[EP].status == "Updating"
    delay = params.provisioning_delay_s if to > 2 else params.deprovision_delay_s
    world.advance(ready + 5 + delay)
    assert (act.status_code, act.end_ts, world.endpoints[EP].variants[VARIANT].current) == (
        "Successful", ready + 5 + delay, to)


def test_register_target_min_above_max_is_refused() -> None:
    # §4 [S8]: ValidationException on an impossible range.
    world, ready = in_service_world()
    with pytest.raises(WorldError) as err:
        world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                              min_capacity=5, max_capacity=4)
    assert (err.value.code, err.value.message) == (
        "ValidationException", "Minimum capacity 5 cannot be greater than maximum capacity 4")


@pytest.mark.parametrize(("suspended", "activities"), [
    pytest.param({}, 1, id="§4-S6-not-suspended-scales-out"),
    pytest.param({"DynamicScalingOutSuspended": True}, 0, id="§4-S6-OutSuspended-blocks-scale-out"),
    pytest.param({"DynamicScalingInSuspended": True}, 1, id="§4-S6-InSuspended-leaves-scale-out"),
])
def test_suspended_state_in_world(suspended: dict[str, bool], activities: int) -> None:
    # §4 [S6]: suspension set through RegisterScalableTarget blocks policy-driven scaling of that direction.
    params = ModelParams()
    world, ready = in_service_world(params)
    with_policy(world, ready)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          suspended=suspended)
    send(world, ready, 360, 0.5)
    world.advance(ready + 600)
    assert len(world.activities) == activities


# ------------------------------------------------------------------------- Foundation scenario
@pytest.mark.parametrize(("params", "load_offset_s"), [
    pytest.param(ModelParams(), 0.0, id="defaults-load-on-a-minute-boundary"),
    pytest.param(ModelParams(), 25.0, id="defaults-load-starts-mid-minute"),
    pytest.param(ModelParams(metric_publish_lag_s=90.0, provisioning_delay_s=420.0, deprovision_delay_s=30.0),
                 0.0, id="lag-90s-provisioning-420s-deprovision-30s"),
])
def test_foundation_scenario(params: ModelParams, load_offset_s: float) -> None:
    """1 instance, min 1 max 4, target 10, ScaleOutCooldown 60, ScaleInCooldown 300; 2 rps for 250 s."""
    period, lag = params.metric_period_s, params.metric_publish_lag_s
    rate_rps, load_s = 2, 250
    world, ready = in_service_world(params)
    policy = with_policy(world, ready, ScaleOutCooldown=60, ScaleInCooldown=300)
    load_start = ready + load_offset_s
    send(world, load_start, rate_rps * load_s, 1 / rate_rps)
    world.advance(load_start + 1800)

    # §1 [S12] + §5: AlarmHigh needs 3 breaching one-minute datapoints, each visible `lag` after its period
    # ends. Every loaded minute breaches (even the partial first: 35 s x 2 rps = 70 > 10), so the third
    # datapoint is the period starting 2 periods after the load's first period.
    first_bucket = math.floor(load_start / period) * period
    alarm_ts = first_bucket + params.alarm_high_datapoints * period + lag
    assert load_start + (params.alarm_high_datapoints - 1) * period + lag < alarm_ts
    assert alarm_ts <= load_start + params.alarm_high_datapoints * period + lag
    # §7: the 3 new instances serve provisioning_delay_s later.
    out_done_ts = alarm_ts + params.provisioning_delay_s
    # §1 [S12]: AlarmLow needs 15 datapoints below 9; the first is the first period with no request
    # (zeros are published for an idle InService endpoint, S15-prereq).
    first_idle_bucket = math.ceil((load_start + load_s) / period) * period
    scale_in_ts = first_idle_bucket + params.alarm_low_datapoints * period + lag
    in_done_ts = scale_in_ts + params.deprovision_delay_s

    assert transitions(world, policy.alarm_high)[0] == (alarm_ts, "ALARM")
    assert transitions(world, policy.alarm_low)[-1] == (scale_in_ts, "ALARM")
    assert capacity_events(world) == [
        (ready, "InService", 1, 1),
        (alarm_ts, "Updating", 1, 4),  # R1: ceil(1 x 120 / 10) = 12, clamped to MaxCapacity 4
        (out_done_ts, "InService", 4, 4),
        (scale_in_ts, "Updating", 4, 1),  # R1, R4: metric 0 -> MinCapacity 1
        (in_done_ts, "InService", 1, 1),
    ]
    out, in_ = world.activities
    assert (out.target_capacity, out.start_ts, out.end_ts, out.status_code, out.status_message) == (
        4, alarm_ts, out_done_ts, "Successful", SUCCESS_4)
    assert (in_.target_capacity, in_.start_ts, in_.end_ts, in_.cause) == (
        1, scale_in_ts, in_done_ts, f"monitor alarm {policy.alarm_low} in state ALARM triggered policy p")


def test_foundation_scenario_default_times_in_seconds() -> None:
    # The same arithmetic with the defaults written out, so a changed default shows up here:
    # ALARM at 3 x 60 + 60 = 240 s after load start; 4 InService 300 s later (540 s);
    # first idle period at ceil(250 / 60) x 60 = 300 s; scale-in at 300 + 15 x 60 + 60 = 1260 s;
    # 1 InService 60 s later.
    world, ready = in_service_world()
    with_policy(world, ready, ScaleOutCooldown=60, ScaleInCooldown=300)
    send(world, ready, 500, 0.5)
    world.advance(ready + 1800)
    relative = [(ts - ready, *rest) for ts, *rest in capacity_events(world)]
    assert relative == [
        (0, "InService", 1, 1), (240, "Updating", 1, 4), (540, "InService", 4, 4),
        (1260, "Updating", 4, 1), (1320, "InService", 1, 1)]
