"""The emulator's CBOR codec against botocore's own CBOR serializer and parser (and RFC 8949 vectors)."""

from __future__ import annotations

import math
import tracemalloc
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

import botocore.session
import cbor2
import pytest
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import CBORSerializer, RpcV2CBORSerializer

from harness.emulator import cbor

T0 = datetime(2024, 5, 17, 12, 30, 15, 250000, tzinfo=UTC)


def _botocore_decode(data: bytes) -> Any:
    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(data))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="int-0"),
        pytest.param(23, id="int-23-in-initial-byte"),
        pytest.param(24, id="int-24-one-byte"),
        pytest.param(255, id="int-255"),
        pytest.param(256, id="int-256-two-bytes"),
        pytest.param(65536, id="int-65536-four-bytes"),
        pytest.param(2**32, id="int-2^32-eight-bytes"),
        pytest.param(2**64 - 1, id="int-max-uint64"),
        pytest.param(-1, id="negative-1"),
        pytest.param(-25, id="negative-25"),
        pytest.param(-(2**32) - 1, id="negative-64-bit"),
        pytest.param(-(2**64), id="negative-min"),
        pytest.param("", id="text-empty"),
        pytest.param("ü€𝄞", id="text-utf8"),
        pytest.param("x" * 300, id="text-long"),
        pytest.param(b"", id="bytes-empty"),
        pytest.param(b"\x00\xff" * 40000, id="bytes-long"),
        pytest.param(-1.5, id="float64"),
        pytest.param(1e300, id="float64-large"),
        pytest.param(float("inf"), id="float-inf"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param([None, 1, [2, [3]]], id="array-with-null"),
        pytest.param({"a": [1, {"b": b"x"}], "c": {"d": True}}, id="nested-map"),
        pytest.param(T0, id="timestamp-fractional"),
        pytest.param(datetime(2024, 1, 1, tzinfo=UTC), id="timestamp-whole"),
        pytest.param(datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC), id="timestamp-before-1970"),
        pytest.param(
            {"Timestamps": [T0, T0 + timedelta(minutes=1)], "Values": [1.0, 2.5]}, id="metric-result"
        ),
    ],
)
def test_botocore_parses_what_we_encode(value: Any) -> None:
    assert _botocore_decode(cbor.encode(value)) == value
    assert cbor.decode(cbor.encode(value)) == value


def test_nan_round_trips() -> None:
    assert math.isnan(_botocore_decode(cbor.encode(float("nan"))))
    assert math.isnan(cbor.decode(cbor.encode(float("nan"))))


def _request_body(operation: str, params: dict[str, Any]) -> bytes:
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model(operation)
    return RpcV2CBORSerializer().serialize_to_request(params, model)["body"]


