"""SageMaker Runtime (REST-JSON): InvokeEndpoint with per-instance capacity, InvokeEndpointAsync.

InvokeEndpoint: a request is admitted by the model (:func:`harness.autoscaling.physics.admit`),
then held for its latency — endpoint seconds, so ``latency / speed`` of wall time — while it
occupies a slot on its variant. Over HTTP the common case is answered by the server's fast path
(:mod:`harness.emulator.fastpath`), which does the same without a thread: it admits through the
same ``World.invoke``, answers with :func:`fake_prediction` and :func:`admission_error`, and frees the
slot from a timer instead of a sleep. Overload answers with the configured ``overload_error`` (ModelError
424 or ThrottlingException 400), timeouts with ModelError 424 (aws-semantics §9). An asynchronous
endpoint refuses it (ValidationError, from the model).

InvokeEndpointAsync (aws-semantics §6): ``POST /endpoints/{name}/async-invocations`` with the
``X-Amzn-SageMaker-*`` headers; answers 202 at once with ``{"InferenceId"}`` and the
``X-Amzn-SageMaker-OutputLocation`` / ``-FailureLocation`` headers, and queues the request in the
model (:mod:`harness.autoscaling.asynchronous`). Checked here: the endpoint is asynchronous (else
ValidationError), InputLocation is ``s3://bucket/key`` or ``https://...``, RequestTTLSeconds 60-21600
(default 21600), InvocationTimeoutSeconds 1-3600 (default 900), InferenceId 1-64 printable
characters (a uuid4 when absent), S3OutputPathExtension and Filename as the API model's patterns.

Result locations (the exact names SageMaker uses are UNCONFIRMED; this is the emulator's format):

    output   <S3OutputPath>[/<S3OutputPathExtension>]/<Filename or InferenceId + ".out">
    failure  <S3FailurePath, else S3OutputPath>/<InferenceId>-error.out

Results: after the model advances, ``write_async_results`` turns each finished request into an S3
object in the emulator's store:

- Completed: at the output location, body ``fake_prediction(<input object's body>)``, content type
  the request's Accept (else ``text/csv; charset=utf-8``). If the input object cannot be read (no
  such bucket/key, or an https InputLocation, which the emulator cannot fetch), a failure object
  is written instead, saying so (SageMaker would count a RequestDownloadFailure).
- Failed (InvocationTimeoutSeconds exceeded) and Expired (RequestTTLSeconds passed while queued):
  at the failure location, body the model's message (text/plain).
- The bucket of a result location is never created: when it does not exist the result is dropped
  (as SageMaker's upload would fail: ResponseUploadFailures), logged at WARNING and recorded in
  ``Emulator.async_write_failures``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.autoscaling.entities import AsyncResult
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call
from harness.emulator.s3 import parse_s3_uri
from harness.emulator.sagemaker import world_errors

if TYPE_CHECKING:
    from harness.autoscaling.physics import Admission
    from harness.emulator.app import Emulator


logger = logging.getLogger(__name__)

DEFAULT_ACCEPT = "text/csv; charset=utf-8"
TTL_RANGE_S = (60, 21600)  # RequestTTLSeconds [S9]
TIMEOUT_RANGE_S = (1, 3600)  # InvocationTimeoutSeconds [S9]
DEFAULT_TTL_S, DEFAULT_TIMEOUT_S = 21600, 900
# Patterns of the sagemaker-runtime API model (botocore validates lengths, not patterns).
_INPUT_LOCATION = re.compile(r"(https|s3)://([^/]+)/?(.*)")
_INFERENCE_ID = re.compile(r"\S[\x20-\x7e]*")
_EXTENSION = re.compile(r"(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+")
_FILENAME = re.compile(r"(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def register(emu: Emulator) -> None:
    emu.register_ops("sagemaker-runtime", {"InvokeEndpoint": invoke_endpoint,
                                           "InvokeEndpointAsync": invoke_endpoint_async})


def fake_prediction(body: bytes) -> bytes:
    """A deterministic stand-in for the model's answer: a number derived from the request body."""
    digest = hashlib.blake2b(body, digest_size=4).digest()
    return f"{int.from_bytes(digest, 'big') % 2000 / 100:.2f}".encode()


