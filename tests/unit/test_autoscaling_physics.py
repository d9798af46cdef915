"""harness.autoscaling.physics: latency from load, refusal past the queue, timeout (aws-semantics §9).

Base parameters: jitter 0, 50 ms model latency, concurrency 4 and a queue of 16 per instance, so one
instance holds 4 + 16 = 20 requests and the n-th request in flight takes 50 ms x max(1, n / 4).
"""

from __future__ import annotations

import random

import pytest

from harness.autoscaling.params import ModelParams
from harness.autoscaling.physics import OVERLOAD_MESSAGES, TIMEOUT_MESSAGE, Admission, admit

BASE = ModelParams(latency_jitter=0.0, model_latency_ms=50.0, instance_concurrency=4,
                   max_queue_per_instance=16)
OVERLOADED = ("Amazon SageMaker could not get a response from the ep endpoint. This can occur when CPU or "
              "memory utilization is high. To check your utilization, see Amazon CloudWatch. To fix this "
              "problem, use an instance type with more CPU capacity or memory.")
SLOW = BASE.model_copy(update={"model_latency_ms": 30_000.0, "instance_concurrency": 1})


@pytest.mark.parametrize(("params", "inflight", "instances", "expected"), [
    pytest.param(BASE, 0, 1, Admission(0.05), id="idle-instance-serves-at-model-latency"),
    pytest.param(BASE, 3, 1, Admission(0.05), id="4th-request-still-has-a-slot"),
    pytest.param(BASE, 4, 1, Admission(0.0625), id="5th-request-shares-4-slots-latency-x-5/4"),
    pytest.param(BASE, 19, 1, Admission(0.25), id="20th-request-last-queue-place-latency-x-20/4"),
    pytest.param(BASE, 20, 1, Admission(0.0, "ModelError", OVERLOADED),
                 id="§9-S22-21st-refused-ModelError"),
    pytest.param(BASE, 39, 2, Admission(0.25), id="2-instances-hold-40"),
    pytest.param(BASE, 40, 2, Admission(0.0, "ModelError", OVERLOADED), id="§9-S22-2-instances-41st-refused"),
    pytest.param(BASE, 0, 0, Admission(0.0, "ModelError", OVERLOADED), id="§9-no-instance-refuses"),
    pytest.param(BASE.model_copy(update={"overload_error": "ThrottlingException"}), 20, 1,
                 Admission(0.0, "ThrottlingException", ""), id="§9-S21-ThrottlingException-null-message"),
    pytest.param(BASE.model_copy(update={"max_queue_per_instance": 0}), 4, 1,
                 Admission(0.0, "ModelError", OVERLOADED), id="no-queue-refuses-once-slots-are-full"),
    pytest.param(SLOW, 1, 1, Admission(60.0), id="§9-S9-exactly-60s-is-not-a-timeout"),
    pytest.param(SLOW, 2, 1, Admission(60.0, "ModelError", TIMEOUT_MESSAGE),
                 id="§9-S22-over-60s-is-ModelError-timeout"),
    pytest.param(SLOW.model_copy(update={"invocation_timeout_s": 100.0}), 2, 1, Admission(90.0),
                 id="timeout-is-a-parameter"),
])
def test_admit(params: ModelParams, inflight: int, instances: int, expected: Admission) -> None:
    got = admit(inflight=inflight, instances=instances, params=params, rng=random.Random(0), endpoint="ep")
    assert got == Admission(pytest.approx(expected.latency_s), expected.error, expected.message)  # type: ignore[arg-type]


def test_latency_jitter_is_seeded_and_bounded() -> None:
    # Random(0).random() == 0.8444218515250481 -> jitter factor 1 + 0.2 x (2 x 0.84442 - 1).
    params = BASE.model_copy(update={"latency_jitter": 0.2})
    got = admit(inflight=0, instances=1, params=params, rng=random.Random(0), endpoint="ep")
    assert got.latency_s == pytest.approx(0.05 * (1 + 0.2 * (2 * 0.8444218515250481 - 1)))
    rng = random.Random(1)
    latencies = [admit(inflight=0, instances=1, params=params, rng=rng, endpoint="ep").latency_s
                 for _ in range(200)]
    assert 0.04 <= min(latencies) and max(latencies) <= 0.06


def test_timeout_message_is_the_aws_text() -> None:
    # §9 [S22]: the timeout ModelError text as SageMaker returns it.
    assert TIMEOUT_MESSAGE.startswith('Received server error (0) from primary with message "Your invocation '
                                      'timed out while waiting for a response from container primary.')
    assert OVERLOAD_MESSAGES["ModelError"].format(endpoint="ep") == OVERLOADED
