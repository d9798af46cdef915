"""S3 pieces of the emulator without a server: aws-chunked decoding, REST-XML, routing, the object store."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from harness.emulator import restxml
from harness.emulator.protocol import Router, service_model
from harness.emulator.s3 import ObjectStore, parse_s3_uri
from harness.emulator.sigv4 import (
    ALGORITHM,
    SignatureError,
    SigV4Identity,
    canonical_request,
    decode_aws_chunked,
    signing_key,
)
from harness.emulator.wire import MalformedBody

# AWS's worked example of a chunked upload (S3 API reference, "Signature Calculations for the
# Authorization Header: Transferring Payload in Multiple Chunks", Example: PUT Object): 66560 bytes
# of 'a' in a 65536-byte and a 1024-byte chunk, with its published seed and chunk signatures.
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_HEADERS = {
    "host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": "66560", "content-length": "66824",
}
AWS_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
AWS_CHUNK_SIGNATURES = ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")


def _aws_example_body(signatures: tuple[str, ...] = AWS_CHUNK_SIGNATURES) -> bytes:
    return (b"10000;chunk-signature=" + signatures[0].encode() + b"\r\n" + b"a" * 65536 + b"\r\n"
            + b"400;chunk-signature=" + signatures[1].encode() + b"\r\n" + b"a" * 1024 + b"\r\n"
            + b"0;chunk-signature=" + signatures[2].encode() + b"\r\n\r\n")


def _identity(signature: str = AWS_SEED) -> SigV4Identity:
    return SigV4Identity("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3", signature, "20130524T000000Z")


def test_seed_signature_of_the_aws_chunked_example() -> None:
    canonical = canonical_request("PUT", "/examplebucket/chunkObject.txt", "", AWS_HEADERS,
                                  tuple(sorted(AWS_HEADERS)), b"", s3=True)
    to_sign = "\n".join([ALGORITHM, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(AWS_SECRET, "20130524", "us-east-1", "s3")
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == AWS_SEED


def test_signed_chunks_of_the_aws_example_decode() -> None:
    body = _aws_example_body()
    assert len(body) == int(AWS_HEADERS["content-length"])
    decoded = decode_aws_chunked(AWS_HEADERS["x-amz-content-sha256"], AWS_HEADERS, body, _identity(), AWS_SECRET)
    assert (decoded.body, decoded.trailers) == (b"a" * 66560, {})


@pytest.mark.parametrize("change", ["chunk-signature", "seed", "data"])
def test_a_wrong_chunk_signature_is_refused(change: str) -> None:
    body, identity = _aws_example_body(), _identity()
    if change == "chunk-signature":
        body = _aws_example_body((AWS_CHUNK_SIGNATURES[0], "0" * 64, AWS_CHUNK_SIGNATURES[2]))
    elif change == "seed":
        identity = _identity("1" * 64)
    else:
        body = body.replace(b"a" * 1024, b"a" * 1023 + b"b")
    with pytest.raises(SignatureError) as caught:
        decode_aws_chunked(AWS_HEADERS["x-amz-content-sha256"], AWS_HEADERS, body, identity, AWS_SECRET)
    assert (caught.value.code, caught.value.status) == ("InvalidSignatureException", 403)


def test_signed_trailer_chain() -> None:
    """STREAMING-...-PAYLOAD-TRAILER: the trailer's signature continues the chunk chain."""
    identity = _identity()
    key = signing_key(AWS_SECRET, "20130524", "us-east-1", "s3")
    scope = "20130524/us-east-1/s3/aws4_request"

    def sign(kind: str, previous: str, digest: str, empty: bool = True) -> str:
        parts = [f"{ALGORITHM}-{kind}", "20130524T000000Z", scope, previous]
        parts += [hashlib.sha256(b"").hexdigest(), digest] if empty else [digest]
        return hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    first = sign("PAYLOAD", AWS_SEED, hashlib.sha256(b"hello").hexdigest())
    final = sign("PAYLOAD", first, hashlib.sha256(b"").hexdigest())
    trailer = "x-amz-checksum-crc32:NhCmhg==\n"
    trailer_sig = sign("TRAILER", final, hashlib.sha256(trailer.encode()).hexdigest(), empty=False)
    body = (f"5;chunk-signature={first}\r\nhello\r\n0;chunk-signature={final}\r\n"
            f"x-amz-checksum-crc32:NhCmhg==\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n").encode()
    claimed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    decoded = decode_aws_chunked(claimed, {}, body, identity, AWS_SECRET)
    assert (decoded.body, decoded.trailers) == (b"hello", {"x-amz-checksum-crc32": "NhCmhg=="})
    with pytest.raises(SignatureError, match="does not match"):
        decode_aws_chunked(claimed, {}, body.replace(b"NhCmhg==", b"AAAAAA=="), identity, AWS_SECRET)


