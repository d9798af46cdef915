"""harness.autoscaling.quota: the account's '<type> for endpoint usage' quota in the model (aws-semantics §4, §7).

A change that would take the account's instances of a type above its quota is refused: CreateEndpoint and
UpdateEndpointWeightsAndCapacities raise ResourceLimitExceeded, and a change Application Auto Scaling
applies ends its activity Failed with SageMaker's text while the capacity stays.
"""

from __future__ import annotations

import re

import pytest

from harness.autoscaling.params import ModelParams
from harness.autoscaling.quota import check_quota, instance_quota, limit_message
from harness.autoscaling.world import DIMENSION, Variant, World, WorldError
from tests.unit.test_autoscaling_world import EP, RID, START, VARIANT, in_service_world

QUOTA_3 = ModelParams(instance_quota={"ml.m5.large": 3})
LIMIT_RE = (r"Failed to set desired instance count to {to}\. Reason: The account-level service limit "
            r"'ml\.m5\.large for endpoint usage' is 3 Instances, with current utilization of {used} Instances "
            r"and a request delta of {delta} Instances\. Please use AWS Service Quotas to request an increase for "
            r"this quota\. If AWS Service Quotas is not available, contact AWS support to request an increase for "
            r"this quota\. \(Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceLimitExceeded; "
            r"Request ID: [0-9a-f-]{{36}}\)\.")


def test_quota_is_a_parameter_with_a_default_for_unlisted_types() -> None:
    assert instance_quota(QUOTA_3, "ml.m5.large") == 3
    assert instance_quota(QUOTA_3, "ml.g5.xlarge") == ModelParams().instance_quota_default == 100


def test_the_message_is_sagemakers() -> None:
    assert limit_message("ml.p3.2xlarge", 0, 0, 1) == (
        "The account-level service limit 'ml.p3.2xlarge for endpoint usage' is 0 Instances, with current "
        "utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
        "an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an "
        "increase for this quota.")


def test_scale_in_and_other_types_always_pass() -> None:
    world, _ = in_service_world(QUOTA_3, instances=3)
    check_quota(QUOTA_3, world.endpoints.values(), [("ml.m5.large", 3, 1)])
    check_quota(QUOTA_3, world.endpoints.values(), [("ml.c5.large", 0, 100)])
    with pytest.raises(WorldError, match="ml.c5.large for endpoint usage' is 100 Instances"):
        check_quota(QUOTA_3, world.endpoints.values(), [("ml.c5.large", 0, 101)])


def test_create_endpoint_counts_every_endpoint_of_the_type() -> None:
    world, ready = in_service_world(QUOTA_3, instances=2)
    with pytest.raises(WorldError) as err:
        world.create_endpoint("other", "cfg", [Variant("v", "ml.m5.large", current=0, desired=2)], ready)
    assert err.value.code == "ResourceLimitExceeded"
    assert "current utilization of 2 Instances and a request delta of 2 Instances" in err.value.message
    assert "other" not in world.endpoints
    world.create_endpoint("other", "cfg", [Variant("v", "ml.m5.large", current=0, desired=1)], ready)


def test_update_capacities_over_the_quota_is_refused_and_nothing_changes() -> None:
    world, ready = in_service_world(QUOTA_3, instances=2)
    with pytest.raises(WorldError, match="current utilization of 2 Instances and a request delta of 2 Instances"):
        world.update_capacities(EP, {VARIANT: 4}, ready)
    ep = world.endpoints[EP]
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired) == ("InService", 2, 2)
    world.update_capacities(EP, {VARIANT: 3}, ready)
    assert ep.status == "Updating"


def test_scale_out_past_the_quota_fails_its_activity_and_the_capacity_stays() -> None:
    world, ready = in_service_world(QUOTA_3, instances=2)
    target = world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                                   min_capacity=5, max_capacity=8)
    (act,) = world.activities_for(RID)
    assert (act.cause, act.status_code, act.end_ts) == ("minimum capacity was set to 5", "Failed", ready)
    assert re.fullmatch(LIMIT_RE.format(to=5, used=2, delta=3), act.status_message), act.status_message
    ep = world.endpoints[EP]
    assert (ep.status, ep.variants[VARIANT].current, ep.variants[VARIANT].desired, target.desired) == (
        "InService", 2, 2, 2)
    world.advance(ready + 600)  # nothing retries the change behind the model's back
    assert (ep.status, ep.variants[VARIANT].current, len(world.activities)) == ("InService", 2, 1)

    # Within the quota the same target scales as usual.
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready + 600,
                          min_capacity=3)
    assert world.activities_for(RID)[0].status_code == "InProgress"
    world.advance(ready + 600 + world.params.provisioning_delay_s)
    assert (world.activities_for(RID)[0].status_code, ep.variants[VARIANT].current) == ("Successful", 3)


def test_a_scale_out_waiting_for_an_update_fails_when_it_is_applied() -> None:
    """Application Auto Scaling applies its capacity once the endpoint is InService again: the check is then."""
    world, ready = in_service_world(QUOTA_3, instances=1)
    world.update_capacities(EP, {VARIANT: 2}, ready)  # Updating: the target's change waits
    target = world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                                   min_capacity=4, max_capacity=4)
    assert world.activities_for(RID)[0].status_code == "InProgress"
    done = ready + world.params.provisioning_delay_s
    world.advance(done)
    (act,) = world.activities_for(RID)
    assert act.status_code == "Failed" and act.end_ts == done
    assert re.fullmatch(LIMIT_RE.format(to=4, used=2, delta=2), act.status_message), act.status_message
    assert (world.endpoints[EP].variants[VARIANT].current, target.desired) == (2, 2)


def test_default_params_leave_room() -> None:
    world = World(ModelParams(), start_ts=START)
    world.create_endpoint(EP, "cfg", [Variant(VARIANT, "ml.m5.large", current=0, desired=100)], START)
    with pytest.raises(WorldError, match="is 100 Instances, with current utilization of 100 Instances"):
        world.create_endpoint("b", "cfg", [Variant(VARIANT, "ml.m5.large", current=0, desired=1)], START)
