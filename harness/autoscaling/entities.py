"""The objects of the model: endpoints and variants, scalable targets, policies, activities.

Plain data; the rules that change them live in :mod:`harness.autoscaling.world` and
:mod:`harness.autoscaling.policy`. Times are endpoint-time epoch seconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.autoscaling.policy import CooldownState

EndpointStatus = Literal["Creating", "InService", "Updating", "Deleting", "Failed", "OutOfService"]
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class WorldError(Exception):
    """A request the model refuses, with the AWS error code and message to answer it with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Variant:
    """One production variant: ``current`` instances serve; the endpoint converges to ``desired``."""

    name: str
    instance_type: str
    current: int
    desired: int
    weight: float = 1.0
    inflight: int = 0


@dataclass(frozen=True)
class AsyncConfig:
    """The part of an endpoint config's AsyncInferenceConfig the model uses (aws-semantics §6, S10).

    ``max_concurrent_per_instance`` is ClientConfig.MaxConcurrentInvocationsPerInstance (1-1000);
    None means "SageMaker chooses" — ``ModelParams.async_default_max_concurrent`` (UNCONFIRMED).
    """

    max_concurrent_per_instance: int | None = None

    def __post_init__(self) -> None:
        n = self.max_concurrent_per_instance
        if n is not None and not 1 <= n <= 1000:
            raise WorldError("ValidationException",
                             f"MaxConcurrentInvocationsPerInstance must be between 1 and 1000; got {n}")


@dataclass(frozen=True)
class AsyncResult:
    """The outcome of one InvokeEndpointAsync request (what the emulator writes to S3 and notifies).

    ``status`` is Completed, Failed (processing exceeded InvocationTimeoutSeconds) or Expired (its
    RequestTTLSeconds passed while it was queued, so it was never dispatched: ``start_ts`` is None).
    ``message`` is the failure reason, "" on success.
    """

    inference_id: str
    endpoint: str
    variant: str
    status: Literal["Completed", "Failed", "Expired"]
    arrival_ts: float
    start_ts: float | None
    done_ts: float
    input_location: str
    output_location: str
    failure_location: str
    message: str = ""


@dataclass
class Endpoint:
    """One endpoint. ``ready_ts`` is when the running Creating/Updating completes; ``async_config`` is
    None for a real-time endpoint (an async endpoint accepts only async invocations, §6 [S15-async])."""

    name: str
    arn: str
    config_name: str
    status: EndpointStatus
    created_ts: float
    modified_ts: float
    variants: dict[str, Variant]
    ready_ts: float | None = None
    failure_reason: str | None = None
    async_config: AsyncConfig | None = None


@dataclass
class ScalableTarget:
    """A registered scalable target; ``desired`` is the capacity Application Auto Scaling last set."""

    namespace: str
    resource_id: str
    dimension: str
    min_capacity: int
    max_capacity: int
    role_arn: str
    arn: str
    created_ts: float
    desired: int
    suspended: dict[str, bool] = field(default_factory=lambda: {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    })


@dataclass
class TargetTrackingPolicy:
    """A target-tracking policy and the two alarms it manages."""

    arn: str
    name: str
    namespace: str
    resource_id: str
    dimension: str
    target_value: float
    scale_out_cooldown_s: float
    scale_in_cooldown_s: float
    disable_scale_in: bool
    configuration: dict[str, Any]
    created_ts: float
    alarm_high: str
    alarm_low: str
    cooldown: CooldownState = field(default_factory=CooldownState)


@dataclass
class ActivityRecord:
    """One scaling activity, shaped like DescribeScalingActivities reports it."""

    activity_id: str
    namespace: str
    resource_id: str
    dimension: str
    description: str
    cause: str
    start_ts: float
    status_code: str
    target_capacity: int
    status_message: str = ""
    end_ts: float | None = None
    details: str = ""


@dataclass(frozen=True)
class TruthEvent:
    """Ground truth the emulator logs: what really changed and when (not an AWS API)."""

    ts: float
    kind: Literal["alarm_state", "capacity", "activity", "endpoint_status", "scheduled_action"]
    detail: dict[str, Any]


def parse_resource_id(resource_id: str) -> tuple[str, str]:
    """``endpoint/<ep>/variant/<v>`` → ``(ep, v)``; raises WorldError for any other form."""
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant" or not parts[1] or not parts[3]:
        raise WorldError("ValidationException",
                         f"Unsupported resource ID {resource_id!r}: "
                         "expected endpoint/<EndpointName>/variant/<VariantName>")
    return parts[1], parts[3]


@functools.lru_cache(maxsize=1024)
def resource_names(resource_id: str) -> tuple[str, str]:
    """:func:`parse_resource_id`, cached for the model's hot paths (it is pure; a refused ID is not cached)."""
    return parse_resource_id(resource_id)
