"""harness/observe/livepolicy.py against the emulator: what boto3 put is what read_scaling returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.autoscaling.params import ModelParams
from harness.cli import main
from harness.observe.aws import Target, make_clients
from harness.observe.livepolicy import read_scaling
from harness.profile import StepPolicy, TargetTrackingPolicy
from harness.record import RunFolder
from tests.emulator_support import client, deploy, running

pytestmark = pytest.mark.integration

EP, VARIANT = "xgboost-abalone", "AllTraffic"
RID = f"endpoint/{EP}/variant/{VARIANT}"
TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": RID,
          "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
STEPS = [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 50.0, "ScalingAdjustment": 1},
         {"MetricIntervalLowerBound": 50.0, "ScalingAdjustment": 3}]
DIMS = [{"Name": "EndpointName", "Value": EP}, {"Name": "VariantName", "Value": VARIANT}]
PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "realtime-target-tracking.yaml"


def test_read_scaling_and_plan_from_endpoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    params = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60)
    with running(params, 120.0) as (_emu, handle):
        sm, aas, cw = (client(handle.url, s) for s in ("sagemaker", "application-autoscaling", "cloudwatch"))
        deploy(sm, EP, variant=VARIANT)
        aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=5)
        aas.put_scaling_policy(PolicyName="tt", PolicyType="TargetTrackingScaling", **TARGET,
                               TargetTrackingScalingPolicyConfiguration={
                                   "TargetValue": 20.0, "ScaleOutCooldown": 120, "ScaleInCooldown": 600,
                                   "PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
        arn = aas.put_scaling_policy(PolicyName="step-out", PolicyType="StepScaling", **TARGET,
                                     StepScalingPolicyConfiguration={
                                         "AdjustmentType": "ChangeInCapacity", "Cooldown": 240,
                                         "MetricAggregationType": "Maximum",
                                         "StepAdjustments": STEPS})["PolicyARN"]
        cw.put_metric_alarm(AlarmName="busy", Namespace="AWS/SageMaker", MetricName="InvocationsPerInstance",
                            Dimensions=DIMS,
                            Statistic="Sum", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=100.0,
                            ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing",
                            AlarmActions=[arn])
        aas.put_scheduled_action(ScheduledActionName="nightly", Schedule="cron(0 22 * * ? *)",
                                 Timezone="Europe/Paris", ScalableTargetAction={"MinCapacity": 2}, **TARGET)

        spec = read_scaling(make_clients(Target("us-east-1", handle.url)), EP, VARIANT)
        assert (spec.min_capacity, spec.max_capacity) == (1, 5)
        tt, step = spec.policies
        assert isinstance(tt, TargetTrackingPolicy) and isinstance(step, StepPolicy)
        assert (tt.name, tt.metric, tt.target_value, tt.scale_out_cooldown_s, tt.scale_in_cooldown_s,
                tt.disable_scale_in) == ("tt", "SageMakerVariantInvocationsPerInstance", 20.0, 120, 600, False)
        assert (step.name, step.adjustment_type, step.cooldown_s, step.metric_aggregation) == \
            ("step-out", "ChangeInCapacity", 240, "Maximum")
        assert [(s.lower, s.upper, s.adjustment) for s in step.steps] == [(0, 50, 1), (50, None, 3)]
        a = step.alarm
        assert (step.alarm_name, a.name, a.statistic, a.period_s, a.evaluation_periods, a.datapoints_to_alarm,
                a.threshold, a.comparison, a.dimensions) == (
            "busy", "InvocationsPerInstance", "Sum", 60, 3, 2, 100.0, "GreaterThanOrEqualToThreshold",
            {"EndpointName": EP, "VariantName": VARIANT})
        (action,) = spec.scheduled_actions
        assert (action.name, action.schedule, action.timezone, action.min_capacity, action.max_capacity) == \
            ("nightly", "cron(0 22 * * ? *)", "Europe/Paris", 2, None)

        assert main(["plan", str(PROFILE), "--from-endpoint", EP, "--endpoint-url", handle.url]) == 0
        out = capsys.readouterr().out
        assert "tt AlarmHigh fires (InvocationsPerInstance 120 > 20)" in out  # 2 rps on 1 instance
        assert "step-out busy fires (InvocationsPerInstance 120 >= 100)" in out
        assert "nightly (cron(0 22 * * ? *)): absolute schedule" in out

        # simulate answers "what will my current setup do under this traffic?" with the live policies.
        code = main(["simulate", str(PROFILE), "--from-endpoint", EP, "--endpoint-url", handle.url,
                     "--reports", str(tmp_path)])
        out = capsys.readouterr().out
        assert code in (0, 99, 100), out
        (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        recorded = RunFolder(folder).load()
        assert recorded.run.kind == "prediction"
        policies = {p["name"] for p in recorded.run.profile["scaling"]["policies"]}
        assert policies == {"tt", "step-out"}, policies
        assert "scale-out 1 →" in out, out
