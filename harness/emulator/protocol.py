"""The emulator's AWS wire-protocol layer: one ``Router`` turns HTTP requests into ``Call`` objects.

Service handlers (SageMaker, Application Auto Scaling, CloudWatch, SageMaker Runtime) see only
``Call`` in and a dict of output members out; everything on the wire is decided here, from the
pinned botocore's service models:

    sagemaker, application-autoscaling   JSON 1.1   X-Amz-Target: <targetPrefix>.<Op>
    cloudwatch                           JSON 1.0   X-Amz-Target: GraniteServiceVersion20100801.<Op>
                                         or smithy-rpc-v2-cbor  POST /service/<prefix>/operation/<Op>
    sagemaker-runtime                    REST-JSON  POST /endpoints/{EndpointName}/invocations, ...
    s3                                   REST-XML, path style (/bucket/key), chosen by the SigV4
                                         credential scope's service (``.../s3/aws4_request``)
    service-quotas                       JSON 1.1   X-Amz-Target: ServiceQuotasV20190624.<Op>
    sts                                  awsQuery   form-encoded POST Action=<Op>, XML answers
                                         (:mod:`harness.emulator.query`), chosen by the credential scope
    /_emulator/...                       plain JSON, unsigned (see ``Router.register_raw``)

Which service and operation a request addresses is decided by :mod:`harness.emulator.routing` (S3 by
the credential scope); AWS errors and their shape on the wire are :mod:`harness.emulator.errors`.

Contract of ``Router.handle`` (never raises, never leaks a traceback):

1. SigV4 is verified against the configured credentials (``sigv4.py``); failures are 403s. For S3
   the canonical URI is encoded once, ``x-amz-content-sha256`` is required and checked, aws-chunked
   bodies are decoded (their trailing headers, e.g. ``x-amz-checksum-crc32``, join the request
   headers), and the codes are S3's: ``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, ...
2. Unknown operations -> ``UnknownOperationException`` (400; 404 for REST paths); an operation
   the model knows but no handler was registered for gets the same code, saying so.
3. Undecodable bodies -> ``SerializationException``. Input is then converted to Python
   (timestamps -> tz-aware UTC ``datetime``, blobs -> ``bytes``, doubles -> ``float``; members
   the model does not know and nulls are dropped) and checked with botocore's ``ParamValidator``;
   violations -> ``ValidationException`` (``ValidationError`` where the model names it so, as in
   sagemaker-runtime; ``InvalidArgument`` for S3, whose bad XML is ``MalformedXML``) whose message
   names the field. Handlers can trust required members and types,
   not enums, patterns or max lengths.
4. Injected faults (``Router.faults``, :mod:`harness.emulator.faults`) act on the decoded call before its
   handler runs: a delay waits, a deny or throttle is an ``AwsError``, a drop answers :data:`DROP` (the
   server closes the connection without an answer; no request id is added).
5. ``AwsError`` from a handler -> that error in the protocol's shape, its ``fields`` serialized
   through the modeled error shape when there is one (so botocore surfaces them on ``response``).
   CloudWatch is awsQueryCompatible: ``code`` may be the query code (``ResourceNotFound``) or the
   shape name; botocore reports the query code, as with real CloudWatch. S3 errors are XML
   ``<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>``; answers to HEAD have no body.
6. Any other exception (also while serializing the handler's output, e.g. an unknown output
   member) is logged here and answered as ``InternalFailure`` 500 with a generic message.

Every response carries ``x-amzn-RequestId``; S3 responses also ``x-amz-request-id`` and ``x-amz-id-2``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import parse_qs

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from harness.emulator import query as query_protocol
from harness.emulator import restxml, wire
from harness.emulator.errors import (
    DROP,
    S3_INVALID_KEY_MESSAGE,
    S3_SIGNATURE_CODES,
    AwsError,
    Response,
    cbor_headers,
    error_response,
    internal_failure,
    json_headers,
    validation_code,
)
from harness.emulator.routing import Route, RouteTable
from harness.emulator.sigv4 import SignatureError, SigV4Verifier

logger = logging.getLogger(__name__)

SERVICES = ("sagemaker", "sagemaker-runtime", "application-autoscaling", "cloudwatch", "s3", "sts", "service-quotas")


@dataclass(frozen=True)
class Call:
    """One authenticated, decoded and validated AWS API call."""

    service: str  # one of SERVICES (botocore service names)
    operation: str  # botocore operation name, e.g. 'DescribeEndpoint'
    # Input members by botocore name; timestamps as tz-aware UTC datetime; blobs as bytes.
    params: dict[str, Any]
    region: str  # from the SigV4 credential scope
    access_key: str


Handler = Callable[[Call], dict[str, Any]]
"""Returns output members by botocore name; datetimes for timestamps, bytes for blobs."""

class FaultHook(Protocol):
    """What the router asks of injected faults (:class:`harness.emulator.faults.Faults`)."""

    def apply(self, call: Call) -> bool:
        """Wait out delays, raise an ``AwsError`` to answer instead, or return True to drop the connection."""
        ...


RawHandler = Callable[[dict[str, Any]], tuple[int, Any]]
"""Gets the query parameters (last value wins) updated with the JSON body object; returns
(HTTP status, JSON-able result)."""


@cache
def service_model(service: str) -> ServiceModel:
    """The pinned botocore's model for ``service`` (loaded once per process)."""
    return botocore.session.get_session().get_service_model(service)


