"""harness.emulator.faults: rule parsing, the deterministic rate, and the errors and resources of a deny.

(The faults through real boto3 clients, on every request path, are tests/integration/test_emulator_faults.py.)
"""

from __future__ import annotations

import threading

import pytest

from harness.emulator.errors import AwsError
from harness.emulator.faults import Faults, Rule, parse_flag, parse_rules, resource_arn
from harness.emulator.protocol import Call


def call(service: str, operation: str, **params: object) -> Call:
    return Call(service, operation, dict(params), "eu-west-1", "AKIDEXAMPLE")


def turns(rule: Rule, calls: int) -> list[int]:
    return [n for n in range(1, calls + 1) if rule.count()]


@pytest.mark.parametrize(("rate", "expected"), [
    (1.0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), (0.5, [1, 3, 5, 7, 9]), (0.25, [1, 5, 9]), (0.1, [1]),
    (0.3, [1, 4, 7]), (0.75, [1, 2, 3, 5, 6, 7, 9, 10])])
def test_rate_affects_that_fraction_of_calls_evenly_from_the_first(rate: float, expected: list[int]) -> None:
    assert turns(Rule("throttle", "*", rate=rate), 10) == expected


def test_rate_counts_exactly_over_many_calls() -> None:
    rule = Rule("throttle", "*", rate=0.1)
    assert len(turns(rule, 1000)) == 100  # no float drift: 0.1 is taken as 1/10


def test_times_caps_the_calls_affected() -> None:
    rule = Rule("drop", "sagemaker:*", times=2)
    got = []
    for n in range(1, 6):
        if rule.count():
            rule.applied += 1
            got.append(n)
    assert got == [1, 2] and rule.matched == 5


@pytest.mark.parametrize(("text", "expected"), [
    ("throttle:cloudwatch:GetMetricData,rate=0.5", {"fault": "throttle", "match": "cloudwatch:GetMetricData",
                                                    "rate": 0.5}),
    ("delay:application-autoscaling:*,seconds=5", {"fault": "delay", "match": "application-autoscaling:*",
                                                   "seconds": 5.0}),
    ("drop:sagemaker-runtime:InvokeEndpoint,rate=0.1,times=3", {"fault": "drop", "rate": 0.1, "times": 3}),
    ("deny:*", {"fault": "deny", "match": "*"}),
])
def test_parse_flag(text: str, expected: dict[str, object]) -> None:
    rule = parse_flag(text)
    assert {k: v for k, v in rule.as_dict().items() if k in expected} == expected
    assert parse_flag(rule.spec()).as_dict() == rule.as_dict()


@pytest.mark.parametrize(("text", "why"), [
    ("throttle", "expected KIND:SERVICE:OPERATION"),
    ("throttle:cloudwatch:GetMetricData,speed=2", "unknown option"),
    ("throttle:cloudwatch:GetMetricData,rate=x", "rate must be a number"),
    ("throttle:cloudwatch", "match must be <service>:<Operation>"),
    ("throttle:CloudWatch:GetMetricData", "unknown service 'CloudWatch'"),
    ("deny:cloudwatch:GetMetricData,seconds=1", "seconds (> 0) is required by delay"),
    ("drop:s3:GetObject,times=0", "times must be a positive integer"),
])
def test_parse_flag_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_flag(text)


def test_parse_rules_accepts_the_routes_form_a_list_and_json() -> None:
    rules = [{"fault": "deny", "match": "sts:*"}]
    for given in ({"rules": rules}, rules, '{"rules": [{"fault": "deny", "match": "sts:*"}]}'):
        assert [r.match for r in parse_rules(given)] == ["sts:*"]
    with pytest.raises(ValueError, match="rule 1: unknown rule field"):
        parse_rules([{"fault": "deny", "match": "*"}, {"fault": "deny", "match": "*", "when": "now"}])
    with pytest.raises(ValueError, match="faults are not JSON"):
        parse_rules("{")


