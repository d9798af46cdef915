"""SageMaker Runtime (REST-JSON): InvokeEndpoint with per-instance capacity and SageMaker's errors.

A request is admitted by the model (:func:`harness.autoscaling.physics.admit`), then held for its
latency — endpoint seconds, so ``latency / speed`` of wall time — while it occupies a slot on its
variant. Overload answers with the configured ``overload_error`` (ModelError 424 or
ThrottlingException 400), timeouts with ModelError 424 (aws-semantics §9).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from harness.emulator.protocol import AwsError, Call
from harness.emulator.sagemaker import world_errors

if TYPE_CHECKING:
    from harness.emulator.app import Emulator


def register(emu: Emulator) -> None:
    emu.register_ops("sagemaker-runtime", {"InvokeEndpoint": invoke_endpoint})


def fake_prediction(body: bytes) -> bytes:
    """A deterministic stand-in for the model's answer: a number derived from the request body."""
    digest = hashlib.blake2b(body, digest_size=4).digest()
    return f"{int.from_bytes(digest, 'big') % 2000 / 100:.2f}".encode()


def invoke_endpoint(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    name = p["EndpointName"]
    now = emu.now()
    with emu.lock, world_errors():
        config = emu.endpoint_configs.get(emu.world.endpoints[name].config_name, {}) \
            if name in emu.world.endpoints else {}
        if config.get("AsyncInferenceConfig"):
            raise AwsError("ValidationError",
                           f"Endpoint {name} is an asynchronous endpoint; use InvokeEndpointAsync.")
        admission, variant = emu.world.invoke(name, now, p.get("TargetVariant"))
    if admission.error is not None:
        emu.clock.sleep(admission.latency_s)
        if admission.error == "ThrottlingException":
            raise AwsError("ThrottlingException", admission.message, status=400)
        raise AwsError("ModelError", admission.message, status=424, fields={
            "OriginalStatusCode": 500 if admission.latency_s == 0 else 0,
            "OriginalMessage": admission.message,
            "LogStreamArn": emu.world.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{name}"),
        })
    try:
        emu.clock.sleep(admission.latency_s)
    finally:
        with emu.lock:
            emu.world.finish(name, variant)
    body = p.get("Body") or b""
    return {
        "Body": fake_prediction(body if isinstance(body, bytes) else bytes(body)),
        "ContentType": p.get("Accept") or "text/csv; charset=utf-8",
        "InvokedProductionVariant": variant,
        **({"CustomAttributes": p["CustomAttributes"]} if p.get("CustomAttributes") else {}),
    }