PUT_METRIC_DATA = {
    "Namespace": "scalecheck/test",
    "MetricData": [
        {
            "MetricName": "Latency",
            "Dimensions": [{"Name": "EndpointName", "Value": "é"}],
            "Timestamp": T0,
            "Values": [0.5, 1e-9, 123456789.25],
            "Counts": [1.0, 2.0, 3.0],
            "StorageResolution": 1,
            "Unit": "Milliseconds",
        },
        {"MetricName": "Count", "Timestamp": datetime(2024, 1, 1, tzinfo=UTC), "Value": -3.0},
    ],
}
GET_METRIC_DATA = {
    "MetricDataQueries": [
        {
            "Id": "q1",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
    ],
    "StartTime": T0,
    "EndTime": T0 + timedelta(hours=1),
    "MaxDatapoints": 100800,
}


@pytest.mark.parametrize(
    "operation,params",
    [
        pytest.param("PutMetricData", PUT_METRIC_DATA, id="put-metric-data"),
        pytest.param("GetMetricData", GET_METRIC_DATA, id="get-metric-data"),
        pytest.param(
            "PutMetricData",
            {"Namespace": "n", "MetricData": [{"MetricName": "m", "Values": [float("inf"), -1e-300, float("-inf")]}]},
            id="put-metric-data-infinities",  # botocore writes them as float16
        ),
    ],
)
def test_we_decode_botocore_requests_and_re_encode_them_byte_for_byte(
    operation: str, params: dict[str, Any]
) -> None:
    body = _request_body(operation, params)
    decoded = cbor.decode(body)
    assert decoded == params
    assert cbor.encode(decoded) == body  # same shortest-form heads, float64s and tag-1 timestamps


@pytest.mark.parametrize(
    "method,value,expected",
    [
        pytest.param("_serialize_type_float", 1.5, 1.5, id="float32"),
        pytest.param("_serialize_type_float", float("-inf"), float("-inf"), id="half-precision-infinity"),
        pytest.param("_serialize_type_long", 2**63, 2**63, id="uint64"),
        pytest.param("_serialize_type_blob", b"\x01\x02", b"\x01\x02", id="blob"),
    ],
)
def test_we_decode_botocore_scalar_encodings(method: str, value: Any, expected: Any) -> None:
    out = bytearray()
    getattr(CBORSerializer(), method)(out, value, None, None)  # botocore's per-type encoders
    assert cbor.decode(bytes(out)) == expected


@pytest.mark.parametrize(
    "hex_data,expected",
    [
        pytest.param("f93c00", 1.0, id="float16"),
        pytest.param("f97bff", 65504.0, id="float16-max"),
        pytest.param("fa47c35000", 100000.0, id="float32"),
        pytest.param("f7", None, id="undefined"),
        pytest.param("f6", None, id="null"),
        pytest.param("1bffffffffffffffff", 2**64 - 1, id="uint64-max"),
        pytest.param("3bffffffffffffffff", -(2**64), id="nint64-min"),
        pytest.param("5f42010243030405ff", b"\x01\x02\x03\x04\x05", id="indefinite-bytes"),
        pytest.param("7f657374726561646d696e67ff", "streaming", id="indefinite-text"),
        pytest.param("9f018202039f0405ffff", [1, [2, 3], [4, 5]], id="indefinite-array"),
        pytest.param("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}, id="indefinite-map"),
        pytest.param("a201020304", {1: 2, 3: 4}, id="int-keys"),
        pytest.param("83f7a1f7f7a1f7f7", [None, {None: None}, {None: None}], id="undefined-in-arrays-and-maps"),
        pytest.param("c11a514b67b0", datetime(2013, 3, 21, 20, 4, tzinfo=UTC), id="tag1-int"),
        pytest.param(
            "c1fb41d452d9ec200000", datetime(2013, 3, 21, 20, 4, 0, 500000, tzinfo=UTC), id="tag1-float"
        ),
    ],
)
def test_decodes_rfc8949_examples(hex_data: str, expected: Any) -> None:
    assert cbor.decode(bytes.fromhex(hex_data)) == expected


@pytest.mark.parametrize(
    "data,message",
    [
        pytest.param(b"", "truncated", id="empty"),
        pytest.param(b"\x18", "truncated", id="truncated-argument"),
        pytest.param(b"\x62a", "truncated", id="truncated-string"),
        pytest.param(b"\x01\x02", "trailing", id="trailing-bytes"),
        pytest.param(b"\xc2\x41\x00", "unsupported CBOR tag 2", id="unsupported-tag"),
        pytest.param(b"\xc1\x61x", "tag 1 timestamp must be a finite number", id="tag1-text"),
        pytest.param(b"\xff", "break code encountered where a data item was expected", id="stray-break"),
        pytest.param(b"\x5f\x61a\xff", "non-byte string .* in indefinite length byte string", id="mixed-chunk-types"),
        pytest.param(b"\x62\xff\xfe", "error decoding text string: 'utf-8' codec can't decode", id="invalid-utf8"),
        pytest.param(b"\x1c", "unknown unsigned integer subtype 0x1c", id="reserved-additional-info"),
        pytest.param(b"\xf8\x20", "unsupported CBOR simple value 32", id="one-byte-simple-value"),
        pytest.param(b"\xa1\x80\x01", "unhashable CBOR map key", id="array-as-map-key"),
        pytest.param(b"\xa1\xa0\x01", "unhashable CBOR map key", id="map-as-map-key"),
        pytest.param(b"\xa0\x00", "1 trailing byte", id="trailing-after-map"),
        pytest.param(b"\xc1\x1b" + b"\x7f" + b"\xff" * 7, "tag 1 timestamp .* is out of range", id="tag1-out-of-range"),
        pytest.param(b"\xc1\xc1\x00", "tag 1 timestamp must be a finite number", id="tag1-of-tag1"),
        # Tags cbor2 would decode itself: string dates, bignums, shared and string references, ...
        pytest.param(b"\xc0\x742013-03-21T20:04:00Z", "unsupported CBOR tag 0", id="tag0-string-date"),
        pytest.param(b"\xc3\x41\x00", "unsupported CBOR tag 3", id="negative-bignum"),
        pytest.param(b"\xd8\x1c\x80", "unsupported CBOR tag 28", id="shareable"),
        pytest.param(b"\x82\xd8\x1c\x80\xd8\x1d\x00", "unsupported CBOR tag 28", id="shared-reference"),
        pytest.param(b"\xd9\x01\x00\x81\x61a", "unsupported CBOR tag 256", id="string-namespace"),
        pytest.param(b"\xd9\xd9\xf7\x01", "unsupported CBOR tag 55799", id="self-described"),
        pytest.param(b"\xd9\x03\xe7\x01", "unsupported CBOR tag 999", id="unknown-tag"),
        pytest.param(b"\xc1\xc2\x41\x00", "unsupported CBOR tag 2", id="tag-inside-tag-1"),
        # Simple values cbor2 passes through as CBORSimpleValue, wherever they are
        pytest.param(b"\xf0", "unsupported CBOR simple value 16", id="simple-value"),
        pytest.param(b"\x82\x01\xf3", "unsupported CBOR simple value 19", id="simple-value-in-array"),
        pytest.param(b"\xa1\x61a\xf0", "unsupported CBOR simple value 16", id="simple-value-in-map"),
        pytest.param(b"\xa1\xf0\x01", "unsupported CBOR simple value 16", id="simple-value-as-key"),
        pytest.param(b"\xf8\x18", "invalid two-byte sequence for simple value", id="two-byte-simple-below-32"),
        pytest.param(b"\xfc", "reserved major type 7 subtype 0x1c", id="reserved-simple-info"),
        pytest.param(b"\x81" * 200 + b"\x00", r"maximum container nesting depth \(100\) exceeded", id="too-deep"),
    ],
)
def test_rejects_malformed_input(data: bytes, message: str) -> None:
    with pytest.raises(cbor.CBORDecodeError, match=message):
        cbor.decode(data)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = [0]
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_limit_is_max_depth_containers_both_ways() -> None:
    deepest = _nested(cbor.MAX_DEPTH)
    assert cbor.encode(deepest) == b"\x81" * cbor.MAX_DEPTH + b"\x00"
    assert cbor.decode(b"\x81" * cbor.MAX_DEPTH + b"\x00") == deepest
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        cbor.encode([deepest])
    with pytest.raises(cbor.CBORDecodeError, match="nesting depth"):
        cbor.decode(b"\x81" * (cbor.MAX_DEPTH + 1) + b"\x00")


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"\x5b", id="byte-string"),
        pytest.param(b"\x7b", id="text-string"),
        pytest.param(b"\x9b", id="array"),
        pytest.param(b"\xbb", id="map"),
        pytest.param(b"\x5f\x5b", id="indefinite-byte-string-chunk"),
        pytest.param(b"\x7f\x7b", id="indefinite-text-string-chunk"),
    ],
)
def test_huge_declared_length_fails_as_truncated_without_allocating_it(head: bytes) -> None:
    data = head + (2**62).to_bytes(8, "big") + b"\x00" * 1000
    tracemalloc.start()
    try:
        with pytest.raises(cbor.CBORDecodeError, match="truncated"):
            cbor.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


