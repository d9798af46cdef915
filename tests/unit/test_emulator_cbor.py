"""The emulator's CBOR codec against botocore's own CBOR serializer and parser (and RFC 8949 vectors)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
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
        pytest.param(b"\xff", "unexpected break", id="stray-break"),
        pytest.param(b"\x5f\x61a\xff", "bad chunk", id="mixed-chunk-types"),
        pytest.param(b"\x62\xff\xfe", "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b"\x1c", "invalid additional information 28", id="reserved-additional-info"),
        pytest.param(b"\xf8\x20", "unsupported CBOR simple value 24", id="one-byte-simple-value"),
        pytest.param(b"\xa1\x80\x01", "unhashable CBOR map key", id="array-as-map-key"),
        pytest.param(b"\x81" * 200 + b"\x00", "nested deeper", id="too-deep"),
    ],
)
def test_rejects_malformed_input(data: bytes, message: str) -> None:
    with pytest.raises(cbor.CBORDecodeError, match=message):
        cbor.decode(data)


@pytest.mark.parametrize(
    "value,error,message",
    [
        pytest.param(datetime(2024, 1, 1), ValueError, "naive datetime", id="naive-datetime"),
        pytest.param(2**64, ValueError, "does not fit in 64 bits", id="int-too-large"),
        pytest.param(-(2**64) - 1, ValueError, "does not fit in 64 bits", id="int-too-small"),
        pytest.param({1, 2}, TypeError, "cannot encode set", id="set"),
        pytest.param(object(), TypeError, "cannot encode object", id="object"),
    ],
)
def test_encoder_refuses_what_it_cannot_represent(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        cbor.encode(value)
