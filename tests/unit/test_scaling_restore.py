"""The pure parts of "leave the account as you found it": consent, the state records, their diff (what
``setup --dry-run`` prints, what a restore changes) and the drift that makes ``scalecheck restore`` refuse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ConfigError
from harness.observe.consent import resolve_consent
from harness.observe.scalingdiff import Change, diff_states, drift, dry_run_lines, policy_ref
from harness.observe.scalingstate import (
    AlarmState,
    PolicyState,
    ScalingState,
    ScheduledActionState,
    TargetState,
    planned_state,
)
from harness.profile import parse_profile
from harness.profile.aws_requests import ALARM_MARK

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = yaml.safe_load((ROOT / "profiles" / "realtime-target-tracking.yaml").read_text())
RID = "endpoint/xgboost-abalone/variant/AllTraffic"
REAL = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1",
        "execution_role_arn": "arn:aws:iam::123456789012:role/r"}


def arn(name: str, uid: str = "1111") -> str:
    return (f"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:{uid}:resource/sagemaker/{RID}:"
            f"policyName/{name}")


def user_state(**changes: Any) -> ScalingState:
    """A user's setup: Min/Max 2/8, target tracking 70, a step policy with the user's own alarm, a cron action."""
    state = ScalingState(
        kind="before", taken_ts=0.0, region="us-east-1", resource_id=RID,
        target=TargetState(min_capacity=2, max_capacity=8, arn="arn:target", creation_time="2026-01-01T00:00:00"),
        policies=[
            PolicyState(name="user-tt", policy_type="TargetTrackingScaling", arn=arn("user-tt"), configuration={
                "TargetValue": 70.0, "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}),
            PolicyState(name="user-step", policy_type="StepScaling", arn=arn("user-step"), alarm_names=["lat"],
                        configuration={"AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                                       "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}]}),
        ],
        alarms=[AlarmState(name="lat", definition={
            "AlarmName": "lat", "MetricName": "ModelLatency", "Namespace": "AWS/SageMaker", "Statistic": "Average",
            "Period": 60, "EvaluationPeriods": 3, "Threshold": 5e6, "ComparisonOperator": "GreaterThanThreshold",
            "Dimensions": [{"Name": "VariantName", "Value": "AllTraffic"},
                           {"Name": "EndpointName", "Value": "xgboost-abalone"}],
            "AlarmActions": [arn("user-step")], "OKActions": []})],
        scheduled_actions=[ScheduledActionState(name="weekly", schedule="cron(0 3 ? * MON *)", timezone="UTC",
                                                min_capacity=3, max_capacity=8)])
    return state.model_copy(update=changes)


# --------------------------------------------------------------------------------------------------
# consent


def profile(**endpoint: Any) -> Any:
    data = copy.deepcopy(WALKTHROUGH)
    data["endpoint"].update(endpoint)
    return parse_profile(data)


def test_the_defaults_are_unset_and_the_emulator_stand_ins_are_named() -> None:
    p = profile()
    assert p.scaling.apply is None and p.scaling.applies and p.endpoint.create is None
    assert p.endpoint.emulator_placeholders() == ["endpoint.image", "endpoint.execution_role_arn"]
    assert profile(**REAL).endpoint.emulator_placeholders() == []


def test_local_creates_and_applies_without_flags() -> None:
    c = resolve_consent(profile(), local=True)
    assert (c.apply_scaling, c.create_endpoint, c.aws_mode) == (True, True, False)


def test_against_aws_nothing_is_changed_or_created_without_consent() -> None:
    c = resolve_consent(profile(), local=False)
    assert (c.apply_scaling, c.create_endpoint, c.aws_mode) == (False, False, True)
    c = resolve_consent(profile(**REAL), local=False, apply_flag=True, create_flag=True)
    assert (c.apply_scaling, c.create_endpoint) == (True, True)


def test_written_true_in_the_profile_is_consent_and_written_false_wins_over_local() -> None:
    data = copy.deepcopy(WALKTHROUGH)
    data["scaling"]["apply"] = True
    data["endpoint"].update(create=True, **REAL)
    c = resolve_consent(parse_profile(data), local=False)
    assert (c.apply_scaling, c.create_endpoint) == (True, True)
    data["scaling"]["apply"], data["endpoint"]["create"] = False, False
    c = resolve_consent(parse_profile(data), local=True)
    assert (c.apply_scaling, c.create_endpoint) == (False, False)
    with pytest.raises(ConfigError, match="--apply-scaling: the profile says scaling.apply: false"):
        resolve_consent(parse_profile(data), local=False, apply_flag=True)
    with pytest.raises(ConfigError, match="--allow-create: the profile says endpoint.create: false"):
        resolve_consent(parse_profile(data), local=False, create_flag=True)


def test_creating_from_the_emulator_stand_ins_is_refused_against_aws_naming_the_fields() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_consent(profile(), local=False, create_flag=True)
    assert str(err.value).startswith("endpoint.image, endpoint.execution_role_arn:")
    with pytest.raises(ConfigError, match=r"^endpoint.execution_role_arn:"):
        resolve_consent(profile(image=REAL["image"]), local=False, create_flag=True)
    assert resolve_consent(profile(), local=False, create_flag=True, check_image=False).create_endpoint
    assert resolve_consent(profile(), local=True).create_endpoint  # the emulator takes them


def test_scenarios_against_aws_need_the_scaling_consent() -> None:
    data = copy.deepcopy(WALKTHROUGH)
    data["scenarios"] = [{"name": "all"}, {"name": "none", "without_policies": ["InvocationsPerInstance-target-10"]}]
    with pytest.raises(ConfigError, match="scenarios: .* pass --apply-scaling"):
        resolve_consent(parse_profile(data), local=False)
    assert resolve_consent(parse_profile(data), local=False, apply_flag=True).apply_scaling
    assert not resolve_consent(parse_profile(data), local=False, scenarios=False).apply_scaling


# --------------------------------------------------------------------------------------------------
# records


def test_the_state_round_trips_as_json_and_puts_back_what_it_read() -> None:
    state = user_state()
    assert ScalingState.model_validate_json(state.model_dump_json()) == state
    ids = state.ids
    assert ids == {"ServiceNamespace": "sagemaker", "ResourceId": RID,
                   "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    assert state.policies[0].put_request(ids) == {
        "PolicyName": "user-tt", **ids, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": state.policies[0].configuration}
    assert state.scheduled_actions[0].put_request(ids) == {
        "ScheduledActionName": "weekly", **ids, "Schedule": "cron(0 3 ? * MON *)", "Timezone": "UTC",
        "ScalableTargetAction": {"MinCapacity": 3, "MaxCapacity": 8}}
    assert state.alarm_names() == ["lat"]
    assert not state.alarms[0].own


# --------------------------------------------------------------------------------------------------
# diff


def test_identical_states_differ_in_nothing_but_what_aws_assigns() -> None:
    again = user_state(
        target=user_state().target.model_copy(update={"creation_time": "2027-01-01T00:00:00"}),  # type: ignore
        policies=[p.model_copy(update={"arn": arn(p.name, "2222"), "creation_time": "x"})
                  for p in user_state().policies],
        scheduled_actions=[a.model_copy(update={"arn": "new", "timezone": None})  # UTC by default
                           for a in user_state().scheduled_actions])
    assert diff_states(user_state(), again) == []
    # the alarm still names the step policy by its old ARN: the same policy by resource and name
    assert policy_ref(arn("user-step", "1111")) == policy_ref(arn("user-step", "2222"))


def test_the_diff_names_every_change_in_words() -> None:
    current = user_state()
    wanted = user_state(
        target=TargetState(min_capacity=1, max_capacity=4),
        policies=[current.policies[0].model_copy(update={"configuration": {
            **current.policies[0].configuration, "TargetValue": 10.0}}),
            PolicyState(name="new-tt", policy_type="TargetTrackingScaling", configuration={"TargetValue": 5})],
        alarms=[],
        scheduled_actions=[current.scheduled_actions[0].model_copy(update={"timezone": "Europe/Paris"})])
    changes = [str(c) for c in diff_states(current, wanted)]
    assert changes == [
        f"target {RID}: change (MaxCapacity 8 → 4, MinCapacity 2 → 1)",
        "policy user-tt: change (Configuration.TargetValue 70 → 10)",
        "policy user-step: remove (step scaling ChangeInCapacity, 1 step(s), cooldown 300s, alarm lat)",
        "policy new-tt: create (target tracking on ?, target 5)",
        "alarm lat: remove (AWS/SageMaker/ModelLatency Average > 5000000)",
        "scheduled action weekly: change (Timezone UTC → Europe/Paris)",
    ]
    assert [c.op for c in diff_states(user_state(target=None), user_state())][:1] == ["create"]
    gone = diff_states(user_state(), user_state(target=None, policies=[], alarms=[], scheduled_actions=[]))
    assert gone[0] == Change("target", RID, "remove", "deregister (min 2 max 8; AWS deletes its policies and "
                                                      "scheduled actions with it)")


def test_unchanged_entries_on_request() -> None:
    lines = [str(c) for c in diff_states(user_state(), user_state(), unchanged=True)]
    assert lines[0] == f"target {RID}: unchanged (min 2 max 8)"
    assert "alarm lat: unchanged (AWS/SageMaker/ModelLatency Average > 5000000)" in lines
    assert len(lines) == 5


def test_drift_ignores_what_the_runs_own_scheduled_actions_explain() -> None:
    applied = user_state(scheduled_actions=[
        ScheduledActionState(name="after-load", schedule="at(2026-12-03T10:00:00)", min_capacity=0),
        ScheduledActionState(name="floor", schedule="cron(0 8 * * ? *)", min_capacity=1, max_capacity=6)])
    fired = applied.model_copy(update={"target": TargetState(min_capacity=0, max_capacity=6),
                                       "scheduled_actions": applied.scheduled_actions[1:]})
    assert drift(applied, fired) == []
    by_hand = fired.model_copy(update={"target": TargetState(min_capacity=0, max_capacity=10),
                                       "scheduled_actions": []})
    assert [str(c) for c in drift(applied, by_hand)] == [
        f"target {RID}: change (MaxCapacity 8 → 10, MinCapacity 2 → 0)",
        "scheduled action floor: remove (cron(0 8 * * ? *) min 1 max 6)"]
    suspended = applied.model_copy(update={"target": TargetState(min_capacity=2, max_capacity=8, suspended_state={
        "DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False})})
    assert [c.kind for c in drift(applied, suspended)] == ["target"]
    assert [str(c) for c in drift(applied, applied.model_copy(update={"policies": applied.policies[:1]}))] == [
        "policy user-step: remove (step scaling ChangeInCapacity, 1 step(s), cooldown 300s, alarm lat)"]


# --------------------------------------------------------------------------------------------------
# what setup would do


def step_profile(**scaling: Any) -> Any:
    data = copy.deepcopy(WALKTHROUGH)
    data["scaling"]["policies"].append({
        "type": "step", "name": "latency-step", "steps": [{"lower": 0, "adjustment": 1}],
        "alarm": {"alarm_name": "lat-own", "name": "ModelLatency", "threshold": 1e6,
                  "comparison": "GreaterThanThreshold"}})
    data["scaling"].update(scaling)
    return parse_profile(data)


def test_planned_state_is_what_apply_scaling_leaves() -> None:
    suspended = {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": False,
                 "ScheduledScalingSuspended": False}
    old_own = AlarmState(name="old-own", definition={"AlarmName": "old-own", "AlarmDescription": f"{ALARM_MARK} x"})
    current = user_state(
        target=TargetState(min_capacity=2, max_capacity=8, suspended_state=suspended),
        policies=[*user_state().policies, PolicyState(name="old", policy_type="StepScaling", configuration={},
                                                      alarm_names=["old-own"])],
        alarms=[*user_state().alarms, old_own])
    p = step_profile(scheduled_actions=[
        {"name": "nightly", "schedule": "cron(0 1 * * ? *)", "min_capacity": 1},
        {"name": "later", "at": "load_start+1m", "max_capacity": 2}])
    planned = planned_state(p, current)
    assert planned.kind == "planned"
    assert planned.target == TargetState(min_capacity=1, max_capacity=4, suspended_state=suspended)
    assert [x.name for x in planned.policies] == ["InvocationsPerInstance-target-10", "latency-step"]
    assert planned.policies[1].alarm_names == ["lat-own"]
    assert [a.name for a in planned.alarms] == ["lat", "lat-own"]  # the user's stays, scalecheck's old one goes
    own = planned.alarm("lat-own")
    assert own is not None and own.own and policy_ref(own.definition["AlarmActions"][0]) == \
        f"scaling-policy:sagemaker/{RID}:latency-step"
    assert [(a.name, a.min_capacity) for a in planned.scheduled_actions] == [("nightly", 1)]

    changes = {(c.kind, c.name): c.op for c in diff_states(current, planned)}
    assert changes == {("target", RID): "change", ("policy", "user-tt"): "remove", ("policy", "user-step"): "remove",
                       ("policy", "old"): "remove", ("policy", "InvocationsPerInstance-target-10"): "create",
                       ("policy", "latency-step"): "create", ("alarm", "old-own"): "remove",
                       ("alarm", "lat-own"): "create", ("scheduled action", "weekly"): "remove",
                       ("scheduled action", "nightly"): "create"}


def test_dry_run_lines() -> None:
    p = step_profile(start_capacity=2, scheduled_actions=[{"name": "later", "at": "load_start+1m", "min_capacity": 2}])
    current = user_state(target=None, policies=[], alarms=[], scheduled_actions=[])
    lines = dry_run_lines(p, current, planned_state(p, current), endpoint_exists=False)
    assert lines[0].startswith("endpoint xgboost-abalone: create (1 x ml.m5.large, image scalecheck/echo:latest; "
                               "against AWS only with --allow-create")
    assert lines[1] == f"target {RID}: create (min 1 max 4)"
    assert "policy latency-step: create (step scaling ChangeInCapacity, 1 step(s), cooldown 300s, alarm lat-own)" \
        in lines
    assert "alarm lat-own: create (AWS/SageMaker/ModelLatency Average > 1000000, put by scalecheck)" in lines
    assert "scheduled action later: put when a run's load starts (at load_start+1m min 2)" in lines
    assert lines[-1] == "start capacity: xgboost-abalone/AllTraffic set to 2 instance(s)"
    unchanged = planned_state(p, current).model_copy(update={"kind": "current"})
    again = dry_run_lines(p, unchanged, planned_state(p, unchanged), endpoint_exists=True)
    assert again[0] == "endpoint xgboost-abalone: exists, used as it is"
    assert all(": unchanged" in line for line in again[1:5]), again  # target, 2 policies, 1 alarm
    off = parse_profile({**copy.deepcopy(WALKTHROUGH), "scaling": {"min_capacity": 1, "max_capacity": 2,
                                                                   "apply": False}})
    assert dry_run_lines(off, current, planned_state(off, current), endpoint_exists=True)[1].startswith(
        "scaling.apply is false")