_CYCLE: list[Any] = []
_CYCLE.append(_CYCLE)


@pytest.mark.parametrize(
    "value,error,message",
    [
        pytest.param(datetime(2024, 1, 1), ValueError, "naive datetime", id="naive-datetime"),
        pytest.param(2**64, ValueError, "does not fit in 64 bits", id="int-too-large"),
        pytest.param(-(2**64) - 1, ValueError, "does not fit in 64 bits", id="int-too-small"),
        pytest.param({1, 2}, TypeError, "cannot encode set", id="set"),
        pytest.param(object(), TypeError, "cannot encode object", id="object"),
        # Types cbor2 would write as tags of their own
        pytest.param(frozenset(), TypeError, "cannot encode frozenset", id="frozenset"),
        pytest.param(Decimal("1.5"), TypeError, "cannot encode Decimal", id="decimal"),
        pytest.param(UUID(int=1), TypeError, "cannot encode UUID", id="uuid"),
        pytest.param(1j, TypeError, "cannot encode complex", id="complex"),
        pytest.param(cbor2.CBORTag(2, b"\x01"), TypeError, "cannot encode CBORTag", id="cbor-tag"),
        pytest.param(cbor2.undefined, TypeError, "cannot encode UndefinedType", id="undefined"),
        pytest.param({"a": [{1, 2}]}, TypeError, "cannot encode set", id="nested-set"),
        # cbor2's encoder recurses natively and would crash the process on these
        pytest.param(_nested(100_000), ValueError, "nested deeper than 100 levels", id="very-deep"),
        pytest.param(_CYCLE, ValueError, "cyclic data structure detected", id="cycle"),  # cbor2 notices
    ],
)
def test_encoder_refuses_what_it_cannot_represent(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        cbor.encode(value)


class _Count(IntEnum):
    ONE = 1


class _Unit(StrEnum):
    MS = "Milliseconds"


@pytest.mark.parametrize(
    "value,same_as",
    [
        pytest.param(_Count.ONE, 1, id="int-subclass"),
        pytest.param(_Unit.MS, "Milliseconds", id="str-subclass"),
        pytest.param(OrderedDict(a=1), {"a": 1}, id="dict-subclass"),
        pytest.param(memoryview(b"ab"), b"ab", id="memoryview-as-bytes"),
        pytest.param(bytearray(b"ab"), b"ab", id="bytearray-as-bytes"),
        pytest.param((1, "x"), [1, "x"], id="tuple-as-array"),
    ],
)
def test_encodes_subclasses_and_buffers_as_the_base_type(value: Any, same_as: Any) -> None:
    assert cbor.encode(value) == cbor.encode(same_as)


@pytest.mark.parametrize("value", [1.0, -0.0, 1e-300, float("inf"), float("-inf"), float("nan")])
def test_floats_are_written_as_botocore_writes_doubles(value: float) -> None:
    out = bytearray()
    CBORSerializer()._serialize_type_double(out, value, None, None)  # float64; NaN/inf as float16
    assert cbor.encode(value) == bytes(out)
