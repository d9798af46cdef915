"""S3 (REST-XML, path style) through real boto3 clients: every operation the emulator serves, its errors.

One emulator serves the module. botocore 1.43 over plain HTTP sends PutObject with a signed payload
hash (``X-Amz-Content-SHA256: <hex>``), the CRC32 in an ``x-amz-checksum-crc32`` header and
``Expect: 100-continue``; over HTTPS it would send ``aws-chunked`` with the CRC32 as a trailer
(``STREAMING-UNSIGNED-PAYLOAD-TRAILER``), which one test forces over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import itertools
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.http import ServerHandle
from tests.emulator_support import client, running

pytestmark = pytest.mark.integration

_names = itertools.count()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    with running(ModelParams(), 60.0) as pair:
        yield pair


@pytest.fixture(scope="module")
def s3(served: tuple[Emulator, ServerHandle]) -> Iterator[Any]:
    made = client(served[1].url, "s3")
    yield made
    made.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"bucket-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int, dict[str, Any]]:
    """(code, message, HTTP status, whole response) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (response["Error"]["Code"], response["Error"].get("Message", ""),
            response["ResponseMetadata"]["HTTPStatusCode"], response)


def test_create_bucket_then_head_list_and_delete(s3: Any) -> None:
    created = s3.create_bucket(Bucket="made-here")
    assert created["Location"] == "/made-here"
    headers = created["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-request-id"] and headers["x-amz-id-2"]
    assert s3.head_bucket(Bucket="made-here")["BucketRegion"] == "us-east-1"
    assert "made-here" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    code, message, status, response = error_of(s3.create_bucket, Bucket="made-here")
    assert (code, status) == ("BucketAlreadyOwnedByYou", 409)
    assert "already own it" in message and response["Error"]["BucketName"] == "made-here"
    s3.put_object(Bucket="made-here", Key="k", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket="made-here")[::2] == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="made-here", Key="k")
    assert s3.delete_bucket(Bucket="made-here")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.head_bucket, Bucket="made-here")[::2] == ("404", 404)


def test_create_bucket_configuration_body(served: tuple[Emulator, ServerHandle]) -> None:
    with closing(client(served[1].url, "s3", region="eu-west-1")) as eu:
        eu.create_bucket(Bucket="in-ireland", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert eu.head_bucket(Bucket="in-ireland")["BucketRegion"] == "eu-west-1"
        code, message, status, _ = error_of(eu.create_bucket, Bucket="elsewhere",
                                            CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        assert (code, status) == ("IllegalLocationConstraintException", 400) and "us-west-2" in message


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "under_score", "-leading", "a..b", "192.168.0.1", "x" * 64])
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    code, _, status, response = error_of(s3.create_bucket, Bucket=name)
    assert (code, status, response["Error"]["BucketName"]) == ("InvalidBucketName", 400, name)


