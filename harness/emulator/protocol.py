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
    /_emulator/...                       plain JSON, unsigned (see ``Router.register_raw``)

S3 paths cannot be told from SageMaker Runtime paths (``/endpoints/x/invocations`` is also a bucket
and a key), so a request goes to S3 exactly when its ``Authorization`` header is scoped to ``s3``.
Among S3 operations sharing a method and path, the one whose required query keys (``?list-type=2``,
``?tagging``) the request carries, most specific first, wins. Presigned (query-string) URLs are not
supported.

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
4. ``AwsError`` from a handler -> that error in the protocol's shape, its ``fields`` serialized
   through the modeled error shape when there is one (so botocore surfaces them on ``response``).
   CloudWatch is awsQueryCompatible: ``code`` may be the query code (``ResourceNotFound``) or the
   shape name; botocore reports the query code, as with real CloudWatch. S3 errors are XML
   ``<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>``; answers to HEAD have no body.
5. Any other exception (also while serializing the handler's output, e.g. an unknown output
   member) is logged here and answered as ``InternalFailure`` 500 with a generic message.

Every response carries ``x-amzn-RequestId``; S3 responses also ``x-amz-request-id`` and ``x-amz-id-2``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qs

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from harness.emulator import restxml, wire
from harness.emulator.sigv4 import SignatureError, SigV4Verifier

logger = logging.getLogger(__name__)

SERVICES = ("sagemaker", "sagemaker-runtime", "application-autoscaling", "cloudwatch", "s3")
INTERNAL_MESSAGE = "We encountered an internal error. Please try again."
Response = tuple[int, list[tuple[str, str]], bytes]


