"""Leave the account as it was found: `scalecheck run --endpoint-url URL` against a separately started
emulator, in AWS mode (no --local conveniences), on an endpoint with a user's own setup made through real
boto3 — a target-tracking policy (target 70), a step policy with the user's own alarm, a scheduled action,
Min/Max 2/8. Whatever the end of a run with a different policy (exit 0, exit 99, Ctrl-C, SIGKILL then
`scalecheck restore`), DescribeScalableTargets / DescribeScalingPolicies / DescribeScheduledActions (and
the user's alarm) answer the same afterwards, apart from what AWS assigns when a policy or an action is
re-created (ARNs, managed-alarm names, creation times). Without --apply-scaling nothing changes at all.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.autoscaling.params import ModelParams
from harness.emulator.process import EmulatorProcess
from harness.record import RunFolder
from tests.conftest import REAL_MODEL, ROOT, scalecheck, shortened_profile, write_profile
from tests.emulator_support import client, deploy, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # make test-slow (.ci/run runs it after make test)

SPEED = 60.0
NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
USER_ALARM = "user-latency-high"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess.start(speed=SPEED, params=ModelParams(
        endpoint_create_delay_s=30, provisioning_delay_s=60, deprovision_delay_s=30, metric_publish_lag_s=30))
    try:
        yield emu
    finally:
        emu.stop()


def user_endpoint(url: str, name: str) -> str:
    """An endpoint with the user's own scaling, set up through boto3 as a user would; its ResourceId."""
    deploy(client(url, "sagemaker"), name, instances=2)
    rid = f"endpoint/{name}/variant/AllTraffic"
    ids = {"ServiceNamespace": NS, "ResourceId": rid, "ScalableDimension": DIM}
    aas, cw = client(url, "application-autoscaling"), client(url, "cloudwatch")
    aas.register_scalable_target(**ids, MinCapacity=2, MaxCapacity=8)
    aas.put_scaling_policy(**ids, PolicyName="user-tt", PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": 70.0, "ScaleInCooldown": 600, "ScaleOutCooldown": 120,
                               "PredefinedMetricSpecification": {
                                   "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    step = aas.put_scaling_policy(**ids, PolicyName="user-step", PolicyType="StepScaling",
                                  StepScalingPolicyConfiguration={
                                      "AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                                      "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}]})
    cw.put_metric_alarm(AlarmName=USER_ALARM, AlarmDescription="ours, hand made", MetricName="ModelLatency",
                        Namespace="AWS/SageMaker", Statistic="Average", Period=60, EvaluationPeriods=3,
                        DatapointsToAlarm=2, Threshold=5_000_000.0, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName",
                                                                              "Value": "AllTraffic"}],
                        AlarmActions=[step["PolicyARN"]])
    aas.put_scheduled_action(**ids, ScheduledActionName="user-weekly", Schedule="cron(0 3 ? * MON *)",
                             ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 8})
    return rid


def described(url: str, rid: str) -> dict[str, Any]:
    """What the three describe calls (and DescribeAlarms of the user's alarm) answer, without what AWS
    assigns when it re-creates a policy or an action: ARNs, creation times, managed-alarm names."""
    ids = {"ServiceNamespace": NS, "ScalableDimension": DIM}
    aas, cw = client(url, "application-autoscaling"), client(url, "cloudwatch")
    targets = aas.describe_scalable_targets(ResourceIds=[rid], **ids)["ScalableTargets"]
    policies = aas.describe_scaling_policies(ResourceId=rid, **ids)["ScalingPolicies"]
    actions = aas.describe_scheduled_actions(ResourceId=rid, **ids)["ScheduledActions"]
    arns = {p["PolicyARN"]: p["PolicyName"] for p in policies}
    for p in policies:
        del p["PolicyARN"], p["CreationTime"]
        if p["PolicyType"] == "TargetTrackingScaling":
            p["Alarms"] = len(p["Alarms"])  # managed: two, with new names when re-created
    for a in actions:
        del a["ScheduledActionARN"], a["CreationTime"]
    alarms = cw.describe_alarms(AlarmNames=[USER_ALARM])["MetricAlarms"]
    for a in alarms:
        a["AlarmActions"] = [arns.get(x, f"not a policy of the target: {x}") for x in a["AlarmActions"]]
        for volatile in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                         "AlarmConfigurationUpdatedTimestamp", "StateTransitionedTimestamp"):
            a.pop(volatile, None)
    return {"targets": targets, "policies": sorted(policies, key=lambda p: p["PolicyName"]),
            "actions": actions, "alarms": alarms}


