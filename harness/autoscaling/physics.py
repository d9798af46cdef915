"""What one request costs an endpoint: latency from load, and refusal when overloaded.

Each instance serves ``instance_concurrency`` requests at once at ``model_latency_ms``; beyond that,
requests share the instances (latency grows with the ratio of requests in flight to slots) until
``max_queue_per_instance`` more wait per instance — past that SageMaker refuses with
``overload_error`` (aws-semantics §9: ModelError 424 or ThrottlingException 400 are both reported).
A latency above ``invocation_timeout_s`` is a ModelError timeout. All values are ModelParams.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.autoscaling.params import ModelParams

OVERLOAD_MESSAGES = {
    "ModelError": ("Amazon SageMaker could not get a response from the {endpoint} endpoint. This can occur "
                   "when CPU or memory utilization is high. To check your utilization, see Amazon "
                   "CloudWatch. To fix this problem, use an instance type with more CPU capacity or "
                   "memory."),
    "ThrottlingException": "",
}
TIMEOUT_MESSAGE = ('Received server error (0) from primary with message "Your invocation timed out while '
                   'waiting for a response from container primary. Review the latency metrics for each '
                   'container in Amazon CloudWatch, resolve the issue, and try again."')


@dataclass(frozen=True)
class Admission:
    """The fate of one request: served after ``latency_s`` (endpoint time), or refused with ``error``."""

    latency_s: float
    error: str | None = None
    message: str = ""


_new = object.__new__


def _served(latency_s: float) -> Admission:
    """``Admission(latency_s)``, built without the frozen dataclass's ``__init__`` (its ``object.__setattr__``
    per field costs more than the rest of :func:`admit`): the same fields in the instance's ``__dict__``."""
    admission = _new(Admission)
    fields = admission.__dict__
    fields["latency_s"] = latency_s
    fields["error"] = None
    fields["message"] = ""
    return admission


def admit(*, inflight: int, instances: int, params: ModelParams, rng: random.Random, endpoint: str) -> Admission:
    """Admission of a request that finds ``inflight`` others on ``instances`` InService instances."""
    slots = instances * params.instance_concurrency
    if instances <= 0 or inflight >= slots + instances * params.max_queue_per_instance:
        code = params.overload_error
        return Admission(0.0, code, OVERLOAD_MESSAGES[code].format(endpoint=endpoint))
    jitter = 1.0 + params.latency_jitter * (2.0 * rng.random() - 1.0)
    share = (inflight + 1) / slots
    if not share > 1.0:  # max(1.0, share)
        share = 1.0
    latency_s = params.model_latency_ms / 1000.0 * jitter * share
    if latency_s > params.invocation_timeout_s:
        return Admission(params.invocation_timeout_s, "ModelError", TIMEOUT_MESSAGE)
    return _served(latency_s)
