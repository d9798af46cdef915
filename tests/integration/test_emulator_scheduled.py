"""Scheduled actions through real boto3 clients against an in-process emulator (aws-semantics §3, §4).

The emulator runs at ``SPEED`` x wall time (one endpoint minute = 0.1 wall s); ``at()`` is endpoint time,
read from ``GET /_emulator/clock``. Every wait is bounded.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.autoscaling.params import ModelParams
from tests.emulator_support import client, running, wait_until
from tests.emulator_support import deploy as support_deploy

pytestmark = pytest.mark.integration

SPEED = 600.0
PARAMS = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60, deprovision_delay_s=30)
REGION, ACCOUNT = "us-east-1", "000000000000"
DIM = "sagemaker:variant:DesiredInstanceCount"
EP = "sched-ep"
RID = f"endpoint/{EP}/variant/AllTraffic"
WAIT_WALL_S = 60.0  # a safety bound only: what is checked happens in endpoint time (0.1 s of wall at speed 600)


@pytest.fixture
def env() -> Iterator[tuple[str, Callable[[str], Any]]]:
    with running(PARAMS, SPEED) as (_emu, handle):
        made: list[Any] = []

        def make(service: str) -> Any:
            made.append(client(handle.url, service, region=REGION))
            return made[-1]

        yield handle.url, make
        for c in made:
            c.close()


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    return wait_until(probe, what, WAIT_WALL_S)


def endpoint_now(url: str) -> datetime:
    with urllib.request.urlopen(f"{url}/_emulator/clock", timeout=5) as resp:
        return datetime.fromtimestamp(json.load(resp)["endpoint_ts"], tz=UTC)


def deploy(sm: Any) -> None:
    support_deploy(sm, EP)


def instances(sm: Any) -> int:
    return sm.describe_endpoint(EndpointName=EP)["ProductionVariants"][0]["CurrentInstanceCount"]


def test_at_action_raises_min_capacity_and_scales_out(env: tuple[str, Callable[[str], Any]]) -> None:
    # §3 [S4, S8]: at the scheduled time MinCapacity becomes 3 and capacity below it scales out to 3.
    url, client = env
    sm, aas = client("sagemaker"), client("application-autoscaling")
    deploy(sm)
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIM,
                                 MinCapacity=1, MaxCapacity=4)
    fire = (endpoint_now(url) + timedelta(minutes=3)).replace(microsecond=0)
    schedule = f"at({fire.strftime('%Y-%m-%dT%H:%M:%S')})"
    aas.put_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName="morning", ResourceId=RID,
                             ScalableDimension=DIM, Schedule=schedule, ScalableTargetAction={"MinCapacity": 3})

    described = aas.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=RID)["ScheduledActions"]
    assert len(described) == 1
    action = described[0]
    assert re.fullmatch(rf"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scheduledAction:[0-9a-f-]{{36}}:resource/"
                        rf"sagemaker/{RID}:scheduledActionName/morning", action["ScheduledActionARN"])
    assert {k: action[k] for k in ("ScheduledActionName", "ServiceNamespace", "Schedule", "Timezone", "ResourceId",
                                   "ScalableDimension", "ScalableTargetAction")} == {
        "ScheduledActionName": "morning", "ServiceNamespace": "sagemaker", "Schedule": schedule, "Timezone": "UTC",
        "ResourceId": RID, "ScalableDimension": DIM, "ScalableTargetAction": {"MinCapacity": 3}}
    assert isinstance(action["CreationTime"], datetime)
    assert aas.describe_scheduled_actions(ServiceNamespace="sagemaker",
                                          ScheduledActionNames=["other"])["ScheduledActions"] == []
    assert instances(sm) == 1  # nothing before its time

    wait_for("3 instances", lambda: instances(sm) == 3)
    target = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RID])["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 4)
    acts = wait_for("a Successful activity", lambda: [
        a for a in aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RID)["ScalingActivities"]
        if a["StatusCode"] == "Successful"])
    assert acts[0]["Cause"] == "scheduled action name morning was triggered"
    assert acts[0]["Description"] == "Setting desired instance count to 3."
    assert acts[0]["StartTime"] >= fire

    aas.delete_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName="morning", ResourceId=RID,
                                ScalableDimension=DIM)
    assert aas.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"] == []
    with pytest.raises(ClientError) as info:
        aas.delete_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName="morning", ResourceId=RID,
                                    ScalableDimension=DIM)
    assert info.value.response["Error"]["Code"] == "ObjectNotFoundException"


# fmt: off
@pytest.mark.parametrize("kwargs,message", [
    pytest.param({"Schedule": "cron(0 9 * * *)"}, "cron() needs 6 fields", id="§3-S8-bad-cron"),
    pytest.param({"Schedule": "rate(1 hour)", "Timezone": "Mars/Olympus"}, "not a valid IANA time zone",
                 id="§3-S8-bad-timezone"),
])
# fmt: on
def test_put_scheduled_action_validation(env: tuple[str, Callable[[str], Any]], kwargs: dict[str, Any],
                                         message: str) -> None:
    _, client = env
    sm, aas = client("sagemaker"), client("application-autoscaling")
    deploy(sm)
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIM,
                                 MinCapacity=1, MaxCapacity=4)
    with pytest.raises(ClientError) as info:
        aas.put_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName="s", ResourceId=RID,
                                 ScalableDimension=DIM, **kwargs)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert message in info.value.response["Error"]["Message"]