def run_profile(tmp_path: Path, endpoint: str, *, expectations: list[dict[str, Any]],
                duration: str = "60s") -> Path:
    """The walkthrough (its own target-tracking policy, Min/Max 1/4) on ``endpoint``, short."""
    data = shortened_profile()
    data["name"] = f"restore-{endpoint}"
    data["endpoint"] = {"name": endpoint, **REAL_MODEL}
    data["traffic"]["stages"][0].update({"duration": duration, "rate_rps": 1})
    data["expectations"] = expectations
    return write_profile(tmp_path, data)


PASSES = [{"type": "error_rate", "max": 0.5}]
FAILS = [{"type": "scale_out", "name": "impossible", "to": 5, "within": "2m"}]  # MaxCapacity 4


def only_run(reports: Path) -> Path:
    [run] = [p for p in reports.iterdir() if p.is_dir()]
    return run


def restore_events(run_dir: Path) -> list[str]:
    return [e.detail for e in RunFolder(run_dir).load().events if e.kind == "restore"]


@pytest.mark.parametrize(("expectations", "code"), [pytest.param(PASSES, 0, id="exit-0"),
                                                    pytest.param(FAILS, 99, id="exit-99")])
def test_a_run_with_another_policy_leaves_the_users_setup_as_it_was(
        emulator: EmulatorProcess, tmp_path: Path, reports: Path, expectations: list[dict[str, Any]],
        code: int) -> None:
    name = f"user-ep-{code}"
    rid = user_endpoint(emulator.url, name)
    before = described(emulator.url, rid)
    profile = run_profile(tmp_path, name, expectations=expectations)
    result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, "--apply-scaling",
                        "--reports", str(reports), timeout=180)
    assert result.returncode == code, result.stdout + result.stderr
    assert described(emulator.url, rid) == before

    run_dir = only_run(reports)
    assert json.loads((run_dir / "run.json").read_text())["scaling_source"] == "profile"
    snapshot = json.loads((run_dir / "scaling-before.json").read_text())
    assert (snapshot["target"]["min_capacity"], snapshot["target"]["max_capacity"]) == (2, 8)
    assert {p["name"] for p in snapshot["policies"]} == {"user-tt", "user-step"}
    assert [a["name"] for a in snapshot["alarms"]] == [USER_ALARM]
    assert [a["name"] for a in snapshot["scheduled_actions"]] == ["user-weekly"]
    # what the run set: its own policy only, Min/Max 1/4
    applied = json.loads((run_dir / "scaling-applied.json").read_text())
    assert [p["name"] for p in applied["policies"]] == ["InvocationsPerInstance-target-10"]
    assert (applied["target"]["min_capacity"], applied["target"]["max_capacity"]) == (1, 4)
    after = json.loads((run_dir / "scaling-after-restore.json").read_text())
    assert {p["name"] for p in after["policies"]} == {"user-tt", "user-step"}
    events = restore_events(run_dir)
    assert any(e.startswith("policy user-tt: create") for e in events), events
    assert any(e.startswith("complete:") for e in events), events
    assert "restored as it was before the run" in result.stderr


