"""Preflight: in seconds and before any traffic, everything a run needs from the account, one checklist line each.

:func:`run_preflight` (``scalecheck preflight PROFILE``; ``scalecheck run`` through :func:`require`) checks, in order:

- **region**: the region and where every service's requests go (:attr:`Target.endpoints`);
- **caller identity**: STS GetCallerIdentity — account and ARN;
- **endpoint**: exists (or the profile may create it), status, the variant's instance type and instance count,
  the endpoint type the profile says;
- **scaling**: what the run will use — the profile's (``scaling.apply``) or the live one (read as ``plan
  --from-endpoint`` does);
- **instance quota**: Service Quotas' ``"<type> for endpoint usage"`` against the instances the account's other
  endpoints hold now plus what the run may reach (:mod:`harness.observe.quota`);
- **S3 paths** of an async endpoint: each bucket listed (ListObjectsV2 with the path's prefix), GetObject of an
  absent key under the output path (a 404 proves the permission without reading anything);
- **permissions**: one line per IAM action of :data:`READ_ACTIONS` the checks above exercised, each by a harmless
  call; ``AccessDenied`` is named per action. :data:`WRITE_ACTIONS` are the actions setup, restore and the load
  use that no harmless call can prove; both lists together are ``docs/iam-policy.json`` (a unit test keeps them equal).

Every call goes through :func:`harness.observe.aws.preflight_clients` (short timeouts, 2 attempts). A failure
no later check can get past — the target unreachable, credentials missing, expired or refused — ends the
preflight at once with that line (:mod:`harness.observe.failures` words it), so a dead network fails in
seconds. On a loopback target (the emulator) an operation the endpoint does not serve (STS, Service Quotas on an
emulator without them) gives a "not served by this endpoint" line, not a failure; against AWS every check is
required. A failure is a profile problem (:attr:`Check.profile_problem`: the endpoint missing with
``endpoint.create: false``, no such variant, the wrong endpoint type, no live scaling with ``scaling.apply:
false``, an async bucket that does not exist) or an account/infrastructure one; :meth:`PreflightResult.error`
is the matching :class:`~harness.errors.ConfigError` (104) or :class:`~harness.errors.InfrastructureError` (105).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from harness.errors import ConfigError, InfrastructureError, ScalecheckError
from harness.observe.aws import Clients, Target, preflight_clients
from harness.observe.endpoints import describe, origin, place
from harness.observe.failures import POLICY_FILE, error_code, is_denied, is_fatal, is_not_served, translate
from harness.observe.livepolicy import read_scaling
from harness.observe.quota import applied_value, find_quota, instances_in_use, quota_name
from harness.profile import Profile
from harness.profile.aws_requests import DIMENSION, NAMESPACE, describe_policy, s3_bucket, target_ids

READ_ACTIONS: tuple[str, ...] = (
    "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:ListEndpoints",
    "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScalingActivities", "application-autoscaling:DescribeScheduledActions",
    "cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms",
    "servicequotas:ListServiceQuotas", "servicequotas:GetServiceQuota",
    "s3:ListBucket", "s3:GetObject",
)
"""The IAM actions preflight proves with harmless calls (sts:GetCallerIdentity needs no permission)."""

WRITE_ACTIONS: tuple[str, ...] = (
    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction",
    "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
    "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync",
    "s3:PutObject",
    "iam:PassRole",  # CreateModel passes endpoint.execution_role_arn to SageMaker
    "iam:CreateServiceLinkedRole",  # the first RegisterScalableTarget of SageMaker in an account creates it
)
"""The actions setup, restore and the load need that preflight cannot exercise without changing something."""

Status = Literal["ok", "failed", "not_served", "not_run"]
MARKS: dict[str, str] = {"ok": "✓", "failed": "✗", "not_served": "–", "not_run": "·"}
PROBE_KEY = "scalecheck-preflight-probe"  # an object key nobody writes: GetObject answers 404 when allowed
_SERVICE = {"sagemaker": "sagemaker", "application-autoscaling": "application-autoscaling", "s3": "s3",
            "cloudwatch": "cloudwatch", "servicequotas": "service-quotas", "sts": "sts"}
_GONE = ("Failed", "OutOfService", "Deleting")
_RANK = {"ok": 0, "not_served": 1, "failed": 2}


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    name: str
    status: Status
    detail: str
    profile_problem: bool = False  # a failure the profile fixes (104), not the account or the network (105)

    def line(self) -> str:
        return f"{MARKS[self.status]} {self.name}: {self.detail}"


@dataclass(frozen=True)
class PreflightResult:
    checks: tuple[Check, ...]
    elapsed_s: float

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def error(self) -> ScalecheckError:
        """The error to stop on: ConfigError when every failure is a profile problem, else InfrastructureError."""
        failed = self.failures
        stopped = any(c.status == "not_run" for c in self.checks)
        first = failed[-1] if stopped else failed[0]  # the failure that stopped the preflight says the most
        more = f" (and {len(failed) - 1} more failed check(s) above)" if len(failed) > 1 else ""
        text = f"preflight failed: {first.name}: {first.detail}{more}"
        return ConfigError(text) if all(c.profile_problem for c in failed) else InfrastructureError(text)


class _Stop(Exception):
    """A failure no later check can get past."""


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    not_served: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.not_served


class _Preflight:
    def __init__(self, target: Target, profile: Profile, clients: Clients) -> None:
        self.target, self.profile, self.c = target, profile, clients
        self.checks: list[Check] = []
        self.actions: dict[str, Check] = {}
        self.step = "region"

    def add(self, status: Status, detail: str, *, name: str | None = None, profile_problem: bool = False) -> None:
        self.checks.append(Check(name or self.step, status, detail, profile_problem))

    def _action(self, action: str, status: Status, detail: str) -> None:
        old = self.actions.get(action)
        if old is None or _RANK[status] > _RANK[old.status]:  # a failure on any bucket sticks
            self.actions[action] = Check(action, status, detail)

    def call(self, action: str, fn: Callable[[], Any], *, allowed: tuple[str, ...] = (),
             permission: bool = True) -> _Outcome:
        """Run one AWS call for ``action``; record the permission; raise :class:`_Stop` on a fatal failure.
        ``allowed``: error codes that prove the call was authorised (a missing endpoint, bucket or key)."""
        url = self.target.endpoints[_SERVICE[action.split(":")[0]]]
        try:
            value = fn()
        except Exception as err:
            if is_not_served(err, url):
                if permission:
                    self._action(action, "not_served", f"not served by this endpoint ({origin(url)})")
                return _Outcome(error=err, not_served=True)
            if is_fatal(err):
                raise _Stop(_message(err, self.target, url)) from None
            code = error_code(err)
            if code in allowed:
                if permission:
                    self._action(action, "ok", f"allowed ({code} for the probe)")
                return _Outcome(error=err)
            if permission:
                detail = (f"{code}: this identity may not call it; grant it ({POLICY_FILE}): {_aws_message(err)}"
                          if is_denied(err) else _message(err, self.target, url))
                self._action(action, "failed", detail)
            return _Outcome(error=err)
        if permission:
            self._action(action, "ok", "allowed")
        return _Outcome(value=value)

    # ------------------------------------------------------------------------------------------- checks

    def region(self) -> None:
        t = self.target
        where = describe(t.endpoints)
        if not t.is_local and all(place(u, t.region) == f"AWS {t.region}" for u in t.endpoints.values()):
            where = f"AWS's endpoints in {t.region}" + ("" if t.endpoint_url is None else f" ({where})")
        self.add("ok", f"{t.region}; {where}" + (" (the emulator: its test credentials)" if t.is_local else ""))

    def identity(self) -> None:
        self.step = "caller identity"
        out = self.call("sts:GetCallerIdentity", lambda: self.c.sts.get_caller_identity(), permission=False)
        if out.ok:
            self.add("ok", f"account {out.value.get('Account')}, {out.value.get('Arn')}")
        elif out.not_served:
            self.add("not_served", f"STS not served by this endpoint ({origin(self.target.endpoints['sts'])})")
        else:
            self.add("failed", _message(out.error, self.target, self.target.endpoints["sts"]))

    def endpoint(self) -> str:
        """The endpoint line; returns the instance type the quota is about."""
        ep, sm = self.profile.endpoint, self.c.sagemaker
        self.step = f"endpoint {ep.name}"
        out = self.call("sagemaker:DescribeEndpoint", lambda: sm.describe_endpoint(EndpointName=ep.name),
                        allowed=("ValidationException",))
        missing = out.error is not None and "Could not find" in str(getattr(out.error, "response", {}).get(
            "Error", {}).get("Message", ""))
        if missing or not out.ok:
            self.call("sagemaker:DescribeEndpointConfig", lambda: sm.describe_endpoint_config(
                EndpointConfigName=PROBE_KEY), allowed=("ValidationException",))
        if not missing and not out.ok:
            self.add("failed", f"could not describe it: {_message(out.error, self.target, self.target.base_url)}")
            return ep.instance_type
        if missing:
            if ep.create:
                self.add("ok", f"does not exist in {self.target.region}; the run creates it "
                               f"({ep.initial_instance_count} × {ep.instance_type}, endpoint.create)")
            else:
                self.add("failed", f"does not exist in {self.target.region} and the run may not create it "
                                   "(--allow-create, or endpoint.create: true)", profile_problem=True)
            return ep.instance_type
        desc = out.value
        variants = {v.get("VariantName"): v for v in desc.get("ProductionVariants") or []}
        variant = variants.get(ep.variant)
        conf = self.call("sagemaker:DescribeEndpointConfig",
                         lambda: sm.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"]))
        types = {v.get("VariantName"): v.get("InstanceType") or "serverless"
                 for v in (conf.value or {}).get("ProductionVariants") or []}
        instance_type = types.get(ep.variant, ep.instance_type)
        status = str(desc.get("EndpointStatus"))
        is_async = bool(desc.get("AsyncInferenceConfig") or (conf.value or {}).get("AsyncInferenceConfig"))
        if variant is None and status != "Creating":
            self.add("failed", f"endpoint.variant: no variant {ep.variant!r} (it has: {', '.join(map(str, variants))})",
                     profile_problem=True)
        elif is_async != ep.is_async:
            actual = "an asynchronous" if is_async else "a real-time"
            self.add("failed", f"endpoint.type: the profile says {ep.type} but it exists as {actual} endpoint",
                     profile_problem=True)
        elif status in _GONE:
            reason = f" ({desc['FailureReason']})" if desc.get("FailureReason") else ""
            self.add("failed", f"{status}{reason}: cannot load-test it")
        else:
            current = (variant or {}).get("CurrentInstanceCount")
            other = "" if instance_type == ep.instance_type else f" (the profile says {ep.instance_type})"
            self.add("ok", f"{status}, {ep.variant} {instance_type}{other} × {current if current is not None else '?'}"
                           f" (desired {(variant or {}).get('DesiredInstanceCount', '?')})")
        return instance_type

    def scaling(self) -> int:
        """The scaling line; returns the most instances the run may reach."""
        s, aas, ids = self.profile.scaling, self.c.autoscaling, target_ids(self.profile)
        self.step = "scaling"
        probes = [
            self.call("application-autoscaling:DescribeScalableTargets", lambda: aas.describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[self.profile.resource_id], ScalableDimension=DIMENSION)),
            self.call("application-autoscaling:DescribeScalingPolicies",
                      lambda: aas.describe_scaling_policies(**ids, MaxResults=10)),
            self.call("application-autoscaling:DescribeScheduledActions",
                      lambda: aas.describe_scheduled_actions(**ids, MaxResults=10)),
            self.call("application-autoscaling:DescribeScalingActivities",
                      lambda: aas.describe_scaling_activities(**ids, MaxResults=1)),
        ]
        need = max(s.max_capacity, s.start_capacity or 0, self.profile.endpoint.initial_instance_count)
        if s.apply:
            self.add("ok", f"the profile's, applied by the run: {s.min_capacity}..{s.max_capacity} instances; "
                           + _policies(s.policies) + _actions(len(s.scheduled_actions)))
            return need
        if not all(p.ok for p in probes[:3]):
            self.add("failed", "the run uses the live scaling (no --apply-scaling) but it could not be read (see the "
                               "application-autoscaling lines below)")
            return need
        try:
            live = read_scaling(self.c, self.profile.endpoint.name, self.profile.endpoint.variant)
        except ConfigError as err:
            self.add("failed", f"without --apply-scaling the run uses the live scaling, but {err}",
                     profile_problem=True)
            return need
        except InfrastructureError as err:
            self.add("failed", f"reading the live scaling: {err}")
            return need
        self.add("ok", f"live (no --apply-scaling): {live.min_capacity}..{live.max_capacity} instances; "
                       + _policies(live.policies) + _actions(len(live.scheduled_actions)))
        return max(live.max_capacity, s.start_capacity or 0)

    def cloudwatch(self) -> None:
        ep, cw = self.profile.endpoint, self.c.cloudwatch
        now = datetime.now(UTC)
        query = {"Id": "m0", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                                                       "Dimensions": [{"Name": "EndpointName", "Value": ep.name},
                                                                      {"Name": "VariantName", "Value": ep.variant}]},
                                            "Period": 60, "Stat": "Sum"}}
        self.step = "metrics"
        self.call("cloudwatch:GetMetricData", lambda: cw.get_metric_data(
            MetricDataQueries=[query], StartTime=now - timedelta(minutes=10), EndTime=now))
        self.call("cloudwatch:DescribeAlarms", lambda: cw.describe_alarms(MaxRecords=1))

    def quota(self, instance_type: str, need: int) -> None:
        ep, sm = self.profile.endpoint, self.c.sagemaker
        self.step = "instance quota"
        usage_out = self.call("sagemaker:ListEndpoints", lambda: instances_in_use(sm, instance_type, ep.name))
        if instance_type == "serverless":
            self.add("ok", f"{ep.variant} is serverless: no instance quota applies")
            return
        name = quota_name(instance_type)
        listed = self.call("servicequotas:ListServiceQuotas", lambda: find_quota(self.c.quotas, instance_type))
        usage = usage_out.value
        in_use = ("instances in use unknown" if usage is None else
                  f"{'at least ' if usage.truncated else ''}{usage.total} in use across {usage.endpoints} "
                  f"endpoint(s), {usage.own} by {ep.name}")
        if listed.not_served:
            self.add("not_served", f"Service Quotas not served by this endpoint ({in_use})")
            return
        if not listed.ok:
            self.add("failed", f"{name!r} could not be read (see servicequotas:ListServiceQuotas below)")
            return
        if listed.value is None:
            self.add("failed", f"no quota named {name!r} (ListServiceQuotas, service code sagemaker): is "
                               f"{instance_type} an endpoint instance type available in {self.target.region}?")
            return
        got = self.call("servicequotas:GetServiceQuota", lambda: applied_value(self.c.quotas, listed.value))
        quota = got.value if got.ok else listed.value
        if usage is None:
            self.add("failed", f"{name!r} is {quota.value:g} ({quota.code}), but the instances in use could not be "
                               "counted (see sagemaker:ListEndpoints below)")
            return
        total = usage.others + need
        text = (f"{name!r} is {quota.value:g} ({quota.code}); {in_use}; the run may reach {need}: "
                f"{total} of {quota.value:g}")
        if total > quota.value:
            self.add("failed", f"{text}, {total - quota.value:g} over: request an increase (Service Quotas) or lower "
                               "scaling.max_capacity")
        else:
            self.add("ok", text)

    def s3_paths(self) -> None:
        spec = self.profile.endpoint.async_
        if not self.profile.endpoint.is_async or spec is None:
            return
        s3 = self.c.s3
        for field in ("input_path", "output_path", "failure_path"):
            uri = str(getattr(spec, field))
            bucket, prefix = s3_bucket(uri), uri.removeprefix("s3://").partition("/")[2]
            self.step = f"{uri} (endpoint.async.{field})"
            out = self.call("s3:ListBucket", lambda b=bucket, p=prefix: s3.list_objects_v2(Bucket=b, Prefix=p,
                                                                                          MaxKeys=1),
                            allowed=("NoSuchBucket",))
            if out.ok:
                self.add("ok", f"bucket {bucket} reachable")
            elif out.error is not None and error_code(out.error) == "NoSuchBucket":
                if self.target.is_local:
                    self.add("ok", f"bucket {bucket} does not exist yet: setup creates it on the emulator")
                else:
                    self.add("failed", f"bucket {bucket} does not exist: create it (scalecheck never creates buckets "
                                       "in your account)", profile_problem=True)
            elif out.not_served:
                self.add("not_served", f"S3 not served by this endpoint ({origin(self.target.endpoints['s3'])})")
            else:
                self.add("failed", f"bucket {bucket} could not be listed (see s3:ListBucket below)")
            if field == "output_path":
                key = f"{prefix.rstrip('/')}/{PROBE_KEY}".lstrip("/")
                self.call("s3:GetObject", lambda b=bucket, k=key: s3.get_object(Bucket=b, Key=k),
                          allowed=("NoSuchKey", "NoSuchBucket", "404"))

    def run(self) -> list[Check]:
        try:
            self.region()
            self.identity()
            instance_type = self.endpoint()
            need = self.scaling()
            self.cloudwatch()
            self.quota(instance_type, need)
            self.s3_paths()
        except _Stop as stop:
            self.add("failed", str(stop))
            self.add("not_run", "stopped at the failure above", name="remaining checks")
        ordered = [self.actions[a] for a in READ_ACTIONS if a in self.actions]
        return self.checks + ordered


def _message(err: BaseException | None, target: Target, url: str) -> str:
    translated = translate(err, profile_name=target.profile_name, url=url) if err is not None else None
    return str(translated) if translated is not None else f"{type(err).__name__}: {err}"


def _aws_message(err: BaseException) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Message", "")).strip()


def _policies(policies: list[Any]) -> str:
    if not policies:
        return "no policy"
    return "; ".join(f"policy {p.name} ({describe_policy(p)})" for p in policies)


def _actions(n: int) -> str:
    return f"; {n} scheduled action(s)" if n else ""


def run_preflight(target: Target, profile: Profile) -> PreflightResult:
    """Every check of the module docstring against ``target`` for ``profile``; never raises for a failed check
    (a target whose services would reach different places, or a profile name that does not exist, raise
    ConfigError before any call)."""
    began = time.monotonic()
    checks = _Preflight(target, profile, preflight_clients(target)).run()
    return PreflightResult(tuple(checks), time.monotonic() - began)


def require(target: Target, profile: Profile, say: Callable[[str], None]) -> PreflightResult:
    """:func:`run_preflight`, each line through ``say``; raises :meth:`PreflightResult.error` when a check failed."""
    result = run_preflight(target, profile)
    for line in result.lines():
        say(line)
    if not result.ok:
        raise result.error()
    say(f"preflight passed in {result.elapsed_s:.1f} s")
    return result