def test_unsigned_trailer_as_botocore_sends_it() -> None:
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    headers = {"x-amz-decoded-content-length": "11"}
    decoded = decode_aws_chunked("STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers, body, _identity(), None)
    assert (decoded.body, decoded.trailers) == (b"hello world", {"x-amz-checksum-crc32": "DUoRhQ=="})


@pytest.mark.parametrize("body, headers, fragment", [
    (b"zz\r\nhello\r\n0\r\n\r\n", {}, "bad chunk size"),
    (b"99\r\nhello\r\n0\r\n\r\n", {}, "ends inside a chunk"),
    (b"3\r\nhello\r\n0\r\n\r\n", {}, "does not end where its size says"),
    (b"5\r\nhello", {}, "ends before the final zero-size chunk"),
    (b"5\r\nhello\r\n", {}, "size line is not terminated"),
    (b"5\r\nhello\r\n0\r\n\r\n", {"x-amz-decoded-content-length": "4"}, "x-amz-decoded-content-length is 4"),
    (b"5\r\nhello\r\n0\r\nno-colon\r\n\r\n", {}, "bad trailing header"),
])
def test_malformed_aws_chunked_bodies(body: bytes, headers: dict[str, str], fragment: str) -> None:
    with pytest.raises(SignatureError) as caught:
        decode_aws_chunked("STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers, body, _identity(), None)
    assert (caught.value.code, caught.value.status) == ("IncompleteBody", 400)
    assert fragment in caught.value.message


def test_other_streaming_variants_are_not_implemented() -> None:
    with pytest.raises(SignatureError) as caught:
        decode_aws_chunked("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", {}, b"", _identity(), None)
    assert (caught.value.code, caught.value.status) == ("NotImplemented", 501)


def test_rest_xml_payload_and_output() -> None:
    model = service_model("s3")
    create = model.operation_model("CreateBucket").input_shape.members["CreateBucketConfiguration"]
    xml = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
           b"<LocationConstraint>eu-west-1</LocationConstraint><Unknown>x</Unknown></CreateBucketConfiguration>")
    assert restxml.parse_payload(create, xml, "CreateBucketConfiguration") == {"LocationConstraint": "eu-west-1"}
    with pytest.raises(MalformedBody):
        restxml.parse_payload(create, b"<CreateBucketConfiguration>", "CreateBucketConfiguration")
    listing = model.operation_model("ListObjectsV2").output_shape
    status, headers, body = restxml.rest_xml_output(listing, {
        "Name": "b", "IsTruncated": False, "KeyCount": 1, "Contents": [
            {"Key": "a<&>", "Size": 3, "LastModified": 1700000000.5, "StorageClass": "STANDARD"}]}, 200)
    assert (status, headers) == (200, [("Content-Type", "application/xml")])
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
                    b"<IsTruncated>false</IsTruncated><KeyCount>1</KeyCount><Contents><Key>a&lt;&amp;&gt;</Key>"
                    b"<Size>3</Size><LastModified>2023-11-14T22:13:20.500Z</LastModified>"
                    b"<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>")
    head = model.operation_model("HeadObject").output_shape
    status, headers, body = restxml.rest_xml_output(head, {"ContentLength": 5, "ETag": '"e"',
                                                          "Metadata": {"k": "v"}}, 200)
    assert (headers, body) == ([("Content-Length", "5"), ("ETag", '"e"'), ("x-amz-meta-k", "v")], b"")
    assert restxml.error_xml("NoSuchKey", "m", "rid", {"Key": "k"}).endswith(
        b"<Error><Code>NoSuchKey</Code><Message>m</Message><Key>k</Key><RequestId>rid</RequestId>"
        + f"<HostId>{restxml.host_id('rid')}</HostId></Error>".encode())


S3_AUTH = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"


@pytest.mark.parametrize("method, path, query, headers, operation", [
    ("PUT", "/b", "", {}, "CreateBucket"),
    ("PUT", "/b/", "", {}, "CreateBucket"),
    ("PUT", "/b/k/x.txt", "", {}, "PutObject"),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "/a/b"}, "CopyObject"),
    ("GET", "/b/k", "", {}, "GetObject"),
    ("GET", "/b/k", "tagging", {}, "GetObjectTagging"),
    ("GET", "/b", "list-type=2&prefix=x", {}, "ListObjectsV2"),
    ("GET", "/b", "prefix=x", {}, "ListObjects"),
    ("GET", "/", "", {}, "ListBuckets"),
    ("DELETE", "/b/k", "", {}, "DeleteObject"),
    ("DELETE", "/b/k", "uploadId=1", {}, "AbortMultipartUpload"),
    # with an S3 scope this runtime path is S3's, which has no POST /bucket/key without ?uploads etc.
    ("POST", "/endpoints/e/invocations", "", {}, None),
    ("PATCH", "/b/k", "", {}, None),
])
def test_s3_routing(method: str, path: str, query: str, headers: dict[str, str], operation: str | None) -> None:
    router = Router(credentials=None)
    router.register("s3", "ListBuckets", lambda call: {})
    route = router._resolve(method, path, query, {"authorization": S3_AUTH, **headers})
    assert (route.wire, route.operation) == ("rest-xml", operation)
    assert router._resolve("POST", "/endpoints/e/invocations", "", {}).service == "sagemaker-runtime"


def test_object_store() -> None:
    store = ObjectStore()
    assert store.create_bucket("b1", "us-east-1", 10.0) and not store.create_bucket("b1", "us-east-1", 11.0)
    obj = store.put("b1", "k", b"data", None, 12.0)
    assert (obj.etag, obj.content_type, obj.last_modified) == (f'"{hashlib.md5(b"data").hexdigest()}"',
                                                             "binary/octet-stream", 12.0)
    assert store.get("b1", "k") is obj
    errors: list[Any] = []
    for call in (lambda: store.get("b1", "nope"), lambda: store.put("b2", "k", b"", None, 0.0)):
        with pytest.raises(Exception) as caught:
            call()
        errors.append((caught.value.code, caught.value.status))  # type: ignore[attr-defined]
    assert errors == [("NoSuchKey", 404), ("NoSuchBucket", 404)]
    assert parse_s3_uri("s3://bucket/a/b.out") == ("bucket", "a/b.out")
    assert parse_s3_uri("s3://bucket") is None and parse_s3_uri("https://x/y") is None