def _start_run(profile: Path, url: str, reports: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(profile), "--endpoint-url", url,
                             "--apply-scaling", "--reports", str(reports)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_load(proc: subprocess.Popen[str], reports: Path) -> Path:
    def loading() -> Path | None:
        assert proc.poll() is None, proc.communicate()
        runs = [p for p in reports.iterdir() if p.is_dir()]
        load = runs[0] / "load.jsonl" if runs else None
        return runs[0] if load is not None and load.exists() and load.stat().st_size > 0 else None

    return wait_until(loading, "the run to record load", timeout_s=90)


def test_ctrl_c_during_the_load_still_restores(emulator: EmulatorProcess, tmp_path: Path, reports: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-int")
    before = described(emulator.url, rid)
    proc = _start_run(run_profile(tmp_path, "user-ep-int", expectations=PASSES, duration="1200s"), emulator.url,
                      reports)
    try:
        run_dir = _wait_for_load(proc, reports)
        assert described(emulator.url, rid) != before  # the run's own policy is in place
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err  # SIGINT: the run is finalised as aborted and exits 128 + 2
    assert RunFolder(run_dir).read_run().status == "aborted" and "interrupted" in err
    assert described(emulator.url, rid) == before
    assert any(e.startswith("complete:") for e in restore_events(run_dir))


def _kill_run(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the CLI, then end the Locust processes it started (no one is left to stop them)."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.communicate(timeout=30)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


def _killed_run(emulator: EmulatorProcess, tmp_path: Path, reports: Path, name: str) -> Path:
    proc = _start_run(run_profile(tmp_path, name, expectations=PASSES, duration="1200s"), emulator.url, reports)
    try:
        run_dir = _wait_for_load(proc, reports)
    finally:
        _kill_run(proc)
    assert not (run_dir / "scaling-after-restore.json").exists()
    return run_dir


def test_sigkill_then_scalecheck_restore(emulator: EmulatorProcess, tmp_path: Path, reports: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-kill")
    before = described(emulator.url, rid)
    run_dir = _killed_run(emulator, tmp_path, reports, "user-ep-kill")
    assert described(emulator.url, rid) != before

    result = scalecheck("restore", str(run_dir), "--endpoint-url", emulator.url, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert described(emulator.url, rid) == before
    assert "policy user-tt: create" in result.stdout
    assert (run_dir / "scaling-after-restore.json").exists()
    events = restore_events(run_dir)
    assert events[0].startswith("by hand") and events[-1].startswith("complete:"), events
    again = scalecheck("restore", str(run_dir), "--endpoint-url", emulator.url, timeout=60)
    assert again.returncode == 0 and "(0 change(s))" in again.stdout, again.stdout + again.stderr


def test_restore_refuses_when_the_target_changed_in_between(emulator: EmulatorProcess, tmp_path: Path,
                                                            reports: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-moved")
    before = described(emulator.url, rid)
    run_dir = _killed_run(emulator, tmp_path, reports, "user-ep-moved")
    aas = client(emulator.url, "application-autoscaling")
    aas.register_scalable_target(ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM, MaxCapacity=10)
    moved = described(emulator.url, rid)

    refused = scalecheck("restore", str(run_dir), "--endpoint-url", emulator.url, timeout=60)
    assert refused.returncode == 104, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert "restore refused" in line and "MaxCapacity 4 → 10" in line and "--force" in line, line
    assert described(emulator.url, rid) == moved  # nothing was touched

    forced = scalecheck("restore", str(run_dir), "--endpoint-url", emulator.url, "--force", timeout=60)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert described(emulator.url, rid) == before


def test_without_apply_scaling_the_run_verifies_the_live_policies_and_changes_nothing(
        emulator: EmulatorProcess, tmp_path: Path, reports: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-live")
    before = described(emulator.url, rid)
    profile = run_profile(tmp_path, "user-ep-live", expectations=PASSES)
    result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, "--reports", str(reports), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert described(emulator.url, rid) == before
    assert f"verifying the live policies of {rid}" in result.stderr and "nothing is changed" in result.stderr
    run_dir = only_run(reports)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["scaling_source"] == "live"
    assert {p["name"] for p in run["profile"]["scaling"]["policies"]} == {"user-tt", "user-step"}
    assert (run["profile"]["scaling"]["min_capacity"], run["profile"]["scaling"]["max_capacity"]) == (2, 8)
    assert not list(run_dir.glob("scaling-*.json"))


def test_allow_create_refuses_the_emulator_stand_ins_before_contacting_anything(tmp_path: Path,
                                                                                reports: Path) -> None:
    data = shortened_profile()  # no endpoint.image / execution_role_arn: the emulator's stand-ins
    started = time.monotonic()
    result = scalecheck("run", str(write_profile(tmp_path, data)), "--endpoint-url", "http://127.0.0.1:9",
                        "--allow-create", "--apply-scaling", "--reports", str(reports), timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 104, result.stderr  # 105 if it had tried to reach 127.0.0.1:9
    [line] = result.stderr.strip().splitlines()
    assert "endpoint.image" in line and "endpoint.execution_role_arn" in line, line
    assert list(reports.iterdir()) == []
    assert elapsed < 5, elapsed  # a second or so on a quiet machine: refused before the orchestrator is imported


def test_setup_dry_run_prints_the_diff_and_changes_nothing(emulator: EmulatorProcess, tmp_path: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-dry")
    before = described(emulator.url, rid)
    profile = run_profile(tmp_path, "user-ep-dry", expectations=PASSES)
    result = scalecheck("setup", str(profile), "--endpoint-url", emulator.url, "--dry-run", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "nothing is changed" in out
    assert "endpoint user-ep-dry: exists" in out
    assert f"target {rid}: change (MaxCapacity 8 → 4, MinCapacity 2 → 1)" in out
    assert "policy user-tt: remove (target tracking on SageMakerVariantInvocationsPerInstance, target 70)" in out
    assert "policy user-step: remove" in out
    assert "policy InvocationsPerInstance-target-10: create" in out
    assert f"alarm {USER_ALARM}: unchanged" in out
    assert "scheduled action user-weekly: remove (cron(0 3 ? * MON *) min 3 max 8)" in out
    assert described(emulator.url, rid) == before

    refused = scalecheck("setup", str(profile), "--endpoint-url", emulator.url, timeout=60)
    assert refused.returncode == 104 and "--apply-scaling" in refused.stderr, refused.stderr
    assert described(emulator.url, rid) == before


def test_scenarios_each_put_their_own_policies_and_the_users_come_back(emulator: EmulatorProcess, tmp_path: Path,
                                                                       reports: Path) -> None:
    rid = user_endpoint(emulator.url, "user-ep-scen")
    before = described(emulator.url, rid)
    data = json.loads(json.dumps(shortened_profile()))
    data.update(name="restore-scenarios", endpoint={"name": "user-ep-scen", **REAL_MODEL}, expectations=PASSES,
                scenarios=[{"name": "both"}, {"name": "without-step", "without_policies": ["latency-step"]}])
    data["traffic"]["stages"][0].update({"duration": "60s", "rate_rps": 1})
    data["scaling"]["policies"].append({
        "type": "step", "name": "latency-step", "steps": [{"lower": 0, "adjustment": 1}],
        "alarm": {"name": "ModelLatency", "threshold": 1e7, "comparison": "GreaterThanThreshold"}})
    profile = write_profile(tmp_path, data)
    refused = scalecheck("run", str(profile), "--endpoint-url", emulator.url, "--reports", str(reports), timeout=60)
    assert refused.returncode == 104 and "--apply-scaling" in refused.stderr, refused.stderr
    assert list(reports.iterdir()) == []

    result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, "--apply-scaling",
                        "--reports", str(reports), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert described(emulator.url, rid) == before
    parent = only_run(reports)
    for scenario, policies in (("both", ["InvocationsPerInstance-target-10", "latency-step"]),
                               ("without-step", ["InvocationsPerInstance-target-10"])):
        applied = json.loads((parent / scenario / "scaling-applied.json").read_text())
        assert [p["name"] for p in applied["policies"]] == policies
        snapshot = json.loads((parent / scenario / "scaling-before.json").read_text())
        assert {p["name"] for p in snapshot["policies"]} == {"user-tt", "user-step"}  # each from the user's setup
        assert any(e.startswith("complete:") for e in restore_events(parent / scenario))
    # the step policy's alarm, put by scalecheck for the first scenario, went with it
    assert client(emulator.url, "cloudwatch").describe_alarms(AlarmNames=["latency-step-alarm"])["MetricAlarms"] == []
