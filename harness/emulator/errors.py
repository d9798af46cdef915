"""AWS-shaped errors and how each wire protocol answers them (pure: no I/O, no logging).

Handlers (and the router) raise :class:`AwsError`: a code (``ValidationException``), a message, an HTTP
status and extra fields by botocore member name. :func:`error_response` gives the answer to one, a
:data:`Response` ``(status, headers, body bytes)``, in the wire protocol of its
:class:`~harness.emulator.routing.Route`:

- JSON 1.0/1.1 and smithy-rpc-v2-cbor: ``{"__type": <code>, <message member>: ..., **fields}`` (CBOR
  encoded for CBOR), with the protocol's content type (:func:`json_headers`, :func:`cbor_headers`) and,
  for JSON, ``x-amzn-ErrorType``;
- REST-JSON: ``{<message member>: ..., **fields}`` with ``x-amzn-ErrorType``;
- REST-XML (S3): ``<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>``
  (``InternalFailure`` is S3's ``InternalError``); an answer to HEAD is the status alone;
- awsQuery (STS): ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>``
  (:func:`harness.emulator.query.query_error`).

The message member is ``Message`` or ``message`` as the modeled error shape (found by name, else by its
query error code) has it, and ``fields`` are serialized through that shape when there is one. For
awsQueryCompatible services (CloudWatch) the type is the shape's name and ``x-amzn-query-error:
<query code>;Sender|Receiver`` is added, so botocore reports the query code (an unmodeled error's
``query_code``, else its code). ``error_response`` raises only when the fields cannot be serialized; the
router then answers :func:`internal_failure`.

:data:`DROP` is not an answer: a handler path that returns it (an injected ``drop`` fault,
:mod:`harness.emulator.faults`) asks the HTTP server to close the connection without answering.

Also here: the S3 codes of SigV4 failures and the code each service gives validation errors
(:func:`validation_code`).
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

from botocore.model import ServiceModel, Shape, StructureShape

from harness.emulator import query, restxml, wire
from harness.emulator.routing import Route

INTERNAL_MESSAGE = "We encountered an internal error. Please try again."
Response = tuple[int, list[tuple[str, str]], bytes]
DROP: Response = (0, [], b"")  # compared by identity: close the connection, answer nothing


class AwsError(Exception):
    """An AWS-shaped error: code (e.g. 'ValidationException'), message, HTTP status, extra fields, and for
    an error the model does not name, the legacy query code awsQueryCompatible services report (``Throttling``)."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: dict[str, Any] | None = None,
        query_code: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})
        self.query_code = query_code


S3_SIGNATURE_CODES = {  # SigV4 failures as S3 reports them: (code, HTTP status)
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "UnrecognizedClientException": ("InvalidAccessKeyId", 403),
    "IncompleteSignatureException": ("AuthorizationHeaderMalformed", 400),
    "MissingAuthenticationTokenException": ("AccessDenied", 403),
}
S3_INVALID_KEY_MESSAGE = "The AWS Access Key Id you provided does not exist in our records."


def internal_failure() -> AwsError:
    return AwsError("InternalFailure", INTERNAL_MESSAGE, 500)


def error_response(route: Route, model: ServiceModel | None, error: AwsError, request_id: str) -> Response:
    """The answer to ``error`` in the wire protocol of ``route`` (``model``: its service's, if known)."""
    if route.wire == "rest-xml":
        if route.method == "HEAD":  # S3 answers HEAD errors with the status only
            return error.status, [], b""
        code = "InternalError" if error.code == "InternalFailure" else error.code  # S3's name for it
        body = restxml.error_xml(code, error.message, request_id, error.fields)
        return error.status, [("Content-Type", "application/xml")], body
    if route.wire == "query":
        return query.query_error(model, error.code, error.message, error.status, request_id)
    shape = _error_shape(model, error.code) if model else None
    members = shape.members if shape else {}
    message_key = "Message" if "Message" in members and "message" not in members else "message"
    headers: list[tuple[str, str]] = []
    type_name = error.code
    if model is not None and model.is_query_compatible:
        # Real awsQueryCompatible services send the shape name plus the legacy query code.
        type_name = shape.name if shape else error.code
        query_code = shape.error_code if shape else (error.query_code or error.code)
        sender = error.status < 500
        if shape is not None:
            sender = shape.metadata.get("error", {}).get("senderFault", sender)
        headers.append(("x-amzn-query-error", f"{query_code};{'Sender' if sender else 'Receiver'}"))
    fields = wire.error_fields(shape, error.fields, cbor=route.wire == "cbor")
    payload = {message_key: error.message, **fields}
    if route.wire == "cbor":
        return error.status, cbor_headers() + headers, wire.cbor_encode({"__type": type_name, **payload})
    headers.append(("x-amzn-ErrorType", type_name))
    if route.wire == "json":
        content = json_headers(model) if model else [("Content-Type", "application/x-amz-json-1.1")]
        return error.status, content + headers, json.dumps({"__type": type_name, **payload}).encode()
    return error.status, [("Content-Type", "application/json"), *headers], json.dumps(payload).encode()


@cache
def validation_code(model: ServiceModel) -> str:
    if model.protocol == "rest-xml":
        return "InvalidArgument"
    if model.protocol == "query":
        return "ValidationError"
    names = {shape.name for shape in model.error_shapes}
    return "ValidationError" if "ValidationError" in names else "ValidationException"


@lru_cache(maxsize=256)
def _error_shape(model: ServiceModel, code: str) -> StructureShape | None:
    """The modeled error shape named ``code``, else the one whose (query) error code is ``code``."""
    by_code: Shape | None = None
    for shape in model.error_shapes:
        if shape.name == code:
            return shape
        if by_code is None and shape.error_code == code:
            by_code = shape
    return by_code if isinstance(by_code, StructureShape) else None


def json_headers(model: ServiceModel) -> list[tuple[str, str]]:
    return [("Content-Type", f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.1')}")]


def cbor_headers() -> list[tuple[str, str]]:
    return [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]


__all__ = [
    "DROP", "INTERNAL_MESSAGE", "S3_INVALID_KEY_MESSAGE", "S3_SIGNATURE_CODES", "AwsError", "Response", "cbor_headers",
    "error_response", "internal_failure", "json_headers", "validation_code",
]