def test_the_first_acting_rule_wins_and_delays_add_up() -> None:
    stop = threading.Event()
    stop.set()  # delays end at once: what they add up to is what is tested
    faults = Faults("123456789012", [Rule("delay", "sagemaker:*", seconds=2), Rule("throttle", "sagemaker:*"),
                                     Rule("deny", "*"), Rule("delay", "*", seconds=1)], stop=stop)
    with pytest.raises(AwsError) as err:
        faults.apply(call("sagemaker", "ListEndpoints"))
    assert err.value.code == "ThrottlingException"
    assert [(r["matched"], r["applied"]) for r in faults.describe()] == [(1, 1), (1, 1), (1, 0), (1, 1)]
    assert faults.apply(call("sts", "GetCallerIdentity")) is False  # never denied
    assert faults.touches("sagemaker-runtime", "InvokeEndpointAsync")  # the deny of "*"
    only = Faults("1", [Rule("throttle", "sagemaker-runtime:InvokeEndpoint")])
    assert only.touches("sagemaker-runtime", "InvokeEndpoint")
    assert not only.touches("sagemaker-runtime", "InvokeEndpointAsync") and not Faults("1").touches("s3", "GetObject")
    assert only.describe() == [{"fault": "throttle", "match": "sagemaker-runtime:InvokeEndpoint", "rate": 1.0,
                                "seconds": 0.0, "times": None, "matched": 0, "applied": 0}]  # touches counts nothing


def test_deny_names_the_caller_the_action_and_the_resource() -> None:
    faults = Faults("123456789012", [Rule("deny", "*")])
    with pytest.raises(AwsError) as err:
        faults.apply(call("sagemaker-runtime", "InvokeEndpoint", EndpointName="My-Ep"))
    assert (err.value.code, err.value.status, err.value.message) == (
        "AccessDeniedException", 400,
        "User: arn:aws:iam::123456789012:user/AKIDEXAMPLE is not authorized to perform: sagemaker:InvokeEndpoint "
        "on resource: arn:aws:sagemaker:eu-west-1:123456789012:endpoint/my-ep because no identity-based policy "
        "allows the sagemaker:InvokeEndpoint action")


@pytest.mark.parametrize(("service", "operation", "params", "resource"), [
    ("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": "C"},
     "arn:aws:sagemaker:eu-west-1:1:endpoint-config/c"),
    ("sagemaker", "ListEndpoints", {}, None),
    ("application-autoscaling", "DescribeScalableTargets", {}, None),
    ("application-autoscaling", "PutScalingPolicy", {},
     "arn:aws:application-autoscaling:eu-west-1:1:scalable-target/*"),
    ("cloudwatch", "PutMetricAlarm", {"AlarmName": "a"}, "arn:aws:cloudwatch:eu-west-1:1:alarm:a"),
    ("cloudwatch", "DeleteAlarms", {"AlarmNames": ["b", "c"]}, "arn:aws:cloudwatch:eu-west-1:1:alarm:b"),
    ("cloudwatch", "GetMetricData", {}, None),
    ("s3", "ListObjectsV2", {"Bucket": "b"}, "arn:aws:s3:::b"),
    ("s3", "PutObject", {"Bucket": "b", "Key": "k/1"}, "arn:aws:s3:::b/k/1"),
    ("service-quotas", "GetServiceQuota", {"ServiceCode": "sagemaker"}, None),
])
def test_resources(service: str, operation: str, params: dict[str, object], resource: str | None) -> None:
    assert resource_arn(call(service, operation, **params), "1") == resource


@pytest.mark.parametrize("flags", [["--fault", "explode:sagemaker:*"], ["--faults-json", '{"rules": 1}'],
                                   ["--fault", "delay:s3:GetObject"]])
def test_the_emulator_command_refuses_bad_faults_before_serving(flags: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from harness import exitcodes
    from harness.cli import main

    assert main(["emulator", "--port", "0", *flags]) == exitcodes.INVALID_CONFIG
    assert "--fault/--faults-json" in capsys.readouterr().err
