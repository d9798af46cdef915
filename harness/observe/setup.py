"""Bring the endpoint and its scaling to what the profile declares, through boto3 (AWS or emulator).

:func:`prepare` does everything, in this order:

- async endpoints: the S3 buckets of ``endpoint.async`` — created against the emulator (``local``),
  only checked (ListObjectsV2) against AWS: scalecheck never creates buckets in a user's account;
- the endpoint: used as it is when it exists; created (model, endpoint config with its
  AsyncInferenceConfig, endpoint) when it does not and the caller's consent allows it
  (``create_endpoint``, :mod:`harness.observe.consent`); then waited for until InService;
- with ``apply_scaling`` (the consent to change the endpoint's scaling): the scalable target, policies
  (target tracking, or step scaling with the CloudWatch alarm that drives it) and ``schedule``
  scheduled actions. Policies and scheduled actions on the target that the profile does not name are
  deleted, so that a scenario run "without" a policy does not inherit it on a reused endpoint (a run
  against AWS snapshots them first and puts them back after: :mod:`harness.observe.snapshot`).
  Scheduled actions with a relative ``at`` are put by the run once the load has started
  (:func:`scheduled_action_request` with an :func:`at_expression`);
- ``scaling.start_capacity`` (also only with ``apply_scaling``): the variant set to that many
  instances, waited for.

The requests come from :mod:`harness.profile.aws_requests` (pure, unit-tested without AWS). Progress
goes to ``say``; failures raise :class:`~harness.errors.InfrastructureError`
(AWS's own message) or :class:`~harness.errors.ConfigError` (naming the profile field).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from harness.errors import ConfigError, InfrastructureError
from harness.observe.aws import Clients
from harness.observe.scalingdiff import dry_run_lines
from harness.observe.scalingstate import planned_state, read_state
from harness.profile import Profile, ScheduledActionSpec, StepPolicy, TargetTrackingPolicy
from harness.profile.aws_requests import (
    ALARM_MARK,
    alarm_request,
    at_expression,
    describe_action,
    describe_policy,
    endpoint_config_request,
    s3_bucket,
    scheduled_action_request,
    step_policy_request,
    target_ids,
    target_tracking_request,
)
from harness.record import Clock

Say = Callable[[str], None]


def _aws_error(err: botocore.exceptions.ClientError) -> str:
    e = err.response.get("Error", {})
    return f"{e.get('Code')}: {e.get('Message')}"


def _error_code(err: botocore.exceptions.ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------------------------------
# Buckets


def ensure_buckets(clients: Clients, profile: Profile, say: Say, *, local: bool) -> None:
    """The S3 buckets of an async endpoint: created on the emulator, only checked against AWS."""
    spec = profile.endpoint.async_
    if not profile.endpoint.is_async or spec is None:
        return
    fields: dict[str, list[str]] = {}
    for field in ("input_path", "output_path", "failure_path"):
        fields.setdefault(s3_bucket(getattr(spec, field)), []).append(f"endpoint.async.{field}")
    for bucket, names in fields.items():
        where = ", ".join(names)
        try:
            if local:
                _create_bucket(clients, bucket, profile.region)
                say(f"bucket {bucket} ready ({where})")
            else:
                clients.s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except botocore.exceptions.ClientError as err:
            if local:
                raise InfrastructureError(f"creating bucket {bucket!r} ({where}): {_aws_error(err)}") from None
            raise ConfigError(f"{where}: bucket {bucket!r} is not reachable ({_aws_error(err)}); scalecheck "
                              "never creates buckets in your account: create it, or grant s3:ListBucket, "
                              "s3:GetObject and s3:PutObject on it") from None
        except botocore.exceptions.BotoCoreError as err:
            raise InfrastructureError(f"reaching S3 bucket {bucket!r} ({where}): {err}") from None


def _create_bucket(clients: Clients, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        clients.s3.create_bucket(**kwargs)
    except botocore.exceptions.ClientError as err:
        if _error_code(err) != "BucketAlreadyOwnedByYou":
            raise


# --------------------------------------------------------------------------------------------------
# Endpoint


def _describe(clients: Clients, name: str) -> dict[str, Any] | None:
    try:
        return dict(clients.sagemaker.describe_endpoint(EndpointName=name))
    except botocore.exceptions.ClientError as err:
        if "Could not find endpoint" in str(err.response.get("Error", {}).get("Message", "")):
            return None
        raise


def _variant(desc: dict[str, Any], variant: str) -> dict[str, Any] | None:
    return next((v for v in desc.get("ProductionVariants") or [] if v.get("VariantName") == variant), None)


def _sleep(clock: Clock) -> None:
    time.sleep(min(10.0, 5.0 / clock.speed))


def _wait(clients: Clients, profile: Profile, clock: Clock, timeout_s: float, done: Callable[[dict[str, Any]], bool],
          what: str, say: Say) -> dict[str, Any]:
    """Poll DescribeEndpoint until ``done`` (checked only while InService); endpoint-time timeout."""
    name = profile.endpoint.name
    deadline = clock.endpoint_ts() + timeout_s
    announced = False
    while True:
        desc = _describe(clients, name)
        status = None if desc is None else desc.get("EndpointStatus")
        if desc is not None and status == "InService" and done(desc):
            return desc
        if status in ("Failed", "OutOfService", "Deleting", None):
            reason = f" ({desc['FailureReason']})" if desc and desc.get("FailureReason") else ""
            raise InfrastructureError(f"endpoint {name} is {status or 'gone'}{reason}; cannot load-test it")
        if not announced:
            say(f"waiting for endpoint {name}: {what} (now {_state(desc, profile.endpoint.variant)})")
            announced = True
        if clock.endpoint_ts() > deadline:
            raise InfrastructureError(f"endpoint {name}: {what} did not happen within {timeout_s:.0f} s "
                                      f"(now {_state(desc, profile.endpoint.variant)})")
        _sleep(clock)


def _state(desc: dict[str, Any], variant: str) -> str:
    v = _variant(desc, variant)
    if v is None:
        return str(desc.get("EndpointStatus"))
    return (f"{desc.get('EndpointStatus')}, {variant} {v.get('CurrentInstanceCount')} instance(s), "
            f"desired {v.get('DesiredInstanceCount')}")


def endpoint_exists(clients: Clients, name: str) -> bool:
    """Whether endpoint ``name`` exists (DescribeEndpoint); InfrastructureError when AWS refuses."""
    try:
        return _describe(clients, name) is not None
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"describing endpoint {name}: {_aws_error(err)}") from None


def ensure_endpoint(clients: Clients, profile: Profile, clock: Clock, say: Say, timeout_s: float = 3600.0, *,
                    create: bool = True) -> None:
    """Create the endpoint if needed and allowed (``create``: the caller's consent; ``endpoint.create:
    false`` never creates), then wait (endpoint time) until it is InService."""
    ep = profile.endpoint
    try:
        if _describe(clients, ep.name) is None:
            if ep.create is False:
                raise ConfigError(f"endpoint.name: endpoint {ep.name!r} does not exist in {profile.region} and the "
                                  "profile has endpoint.create: false")
            if not create:
                raise ConfigError(f"endpoint.name: endpoint {ep.name!r} does not exist in {profile.region}; "
                                  "scalecheck creates it only with --allow-create (or endpoint.create: true in the "
                                  "profile), from the profile's endpoint.image and endpoint.execution_role_arn")
            kind = "async endpoint" if ep.is_async else "endpoint"
            say(f"creating {kind} {ep.name} ({ep.initial_instance_count} x {ep.instance_type})")
            model = ep.model_name or f"{ep.name}-model"
            container = {"Image": ep.image, **({"ModelDataUrl": ep.model_data_url} if ep.model_data_url else {})}
            try:
                clients.sagemaker.create_model(ModelName=model, PrimaryContainer=container,
                                               ExecutionRoleArn=ep.execution_role_arn)
            except botocore.exceptions.ClientError as err:
                if "already existing" not in _aws_error(err):
                    raise
            config = f"{ep.name}-config-{int(clock.endpoint_ts())}"
            clients.sagemaker.create_endpoint_config(**endpoint_config_request(profile, config, model))
            clients.sagemaker.create_endpoint(EndpointName=ep.name, EndpointConfigName=config)
        desc = _wait(clients, profile, clock, timeout_s, lambda _d: True, "InService", say)
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"setting up endpoint {ep.name}: {_aws_error(err)}") from None
    if _variant(desc, ep.variant) is None:
        names = ", ".join(str(v.get("VariantName")) for v in desc.get("ProductionVariants") or [])
        raise ConfigError(f"endpoint.variant: endpoint {ep.name} has no variant {ep.variant!r} (it has: {names})")
    is_async = bool(desc.get("AsyncInferenceConfig"))
    if is_async != ep.is_async:
        actual = "an asynchronous" if is_async else "a real-time"
        raise ConfigError(f"endpoint.type: the profile says {ep.type} but endpoint {ep.name} exists as {actual} "
                          "endpoint")


# --------------------------------------------------------------------------------------------------
# Scaling


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def apply_scaling(clients: Clients, profile: Profile, say: Say) -> None:
    """Register the scalable target, put every policy (and step-policy alarm) and ``schedule`` action of
    the profile, and delete the policies and scheduled actions on the target that it does not name."""
    s = profile.scaling
    rid = profile.resource_id
    aas = clients.autoscaling
    try:
        aas.register_scalable_target(**target_ids(profile), MinCapacity=s.min_capacity, MaxCapacity=s.max_capacity)
        say(f"registered {rid} min {s.min_capacity} max {s.max_capacity}")
        _delete_stale_policies(clients, profile, say)
        for policy in s.policies:
            if isinstance(policy, TargetTrackingPolicy):
                resp = aas.put_scaling_policy(**target_tracking_request(policy, profile))
                say(f"policy {policy.name}: {describe_policy(policy)} ({len(resp.get('Alarms', []))} managed alarms)")
            else:
                resp = aas.put_scaling_policy(**step_policy_request(policy, profile))
                clients.cloudwatch.put_metric_alarm(**alarm_request(policy, profile, resp["PolicyARN"]))
                say(f"policy {policy.name}: {describe_policy(policy)}")
        _delete_stale_actions(clients, profile, say)
        for action in s.scheduled_actions:
            if action.schedule is not None:
                aas.put_scheduled_action(**scheduled_action_request(action, profile))
                say(f"scheduled action {action.name}: {describe_action(action)}")
            else:
                say(f"scheduled action {action.name}: {describe_action(action)} (put when the load starts)")
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"applying the scaling setup to {rid}: {_aws_error(err)}") from None


def _delete_stale_policies(clients: Clients, profile: Profile, say: Say) -> None:
    wanted = {p.name for p in profile.scaling.policies}
    existing = _paginate(clients.autoscaling, "describe_scaling_policies", "ScalingPolicies", **target_ids(profile))
    for pol in existing:
        name = pol["PolicyName"]
        if name in wanted:
            continue
        clients.autoscaling.delete_scaling_policy(PolicyName=name, **target_ids(profile))
        say(f"deleted policy {name} ({pol.get('PolicyType')}): the profile does not name it")
        if pol.get("PolicyType") == "StepScaling":
            _delete_own_alarms(clients, [a["AlarmName"] for a in pol.get("Alarms") or []], say)


def _delete_own_alarms(clients: Clients, names: list[str], say: Say) -> None:
    """Delete the alarms among ``names`` that scalecheck created (AlarmDescription); leave the others."""
    if not names:
        return
    alarms = _paginate(clients.cloudwatch, "describe_alarms", "MetricAlarms", AlarmNames=names)
    own = [a["AlarmName"] for a in alarms if str(a.get("AlarmDescription") or "").startswith(ALARM_MARK)]
    if own:
        clients.cloudwatch.delete_alarms(AlarmNames=own)
        say(f"deleted alarm(s) {', '.join(own)} of the deleted policy")
    others = sorted(set(names) - set(own))
    if others:
        say(f"left alarm(s) {', '.join(others)} in place (not created by scalecheck)")


def _delete_stale_actions(clients: Clients, profile: Profile, say: Say) -> None:
    """Delete scheduled actions the profile does not name, and earlier runs' instances of its relative
    ``at`` actions (put again, at the right time, when the load starts)."""
    keep = {a.name for a in profile.scaling.scheduled_actions if a.schedule is not None}
    relative = {a.name for a in profile.scaling.scheduled_actions if a.at is not None}
    existing = _paginate(clients.autoscaling, "describe_scheduled_actions", "ScheduledActions", **target_ids(profile))
    for action in existing:
        name = action["ScheduledActionName"]
        if name in keep:
            continue
        clients.autoscaling.delete_scheduled_action(ScheduledActionName=name, **target_ids(profile))
        if name not in relative:
            say(f"deleted scheduled action {name} ({action.get('Schedule')}): the profile does not name it")


def put_relative_action(clients: Clients, profile: Profile, action: ScheduledActionSpec, fire_ts: float) -> str:
    """Put a relative ``at`` action to fire at ``fire_ts`` (endpoint time); returns its ``at(...)``."""
    schedule = at_expression(fire_ts)
    try:
        clients.autoscaling.put_scheduled_action(**scheduled_action_request(action, profile, schedule))
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"putting scheduled action {action.name} ({schedule}) on {profile.resource_id}: "
                                  f"{_aws_error(err)}") from None
    return schedule


def plan_setup(clients: Clients, profile: Profile) -> list[str]:
    """What :func:`prepare` would do to the account, one line per endpoint, target, policy, alarm and
    scheduled action (``scalecheck setup --dry-run``); only describe calls are made."""
    alarms = [p.alarm_name for p in profile.scaling.policies if isinstance(p, StepPolicy)]
    current = read_state(clients, profile.region, profile.resource_id, extra_alarm_names=alarms)
    return dry_run_lines(profile, current, planned_state(profile, current),
                         endpoint_exists=endpoint_exists(clients, profile.endpoint.name))


def set_start_capacity(clients: Clients, profile: Profile, clock: Clock, say: Say, timeout_s: float = 3600.0) -> None:
    """``scaling.start_capacity``: set the variant to that many instances and wait until it has them."""
    want = profile.scaling.start_capacity
    if want is None:
        return
    ep = profile.endpoint
    try:
        desc = _wait(clients, profile, clock, timeout_s, lambda _d: True, "InService", say)
        variant = _variant(desc, ep.variant) or {}
        if variant.get("DesiredInstanceCount") != want:
            say(f"scaling.start_capacity: setting {ep.name}/{ep.variant} to {want} instance(s) "
                f"(now {variant.get('CurrentInstanceCount')})")
            clients.sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=ep.name, DesiredWeightsAndCapacities=[{"VariantName": ep.variant,
                                                                     "DesiredInstanceCount": want}])

        def reached(d: dict[str, Any]) -> bool:
            return (_variant(d, ep.variant) or {}).get("CurrentInstanceCount") == want

        _wait(clients, profile, clock, timeout_s, reached, f"{ep.variant} at {want} instance(s)", say)
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"scaling.start_capacity: setting {ep.name}/{ep.variant} to {want} instance(s): "
                                  f"{_aws_error(err)}") from None
    say(f"{ep.name}/{ep.variant} starts with {want} instance(s)")


def prepare(clients: Clients, profile: Profile, clock: Clock, say: Say, *, local: bool, change_scaling: bool,
            create_endpoint: bool, timeout_s: float = 3600.0) -> None:
    """Everything before the load: buckets, endpoint, scaling, start capacity (see the module docstring).

    ``local``: the target is the emulator, where the async buckets are created; against AWS they are
    only checked. ``change_scaling`` / ``create_endpoint``: the consent
    (:class:`~harness.observe.consent.Consent`) to put the profile's scaling and to create the endpoint."""
    ensure_buckets(clients, profile, say, local=local)
    ensure_endpoint(clients, profile, clock, say, timeout_s, create=create_endpoint)
    if not change_scaling:
        say(f"scaling of {profile.resource_id}: left as it is (no consent to change it: --apply-scaling)"
            + (", and scaling.start_capacity is not set" if profile.scaling.start_capacity is not None else ""))
        return
    apply_scaling(clients, profile, say)
    set_start_capacity(clients, profile, clock, say, timeout_s)
