"""Request framing under hostile input: a chunked body is decoded as it arrives, in one pass and within the
body cap; the parsed-head cache cannot grow past its bound."""

from __future__ import annotations

import pytest

from harness.emulator import framing
from harness.emulator.framing import BadRequest, ChunkedDecoder, parse_head
from harness.emulator.protocol import Router


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\nX-Trailer: t\r\n\r\n"


@pytest.mark.parametrize("piece", [1, 7, 100, 4096], ids=lambda n: f"fed-{n}-bytes-at-a-time")
def test_a_chunked_body_is_consumed_as_it_arrives(piece: int) -> None:
    body = bytes(range(256)) * 64  # 16 KiB in 100-byte chunks
    wire = chunked(body, 100) + b"GET /next HTTP/1.1\r\n"
    decoder, buf, got = ChunkedDecoder(), bytearray(), None
    for i in range(0, len(wire), piece):
        buf += wire[i:i + piece]
        got = got if got is not None else decoder.feed(buf)
        if got is None:
            # what was fed is consumed up to the chunk in progress: nothing is scanned twice
            assert len(buf) <= 100 + 2 + piece + 8
    assert got == body
    assert bytes(buf) == b"GET /next HTTP/1.1\r\n"  # the next request is left in the buffer


def test_a_chunked_body_over_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_BODY", 1000)
    buf = bytearray(b"200\r\n" + b"x" * 0x200 + b"\r\n" + b"300\r\n")
    with pytest.raises(BadRequest, match="chunked body over 1000 bytes"):
        ChunkedDecoder().feed(buf)


@pytest.mark.parametrize("wire, message", [
    (b"zz\r\n", "bad chunk size line"),
    (b"3\r\nabcXY", "chunk does not end where its size says"),
    (b"1" * (framing.MAX_LINE + 10), "chunk size line too long"),
])
def test_malformed_chunks_are_refused(wire: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        ChunkedDecoder().feed(bytearray(wire))


def test_the_head_cache_is_bounded_in_entries_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "_heads", {})
    big = b"X-Pad: " + b"p" * 10_000
    for i in range(50):  # distinct large heads (the probe's 1,100 distinct heads grew the emulator to 219 MB)
        parse_head(b"GET /%d HTTP/1.1\r\n%s" % (i, big))
    assert framing._heads == {}
    for i in range(framing.HEAD_CACHE + 10):
        parse_head(b"GET /%d HTTP/1.1\r\nHost: x" % i)
    assert 0 < len(framing._heads) <= framing.HEAD_CACHE


@pytest.mark.parametrize("request_, content_type, code", [
    pytest.param(None, "application/x-amz-json-1.1", b'"__type": "SerializationException"', id="unreadable-head"),
    pytest.param(("PUT", "/bucket/key", "", {"authorization": "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/"
                                                               "s3/aws4_request, SignedHeaders=host, Signature=0"}),
                 "application/xml", b"<Code>BadRequest</Code>", id="s3-path"),
    pytest.param(("POST", "/", "", {"x-amz-target": "SageMaker.ListEndpoints",
                                    "content-type": "application/x-amz-json-1.1"}),
                 "application/x-amz-json-1.1", b'"__type": "SerializationException"', id="json-service"),
])
def test_a_request_that_cannot_be_framed_gets_the_aws_error_of_its_service(request_: object, content_type: str,
                                                                             code: bytes) -> None:
    status, headers, body = Router({"test": "test"}).framing_error("bad chunk size line", request_)  # type: ignore[arg-type]
    assert status == 400 and dict(headers)["Content-Type"] == content_type and code in body
