"""The awsQuery protocol (STS): form-encoded requests in, XML answers and errors out. Minimal but exact.

Used by ``protocol.Router`` for services whose botocore model's protocol is ``query``; which requests
those are is :mod:`harness.emulator.routing`'s business (the credential scope, an ``Action`` parameter).

- :func:`query_input`: the request's parameters (query string and form body, already split by
  ``parse_qs``) as input members by botocore name. ``Action`` and ``Version`` are the protocol's own;
  scalars are converted to the member's type (``wire.BadValue`` when they cannot be), lists of scalars
  are ``Name.member.N`` and structures ``Name.Field`` (nested as deep as the shape says); parameters the
  shape does not know are dropped.
- :func:`query_output`: ``<OpResponse xmlns=NS><OpResult>members</OpResult><ResponseMetadata>
  <RequestId/></ResponseMetadata></OpResponse>`` (the result element as the output shape's
  ``resultWrapper`` names it), ``text/xml``; members are written as REST-XML writes them (lists in
  ``<member>`` items, ISO 8601 timestamps).
- :func:`query_error`: ``<ErrorResponse xmlns=NS><Error><Type>Sender|Receiver</Type><Code/><Message/>
  </Error><RequestId/></ErrorResponse>`` (Receiver for 5xx).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from harness.emulator import restxml, wire

PROTOCOL_PARAMETERS = ("Action", "Version")


def query_input(shape: Shape, params: Mapping[str, list[str]]) -> dict[str, Any]:
    """Input members of ``shape`` from the flattened request parameters (module docstring)."""
    flat = {name: values[-1] for name, values in params.items() if name not in PROTOCOL_PARAMETERS and values}
    return _structure(shape, flat, "")


def _structure(shape: Shape, flat: Mapping[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        value = _value(member, flat, key)
        if value is not None:
            out[name] = value
    return out


def _value(shape: Shape, flat: Mapping[str, str], key: str) -> Any:
    if shape.type_name == "structure":
        nested = _structure(shape, flat, key + ".")
        return nested or None
    if shape.type_name == "list":
        item = shape.member.serialization.get("name", "member")
        base = f"{key}." if shape.serialization.get("flattened") else f"{key}.{item}."
        items, index = [], 1
        while True:
            value = _value(shape.member, flat, f"{base}{index}")
            if value is None:
                break
            items.append(value)
            index += 1
        if not items and flat.get(key) == "":  # an empty list is sent as "Name="
            return []
        return items or None
    if shape.type_name == "map":
        return None  # no query operation the emulator serves takes a map
    text = flat.get(key)
    return None if text is None else wire._scalar(shape, text, key)


def query_output(op_model: OperationModel, output: Mapping[str, Any], request_id: str) -> wire.Response:
    """The XML answer of a query operation."""
    model = op_model.service_model
    shape = op_model.output_shape
    name = op_model.name
    result = ""
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        result = f"<{wrapper}>{restxml.xml_content(shape, output, name)}</{wrapper}>"
    elif any(value is not None for value in output.values()):
        raise TypeError(f"operation has no output members, handler returned {sorted(output)}")
    body = (f'<{name}Response xmlns="{_namespace(model)}">{result}<ResponseMetadata><RequestId>'
            f"{escape(request_id)}</RequestId></ResponseMetadata></{name}Response>")
    return 200, [("Content-Type", "text/xml")], body.encode()


def query_error(model: ServiceModel | None, code: str, message: str, status: int, request_id: str) -> wire.Response:
    """The XML error document of a query service."""
    kind = "Receiver" if status >= 500 else "Sender"
    body = (f'<ErrorResponse xmlns="{_namespace(model)}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{escape(request_id)}</RequestId>"
            "</ErrorResponse>")
    return status, [("Content-Type", "text/xml")], body.encode()


def _namespace(model: ServiceModel | None) -> str:
    return escape(model.metadata.get("xmlNamespace", "")) if model is not None else ""


__all__ = ["PROTOCOL_PARAMETERS", "query_error", "query_input", "query_output"]
