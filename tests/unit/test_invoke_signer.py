"""harness.load.invoke signs exactly as botocore does, and the emulator accepts (and rejects) what it signs.

The reference is the real operation pushed through a botocore client's request pipeline (serializer,
handlers, SigV4Auth) with the send stubbed out (``before-send`` returns a canned response) and the
signer's clock frozen (``botocore.auth.get_current_datetime``); the request it would have sent is
compared with ours: path, body, every signed header, ``X-Amz-Date``, ``X-Amz-Security-Token`` and the
``Authorization`` header byte for byte.
"""

from __future__ import annotations

import functools
import string
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.config
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.autoscaling.params import ModelParams
from harness.bench.signer import signer_us_per_request
from harness.load.invoke import CredentialSource, Signer, invoke_async_request, invoke_request, sign
from harness.load.invoke.sigv4 import amz_date, host_from_url
from tests.emulator_support import client, deploy, running

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "il-central-1"]
HOSTS = [None, "http://127.0.0.1:8080", "https://127.0.0.1", "http://localhost:80"]  # None: the region's endpoint
CREDENTIALS = [("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
               ("ASIAEXAMPLE", "secret+/=", "IQoJb3JpZ2luX2VjE" + "x" * 300 + "=="),
               ("test", "test", "a token with  spaces ")]
NAME = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=63)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(" \t"),
                      max_size=80)
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
CASE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Raw:
    def stream(self, **_kw: Any) -> Any:
        yield b"{}"


@functools.cache
def _botocore(region: str, host: str | None, creds: tuple[str, str, str | None]) -> tuple[Any, list[AWSRequest]]:
    """A sagemaker-runtime client whose sends are captured instead of made."""
    sent: list[AWSRequest] = []

    def capture(request: AWSRequest, **_kw: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())

    rt = boto3.Session().client("sagemaker-runtime", region_name=region, endpoint_url=host,
                                aws_access_key_id=creds[0], aws_secret_access_key=creds[1], aws_session_token=creds[2],
                                config=botocore.config.Config(retries={"total_max_attempts": 1}))
    rt.meta.events.register("before-send.sagemaker-runtime", capture)
    return rt, sent


def _reference(region: str, host: str | None, creds: tuple[str, str, str | None], when: datetime,
               call: Callable[[Any], Any]) -> AWSRequest:
    rt, sent = _botocore(region, host, creds)
    sent.clear()
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        call(rt)
    assert len(sent) == 1
    return sent[0]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _assert_same(ours: Any, headers: dict[str, str], theirs: AWSRequest) -> None:
    path, unsigned, body = ours
    assert path == urlsplit(theirs.url).path
    assert body == (theirs.body or b"")
    want = {name.lower(): _text(value) for name, value in theirs.headers.items()}
    got = {name.lower(): value for name, value in headers.items()}
    signed = want["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    for name in signed:
        if name != "host":  # botocore derives host from the URL; it is not among its headers
            assert got[name] == want[name], name
    assert got["host"] == host_from_url(theirs.url)
    for name in ("authorization", "x-amz-date", "x-amz-security-token"):
        assert got.get(name) == want.get(name), name
    # nothing sent that botocore would not send (only the unsigned SDK bookkeeping is left out)
    assert set(got) - {"host"} <= set(want)
    assert set(want) - set(got) <= {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "content-length"}
    assert set(unsigned) <= set(headers)


def _target(host: str | None, theirs: AWSRequest) -> str:
    return host or f"https://{urlsplit(theirs.url).netloc}"


@CASE
@given(name=NAME, body=st.binary(max_size=2048), content_type=st.none() | HEADER_TEXT,
       accept=st.none() | HEADER_TEXT, custom=st.none() | HEADER_TEXT,
       variant=st.none() | NAME, region=st.sampled_from(REGIONS), host=st.sampled_from(HOSTS),
       creds=st.sampled_from(CREDENTIALS), when=WHEN)
def test_invoke_endpoint_signature_is_botocores(name: str, body: bytes, content_type: str | None,
                                               accept: str | None, custom: str | None, variant: str | None,
                                               region: str, host: str | None, creds: tuple[str, str, str | None],
                                               when: datetime) -> None:
    params: dict[str, Any] = {"EndpointName": name, "Body": body}
    for key, value in (("ContentType", content_type), ("Accept", accept), ("CustomAttributes", custom),
                       ("TargetVariant", variant)):
        if value is not None:
            params[key] = value
    theirs = _reference(region, host, creds, when, lambda rt: rt.invoke_endpoint(**params))
    request = invoke_request(name, body, content_type, accept, custom, variant)
    headers = sign(request, CredentialSource.static(*creds).get(), region, when, host=_target(host, theirs))
    _assert_same(request, headers, theirs)


@CASE
@given(name=NAME, location=st.text(alphabet=string.ascii_letters + string.digits + "/-_.", max_size=60),
       content_type=st.none() | HEADER_TEXT, inference_id=st.none() | HEADER_TEXT.filter(lambda s: s.strip()),
       ttl=st.none() | st.integers(60, 21600), timeout=st.none() | st.integers(1, 3600),
       extension=st.none() | st.text(alphabet=string.ascii_letters + string.digits + "!_.*'()/-", min_size=1,
                                     max_size=40),
       region=st.sampled_from(REGIONS), host=st.sampled_from(HOSTS), creds=st.sampled_from(CREDENTIALS), when=WHEN)
def test_invoke_endpoint_async_signature_is_botocores(name: str, location: str, content_type: str | None,
                                                     inference_id: str | None, ttl: int | None, timeout: int | None,
                                                     extension: str | None, region: str, host: str | None,
                                                     creds: tuple[str, str, str | None], when: datetime) -> None:
    input_location = f"s3://bucket/{location}"
    params: dict[str, Any] = {"EndpointName": name, "InputLocation": input_location}
    for key, value in (("ContentType", content_type), ("InferenceId", inference_id), ("RequestTTLSeconds", ttl),
                       ("InvocationTimeoutSeconds", timeout), ("S3OutputPathExtension", extension)):
        if value is not None:
            params[key] = value
    theirs = _reference(region, host, creds, when, lambda rt: rt.invoke_endpoint_async(**params))
    request = invoke_async_request(name, input_location, content_type, inference_id, ttl, timeout, extension)
    headers = sign(request, CredentialSource.static(*creds).get(), region, when, host=_target(host, theirs))
    _assert_same(request, headers, theirs)


@CASE
@given(name=st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s), body=st.text(max_size=50),
       when=WHEN)