class AwsError(Exception):
    """An AWS-shaped error: code (e.g. 'ValidationException'), message, HTTP status, extra fields."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})


@dataclass(frozen=True)
class Call:
    """One authenticated, decoded and validated AWS API call."""

    service: str  # 'sagemaker' | 'sagemaker-runtime' | 'application-autoscaling' | 'cloudwatch' | 's3'
    operation: str  # botocore operation name, e.g. 'DescribeEndpoint'
    # Input members by botocore name; timestamps as tz-aware UTC datetime; blobs as bytes.
    params: dict[str, Any]
    region: str  # from the SigV4 credential scope
    access_key: str


Handler = Callable[[Call], dict[str, Any]]
"""Returns output members by botocore name; datetimes for timestamps, bytes for blobs."""

RawHandler = Callable[[dict[str, Any]], tuple[int, Any]]
"""Gets the query parameters (last value wins) updated with the JSON body object; returns
(HTTP status, JSON-able result)."""


@dataclass(frozen=True)
class _Route:
    """Where a request goes: the wire format always, the service/operation when recognised."""

    wire: str  # 'json' | 'cbor' | 'rest-json' | 'rest-xml'
    service: str | None = None
    operation: str | None = None
    labels: Mapping[str, str] | None = None  # REST URI labels, still percent-encoded
    method: str = ""


@dataclass(frozen=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    # query keys the requestUri or a required member demands (value None: any value)
    query: Mapping[str, str | None]
    # required header members (lower case): PUT /b/k with x-amz-copy-source is CopyObject
    headers: tuple[str, ...]
    service: str
    operation: str

    @property
    def specificity(self) -> int:
        return len(self.query) + len(self.headers)

    def accepts(self, method: str, keys: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return (self.method == method and all(name in headers for name in self.headers)
                and all(name in keys and (value is None or value in keys[name]) for name, value in self.query.items()))


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
        self._json_targets: dict[str, str] = {}
        self._cbor_targets: dict[str, str] = {}
        self._rest_routes: list[tuple[str, re.Pattern[str], str, str]] = []
        self._xml_routes: list[_RestRoute] = []
        self._validator = ParamValidator()
        for name, model in self._models.items():
            protocols = model.metadata.get("protocols") or [model.protocol]
            prefix = model.metadata.get("targetPrefix")
            if prefix and "json" in protocols:
                self._json_targets[prefix] = name
            if prefix and "smithy-rpc-v2-cbor" in protocols:
                self._cbor_targets[prefix] = name
            if "rest-json" in protocols:
                for op in model.operation_names:
                    http = model.operation_model(op).http
                    pattern = _uri_pattern(http["requestUri"])
                    self._rest_routes.append((http["method"], pattern, name, op))
            if "rest-xml" in protocols:
                for op in model.operation_names:
                    op_model = model.operation_model(op)
                    uri = op_model.http["requestUri"]
                    query = {**_required_query(op_model), **_uri_query(uri)}
                    self._xml_routes.append(_RestRoute(op_model.http["method"], _uri_pattern(uri), query,
                                                       _required_members(op_model, "header"), name, op))
                # most specific first: GET /b?list-type=2 is ListObjectsV2, not ListObjects
                self._xml_routes.sort(key=lambda r: -r.specificity)

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
            route = self._resolve(method.upper(), path, query, lower)
            try:
                status, out_headers, out_body = self._handle_aws(route, method, path, query, lower, body)
            except AwsError as error:
                status, out_headers, out_body = self._error_or_internal(route, error, request_id)
            except Exception:  # a bug in this layer: still answer in the protocol's shape
                logger.exception("emulator failed to handle %s %s", method, path)
                status, out_headers, out_body = self._error(route, _internal_failure(), request_id)
            if route.wire == "rest-xml":
                out_headers += [("x-amz-request-id", request_id), ("x-amz-id-2", restxml.host_id(request_id))]
        out_headers.append(("x-amzn-RequestId", request_id))
        return status, out_headers, out_body

    def _resolve(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> _Route:
        if self._xml_routes and _scope_service(headers.get("authorization")) == "s3":
            return self._resolve_xml(method, path, query, headers)
        if headers.get("smithy-protocol") == "rpc-v2-cbor" or path.startswith("/service/"):
            match = re.fullmatch(r"/service/([^/]+)/operation/([^/]+)", path)
            service = self._cbor_targets.get(match.group(1)) if match and method == "POST" else None
            return self._known("cbor", service, match.group(2) if match else None)
        target = headers.get("x-amz-target")
        if target is not None:
            prefix, _, operation = target.partition(".")
            return self._known("json", self._json_targets.get(prefix), operation)
        for route_method, pattern, service, operation in self._rest_routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return _Route("rest-json", service, operation, match.groupdict())
        return _Route("rest-json")

    def _resolve_xml(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> _Route:
        keys = parse_qs(query, keep_blank_values=True)
        if re.fullmatch(r"/[^/]+/", path):  # '/bucket/' addresses the bucket, as '/bucket' does
            path = path[:-1]
        service, found, rank = None, None, -1
        for route in self._xml_routes:  # most specific first
            service = route.service
            if found is not None and route.specificity < rank:
                break
            match = route.pattern.fullmatch(path) if route.accepts(method, keys, headers) else None
            if match is None:
                continue
            candidate = _Route("rest-xml", route.service, route.operation, match.groupdict(), method)
            if (route.service, route.operation) in self._handlers:
                return candidate
            # deprecated twins (ListBuckets, ListDirectoryBuckets) share a route: prefer the one served
            found, rank = found or candidate, route.specificity
        return found or _Route("rest-xml", service, None, None, method)

    def _known(self, wire_name: str, service: str | None, operation: str | None) -> _Route:
        if service is None:
            return _Route(wire_name)
        if operation not in self._models[service].operation_names:
            return _Route(wire_name, service)
        return _Route(wire_name, service, operation)

    def _handle_aws(
        self, route: _Route, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
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
        try:
            output = handler(call)
            return self._encode(route, op_model, output)
        except AwsError:
            raise
        except Exception:
            logger.exception("emulator handler for %s %s failed", route.service, route.operation)
            raise _internal_failure() from None

    def _decode(
        self, route: _Route, op_model: OperationModel, query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        shape = op_model.input_shape
        if shape is None:
            return {}
        code = _validation_code(op_model.service_model)
        try:
            if route.wire == "rest-json":
                params = wire.rest_input(shape, route.labels or {}, parse_qs(query), headers, body)
            elif route.wire == "rest-xml":
                params = wire.rest_input(shape, route.labels or {}, parse_qs(query), headers, body,
                                         parse_document=restxml.parse_payload)
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

    def _encode(self, route: _Route, op_model: OperationModel, output: dict[str, Any]) -> Response:
        if not isinstance(output, dict):
            raise TypeError(f"handler returned {type(output).__name__}, not a dict of output members")
        shape = op_model.output_shape
        if route.wire == "rest-json":
            status = op_model.http.get("responseCode", 200)
            return wire.rest_output(shape, output, status)
        if route.wire == "rest-xml":
            status, headers, body = restxml.rest_xml_output(shape, output, op_model.http.get("responseCode", 200))
            return status, headers, b"" if route.method == "HEAD" else body
        if route.wire == "cbor":
            return 200, _cbor_headers(), b"" if shape is None else wire.cbor_body(shape, output)
        return 200, _json_headers(op_model.service_model), wire.json_body(shape, output)

    def _error_or_internal(self, route: _Route, error: AwsError, request_id: str) -> Response:
        try:
            return self._error(route, error, request_id)
        except Exception:  # e.g. error fields that cannot be serialized
            logger.exception("emulator could not serialize %s for %s", error.code, route.operation)
            return self._error(route, _internal_failure(), request_id)

    def _error(self, route: _Route, error: AwsError, request_id: str) -> Response:
        if route.wire == "rest-xml":
            if route.method == "HEAD":  # S3 answers HEAD errors with the status only
                return error.status, [], b""
            code = "InternalError" if error.code == "InternalFailure" else error.code  # S3's name for it
            body = restxml.error_xml(code, error.message, request_id, error.fields)
            return error.status, [("Content-Type", "application/xml")], body
        model = self._models[route.service] if route.service else None
        shape = _error_shape(model, error.code) if model else None
        members = shape.members if shape else {}
        message_key = "Message" if "Message" in members and "message" not in members else "message"
        headers: list[tuple[str, str]] = []
        type_name = error.code
        if model is not None and model.is_query_compatible:
            # Real awsQueryCompatible services send the shape name plus the legacy query code.
            type_name = shape.name if shape else error.code
            query_code = shape.error_code if shape else error.code
            sender = error.status < 500
            if shape is not None:
                sender = shape.metadata.get("error", {}).get("senderFault", sender)
            headers.append(("x-amzn-query-error", f"{query_code};{'Sender' if sender else 'Receiver'}"))
        fields = wire.error_fields(shape, error.fields, cbor=route.wire == "cbor")
        payload = {message_key: error.message, **fields}
        if route.wire == "cbor":
            return error.status, _cbor_headers() + headers, wire.cbor_encode({"__type": type_name, **payload})
        headers.append(("x-amzn-ErrorType", type_name))
        if route.wire == "json":
            content = _json_headers(model) if model else [("Content-Type", "application/x-amz-json-1.1")]
            return error.status, content + headers, json.dumps({"__type": type_name, **payload}).encode()
        return error.status, [("Content-Type", "application/json"), *headers], json.dumps(payload).encode()

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


def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    """A regex for a REST ``requestUri`` template; labels become named groups."""
    path = request_uri.split("?", 1)[0]
    parts, pos = [], 0
    for match in re.finditer(r"\{(\w+)(\+?)\}", path):
        parts.append(re.escape(path[pos : match.start()]))
        parts.append(f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})")
        pos = match.end()
    parts.append(re.escape(path[pos:]))
    return re.compile("".join(parts))


def _uri_query(request_uri: str) -> dict[str, str | None]:
    """The query keys a REST ``requestUri`` requires: ``?list-type=2`` -> {'list-type': '2'}."""
    _, _, query = request_uri.partition("?")
    required: dict[str, str | None] = {}
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if name and name != "x-id":  # x-id only names the operation for humans
            required[name] = value if sep else None
    return required


def _required_members(op_model: OperationModel, location: str) -> tuple[str, ...]:
    """Wire names of the input members required at ``location`` ('header' names in lower case)."""
    shape = op_model.input_shape
    if shape is None:
        return ()
    names = [shape.members[name].serialization.get("name", name) for name in shape.required_members
             if shape.members[name].serialization.get("location") == location]
    return tuple(name.lower() if location == "header" else name for name in names)


def _required_query(op_model: OperationModel) -> dict[str, str | None]:
    """Required query-string members: DELETE /b/k?uploadId=... is AbortMultipartUpload."""
    return dict.fromkeys(_required_members(op_model, "querystring"))


def _scope_service(authorization: str | None) -> str | None:
    """The service of a SigV4 ``Authorization`` header's credential scope, unverified."""
    if not authorization:
        return None
    match = re.search(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]+)/aws4_request", authorization)
    return match.group(1) if match else None