def test_put_get_head_object_round_trip(s3: Any, bucket: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    put = s3.put_object(Bucket=bucket, Key="dir/a b+c.csv", Body=b"1,2,3\n", ContentType="text/csv",
                        Metadata={"origin": "test"})
    md5 = hashlib.md5(b"1,2,3\n").hexdigest()
    assert put["ETag"] == f'"{md5}"'
    assert put["ChecksumCRC32"]  # botocore sent the CRC32 header; S3 echoes it
    got = s3.get_object(Bucket=bucket, Key="dir/a b+c.csv")
    assert got["Body"].read() == b"1,2,3\n"
    assert (got["ContentType"], got["ContentLength"], got["ETag"]) == ("text/csv", 6, f'"{md5}"')
    assert got["Metadata"] == {"origin": "test"}
    # endpoint time runs ahead of the wall, never behind it
    assert got["LastModified"] >= before.replace(microsecond=0)
    head = s3.head_object(Bucket=bucket, Key="dir/a b+c.csv")
    assert (head["ContentLength"], head["ETag"], head["ContentType"]) == (6, f'"{md5}"', "text/csv")
    assert head["LastModified"] == got["LastModified"]
    # no Content-Type on the upload: S3's default
    s3.put_object(Bucket=bucket, Key="raw", Body=io.BytesIO(b"\x00\x01streamed"))
    raw = s3.get_object(Bucket=bucket, Key="raw")
    assert (raw["Body"].read(), raw["ContentType"]) == (b"\x00\x01streamed", "binary/octet-stream")
    # an overwrite replaces the object
    s3.put_object(Bucket=bucket, Key="raw", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="raw")["ContentLength"] == 0


def test_get_object_checksum_mode_is_verified_by_botocore(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == base64.b64encode(zlib.crc32(b"payload").to_bytes(4, "big")).decode()
    assert got["Body"].read() == b"payload"  # botocore checks the body against the CRC32 as it reads


def test_missing_objects_and_buckets(s3: Any, bucket: str) -> None:
    code, message, status, response = error_of(s3.get_object, Bucket=bucket, Key="nope/x")
    assert (code, message, status) == ("NoSuchKey", "The specified key does not exist.", 404)
    assert response["Error"]["Key"] == "nope/x"
    assert response["ResponseMetadata"]["RequestId"]
    # HEAD errors have no body: botocore reports the bare status
    assert error_of(s3.head_object, Bucket=bucket, Key="nope")[:3] == ("404", "Not Found", 404)
    for call, kwargs in ((s3.get_object, {"Key": "k"}), (s3.put_object, {"Key": "k", "Body": b"x"}),
                         (s3.list_objects_v2, {}), (s3.delete_object, {"Key": "k"})):
        code, message, status, response = error_of(call, Bucket="no-such-bucket-here", **kwargs)
        assert (code, status, response["Error"]["BucketName"]) == ("NoSuchBucket", 404, "no-such-bucket-here")
        assert message == "The specified bucket does not exist"
    assert error_of(s3.head_object, Bucket="no-such-bucket-here", Key="k")[::2] == ("404", 404)


def test_delete_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_object, Bucket=bucket, Key="gone")[0] == "NoSuchKey"
    # deleting a missing key succeeds, as in S3
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_list_objects_v2_prefix_start_after_and_max_keys(s3: Any, bucket: str) -> None:
    for key in ("b/2", "a/1", "b/1", "c", "a/2"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["a/1", "a/2", "b/1", "b/2", "c"]
    assert (listed["KeyCount"], listed["IsTruncated"], listed["MaxKeys"], listed["Name"]) == (5, False, 1000, bucket)
    first = listed["Contents"][0]
    assert (first["Size"], first["ETag"], first["StorageClass"]) == (3, f'"{hashlib.md5(b"a/1").hexdigest()}"',
                                                                     "STANDARD")
    assert isinstance(first["LastModified"], datetime)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="b/")["Contents"]] == ["b/1", "b/2"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="a/2")["Contents"]] == ["b/1", "b/2", "c"]
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    assert ([o["Key"] for o in page["Contents"]], page["KeyCount"], page["IsTruncated"]) == (["a/1", "a/2"], 2, True)
    rest = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["b/1", "b/2"]
    assert rest["ContinuationToken"] == page["NextContinuationToken"]
    grouped = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in grouped["Contents"]] == ["c"]
    assert grouped["KeyCount"] == 3
    empty = s3.list_objects_v2(Bucket=bucket, Prefix="zzz")
    assert ("Contents" not in empty, empty["KeyCount"], empty["IsTruncated"]) == (True, 0, False)
    code, message, status, _ = error_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="forged")
    assert (code, status) == ("InvalidArgument", 400) and "continuation token" in message


def test_list_objects_v2_paginator(s3: Any, bucket: str) -> None:
    keys = [f"obj/{i:03d}" for i in range(23)] + ["odd key/ü+%.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 5}))
    assert [len(p.get("Contents", [])) for p in pages] == [5, 5, 5, 5, 4]
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert [p["IsTruncated"] for p in pages] == [True] * 4 + [False]
    # delimiter pages: each common prefix counted once, across page boundaries too
    grouped = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/",
                                                                   PaginationConfig={"PageSize": 1}))
    assert [p["Prefix"] for page in grouped for p in page.get("CommonPrefixes", [])] == ["obj/", "odd key/"]