class Router:
    """Dispatches AWS API calls to registered handlers (see the module docstring for the contract).

    ``credentials`` maps access key -> secret; ``None`` disables signature verification.
    Register everything before serving: registration is not synchronised with ``handle``.
    """

    def __init__(self, credentials: dict[str, str] | None = {"test": "test"}) -> None:  # noqa: B006
        self.verifier = SigV4Verifier(credentials)  # also the emulator's fast path's
        self._models = {name: service_model(name) for name in SERVICES}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._raw: dict[tuple[str, str], RawHandler] = {}
        self._routes = RouteTable(self._models)
        self._validator = ParamValidator()
        self.faults: FaultHook | None = None  # the emulator's injected faults

    def register(self, service: str, operation: str, handler: Handler) -> None:
        """Route ``service``/``operation`` (botocore names) to ``handler``; ValueError if unknown."""
        if service not in self._models:
            raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
        if operation not in self._models[service].operation_names:
            raise ValueError(f"{service} has no operation {operation!r} in the pinned botocore model")
        self._handlers[(service, operation)] = handler

    def handler(self, service: str, operation: str) -> Handler | None:
        """The handler registered for ``service``/``operation`` (the simulator calls it directly)."""
        return self._handlers.get((service, operation))

    def register_raw(self, method: str, path: str, fn: RawHandler) -> None:
        """Serve an unsigned JSON route; ``path`` must start with ``/_emulator/``."""
        if not path.startswith("/_emulator/"):
            raise ValueError(f"raw routes live under /_emulator/, not {path!r}")
        self._raw[(method.upper(), path)] = fn

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one HTTP request: (status, response headers, response body). Never raises."""
        request_id = str(uuid.uuid4())
        lower = {name.lower(): value for name, value in headers.items()}
        if path.startswith("/_emulator/"):
            status, out_headers, out_body = self._handle_raw(method.upper(), path, query, body)
        else:
            route = self._resolve(method.upper(), path, query, lower, body)
            try:
                response = self._handle_aws(route, method, path, query, lower, body, request_id)
                if response is DROP:
                    return DROP
                status, out_headers, out_body = response
            except AwsError as error:
                status, out_headers, out_body = self._error_or_internal(route, error, request_id)
            except Exception:  # a bug in this layer: still answer in the protocol's shape
                logger.exception("emulator failed to handle %s %s", method, path)
                status, out_headers, out_body = self._error(route, internal_failure(), request_id)
            if route.wire == "rest-xml":
                out_headers += [("x-amz-request-id", request_id), ("x-amz-id-2", restxml.host_id(request_id))]
        out_headers.append(("x-amzn-RequestId", request_id))
        return status, out_headers, out_body

    def framing_error(self, message: str, request: tuple[str, str, str, Mapping[str, str]] | None
                      ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The 400 for a request the HTTP layer could not frame (``message`` says why), in the protocol of the
        service it addressed when its head was read (``request``: method, path, query, headers), else as
        a JSON service answers. Never raises."""
        route = Route(wire="json")
        if request is not None:
            method, path, query, headers = request
            try:
                route = self._resolve(method, path, query, {k.lower(): v for k, v in headers.items()})
            except Exception:  # an unroutable head: the generic JSON shape
                route = Route(wire="json")
        code = {"rest-xml": "BadRequest", "query": "MalformedInput"}.get(route.wire, "SerializationException")
        return self._error_or_internal(route, AwsError(code, message, 400), str(uuid.uuid4()))

    def _resolve(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes = b"") -> Route:
        """Where the request goes; among S3 twins sharing a route, the one with a handler."""
        return self._routes.resolve(method, path, query, headers, self._handlers, body)

    def _handle_aws(
        self, route: Route, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
        request_id: str,
    ) -> Response:
        xml = route.wire == "rest-xml"
        if xml and "x-amz-content-sha256" not in headers and headers.get("authorization"):
            raise AwsError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        try:
            identity = self.verifier.verify(method, path, query, headers, body, s3=xml)
            if xml:
                payload = self.verifier.decode_payload(headers, body, identity)
                body = payload.body
                if payload.trailers or "aws-chunked" in headers.get("content-encoding", ""):
                    headers = {**headers, **payload.trailers}
                    encodings = [e.strip() for e in headers.get("content-encoding", "").split(",")]
                    kept = ",".join(e for e in encodings if e and e != "aws-chunked")
                    headers.pop("content-encoding", None)
                    if kept:
                        headers["content-encoding"] = kept
        except SignatureError as exc:
            code = S3_SIGNATURE_CODES.get(exc.code, (exc.code, exc.status)) if xml else (exc.code, exc.status)
            message = S3_INVALID_KEY_MESSAGE if xml and exc.code == "UnrecognizedClientException" else exc.message
            raise AwsError(code[0], message, code[1]) from None
        if xml and route.operation is None:
            raise AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        if route.wire == "query" and route.operation is None:
            version = self._models[route.service].api_version if route.service else ""
            raise AwsError("InvalidAction", f"Could not find operation for version {version}")
        if route.service is None or route.operation is None:
            what = f"{route.service} " if route.service else ""
            raise AwsError("UnknownOperationException", f"Unknown {what}operation", _unknown_status(route))
        model = self._models[route.service]
        if identity.service and identity.service != model.signing_name:
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{model.signing_name}'. ",
                403,
            )
        handler = self._handlers.get((route.service, route.operation))
        if handler is None and xml:
            raise AwsError("NotImplemented", f"{route.operation} is not implemented by the scalecheck emulator.", 501)
        if handler is None:
            raise AwsError(
                "UnknownOperationException",
                f"{route.service} {route.operation} is not implemented by the scalecheck emulator",
                _unknown_status(route),
            )
        op_model = model.operation_model(route.operation)
        params = self._decode(route, op_model, query, headers, body)
        call = Call(route.service, route.operation, params, identity.region, identity.access_key)
        if self.faults is not None and self.faults.apply(call):
            return DROP
        try:
            output = handler(call)
            return self._encode(route, op_model, output, request_id)
        except AwsError:
            raise
        except Exception:
            logger.exception("emulator handler for %s %s failed", route.service, route.operation)
            raise internal_failure() from None

    def _decode(
        self, route: Route, op_model: OperationModel, query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        shape = op_model.input_shape
        if shape is None:
            return {}
        code = validation_code(op_model.service_model)
        try:
            if route.wire == "rest-json":
                params = wire.rest_input(shape, route.labels or {}, parse_qs(query), headers, body)
            elif route.wire == "rest-xml":
                params = wire.rest_input(shape, route.labels or {}, parse_qs(query), headers, body,
                                         parse_document=restxml.parse_payload)
            elif route.wire == "query":
                form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                params = query_protocol.query_input(shape, {**parse_qs(query, keep_blank_values=True), **form})
            else:
                params = wire.rpc_input(shape, body, cbor=route.wire == "cbor")
        except wire.MalformedBody as exc:
            if route.wire == "rest-xml":
                raise AwsError("MalformedXML", str(exc)) from None
            raise AwsError("SerializationException", str(exc)) from None
        except wire.BadValue as exc:
            raise AwsError(code, f"1 validation error detected: {exc}") from None
        report = self._validator.validate(params, shape)
        if report.has_errors():
            lines = report.generate_report().splitlines()
            noun = "error" if len(lines) == 1 else "errors"
            raise AwsError(code, f"{len(lines)} validation {noun} detected: {'; '.join(lines)}")
        return params

    def _encode(self, route: Route, op_model: OperationModel, output: dict[str, Any], request_id: str) -> Response:
        if not isinstance(output, dict):
            raise TypeError(f"handler returned {type(output).__name__}, not a dict of output members")
        shape = op_model.output_shape
        if route.wire == "rest-json":
            status = op_model.http.get("responseCode", 200)
            return wire.rest_output(shape, output, status)
        if route.wire == "rest-xml":
            status, headers, body = restxml.rest_xml_output(shape, output, op_model.http.get("responseCode", 200))
            return status, headers, b"" if route.method == "HEAD" else body
        if route.wire == "query":
            return query_protocol.query_output(op_model, output, request_id)
        if route.wire == "cbor":
            return 200, cbor_headers(), b"" if shape is None else wire.cbor_body(shape, output)
        return 200, json_headers(op_model.service_model), wire.json_body(shape, output)

    def _error_or_internal(self, route: Route, error: AwsError, request_id: str) -> Response:
        try:
            return self._error(route, error, request_id)
        except Exception:  # e.g. error fields that cannot be serialized
            logger.exception("emulator could not serialize %s for %s", error.code, route.operation)
            return self._error(route, internal_failure(), request_id)

    def _error(self, route: Route, error: AwsError, request_id: str) -> Response:
        """``error`` in the shape of ``route``'s protocol (see :mod:`harness.emulator.errors`)."""
        return error_response(route, self._models[route.service] if route.service else None, error, request_id)

    def _handle_raw(self, method: str, path: str, query: str, body: bytes) -> Response:
        fn = self._raw.get((method, path))
        if fn is None:
            allowed = any(route_path == path for _, route_path in self._raw)
            status = 405 if allowed else 404
            return _raw_json(status, {"error": f"no emulator route {method} {path}"})
        params: dict[str, Any] = {name: values[-1] for name, values in parse_qs(query).items()}
        if body.strip():
            try:
                data = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                return _raw_json(400, {"error": "request body is not JSON"})
            if not isinstance(data, dict):
                return _raw_json(400, {"error": "request body must be a JSON object"})
            params.update(data)
        try:
            status, result = fn(params)
            return _raw_json(status, result)
        except Exception:
            logger.exception("emulator route %s %s failed", method, path)
            return _raw_json(500, {"error": "internal error"})


def _unknown_status(route: Route) -> int:
    return 404 if route.wire == "rest-json" else 400


def _raw_json(status: int, result: Any) -> Response:
    body = json.dumps(result, default=wire.json_default).encode()
    return status, [("Content-Type", "application/json")], body


__all__ = ["Call", "FaultHook", "Handler", "RawHandler", "Router", "SERVICES", "service_model"]
