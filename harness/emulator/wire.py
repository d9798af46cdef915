"""Shape-driven conversion between AWS wire values and the Python values handlers see.

Used by ``protocol.Router``; every function is driven by a botocore ``Shape`` of the pinned model.

Input (wire -> Python): timestamps (epoch numbers, CBOR tag 1, ISO 8601 or HTTP-date strings)
become tz-aware UTC ``datetime``; blobs (base64 in JSON, byte strings in CBOR, the raw body for a
REST blob payload) become ``bytes``; integers in double/float members become ``float``; members
the shape does not know and nulls are dropped. Values that cannot be converted raise ``BadValue``
naming the member path (``MetricDataQueries[0].Id``); bodies that cannot be decoded raise
``MalformedBody``. Other type errors are left for botocore's ``ParamValidator`` to report.

Output (Python -> wire): the handler's dict of members by botocore name is checked against the
output shape (an unknown member raises ``TypeError``: a handler bug, answered as a 500 upstream),
datetimes become epoch seconds (JSON) or tag 1 (CBOR), bytes become base64 (JSON) or byte strings.
For REST-JSON, header-located members become response headers (timestamps as HTTP-dates unless
the model says otherwise), a blob payload member is the raw body, the rest is a JSON object.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from botocore.model import Shape

from harness.emulator import cbor

Response = tuple[int, list[tuple[str, str]], bytes]
cbor_encode = cbor.encode


class MalformedBody(ValueError):
    """The request body is not well-formed JSON/CBOR, or not an object/map."""


class BadValue(ValueError):
    """A member's wire value cannot be converted to its modeled type; the message names it."""

    def __init__(self, path: str, value: Any, expected: str) -> None:
        shown = value if isinstance(value, int | float) else repr(value)[:80]
        super().__init__(f"Value {shown} at '{path}' failed to satisfy constraint: Member must be {expected}")


