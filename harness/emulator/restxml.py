"""Shape-driven REST-XML (S3's protocol): request payloads in, response bodies and errors out.

Used by ``protocol.Router`` for services whose botocore model says ``rest-xml`` (S3). URI labels,
headers and the query string are decoded by ``wire.rest_input`` as for REST-JSON; this module adds
the XML parts:

- ``parse_payload(shape, body, path)``: an XML structure payload (``CreateBucketConfiguration``) as a
  dict of members by botocore name. Namespaces are ignored; scalars are converted to the member's
  type (``BadValue`` when they cannot be); unknown elements are dropped. Undecodable XML raises
  ``wire.MalformedBody``.
- ``rest_xml_output(shape, output, status)``: header members -> headers (as ``wire.rest_output``),
  a blob payload -> the raw body, a structure payload or the remaining body members -> an XML
  document (S3's namespace, root element named as S3 names it: ``ListBucketResult`` for
  ListObjectsV2). An output with no body members has an empty body.
- ``error_xml(code, message, request_id, fields)``: S3's error document
  ``<Error><Code/><Message/>...fields...<RequestId/><HostId/></Error>``.

XML timestamps are ISO 8601 with milliseconds and ``Z``; booleans ``true``/``false``; lists are
flattened (repeated elements) or wrapped (``<member>`` items) as the model says.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import Shape

from harness.emulator import wire

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Root elements of S3 response documents whose output shape does not name its own.
ROOT_NAMES = {
    "ListObjectsV2Output": "ListBucketResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListBucketsOutput": "ListAllMyBucketsResult",
}


def parse_payload(shape: Shape, body: bytes, path: str) -> dict[str, Any]:
    """A structure payload from its XML document (``{}`` for an empty body)."""
    if not body.strip():
        return {}
    try:
        root = ET.fromstring(body)  # noqa: S314 (expat does not resolve external entities)
    except ET.ParseError as exc:
        raise wire.MalformedBody(
            f"The XML you provided was not well-formed or did not validate against our published schema: {exc}"
        ) from None
    return _from_xml(shape, root, path)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in elem if _local(child.tag) == name]


def _from_xml(shape: Shape, elem: ET.Element, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            wire_name = member.serialization.get("name", name)
            found = _children(elem, wire_name)
            if not found:
                continue
            member_path = wire._join(path, name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                out[name] = [_from_xml(member.member, item, f"{member_path}[{i}]") for i, item in enumerate(found)]
            else:
                out[name] = _from_xml(member, found[0], member_path)
        return out
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        return [_from_xml(shape.member, item, f"{path}[{i}]") for i, item in enumerate(_children(elem, item_name))]
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        entries = elem if shape.serialization.get("flattened") else _children(elem, "entry")
        result = {}
        for entry in entries:
            keys, values = _children(entry, key_name), _children(entry, value_name)
            if keys and values:
                result[keys[0].text or ""] = _from_xml(shape.value, values[0], f"{path}.{keys[0].text}")
        return result
    return wire._scalar(shape, (elem.text or "").strip(), path)


def rest_xml_output(shape: Shape | None, output: Mapping[str, Any], status: int) -> wire.Response:
    """A REST-XML response: header members -> headers, payload/body members -> body."""
    if shape is None:
        wire._require_empty(output)
        return status, [], b""
    status, headers, body_members, payload = wire.split_rest_output(shape, output, status)
    content_type = "application/xml"
    body = b""
    if payload:
        member, value = shape.members[payload], output.get(payload)
        if member.type_name == "blob":
            content_type = "binary/octet-stream"
            body = value.encode() if isinstance(value, str) else bytes(value or b"")
        elif member.type_name == "string":
            content_type, body = "text/plain", (value or "").encode()
        elif value is not None:
            body = xml_document(member, value, member.serialization.get("name", payload))
    elif body_members:
        body = xml_document(shape, body_members, ROOT_NAMES.get(shape.name, shape.name))
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", content_type))
    return status, headers, body


def xml_document(shape: Shape, value: Mapping[str, Any], root: str) -> bytes:
    """``value`` (members of structure ``shape``) as an XML document with root element ``root``."""
    inner = _to_xml(shape, value, root)
    return XML_DECLARATION + f'<{root} xmlns="{S3_NAMESPACE}">{inner}</{root}>'.encode()


def xml_content(shape: Shape, value: Any, path: str) -> str:
    """The content of one element (its children or text) for ``value`` of ``shape`` (also the query protocol's)."""
    return _to_xml(shape, value, path)


def _to_xml(shape: Shape, value: Any, path: str) -> str:
    """The content of one element (its children or text) for ``value``."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise TypeError(f"output {path} must be a dict, got {type(value).__name__}")
        parts = []
        for name, item in value.items():
            member = wire._member(shape, name, path)
            if item is None or member.serialization.get("location"):
                continue
            parts.append(_element(member, member.serialization.get("name", name), item, wire._join(path, name)))
        return "".join(parts)
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        return "".join(_element(shape.member, item_name, item, f"{path}[{i}]") for i, item in enumerate(value))
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        return "".join(
            f"<entry><{key_name}>{escape(str(k))}</{key_name}>"
            f"{_element(shape.value, value_name, v, f'{path}.{k}')}</entry>"
            for k, v in value.items()
        )
    return escape(_scalar_text(shape, value, path))


def _element(shape: Shape, name: str, value: Any, path: str) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        item_name = shape.serialization.get("name", name)
        return "".join(_element(shape.member, item_name, item, f"{path}[{i}]") for i, item in enumerate(value))
    return f"<{name}>{_to_xml(shape, value, path)}</{name}>"


def _scalar_text(shape: Shape, value: Any, path: str) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
        if when.tzinfo is None:
            raise ValueError(f"output {path} is a naive datetime; use tz-aware UTC datetimes")
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)


def error_xml(code: str, message: str, request_id: str, fields: Mapping[str, Any]) -> bytes:
    """S3's error document; ``fields`` (e.g. ``Key``, ``BucketName``) become extra elements."""
    extra = "".join(
        f"<{name}>{escape(_field_text(value))}</{name}>" for name, value in fields.items() if value is not None
    )
    return XML_DECLARATION + (
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}"
        f"<RequestId>{escape(request_id)}</RequestId><HostId>{escape(host_id(request_id))}</HostId></Error>"
    ).encode()


def host_id(request_id: str) -> str:
    """The ``x-amz-id-2`` / ``HostId`` value that goes with a request id (opaque, like S3's)."""
    return base64.b64encode(request_id.encode()).decode("ascii")


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


__all__ = ["ROOT_NAMES", "S3_NAMESPACE", "error_xml", "host_id", "parse_payload", "rest_xml_output", "xml_content",
           "xml_document"]
