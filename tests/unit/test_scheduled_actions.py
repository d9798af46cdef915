"""harness.autoscaling.scheduled: scheduled actions in the World (aws-semantics §3, §4).

Times are endpoint seconds from ``START`` of the shared world builders; the endpoint comes InService
at ``ready`` (START + 300 s) with 2 instances and the target is registered with [1, 4].
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.autoscaling.world import DIMENSION, World, WorldError
from tests.unit.test_autoscaling_world import RID, in_service_world

AT_OFFSET_S = 600  # the actions fire 10 minutes after the endpoint is InService


def at_expr(ts: float) -> str:
    return f"at({datetime.fromtimestamp(ts, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def setup(instances: int = 2) -> tuple[World, float]:
    world, ready = in_service_world(instances=instances)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          min_capacity=1, max_capacity=4)
    return world, ready


def put(world: World, now: float, name: str = "s", **kwargs: object) -> None:
    world.put_scheduled_action(name=name, namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                               now=now, **kwargs)  # type: ignore[arg-type]


# fmt: off
@pytest.mark.parametrize("min_c,max_c,want_bounds,want_desired,want_activity", [
    pytest.param(3, None, (3, 4), 3, True, id="§3-S4-min-above-current-scales-out-to-min"),
    pytest.param(None, 1, (1, 1), 1, True, id="§3-S4-max-below-current-scales-in-to-max"),
    pytest.param(1, 3, (1, 3), 2, False, id="§3-S4-bounds-moved-capacity-unchanged"),
    pytest.param(2, 6, (2, 6), 2, False, id="§3-S4-min-equals-current-unchanged"),
])
# fmt: on
def test_action_sets_bounds_and_clamps_capacity(min_c: int | None, max_c: int | None,
                                                want_bounds: tuple[int, int], want_desired: int,
                                                want_activity: bool) -> None:
    world, ready = setup()
    fire = ready + AT_OFFSET_S
    put(world, ready, schedule=at_expr(fire), min_capacity=min_c, max_capacity=max_c)
    world.advance(fire - 1)
    target = world.targets[RID]
    assert (target.min_capacity, target.max_capacity) == (1, 4)  # not before its time
    world.advance(fire)
    assert (target.min_capacity, target.max_capacity) == want_bounds
    assert target.desired == want_desired
    acts = world.activities_for(RID)
    if want_activity:
        assert acts[0].cause == "scheduled action name s was triggered"
        assert acts[0].description == f"Setting desired instance count to {want_desired}."
        assert acts[0].start_ts == fire
        world.advance(fire + 400)  # provisioning (300 s) or deprovisioning (60 s) completes
        assert acts[0].status_code == "Successful"
        assert world.endpoints["ep"].variants["AllTraffic"].current == want_desired
    else:
        assert acts == []


def test_recurring_action_fires_every_period_in_order() -> None:
    # §3 [S4]: order is guaranteed per target; a rate fires every period from its creation.
    world, ready = setup()
    put(world, ready, name="up", schedule="rate(10 minutes)", min_capacity=3)
    put(world, ready + 1, name="down", schedule="rate(10 minutes)", min_capacity=1, max_capacity=1)
    world.advance(ready + 1800)
    fired = [(e.ts - ready, e.detail["action"]) for e in world.truth if e.kind == "scheduled_action"]
    assert fired == [(600, "up"), (601, "down"), (1200, "up"), (1201, "down"), (1800, "up")]


def test_suspended_scheduled_scaling_skips_due_actions_and_runs_later_ones() -> None:
    # §4 [S6]: actions due while ScheduledScalingSuspended are skipped; on resume only those not yet due run.
    world, ready = setup()
    put(world, ready, name="early", schedule=at_expr(ready + 600), min_capacity=3)
    put(world, ready, name="late", schedule=at_expr(ready + 1200), max_capacity=3)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready + 60,
                          suspended={"ScheduledScalingSuspended": True})
    world.advance(ready + 900)
    target = world.targets[RID]
    assert (target.min_capacity, target.desired) == (1, 2)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready + 900,
                          suspended={"ScheduledScalingSuspended": False})
    world.advance(ready + 1300)
    assert (target.min_capacity, target.max_capacity, target.desired) == (1, 3, 2)
    statuses = [(e.detail["action"], e.detail["status"]) for e in world.truth if e.kind == "scheduled_action"]
    assert statuses == [("early", "skipped"), ("late", "fired")]


def test_cooldown_does_not_apply_to_scheduled_actions() -> None:
    # §3 [S4]: a scheduled action acts at its time, whatever a policy's cooldown.
    world, ready = setup()
    policy = world.put_target_tracking(name="p", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                       configuration={"TargetValue": 10.0, "PredefinedMetricSpecification": {
                                           "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
                                       now=ready)
    policy.cooldown.scale_out_until = ready + 10_000
    put(world, ready, schedule=at_expr(ready + 60), min_capacity=4)
    world.advance(ready + 60)
    assert world.targets[RID].desired == 4


def test_deregistering_the_target_removes_its_actions() -> None:
    # §3 [S8]: scheduled actions belong to the target.
    world, ready = setup()
    put(world, ready, schedule=at_expr(ready + 600), min_capacity=3)
    world.deregister_target("sagemaker", RID, DIMENSION, ready + 10)
    assert world.scheduled == {}
    world.advance(ready + 700)
    assert not any(e.kind == "scheduled_action" for e in world.truth)


def test_put_again_updates_and_keeps_unspecified_fields() -> None:
    world, ready = setup()
    put(world, ready, schedule="cron(0 * * * ? *)", timezone="Europe/Paris", min_capacity=2)
    first = world.scheduled[(RID, "s")]
    put(world, ready + 5, max_capacity=3)
    action = world.scheduled[(RID, "s")]
    assert (action.arn, action.schedule.source, action.timezone) == (first.arn, "cron(0 * * * ? *)", "Europe/Paris")
    assert (action.min_capacity, action.max_capacity, action.created_ts) == (2, 3, ready)


# fmt: off
@pytest.mark.parametrize("kwargs,code,message", [
    pytest.param({"schedule": "rate(0 minutes)"}, "ValidationException", "rate value must be at least 1",
                 id="§3-S8-bad-schedule"),
    pytest.param({}, "ValidationException", "Schedule is required", id="§3-S8-schedule-required-on-create"),
    pytest.param({"schedule": "rate(1 hour)", "timezone": "Nowhere/City"}, "ValidationException",
                 "Timezone 'Nowhere/City' is not a valid IANA time zone name", id="§3-S8-bad-timezone"),
    pytest.param({"schedule": "rate(1 hour)", "min_capacity": 5, "max_capacity": 2}, "ValidationException",
                 "Minimum capacity 5 cannot be greater than maximum capacity 2", id="§3-S8-min-above-max"),
    pytest.param({"schedule": "rate(1 hour)", "start_ts": 2.0, "end_ts": 1.0}, "ValidationException",
                 "StartTime must be before EndTime", id="§3-S8-start-after-end"),
])
# fmt: on
def test_put_refuses_bad_input(kwargs: dict[str, object], code: str, message: str) -> None:
    world, ready = setup()
    with pytest.raises(WorldError) as info:
        put(world, ready, **kwargs)
    assert info.value.code == code
    assert message in info.value.message


def test_put_on_unregistered_target_and_delete_unknown_are_object_not_found() -> None:
    world, ready = in_service_world()
    with pytest.raises(WorldError) as info:
        put(world, ready, schedule="rate(1 hour)")
    assert info.value.code == "ObjectNotFoundException"
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          min_capacity=1, max_capacity=4)
    with pytest.raises(WorldError) as info:
        world.delete_scheduled_action("ghost", "sagemaker", RID, DIMENSION, ready)
    assert info.value.code == "ObjectNotFoundException"
    assert "scheduled action name: ghost" in info.value.message


def test_at_most_200_actions_per_target() -> None:
    # §3 [S7]: limit of 200 scheduled actions per target.
    world, ready = setup()
    for i in range(200):
        put(world, ready, name=f"a{i}", schedule="rate(1 day)")
    with pytest.raises(WorldError) as info:
        put(world, ready, name="a200", schedule="rate(1 day)")
    assert info.value.code == "LimitExceededException"
    put(world, ready, name="a0", schedule="rate(2 days)")  # updating an existing one is fine
