"""Bring the endpoint and its scaling to what the profile declares, through boto3 (AWS or emulator).

- the endpoint: used as it is when it exists; created (model, endpoint config, endpoint) when the
  profile says ``create`` and it does not; then waited for until InService;
- the scalable target and policies: registered and put when ``scaling.apply`` (the default).
Progress goes to ``say``; failures raise :class:`~harness.errors.InfrastructureError` or
:class:`~harness.errors.ConfigError` with AWS's own message.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import botocore.exceptions

from harness.aws import Clients
from harness.errors import ConfigError, InfrastructureError
from harness.profile import Profile
from harness.record import Clock

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def _aws_error(err: botocore.exceptions.ClientError) -> str:
    e = err.response.get("Error", {})
    return f"{e.get('Code')}: {e.get('Message')}"


def _endpoint_status(clients: Clients, name: str) -> str | None:
    try:
        return str(clients.sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"])
    except botocore.exceptions.ClientError as err:
        if "Could not find endpoint" in str(err.response.get("Error", {}).get("Message", "")):
            return None
        raise


def ensure_endpoint(clients: Clients, profile: Profile, clock: Clock, say: Callable[[str], None],
                    timeout_s: float = 3600.0) -> None:
    """Create the endpoint if needed and allowed, then wait (endpoint time) until it is InService."""
    ep = profile.endpoint
    try:
        status = _endpoint_status(clients, ep.name)
        if status is None:
            if not ep.create:
                raise ConfigError(f"endpoint {ep.name!r} does not exist in {profile.region} and the profile "
                                  "has endpoint.create: false")
            say(f"creating endpoint {ep.name} ({ep.initial_instance_count} x {ep.instance_type})")
            model = ep.model_name or f"{ep.name}-model"
            container = {"Image": ep.image, **({"ModelDataUrl": ep.model_data_url} if ep.model_data_url else {})}
            try:
                clients.sagemaker.create_model(ModelName=model, PrimaryContainer=container,
                                               ExecutionRoleArn=ep.execution_role_arn)
            except botocore.exceptions.ClientError as err:
                if "already existing" not in _aws_error(err):
                    raise
            config = f"{ep.name}-config-{int(clock.endpoint_ts())}"
            clients.sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
                "VariantName": ep.variant, "ModelName": model, "InstanceType": ep.instance_type,
                "InitialInstanceCount": ep.initial_instance_count, "InitialVariantWeight": 1.0}])
            clients.sagemaker.create_endpoint(EndpointName=ep.name, EndpointConfigName=config)
        deadline = clock.endpoint_ts() + timeout_s
        announced = False
        while True:
            status = _endpoint_status(clients, ep.name)
            if status == "InService":
                return
            if status in ("Failed", "OutOfService", "Deleting", None):
                raise InfrastructureError(f"endpoint {ep.name} is {status or 'gone'}; cannot load-test it")
            if not announced:
                say(f"waiting for endpoint {ep.name} to be InService (now {status})")
                announced = True
            if clock.endpoint_ts() > deadline:
                raise InfrastructureError(f"endpoint {ep.name} still {status} after {timeout_s:.0f} s")
            time.sleep(min(10.0, 5.0 / clock.speed))
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"setting up endpoint {ep.name}: {_aws_error(err)}") from None


def apply_scaling(clients: Clients, profile: Profile, say: Callable[[str], None]) -> None:
    """Register the scalable target and put every policy of the profile."""
    s = profile.scaling
    if not s.apply:
        say("scaling.apply is false: using the scalable target and policies already in place")
        return
    rid = profile.resource_id
    try:
        clients.autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION,
            MinCapacity=s.min_capacity, MaxCapacity=s.max_capacity)
        say(f"registered {rid} min {s.min_capacity} max {s.max_capacity}")
        for policy in s.policies:
            resp = clients.autoscaling.put_scaling_policy(
                PolicyName=policy.name, ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": policy.target_value,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": policy.metric},
                    "ScaleOutCooldown": int(policy.scale_out_cooldown_s),
                    "ScaleInCooldown": int(policy.scale_in_cooldown_s),
                    "DisableScaleIn": policy.disable_scale_in,
                })
            say(f"policy {policy.name}: target {policy.target_value:g} on {policy.metric} "
                f"({len(resp.get('Alarms', []))} managed alarms)")
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"applying the scaling policy to {rid}: {_aws_error(err)}") from None
