"""InvokeEndpoint / InvokeEndpointAsync requests as botocore serializes them, signed with ``sigv4``.

Build a request once (``invoke_request`` / ``invoke_async_request``: path, headers, body and the
body's hash), then sign it for every send (``sign`` or ``Signer.headers``); the canonical-request
template is cached on the request per (host, session token), so a Locust user that sends the same
payload again and again pays only for the timestamp, one SHA-256 and one HMAC per request.

Serialization mirrors botocore's rest-json serializer for the sagemaker-runtime model (2017-05-13):

- path ``/endpoints/{EndpointName}/invocations`` (``/async-invocations``), the name percent-encoded
  with ``botocore.utils.percent_encode`` (safe ``-._~``);
- members located in headers under the model's names (``Content-Type``/``Accept`` for
  InvokeEndpoint, ``X-Amzn-SageMaker-Content-Type``/``-Accept`` for InvokeEndpointAsync, ...),
  integers as ``str(n)``; a member left ``None`` is not sent;
- InvokeEndpoint's body is the raw payload (a ``str`` is UTF-8 encoded) and no Content-Type is
  defaulted (streaming payload); InvokeEndpointAsync's body is empty.

botocore also sends ``User-Agent``, ``amz-sdk-invocation-id`` and ``amz-sdk-request``, none of which
it signs; they are left out here (the HTTP client sends its own User-Agent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.utils import percent_encode

from harness.load.invoke.credentials import CredentialSource
from harness.load.invoke.sigv4 import SERVICE, Credentials, Template, amz_date, authorization, host_from_url

INVOKE = "InvokeEndpoint"
INVOKE_ASYNC = "InvokeEndpointAsync"
_TEMPLATE_CACHE = 8  # templates kept per request: (host, token) pairs; tokens change on refresh


class InvokeRequest:
    """One serialized runtime request: ``path, headers, body = request`` unpacks what to send.

    ``headers`` excludes the SigV4 ones; treat the object as immutable (templates are cached on it).
    """

    __slots__ = ("operation", "path", "headers", "body", "payload_hash", "_templates")

    def __init__(self, operation: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.operation = operation
        self.path = path
        self.headers = headers
        self.body = body
        self.payload_hash = hashlib.sha256(body).hexdigest()
        self._templates: dict[tuple[str, str | None], Template] = {}

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, dict(self.headers), self.body))

    def __repr__(self) -> str:
        return f"InvokeRequest({self.operation}, {self.path!r}, {self.headers!r}, {len(self.body)} bytes)"

    def template(self, host: str, token: str | None) -> Template:
        """The canonical-request template for sending to ``host`` (a signed ``host`` value), cached."""
        key = (host, token or None)
        found = self._templates.get(key)
        if found is None:
            if len(self._templates) >= _TEMPLATE_CACHE:
                self._templates.clear()
            found = self._templates[key] = Template.build(self.path, self.headers, self.payload_hash, host, token)
        return found


def _path(endpoint: str, suffix: str) -> str:
    if not endpoint:
        raise ValueError("endpoint name must not be empty")
    return f"/endpoints/{percent_encode(endpoint)}/{suffix}"


def _headers(pairs: tuple[tuple[str, object], ...]) -> dict[str, str]:
    return {name: str(value) for name, value in pairs if value is not None}


def invoke_request(endpoint: str, body: bytes | str, content_type: str | None, accept: str | None = None,
                   custom_attributes: str | None = None, target_variant: str | None = None, *,
                   target_model: str | None = None, inference_id: str | None = None,
                   inference_component: str | None = None) -> InvokeRequest:
    """InvokeEndpoint(EndpointName=endpoint, Body=body, ContentType=content_type, ...) as botocore sends it."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return InvokeRequest(INVOKE, _path(endpoint, "invocations"), _headers((
        ("Content-Type", content_type),
        ("Accept", accept),
        ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
        ("X-Amzn-SageMaker-Target-Model", target_model),
        ("X-Amzn-SageMaker-Target-Variant", target_variant),
        ("X-Amzn-SageMaker-Inference-Id", inference_id),
        ("X-Amzn-SageMaker-Inference-Component", inference_component),
    )), data)


def invoke_async_request(endpoint: str, input_location: str, content_type: str | None = None,
                         inference_id: str | None = None, ttl_s: int | None = None, timeout_s: int | None = None,
                         output_path_extension: str | None = None, *, accept: str | None = None,
                         custom_attributes: str | None = None) -> InvokeRequest:
    """InvokeEndpointAsync(EndpointName=endpoint, InputLocation=input_location, ContentType=content_type,
    InferenceId=inference_id, RequestTTLSeconds=ttl_s, InvocationTimeoutSeconds=timeout_s,
    S3OutputPathExtension=output_path_extension, ...) as botocore sends it (empty body)."""
    return InvokeRequest(INVOKE_ASYNC, _path(endpoint, "async-invocations"), _headers((
        ("X-Amzn-SageMaker-Content-Type", content_type),
        ("X-Amzn-SageMaker-Accept", accept),
        ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
        ("X-Amzn-SageMaker-Inference-Id", inference_id),
        ("X-Amzn-SageMaker-InputLocation", input_location),
        ("X-Amzn-SageMaker-S3OutputPathExtension", output_path_extension),
        ("X-Amzn-SageMaker-RequestTTLSeconds", ttl_s),
        ("X-Amzn-SageMaker-InvocationTimeoutSeconds", timeout_s),
    )), b"")


def sign(request: InvokeRequest, credentials: Credentials, region: str, now: float | datetime | None = None, *,
         host: str, service: str = SERVICE) -> dict[str, str]:
    """The headers to send ``request`` with: its own plus ``Host`` (the value signed, so any HTTP client
    sends exactly it), ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token) and ``Authorization``.

    ``host`` is the base URL requests go to (``https://runtime.sagemaker.eu-west-1.amazonaws.com``,
    ``http://127.0.0.1:8080``) or a bare host (taken as https); ``now`` epoch seconds or a datetime
    (naive = UTC), default the wall clock. ``credentials`` is botocore's ``ReadOnlyCredentials`` or alike
    (``CredentialSource.get()``).
    """
    return _sign(request, credentials, region, amz_date(now), host_from_url(host), service)


def _sign(request: InvokeRequest, credentials: Credentials, region: str, stamp: str, signed_host: str,
          service: str) -> dict[str, str]:
    token = credentials.token or None
    headers = dict(request.headers)
    headers["Host"] = signed_host
    headers["X-Amz-Date"] = stamp
    if token:
        headers["X-Amz-Security-Token"] = token
    headers["Authorization"] = authorization(request.template(signed_host, token), stamp, credentials, region,
                                             service)
    return headers


class Signer:
    """``sign`` bound to a region, a base URL and a ``CredentialSource`` (refreshed as it nears expiry).

    ``Signer.headers(request)`` is the per-request hot path; one Signer per process serves all users.
    """

    def __init__(self, region: str, host: str, credentials: CredentialSource, service: str = SERVICE) -> None:
        self.region = region
        self.service = service
        self.host = host_from_url(host)
        self.credentials = credentials

    def headers(self, request: InvokeRequest, now: float | datetime | None = None) -> dict[str, str]:
        return _sign(request, self.credentials.get(), self.region, amz_date(now), self.host, self.service)
