"""`harness.observe.snapshot` against an in-process emulator through real boto3: the restore paths a run
through the CLI does not reach — no scalable target before (deregistered after, scalecheck's alarm
deleted), a user's alarm overwritten by a profile's step alarm of the same name, a suspended target, a
scheduled action with a time zone and start/end times — and the refusal's wording."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.autoscaling.params import ModelParams
from harness.errors import ConfigError
from harness.observe.aws import Clients, Target, emulator_clock, make_clients
from harness.observe.setup import prepare
from harness.observe.snapshot import AFTER_RESTORE, APPLIED, BEFORE, ScalingGuard, load_state, restore_run_folder
from harness.profile import Profile, parse_profile
from harness.record import Clock, RunFolder, RunInfo
from tests.emulator_support import deploy, running

pytestmark = pytest.mark.integration

NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
APPLY = {"local": True, "change_scaling": True, "create_endpoint": False}


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[Clients, Clock]]:
    with running(ModelParams(endpoint_create_delay_s=30), 200.0) as (_emu, handle):
        yield make_clients(Target(region="us-east-1", endpoint_url=handle.url)), emulator_clock(handle.url)


def step_profile(endpoint: str) -> Profile:
    return parse_profile({
        "name": "restore-state", "endpoint": {"name": endpoint},
        "scaling": {"min_capacity": 1, "max_capacity": 3, "policies": [
            {"type": "step", "name": "latency-step", "steps": [{"lower": 0, "adjustment": 1}],
             "alarm": {"alarm_name": "shared-name", "name": "ModelLatency", "threshold": 1e6,
                       "comparison": "GreaterThanThreshold"}}],
            "scheduled_actions": [{"name": "nightly", "schedule": "cron(0 1 * * ? *)", "min_capacity": 1}]},
        "traffic": {"stages": [{"name": "s", "duration": "60s", "rate_rps": 1}]}})


def folder(tmp_path: Path, clock: Clock) -> RunFolder:
    return RunFolder.create(tmp_path, RunInfo(run_id="run", profile_name="p", profile={}, mode="aws", speed=1,
                                              region="us-east-1", endpoint_name="e", variant_name="v",
                                              started_ts=clock.endpoint_ts(), clock=clock))


def everything(clients: Clients, rid: str, alarms: list[str]) -> dict[str, Any]:
    ids = {"ServiceNamespace": NS, "ScalableDimension": DIM}
    aas = clients.autoscaling
    out = {"targets": aas.describe_scalable_targets(ResourceIds=[rid], **ids)["ScalableTargets"],
           "policies": aas.describe_scaling_policies(ResourceId=rid, **ids)["ScalingPolicies"],
           "actions": aas.describe_scheduled_actions(ResourceId=rid, **ids)["ScheduledActions"],
           "alarms": clients.cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"]}
    for a in out["alarms"]:
        for volatile in ("StateValue", "StateReason", "StateUpdatedTimestamp", "AlarmConfigurationUpdatedTimestamp"):
            a.pop(volatile, None)
    for a in out["actions"]:
        del a["ScheduledActionARN"], a["CreationTime"]
    return out


def test_no_target_before_is_deregistered_after_and_scalecheck_alarms_go(emulator: tuple[Clients, Clock],
                                                                         tmp_path: Path) -> None:
    clients, clock = emulator
    deploy(clients.sagemaker, "bare-ep")
    p = step_profile("bare-ep")
    rid = p.resource_id
    run = folder(tmp_path, clock)
    guard = ScalingGuard(clients, p, run, clock, lambda _m: None)
    guard.snapshot()
    prepare(clients, p, clock, lambda _m: None, **APPLY)
    guard.applied()
    assert clients.cloudwatch.describe_alarms(AlarmNames=["shared-name"])["MetricAlarms"]
    guard.restore()
    run.close()
    assert everything(clients, rid, ["shared-name"]) == {"targets": [], "policies": [], "actions": [], "alarms": []}
    after = load_state(tmp_path / "run", AFTER_RESTORE)
    assert after is not None and after.target is None
    events = [e.detail for e in RunFolder(tmp_path / "run").load().events if e.kind == "restore"]
    assert events == [f"target {rid}: remove (deregister (min 1 max 3; AWS deletes its policies and scheduled "
                      "actions with it))", "alarm shared-name: remove (put by scalecheck for the run)",
                      "complete: 2 change(s); scaling-after-restore.json"]
    guard.restore()  # once only
    assert len([e for e in RunFolder(tmp_path / "run").load().events if e.kind == "restore"]) == 3


def test_a_users_alarm_overwritten_by_the_profile_and_a_suspended_target_come_back(
        emulator: tuple[Clients, Clock], tmp_path: Path) -> None:
    clients, clock = emulator
    deploy(clients.sagemaker, "users-ep")
    p = step_profile("users-ep")
    rid = p.resource_id
    ids = {"ServiceNamespace": NS, "ResourceId": rid, "ScalableDimension": DIM}
    suspended = {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": False,
                 "ScheduledScalingSuspended": True}
    clients.autoscaling.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=5, SuspendedState=suspended)
    clients.autoscaling.put_scheduled_action(
        **ids, ScheduledActionName="nightly", Schedule="cron(30 22 * * ? *)", Timezone="Europe/Paris",
        StartTime=datetime(2030, 1, 1, tzinfo=UTC), EndTime=datetime(2031, 1, 1, tzinfo=UTC),
        ScalableTargetAction={"MinCapacity": 2})
    clients.cloudwatch.put_metric_alarm(  # the user's alarm that happens to carry the profile's alarm name
        AlarmName="shared-name", AlarmDescription="mine", MetricName="CPUUtilization",
        Namespace="/aws/sagemaker/Endpoints", Statistic="Maximum", Period=300, EvaluationPeriods=2,
        Threshold=90.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:pager"])
    before = everything(clients, rid, ["shared-name"])

    run = folder(tmp_path, clock)
    guard = ScalingGuard(clients, p, run, clock, lambda _m: None)
    guard.snapshot()
    snap = load_state(tmp_path / "run", BEFORE)
    assert snap is not None and [a.name for a in snap.alarms] == ["shared-name"] and not snap.alarms[0].own
    prepare(clients, copy.deepcopy(p), clock, lambda _m: None, **APPLY)
    guard.applied()
    assert everything(clients, rid, ["shared-name"]) != before  # overwritten, nightly replaced, 1..3
    guard.restore()
    run.close()
    assert everything(clients, rid, ["shared-name"]) == before

    # by hand now: the state is the one the run restored, so there is nothing to do and nothing refused
    assert restore_run_folder(tmp_path / "run", clients, lambda _m: None) == []


def test_the_refusal_names_what_changed_and_force_restores(emulator: tuple[Clients, Clock], tmp_path: Path) -> None:
    clients, clock = emulator
    deploy(clients.sagemaker, "moved-ep")
    p = step_profile("moved-ep")
    ids = {"ServiceNamespace": NS, "ResourceId": p.resource_id, "ScalableDimension": DIM}
    clients.autoscaling.register_scalable_target(**ids, MinCapacity=2, MaxCapacity=6)
    before = everything(clients, p.resource_id, ["shared-name"])
    run = folder(tmp_path, clock)
    guard = ScalingGuard(clients, p, run, clock, lambda _m: None)
    guard.snapshot()
    with pytest.raises(ConfigError, match=f"has no {APPLIED}"):  # stopped during setup
        restore_run_folder(run.path, clients, lambda _m: None)
    prepare(clients, p, clock, lambda _m: None, **APPLY)
    guard.applied()
    run.close()
    clients.autoscaling.delete_scheduled_action(ScheduledActionName="nightly", **ids)
    config = {"TargetValue": 3.0,
              "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    clients.autoscaling.put_scaling_policy(**ids, PolicyName="someone-else", PolicyType="TargetTrackingScaling",
                                           TargetTrackingScalingPolicyConfiguration=config)
    with pytest.raises(ConfigError) as err:
        restore_run_folder(run.path, clients, lambda _m: None)
    text = str(err.value)
    assert text.startswith(f"restore refused: {p.resource_id} changed since the run set it (")
    assert "policy someone-else: create" in text and "scheduled action nightly: remove" in text
    said: list[str] = []
    done = restore_run_folder(run.path, clients, said.append, force=True)
    assert {(c.kind, c.name, c.op) for c in done} >= {("policy", "someone-else", "remove"),
                                                       ("policy", "latency-step", "remove")}
    assert everything(clients, p.resource_id, ["shared-name"]) == before
    assert any("restored as it was before the run" in line for line in said), said