def rpc_input(shape: Shape, body: bytes, *, cbor: bool) -> dict[str, Any]:
    """Input members from a JSON (1.0/1.1) or smithy-rpc-v2-cbor request body."""
    if not body.strip():
        return {}
    fmt = "CBOR" if cbor else "JSON"
    try:
        data = cbor_decode(body) if cbor else json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"The request body could not be parsed as {fmt}: {exc}") from None
    except RecursionError:  # JSON nested deeper than the interpreter's stack (cbor_decode has its own limit)
        raise MalformedBody(f"The request body could not be parsed as {fmt}: nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedBody(f"The request body must be a {fmt} {'map' if cbor else 'object'}")
    return _from_wire(shape, data, "", cbor=cbor)


def cbor_decode(body: bytes) -> Any:
    """Decode a CBOR body (``cbor.CBORDecodeError`` is a ``ValueError``)."""
    return cbor.decode(body)


def rest_input(
    shape: Shape,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
    *,
    parse_document: Callable[[Shape, bytes, str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Input members of a REST request: URI labels, headers, query string and body/payload.

    ``labels`` are still percent-encoded; ``headers`` have lower-case names. Structured bodies are
    JSON (REST-JSON) unless ``parse_document(shape, body, path)`` decodes them (REST-XML).
    """
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        value: Any = None
        if location == "uri" and wire_name in labels:
            value = _scalar(member, unquote(labels[wire_name]), name)
        elif location == "header" and wire_name.lower() in headers:
            value = _scalar(member, headers[wire_name.lower()], name)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {key[len(prefix) :]: text for key, text in headers.items() if key.startswith(prefix)}
            value = found or None
        elif location == "querystring":
            value = _query_value(member, wire_name, query, name)
        if value is not None:
            params[name] = value
    if payload:
        member = shape.members[payload]
        if member.type_name == "blob":
            params[payload] = body
        elif member.type_name == "string":
            params[payload] = body.decode("utf-8", errors="replace")
        elif body.strip():
            if parse_document is not None:
                params[payload] = parse_document(member, body, payload)
            else:
                params[payload] = _from_wire(member, _json_object(body), payload, cbor=False)
    elif body.strip():
        if parse_document is not None:
            decoded = parse_document(shape, body, "")
        else:
            decoded = _from_wire(shape, _json_object(body), "", cbor=False)
        params.update({k: v for k, v in decoded.items() if "location" not in shape.members[k].serialization})
    return params


def json_body(shape: Shape | None, output: Mapping[str, Any]) -> bytes:
    """A JSON 1.0/1.1 response body for ``output`` (``{}`` when the operation has no output)."""
    if shape is None:
        _require_empty(output)
        return b"{}"
    return json.dumps(_to_wire(shape, output, "", cbor=False), separators=(",", ":")).encode()


def cbor_body(shape: Shape, output: Mapping[str, Any]) -> bytes:
    """A smithy-rpc-v2-cbor response body for ``output``."""
    return cbor.encode(_to_wire(shape, output, "", cbor=True))


def split_rest_output(shape: Shape, output: Mapping[str, Any],
                      status: int) -> tuple[int, list[tuple[str, str]], dict[str, Any], str | None]:
    """The REST protocols' split of an output: (status, header members as headers, body members,
    the payload member's name or None)."""
    headers: list[tuple[str, str]] = []
    body_members: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for name, value in output.items():
        member = _member(shape, name, "")
        location = member.serialization.get("location")
        if value is None:
            continue
        if location == "header":
            headers.append((member.serialization.get("name", name), _header_text(member, value)))
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            headers.extend((prefix + str(key), str(text)) for key, text in value.items())
        elif location == "statusCode":
            status = int(value)
        elif name != payload:
            body_members[name] = value
    return status, headers, body_members, payload


def rest_output(shape: Shape | None, output: Mapping[str, Any], status: int) -> Response:
    """A REST-JSON response: header members -> headers, payload/body members -> body."""
    if shape is None:
        _require_empty(output)
        return status, [("Content-Type", "application/json")], b"{}"
    status, headers, body_members, payload = split_rest_output(shape, output, status)
    content_type = "application/json"
    if payload:
        member, value = shape.members[payload], output.get(payload)
        if member.type_name == "blob":
            content_type = "application/octet-stream"
            body = value.encode() if isinstance(value, str) else bytes(value or b"")
        elif member.type_name == "string":
            content_type, body = "text/plain", (value or "").encode()
        else:
            body = b"" if value is None else json.dumps(_to_wire(member, value, payload, cbor=False)).encode()
    else:
        body = json.dumps(_to_wire(shape, body_members, "", cbor=False)).encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", content_type))
    return status, headers, body


def error_fields(shape: Shape | None, fields: Mapping[str, Any], *, cbor: bool) -> dict[str, Any]:
    """Wire-ready extra error fields, through the modeled error ``shape`` where it names them."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        member = shape.members.get(name) if shape is not None else None
        if value is None:
            continue
        if member is not None:
            out[member.serialization.get("name", name)] = _to_wire(member, value, name, cbor=cbor)
        else:
            out[name] = value if cbor else json.loads(json.dumps(value, default=json_default))
    return out


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: datetimes -> epoch seconds, bytes -> base64 text."""
    if isinstance(value, datetime):
        return _epoch(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _from_wire(shape: Shape, value: Any, path: str, *, cbor: bool) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not getattr(shape, "is_document_type", False):
        out = {}
        for name, member in shape.members.items():
            raw = value.get(member.serialization.get("name", name))
            if raw is not None:
                out[name] = _from_wire(member, raw, _join(path, name), cbor=cbor)
        return out
    if kind == "list" and isinstance(value, list):
        return [_from_wire(shape.member, item, f"{path}[{i}]", cbor=cbor) for i, item in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {
            k: _from_wire(shape.value, v, f"{path}.{k}", cbor=cbor) for k, v in value.items() if v is not None
        }
    if kind == "timestamp":
        return _timestamp(value, path)
    if kind == "blob":
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and not cbor:
            return _b64(value, path)
        raise BadValue(path, value, "a blob")
    if kind in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _to_wire(shape: Shape, value: Any, path: str, *, cbor: bool) -> Any:
    kind = shape.type_name
    if kind == "structure" and not getattr(shape, "is_document_type", False):
        if not isinstance(value, Mapping):
            raise TypeError(f"output {path or shape.name} must be a dict, got {type(value).__name__}")
        out = {}
        for name, item in value.items():
            member = _member(shape, name, path)
            if item is not None:
                key = member.serialization.get("name", name)
                out[key] = _to_wire(member, item, _join(path, name), cbor=cbor)
        return out
    if kind == "list":
        return [_to_wire(shape.member, item, f"{path}[{i}]", cbor=cbor) for i, item in enumerate(value)]
    if kind == "map":
        return {
            k: _to_wire(shape.value, v, f"{path}.{k}", cbor=cbor) for k, v in value.items() if v is not None
        }
    if kind == "timestamp":
        when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
        if when.tzinfo is None:
            raise ValueError(f"output {path} is a naive datetime; use tz-aware UTC datetimes")
        return when if cbor else _epoch(when)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return raw if cbor else base64.b64encode(raw).decode("ascii")
    if kind in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _member(shape: Shape, name: str, path: str) -> Shape:
    member = shape.members.get(name)
    if member is None:
        raise TypeError(f"output member {_join(path, name)!r} is not in the model's {shape.name}")
    return member


def _require_empty(output: Mapping[str, Any]) -> None:
    if any(value is not None for value in output.values()):
        raise TypeError(f"operation has no output members, handler returned {sorted(output)}")


def _scalar(shape: Shape, text: str, path: str) -> Any:
    """A header/URI/query string value converted to the member's type."""
    kind = shape.type_name
    try:
        if kind == "string" and shape.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text))
            except RecursionError:
                raise ValueError("nested too deeply") from None
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("double", "float"):
            return float(text)
    except ValueError:
        raise BadValue(path, text, f"a valid {kind}") from None
    if kind == "boolean":
        if text.strip().lower() not in ("true", "false"):
            raise BadValue(path, text, "a boolean")
        return text.strip().lower() == "true"
    if kind == "timestamp":
        return _timestamp(text, path)
    if kind == "blob":
        return _b64(text, path)
    if kind == "list":
        return [_scalar(shape.member, part.strip(), path) for part in text.split(",")]
    return text


def _query_value(member: Shape, wire_name: str, query: Mapping[str, list[str]], path: str) -> Any:
    if member.type_name == "map":
        return {key: values[-1] for key, values in query.items()} or None
    values = query.get(wire_name)
    if not values:
        return None
    if member.type_name == "list":
        return [_scalar(member.member, text, path) for text in values]
    return _scalar(member, values[-1], path)


def _header_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode("ascii")
    if kind == "timestamp":
        when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
        fmt = shape.serialization.get("timestampFormat", "rfc822")
        if fmt == "iso8601":
            return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if fmt == "unixTimestamp":
            return str(_epoch(when))
        return format_datetime(when.astimezone(UTC), usegmt=True)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(_header_text(shape.member, item) for item in value)
    return str(value)


def _timestamp(value: Any, path: str) -> datetime:
    """A wire timestamp as a tz-aware UTC datetime; ``BadValue`` when it is not one."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            try:
                return datetime.fromtimestamp(float(text), tz=UTC)
            except ValueError:
                pass
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                parsed = parsedate_to_datetime(text)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        pass
    raise BadValue(path, value, "a timestamp")


def _b64(text: str, path: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadValue(path, text, "base64-encoded binary data") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"The request body could not be parsed as JSON: {exc}") from None
    except RecursionError:
        raise MalformedBody("The request body could not be parsed as JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedBody("The request body must be a JSON object")
    return data


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when.isoformat()}; use tz-aware UTC datetimes")
    return when.timestamp()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