def test_aws_chunked_upload_with_trailing_checksum(s3: Any, bucket: str) -> None:
    """What botocore sends over HTTPS (aws-chunked, unsigned payload, CRC32 trailer), forced over HTTP."""
    sent: list[dict[str, Any]] = []

    def trailer(params: dict[str, Any], **_: Any) -> None:
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    def record(request: Any, **_: Any) -> None:
        sent.append({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    s3.meta.events.register("before-call.s3.PutObject", trailer, unique_id="force-trailer")
    s3.meta.events.register("before-send.s3.PutObject", record, unique_id="record-put")
    try:
        body = bytes(range(256)) * 5000  # > botocore's 1 MiB chunk: several chunks
        put = s3.put_object(Bucket=bucket, Key="chunked", Body=body, ContentType="application/x-test")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", unique_id="force-trailer")
        s3.meta.events.unregister("before-send.s3.PutObject", unique_id="record-put")
    headers = sent[-1]
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert (headers["content-encoding"], headers["x-amz-trailer"]) == ("aws-chunked", "x-amz-checksum-crc32")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"' and put["ChecksumCRC32"]
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert (got["Body"].read(), got["ContentType"]) == (body, "application/x-test")
    assert "ContentEncoding" not in got  # aws-chunked is a transfer detail, not the object's encoding


def test_bad_digests_are_refused(s3: Any, bucket: str) -> None:
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    code, message, status, _ = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"data", ContentMD5=wrong_md5)
    assert (code, status) == ("BadDigest", 400) and "Content-MD5" in message
    wrong_crc = base64.b64encode((123).to_bytes(4, "big")).decode()
    code, message, status, _ = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"data", ChecksumCRC32=wrong_crc)
    assert (code, status) == ("BadDigest", 400) and "CRC32" in message
    assert error_of(s3.get_object, Bucket=bucket, Key="k")[0] == "NoSuchKey"  # nothing was stored


def test_wrong_secret_is_signature_does_not_match(served: tuple[Emulator, ServerHandle], bucket: str) -> None:
    with closing(client(served[1].url, "s3", secret="wrong")) as bad:
        for call, kwargs in ((bad.list_objects_v2, {"Bucket": bucket}),
                             (bad.put_object, {"Bucket": bucket, "Key": "k", "Body": b"x"}),
                             (bad.get_object, {"Bucket": bucket, "Key": "k"})):
            code, message, status, response = error_of(call, **kwargs)
            assert (code, status) == ("SignatureDoesNotMatch", 403)
            assert message.startswith("The request signature we calculated does not match")
            assert response["ResponseMetadata"]["RequestId"]
    with closing(client(served[1].url, "s3", key="nobody")) as unknown:
        code, message, status, _ = error_of(unknown.list_objects_v2, Bucket=bucket)
        assert (code, status) == ("InvalidAccessKeyId", 403) and "does not exist in our records" in message


def test_s3_is_chosen_by_the_credential_scope(s3: Any, served: tuple[Emulator, ServerHandle]) -> None:
    """/endpoints/x/invocations is a SageMaker Runtime path and an S3 bucket + key: the scope decides."""
    s3.create_bucket(Bucket="endpoints")
    s3.put_object(Bucket="endpoints", Key="my-ep/invocations", Body=b"stored")
    assert s3.get_object(Bucket="endpoints", Key="my-ep/invocations")["Body"].read() == b"stored"
    with closing(client(served[1].url, "sagemaker-runtime")) as rt:
        code, _, status, _ = error_of(rt.invoke_endpoint, EndpointName="my-ep", Body=b"{}")
        assert (code, status) == ("ValidationError", 400)  # the runtime's unknown endpoint, not S3


def _signed(url: str, method: str, path: str, body: bytes = b"", *,
            sent_body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """A hand-signed S3 request (botocore's S3 signer); ``sent_body`` replaces the signed body on the wire."""
    request = AWSRequest(method=method, url=url + path, data=body)
    request.context["payload_signing_enabled"] = True
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(request.url)
    with closing(http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)) as conn:
        conn.request(method, path, body=body if sent_body is None else sent_body, headers=dict(request.headers.items()))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_s3_error_documents_and_unsupported_operations(served: tuple[Emulator, ServerHandle], s3: Any,
                                                      bucket: str) -> None:
    url = served[1].url
    status, headers, body = _signed(url, "GET", f"/{bucket}/missing")
    assert status == 404 and headers["content-type"] == "application/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>')
    assert f"<RequestId>{headers['x-amz-request-id']}</RequestId>".encode() in body
    status, _, body = _signed(url, "HEAD", f"/{bucket}/missing")
    assert (status, body) == (404, b"")
    # an operation of the S3 model the emulator does not serve
    code, message, status, _ = error_of(s3.get_object_tagging, Bucket=bucket, Key="k")
    assert (code, status) == ("NotImplemented", 501) and "GetObjectTagging" in message
    # a method no S3 operation has on that path
    status, _, body = _signed(url, "PATCH", f"/{bucket}/k")
    assert status == 405 and b"<Code>MethodNotAllowed</Code>" in body
    # malformed CreateBucketConfiguration XML
    status, _, body = _signed(url, "PUT", "/fresh-bucket", body=b"<CreateBucketConfiguration><Loc")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    # a body that does not match the signed x-amz-content-sha256
    status, _, body = _signed(url, "PUT", f"/{bucket}/k", body=b"xyz", sent_body=b"abc")
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in body