def test_any_endpoint_name_and_str_body_encode_as_botocore_does(name: str, body: str, when: datetime) -> None:
    """Outside SageMaker's name pattern too ('.', '/', '%', non-ASCII): percent-encoded once in the path,
    twice (after dot-segment removal) in the canonical URI, like botocore; a str body is UTF-8."""
    creds = CREDENTIALS[1]
    theirs = _reference("us-east-1", HOSTS[1], creds, when,
                        lambda rt: rt.invoke_endpoint(EndpointName=name, Body=body, ContentType="text/plain"))
    request = invoke_request(name, body, "text/plain")
    headers = sign(request, CredentialSource.static(*creds).get(), "us-east-1", when, host=HOSTS[1])
    _assert_same(request, headers, theirs)


def test_signer_matches_sign_and_reuses_its_template() -> None:
    source = CredentialSource.static(*CREDENTIALS[1])
    signer = Signer("eu-west-1", "http://127.0.0.1:8080/", source)
    request = invoke_request("ep", b"{}", "application/json")
    when = datetime(2024, 5, 17, 12, 30, 15, tzinfo=UTC)
    assert signer.headers(request, when) == sign(request, source.get(), "eu-west-1", when.timestamp(),
                                                 host="http://127.0.0.1:8080")
    assert signer.headers(request, when) == signer.headers(request, when)
    assert len(request._templates) == 1
    path, headers, body = request
    assert (path, headers, body) == ("/endpoints/ep/invocations", {"Content-Type": "application/json"}, b"{}")


def test_timestamps_truncate_to_the_second_in_utc() -> None:
    assert amz_date(datetime(2024, 5, 17, 23, 59, 59, 999999)) == "20240517T235959Z"
    assert amz_date(1715990399.9999) == "20240517T235959Z"
    assert amz_date(1715990400.0) == "20240518T000000Z"
    assert amz_date(datetime(2024, 5, 18, 2, 0, tzinfo=UTC).astimezone()) == "20240518T020000Z"


def test_hosts_are_signed_as_botocore_derives_them() -> None:
    assert host_from_url("https://Runtime.SageMaker.us-east-1.amazonaws.com:443/") == (
        "runtime.sagemaker.us-east-1.amazonaws.com")
    assert host_from_url("http://127.0.0.1:80") == "127.0.0.1"
    assert host_from_url("http://127.0.0.1:443") == "127.0.0.1:443"
    assert host_from_url("127.0.0.1:8080") == "127.0.0.1:8080"
    assert host_from_url("http://[::1]:8080") == "[::1]:8080"


def test_empty_endpoint_name_is_refused() -> None:
    with pytest.raises(ValueError):
        invoke_request("", b"", "text/csv")


def test_bench_helper_reports_both_costs() -> None:
    ours, theirs = signer_us_per_request(n=50, repeats=1)
    assert ours > 0 and theirs > 0


def _post(url: str, request: Any, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """(status, x-amzn-ErrorType, body) of a POST sent with exactly ``headers``."""
    req = urllib.request.Request(url + request.path, data=request.body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get("x-amzn-ErrorType", ""), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("x-amzn-ErrorType", ""), error.read()


@pytest.mark.integration
def test_emulator_accepts_our_signature_and_rejects_a_wrong_secret() -> None:
    with running(ModelParams(endpoint_create_delay_s=1, provisioning_delay_s=1), 600.0) as (_emu, handle):
        deploy(client(handle.url, "sagemaker"), "signed-ep")
        request = invoke_request("signed-ep", b"1,2,3", "text/csv", accept="*/*")
        good = Signer("us-east-1", handle.url, CredentialSource.static("test", "test", "any-token"))
        status, _, body = _post(handle.url, request, good.headers(request))
        assert status == 200, body
        from geventhttpclient import HTTPClient  # FastHttpUser's client: sends the signed Host as given

        http = HTTPClient.from_url(handle.url)
        try:
            response = http.post(request.path, body=request.body, headers=good.headers(request))
            assert response.status_code == 200, response.read()
        finally:
            http.close()
        bad = Signer("us-east-1", handle.url, CredentialSource.static("test", "not-the-secret"))
        status, error, body = _post(handle.url, request, bad.headers(request))
        assert (status, error.split(":")[0]) == (403, "InvalidSignatureException"), body
