"""CBOR (RFC 8949) for the emulator's smithy-rpc-v2-cbor wire protocol: a thin wrapper around ``cbor2``.

``encode(value)`` writes Python values as CBOR:

    dict -> map, list/tuple -> array, str -> text, bytes/bytearray/memoryview -> byte string,
    bool -> true/false, None -> null, int -> major type 0/1 (-2**64 .. 2**64-1),
    float -> float64 (NaN and infinities as float16, as botocore writes them),
    tz-aware datetime -> tag 1 (epoch seconds; int when whole, else float64).

Every length is definite and the shortest form is used, as botocore's serializer does.

``decode(data)`` reads one CBOR data item that must span all of ``data``. It accepts everything
``encode`` writes plus what other encoders may send: float16/float32, ``undefined`` (-> None),
indefinite-length byte/text strings, arrays and maps. Tag 1 becomes a UTC datetime. Any other
tag, simple value, malformed or truncated input raises ``CBORDecodeError`` (a ``ValueError``).
Nesting deeper than ``MAX_DEPTH`` is refused, so hostile input cannot exhaust the stack.

What this adds to cbor2's defaults, and why:

- Types are looked up in an ``encoders`` table, so only the types above are written: cbor2 would
  otherwise write bignum tags for ints beyond 64 bits, tag 258 for sets, tags for Decimal, UUID,
  ... and an array of ints for a memoryview. Containers pass through a depth check: cbor2's
  encoder recurses natively and crashes the process (SIGSEGV) on a very deep value (it does
  notice a cyclic one).
- Every tag is looked up in ``_Tags``, which accepts only tag 1: cbor2 itself decodes a dozen tags
  (bignums, string-form dates, shared and string references, ...).
- The item must end where ``data`` ends: ``cbor2.loads`` ignores trailing bytes.
- After decoding, ``undefined`` becomes None, and simple values and array/map keys (cbor2 makes
  them tuples and frozendicts) are refused.
- cbor2's errors (not ``ValueError``s) become ``CBORDecodeError``.

cbor2 itself bounds nesting (``max_depth``) and reads a long string in 64 KiB chunks, so a huge
declared length in a small body fails as truncated without allocating it.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
from cbor2 import CBOREncoder

MAX_DEPTH = 100
_UNDEFINED = type(cbor2.undefined)
_SPECIAL = {list, dict, _UNDEFINED, cbor2.CBORSimpleValue}  # types of decoded values _clean looks into
_local = threading.local()  # encode's container depth, per thread


class CBORDecodeError(ValueError):
    """The bytes are not one well-formed CBOR data item this codec supports."""


def encode(value: Any) -> bytes:
    """CBOR bytes for ``value``; raises ``TypeError``/``ValueError`` for unsupported values."""
    _local.depth = 0
    try:
        return cbor2.dumps(value, datetime_as_timestamp=True, encoders=_ENCODERS)
    except cbor2.CBOREncodeError as exc:  # e.g. a naive datetime
        if isinstance(exc, TypeError | ValueError):
            raise
        raise ValueError(str(exc)) from exc


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The single CBOR data item in ``data``; raises ``CBORDecodeError`` when malformed."""
    data = bytes(data)
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream, semantic_decoders=_TAGS, max_depth=MAX_DEPTH).decode()
    except cbor2.CBORDecodeEOF as exc:
        raise CBORDecodeError(f"truncated CBOR input ({exc})") from exc
    except cbor2.CBORDecodeError as exc:  # our own errors from _Tags come back as the cause
        raise CBORDecodeError(f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)) from exc
    if stream.tell() != len(data):
        raise CBORDecodeError(f"{len(data) - stream.tell()} trailing byte(s) after the CBOR item")
    return _clean(value)


# Encoding


def _encode_int(encoder: CBOREncoder, value: int) -> None:
    if not -(2**64) <= value < 2**64:  # not `in range(...)`: that is a linear scan for an int subclass
        raise ValueError(f"integer {value} does not fit in 64 bits")
    encoder.encode_int(value)


def _nested(encode_container: Callable[[CBOREncoder, Any], None]) -> Callable[[CBOREncoder, Any], None]:
    """``encode_container`` with its items counted one level deeper; refused past ``MAX_DEPTH``."""

    def encode(encoder: CBOREncoder, value: Any) -> None:
        depth = _local.depth
        if depth >= MAX_DEPTH and value:
            raise ValueError(f"value nested deeper than {MAX_DEPTH} levels")
        _local.depth = depth + 1
        try:
            encode_container(encoder, value)
        finally:
            _local.depth = depth

    return encode


def _refuse(_encoder: CBOREncoder, value: Any) -> None:
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


class _Encoders(dict[type, Callable[[CBOREncoder, Any], None]]):
    """cbor2's ``encoders`` table (looked up by exact type): a subclass of a listed type is encoded
    as that type, any other type is refused."""

    def __missing__(self, cls: type) -> Callable[[CBOREncoder, Any], None]:
        encoder = next((self[base] for base in _BASES if issubclass(cls, base)), _refuse)
        self[cls] = encoder
        return encoder


_ENCODERS = _Encoders(
    {
        str: CBOREncoder.encode_string,
        bytes: CBOREncoder.encode_bytes,
        bytearray: CBOREncoder.encode_bytearray,
        memoryview: lambda encoder, value: encoder.encode_bytes(value.tobytes()),
        bool: CBOREncoder.encode_bool,
        int: _encode_int,
        float: CBOREncoder.encode_float,
        type(None): lambda encoder, _value: encoder.encode_none(),
        datetime: CBOREncoder.encode_datetime,  # tag 1, as datetime_as_timestamp=True
        list: _nested(CBOREncoder.encode_array),
        tuple: _nested(CBOREncoder.encode_array),
        dict: _nested(CBOREncoder.encode_map),
    }
)
_BASES = tuple(_ENCODERS)  # bool before int: bool is a subclass of int


# Decoding


def _decode_epoch(value: Any, _immutable: bool) -> datetime:
    if type(value) not in (int, float) or not math.isfinite(value):  # not bool, not a nested datetime
        raise CBORDecodeError(f"tag 1 timestamp must be a finite number, got {value!r}")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise CBORDecodeError(f"tag 1 timestamp {value!r} is out of range") from exc


class _Tags(dict[int, Callable[[Any, bool], datetime]]):
    """cbor2's ``semantic_decoders``, looked up for every tag before its built-in ones: tag 1 only."""

    def __missing__(self, tag: int) -> Callable[[Any, bool], datetime]:
        raise CBORDecodeError(f"unsupported CBOR tag {tag}")  # not a KeyError: that falls back to cbor2's


_TAGS = _Tags({1: _decode_epoch})


def _clean(value: Any) -> Any:
    """``value`` with ``undefined`` as None; simple values and array/map keys refused."""
    kind = type(value)
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _SPECIAL:
                value[index] = _clean(item)
    elif kind is dict:
        if not all(type(key) is str for key in value):
            value = {_clean_key(key): item for key, item in value.items()}
        for key, item in value.items():
            if type(item) in _SPECIAL:
                value[key] = _clean(item)
    elif kind is _UNDEFINED:
        return None
    elif kind is cbor2.CBORSimpleValue:
        raise CBORDecodeError(f"unsupported CBOR simple value {value.value}")
    return value


def _clean_key(key: Any) -> Any:
    if isinstance(key, tuple | Mapping):  # cbor2 decodes array/map keys as tuples/frozendicts
        raise CBORDecodeError(f"unhashable CBOR map key {key!r}")
    return _clean(key)