S3_SIGNATURE_CODES = {  # SigV4 failures as S3 reports them: (code, HTTP status)
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "UnrecognizedClientException": ("InvalidAccessKeyId", 403),
    "IncompleteSignatureException": ("AuthorizationHeaderMalformed", 400),
    "MissingAuthenticationTokenException": ("AccessDenied", 403),
}
S3_INVALID_KEY_MESSAGE = "The AWS Access Key Id you provided does not exist in our records."


def _internal_failure() -> AwsError:
    return AwsError("InternalFailure", INTERNAL_MESSAGE, 500)


def _unknown_status(route: _Route) -> int:
    return 404 if route.wire == "rest-json" else 400


@cache
def _validation_code(model: ServiceModel) -> str:
    if model.protocol == "rest-xml":
        return "InvalidArgument"
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


def _json_headers(model: ServiceModel) -> list[tuple[str, str]]:
    return [("Content-Type", f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.1')}")]


def _cbor_headers() -> list[tuple[str, str]]:
    return [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]


def _raw_json(status: int, result: Any) -> Response:
    body = json.dumps(result, default=wire.json_default).encode()
    return status, [("Content-Type", "application/json")], body


__all__ = ["AwsError", "Call", "Handler", "RawHandler", "Router", "SERVICES", "service_model"]