def invoke_endpoint(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    name = p["EndpointName"]
    now = emu.now()
    with emu.lock, world_errors():
        admission, variant = emu.world.invoke(name, now, p.get("TargetVariant"))
    if admission.error is not None:
        emu.clock.sleep(admission.latency_s)
        raise admission_error(emu, name, admission)
    try:
        emu.clock.sleep(admission.latency_s)
    finally:
        with emu.lock:
            emu.world.finish(name, variant)
    body = p.get("Body") or b""
    return {
        "Body": fake_prediction(body if isinstance(body, bytes) else bytes(body)),
        "ContentType": p.get("Accept") or DEFAULT_ACCEPT,
        "InvokedProductionVariant": variant,
        **({"CustomAttributes": p["CustomAttributes"]} if p.get("CustomAttributes") else {}),
    }


def admission_error(emu: Emulator, name: str, admission: Admission) -> AwsError:
    """The error InvokeEndpoint answers when the model refused ``admission`` (overload or timeout).

    Shared with the HTTP fast path (:mod:`harness.emulator.fastpath`), which answers the same way.
    """
    if admission.error == "ThrottlingException":
        return AwsError("ThrottlingException", admission.message, status=400)
    return AwsError("ModelError", admission.message, status=424, fields={
        "OriginalStatusCode": 500 if admission.latency_s == 0 else 0,
        "OriginalMessage": admission.message,
        "LogStreamArn": emu.world.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{name}"),
    })


def _invalid(value: Any, member: str, constraint: str) -> AwsError:
    return AwsError("ValidationError", f"1 validation error detected: Value '{value}' at '{member}' failed to "
                    f"satisfy constraint: {constraint}")


def _check_range(value: int, member: str, low: int, high: int) -> None:
    if not low <= value <= high:
        raise _invalid(value, member, f"Member must have value between {low} and {high}")


def _join(base: str, *parts: str) -> str:
    path = base.rstrip("/")
    for part in parts:
        path += "/" + part.strip("/")
    return path


def result_locations(config: dict[str, Any], inference_id: str, *, extension: str | None = None,
                     filename: str | None = None) -> tuple[str, str]:
    """(output location, failure location) of one request (format in the module docstring)."""
    output = config.get("OutputConfig") or {}
    base = output.get("S3OutputPath", "")
    out_parts = [extension] if extension else []
    output_location = _join(base, *out_parts, filename or f"{inference_id}.out")
    failure_location = _join(output.get("S3FailurePath") or base, f"{inference_id}-error.out")
    return output_location, failure_location


def invoke_endpoint_async(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    name = p["EndpointName"]
    input_location = p.get("InputLocation")
    if input_location is None:  # optional in the service model, but the endpoint has nothing to read without it
        raise AwsError("ValidationError", "1 validation error detected: Value null at 'inputLocation' failed to "
                       "satisfy constraint: Member must not be null")
    if not _INPUT_LOCATION.fullmatch(input_location):
        raise _invalid(input_location, "inputLocation", "Member must satisfy regular expression pattern: "
                       "^(https|s3)://([^/]+)/?(.*)$")
    ttl_s = int(p.get("RequestTTLSeconds", DEFAULT_TTL_S))
    timeout_s = int(p.get("InvocationTimeoutSeconds", DEFAULT_TIMEOUT_S))
    _check_range(ttl_s, "requestTTLSeconds", *TTL_RANGE_S)
    _check_range(timeout_s, "invocationTimeoutSeconds", *TIMEOUT_RANGE_S)
    inference_id = p.get("InferenceId") or str(uuid.uuid4())
    if len(inference_id) > 64 or not _INFERENCE_ID.fullmatch(inference_id):
        raise _invalid(inference_id, "inferenceId", "Member must have length less than or equal to 64 and "
                       "satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z")
    extension, filename = p.get("S3OutputPathExtension"), p.get("Filename")
    if extension is not None and (len(extension) > 512 or not _EXTENSION.fullmatch(extension)):
        raise _invalid(extension, "s3OutputPathExtension", "Member must satisfy regular expression pattern: "
                       "^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$")
    if filename is not None and (len(filename) > 32 or not _FILENAME.fullmatch(filename)):
        raise _invalid(filename, "filename", "Member must satisfy regular expression pattern: "
                       "^(?!.*\\..*\\.)[a-zA-Z0-9][a-zA-Z0-9-_\\.]*$")
    now = emu.now()
    with emu.lock, world_errors():
        ep = emu.world.endpoints.get(name)
        config = emu.endpoint_configs.get(ep.config_name, {}) if ep is not None else {}
        async_config = config.get("AsyncInferenceConfig") or {}
        output_location, failure_location = result_locations(async_config, inference_id, extension=extension,
                                                              filename=filename)
        emu.world.invoke_async(name, now, inference_id=inference_id, input_location=input_location,
                               output_location=output_location, failure_location=failure_location,
                               ttl_s=ttl_s, timeout_s=timeout_s)
        emu.async_requests[inference_id] = {"Accept": p.get("Accept")}
    return {"InferenceId": inference_id, "OutputLocation": output_location, "FailureLocation": failure_location}


def write_async_results(emu: Emulator, results: Iterable[AsyncResult]) -> None:
    """Write each finished request's result object to the emulator's S3 (module docstring)."""
    for result in results:
        details = emu.async_requests.pop(result.inference_id, {})
        try:
            if result.status == "Completed":
                body, problem = _read_input(emu, result.input_location)
                if problem is None:
                    _write(emu, result, result.output_location, fake_prediction(body),
                           details.get("Accept") or DEFAULT_ACCEPT)
                    continue
                _write(emu, result, result.failure_location, problem.encode(), "text/plain")
            else:
                _write(emu, result, result.failure_location, result.message.encode(), "text/plain")
        except Exception:  # never let one result stop the others (or the ticker thread writing them)
            logger.exception("async result %s could not be written", result.inference_id)
            emu.async_write_failures.append((result.inference_id, result.output_location, "internal error"))


def _read_input(emu: Emulator, location: str) -> tuple[bytes, str | None]:
    parsed = parse_s3_uri(location)
    if parsed is None:
        return b"", (f"Failed to download the input from {location}: the scalecheck emulator reads inputs only "
                     "from its own S3 (s3://bucket/key).")
    try:
        return emu.s3.get(*parsed).body, None
    except AwsError as err:
        return b"", f"Failed to download the input from {location}: {err.code}: {err.message}"


def _write(emu: Emulator, result: AsyncResult, location: str, body: bytes, content_type: str) -> None:
    parsed = parse_s3_uri(location)
    reason = None
    if parsed is None:
        reason = "not an s3:// location"
    else:
        try:
            emu.s3.put(parsed[0], parsed[1], body, content_type, result.done_ts)
        except AwsError as err:
            reason = f"{err.code}: {err.message}"
    if reason is not None:
        logger.warning("async result %s (%s) not written to %s: %s", result.inference_id, result.status,
                       location, reason)
        emu.async_write_failures.append((result.inference_id, location, reason))
