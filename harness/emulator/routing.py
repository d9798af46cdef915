"""Where an HTTP request to the emulator goes: its wire protocol and, when recognised, service and operation.

``RouteTable(models)`` is built once from the pinned botocore service models (by service name); its
``resolve(method, path, query, headers, served, body)`` is pure (no I/O, no signature check) and never
raises for any request: it gives a :class:`Route` whose ``wire`` is always set (``json``, ``cbor``,
``rest-json``, ``rest-xml`` or ``query``) and whose ``service``/``operation`` are ``None`` when not recognised
(the router answers those as unknown operations). ``method`` is upper case, ``headers`` have lower-case
names, ``path`` and ``query`` are as received (REST URI labels come back still percent-encoded);
``served`` holds the ``(service, operation)`` pairs that have a handler.

In order:

- S3 (REST-XML, path style): S3 paths cannot be told from SageMaker Runtime paths
  (``/endpoints/x/invocations`` is also a bucket and a key), so a request goes to S3 exactly when its
  ``Authorization`` header is scoped to ``s3`` (read, not verified, here). Among S3 operations sharing a
  method and path, the one whose required query keys (``?list-type=2``, ``?tagging``) the request
  carries, most specific first, wins. Presigned (query-string) URLs are not supported.
- smithy-rpc-v2-cbor: a ``smithy-protocol: rpc-v2-cbor`` header or a path under ``/service/``
  (``POST /service/<targetPrefix>/operation/<Op>``).
- JSON 1.0/1.1: an ``X-Amz-Target: <targetPrefix>.<Op>`` header.
- awsQuery (STS): a credential scope naming the signing name of a service whose protocol is ``query``;
  the operation is the ``Action`` parameter of the query string or the form-encoded body.
- REST-JSON: the first ``requestUri`` template of a rest-json model matching method and path.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from botocore.model import OperationModel, ServiceModel


@dataclass(frozen=True)
class Route:
    """Where a request goes: the wire format always, the service/operation when recognised."""

    wire: str  # 'json' | 'cbor' | 'rest-json' | 'rest-xml' | 'query'
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


class RouteTable:
    """The routes of the services in ``models``: JSON and CBOR target prefixes, REST URI templates."""

    def __init__(self, models: Mapping[str, ServiceModel]) -> None:
        self._models = models
        self._json_targets: dict[str, str] = {}
        self._cbor_targets: dict[str, str] = {}
        self._rest_routes: list[tuple[str, re.Pattern[str], str, str]] = []
        self._xml_routes: list[_RestRoute] = []
        self._query_scopes: dict[str, str] = {}  # signing name -> service
        for name, model in self._models.items():
            if model.protocol == "query":
                self._query_scopes[model.signing_name] = name
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

    def resolve(self, method: str, path: str, query: str, headers: Mapping[str, str],
                served: Container[tuple[str, str]], body: bytes = b"") -> Route:
        """The route of one request (see the module docstring)."""
        scope = _scope_service(headers.get("authorization"))
        if self._xml_routes and scope == "s3":
            return self._resolve_xml(method, path, query, headers, served)
        if headers.get("smithy-protocol") == "rpc-v2-cbor" or path.startswith("/service/"):
            match = re.fullmatch(r"/service/([^/]+)/operation/([^/]+)", path)
            service = self._cbor_targets.get(match.group(1)) if match and method == "POST" else None
            return self._known("cbor", service, match.group(2) if match else None)
        target = headers.get("x-amz-target")
        if target is not None:
            prefix, _, operation = target.partition(".")
            return self._known("json", self._json_targets.get(prefix), operation)
        if scope in self._query_scopes:
            return self._known("query", self._query_scopes[scope], _query_action(query, headers, body))
        for route_method, pattern, service, operation in self._rest_routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return Route("rest-json", service, operation, match.groupdict())
        return Route("rest-json")

    def _resolve_xml(self, method: str, path: str, query: str, headers: Mapping[str, str],
                     served: Container[tuple[str, str]]) -> Route:
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
            candidate = Route("rest-xml", route.service, route.operation, match.groupdict(), method)
            if (route.service, route.operation) in served:
                return candidate
            # deprecated twins (ListBuckets, ListDirectoryBuckets) share a route: prefer the one served
            found, rank = found or candidate, route.specificity
        return found or Route("rest-xml", service, None, None, method)

    def _known(self, wire_name: str, service: str | None, operation: str | None) -> Route:
        if service is None:
            return Route(wire_name)
        if operation not in self._models[service].operation_names:
            return Route(wire_name, service)
        return Route(wire_name, service, operation)


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


def _query_action(query: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """The ``Action`` of an awsQuery request: from a form-encoded body, else the query string."""
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if found:
            return found[-1]
    found = parse_qs(query).get("Action")
    return found[-1] if found else None


def _scope_service(authorization: str | None) -> str | None:
    """The service of a SigV4 ``Authorization`` header's credential scope, unverified."""
    if not authorization:
        return None
    match = re.search(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]+)/aws4_request", authorization)
    return match.group(1) if match else None


__all__ = ["Route", "RouteTable"]
