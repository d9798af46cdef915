"""A small CBOR (RFC 8949) codec for the emulator's smithy-rpc-v2-cbor wire protocol.

``encode(value)`` writes Python values as CBOR:

    dict -> map, list/tuple -> array, str -> text, bytes/bytearray -> byte string,
    bool -> true/false, None -> null, int -> major type 0/1 (-2**64 .. 2**64-1),
    float -> float64, tz-aware datetime -> tag 1 (epoch seconds; int when whole, else float64).

Every length is definite and the shortest form is used, as botocore's serializer does.

``decode(data)`` reads one CBOR data item that must span all of ``data``. It accepts everything
``encode`` writes plus what other encoders may send: float16/float32, ``undefined`` (-> None),
indefinite-length byte/text strings, arrays and maps. Tag 1 becomes a UTC datetime. Any other
tag, simple value, malformed or truncated input raises ``CBORDecodeError`` (a ``ValueError``).
Nesting deeper than ``MAX_DEPTH`` is refused, so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 100
_BREAK = 0xFF
_INDEFINITE = 31


class CBORDecodeError(ValueError):
    """The bytes are not one well-formed CBOR data item this codec supports."""


def encode(value: Any) -> bytes:
    """CBOR bytes for ``value``; raises ``TypeError``/``ValueError`` for unsupported values."""
    out = bytearray()
    _encode_into(out, value, 0)
    return bytes(out)


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The single CBOR data item in ``data``; raises ``CBORDecodeError`` when malformed."""
    reader = _Reader(bytes(data))
    value = reader.item(0)
    if reader.pos != len(reader.data):
        raise CBORDecodeError(f"{len(reader.data) - reader.pos} trailing byte(s) after the CBOR item")
    return value


def _head(out: bytearray, major: int, arg: int) -> None:
    """Append the initial byte (and argument bytes) for ``major`` with argument ``arg``."""
    if arg < 24:
        out.append(major << 5 | arg)
    elif arg < 0x100:
        out += bytes((major << 5 | 24, arg))
    elif arg < 0x10000:
        out.append(major << 5 | 25)
        out += arg.to_bytes(2, "big")
    elif arg < 0x100000000:
        out.append(major << 5 | 26)
        out += arg.to_bytes(4, "big")
    elif arg < 0x10000000000000000:
        out.append(major << 5 | 27)
        out += arg.to_bytes(8, "big")
    else:
        raise ValueError(f"integer {arg} does not fit in 64 bits")


def _encode_into(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"value nested deeper than {MAX_DEPTH} levels")
    # bool before int: bool is a subclass of int.
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        _head(out, 2, len(raw))
        out += raw
    elif isinstance(value, datetime):
        _encode_timestamp(out, value)
    elif isinstance(value, list | tuple):
        _head(out, 4, len(value))
        for item in value:
            _encode_into(out, item, depth + 1)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for key, item in value.items():
            _encode_into(out, key, depth + 1)
            _encode_into(out, item, depth + 1)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def _encode_timestamp(out: bytearray, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} (timestamps must be tz-aware)")
    out.append(0xC1)  # tag 1: epoch-based date/time
    if value.microsecond == 0:
        seconds = int(value.timestamp())
        if seconds >= 0:
            _head(out, 0, seconds)
        else:
            _head(out, 1, -1 - seconds)
    else:
        out.append(0xFB)
        out += struct.pack(">d", value.timestamp())


class _Reader:
    """Cursor over the input; each method consumes exactly one construct."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CBORDecodeError("truncated CBOR input")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CBORDecodeError("truncated CBOR input")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        if 24 <= info <= 27:
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        raise CBORDecodeError(f"invalid additional information {info}")

    def at_break(self) -> bool:
        if self.pos < len(self.data) and self.data[self.pos] == _BREAK:
            self.pos += 1
            return True
        return False

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CBORDecodeError(f"CBOR nested deeper than {MAX_DEPTH} levels")
        initial = self.byte()
        major, info = initial >> 5, initial & 0x1F
        if major == 0:
            return self.argument(info)
        if major == 1:
            return -1 - self.argument(info)
        if major in (2, 3):
            return self.string(major, info)
        if major == 4:
            if info == _INDEFINITE:
                items = []
                while not self.at_break():
                    items.append(self.item(depth + 1))
                return items
            return [self.item(depth + 1) for _ in range(self.argument(info))]
        if major == 5:
            return self.map(info, depth)
        if major == 6:
            return self.tag(self.argument(info), depth)
        return self.simple(info)

    def string(self, major: int, info: int) -> bytes | str:
        if info != _INDEFINITE:
            raw = self.take(self.argument(info))
        else:
            chunks = []
            while not self.at_break():
                initial = self.byte()
                if initial >> 5 != major or initial & 0x1F == _INDEFINITE:
                    raise CBORDecodeError("bad chunk inside an indefinite-length string")
                chunks.append(self.take(self.argument(initial & 0x1F)))
            raw = b"".join(chunks)
        if major == 2:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CBORDecodeError("CBOR text string is not valid UTF-8") from exc

    def map(self, info: int, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        count = None if info == _INDEFINITE else self.argument(info)
        index = 0
        while (count is None and not self.at_break()) or (count is not None and index < count):
            key = self.item(depth + 1)
            value = self.item(depth + 1)
            try:
                result[key] = value
            except TypeError as exc:
                raise CBORDecodeError(f"unhashable CBOR map key {key!r}") from exc
            index += 1
        return result

    def tag(self, number: int, depth: int) -> datetime:
        value = self.item(depth + 1)
        if number != 1:
            raise CBORDecodeError(f"unsupported CBOR tag {number}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CBORDecodeError(f"tag 1 timestamp must be a finite number, got {value!r}")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise CBORDecodeError(f"tag 1 timestamp {value!r} is out of range") from exc

    def simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return struct.unpack(">e", self.take(2))[0]
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        if info == _INDEFINITE:
            raise CBORDecodeError("unexpected break code")
        raise CBORDecodeError(f"unsupported CBOR simple value {info}")
