"""harness/observe/endpoints.py and failures.py: botocore's own endpoint resolution (real sessions, real config
files, nothing sent), the places a mix is refused on, and the one-line wording of botocore's exceptions."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import botocore.exceptions as bx
import pytest

from harness.errors import ConfigError, InfrastructureError
from harness.observe.aws import Target
from harness.observe.endpoints import SERVICES, check_places, origin, place, resolve_endpoints
from harness.observe.failures import translate


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS settings of the developer's: empty shared files; returns the config file to write."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "config"
    config.touch()
    (tmp_path / "credentials").touch()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return config


def test_without_settings_every_service_goes_to_aws_in_the_region(no_aws: Path) -> None:
    urls = resolve_endpoints(boto3.Session(), "eu-west-1", None)
    assert set(urls) == set(SERVICES)
    assert urls["sagemaker-runtime"] == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
    assert {place(u, "eu-west-1") for u in urls.values()} == {"AWS eu-west-1"}
    check_places(urls, "eu-west-1")
    target = Target("eu-west-1")
    assert not target.is_local and target.origins()["sagemaker"] == "https://api.sagemaker.eu-west-1.amazonaws.com:443"


def test_aws_endpoint_url_moves_every_service_and_a_service_variable_moves_one(
        no_aws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    target = Target("us-east-1")
    assert target.is_local and target.runtime_host() == "http://127.0.0.1:4566"
    assert set(target.origins().values()) == {"http://127.0.0.1:4566"}
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "https://runtime.sagemaker.us-east-1.amazonaws.com")
    with pytest.raises(ConfigError, match=r"sagemaker-runtime → AWS us-east-1 \(https://runtime\.sagemaker"):
        _ = Target("us-east-1").endpoints


def test_the_profiles_services_section_is_honoured(no_aws: Path) -> None:
    no_aws.write_text("[profile split]\nservices = split-services\n\n[services split-services]\n"
                      "sagemaker_runtime =\n  endpoint_url = http://127.0.0.1:4567\n")
    urls = resolve_endpoints(boto3.Session(profile_name="split"), "us-east-1", None)
    assert urls["sagemaker-runtime"] == "http://127.0.0.1:4567"
    assert urls["sagemaker"] == "https://api.sagemaker.us-east-1.amazonaws.com"
    with pytest.raises(ConfigError, match="would go to different places"):
        check_places(urls, "us-east-1")


def test_places() -> None:
    assert place("https://vpce-0a1b-x.runtime.sagemaker.eu-central-1.vpce.amazonaws.com", "us-east-1") == \
        "AWS eu-central-1"
    assert place("https://s3.amazonaws.com", "us-east-1") == "AWS us-east-1"
    assert place("http://localhost:4566/", "us-east-1") == "localhost:4566"
    assert origin("https://user:secret@example.com/some/path?q=1") == "https://example.com:443"
    two_regions = dict.fromkeys(SERVICES, "https://x.us-east-1.amazonaws.com")
    two_regions["cloudwatch"] = "https://monitoring.us-west-2.amazonaws.com"
    with pytest.raises(ConfigError, match=r"cloudwatch → AWS us-west-2"):
        check_places(two_regions, "us-east-1")
    global_sts = {**dict.fromkeys(SERVICES, "https://x.us-east-1.amazonaws.com"), "sts": "https://sts.amazonaws.com"}
    check_places(global_sts, "us-east-1")  # STS's region does not matter ...
    with pytest.raises(ConfigError, match=r"sts → 127\.0\.0\.1:4566"):  # ... its side does
        check_places({**global_sts, "sts": "http://127.0.0.1:4566"}, "us-east-1")


def test_a_profile_that_does_not_exist_is_a_configuration_error(no_aws: Path) -> None:
    with pytest.raises(ConfigError, match="AWS profile 'nope' does not exist"):
        _ = Target("us-east-1", profile_name="nope").endpoints


@pytest.mark.parametrize(("err", "kind", "words"), [
    (bx.NoCredentialsError(), InfrastructureError, "no usable AWS credentials"),
    (bx.UnauthorizedSSOTokenError(), InfrastructureError, "run `aws sso login --profile dev`"),
    (bx.TokenRetrievalError(provider="sso", error_msg="expired"), InfrastructureError, "aws sso login --profile dev"),
    (bx.SSOTokenLoadError(error_msg="Token for corp does not exist"), InfrastructureError, "aws sso login"),
    (bx.ConnectTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"), InfrastructureError,
     "cannot reach https://api.sagemaker.us-east-1.amazonaws.com"),
    (bx.ReadTimeoutError(endpoint_url="http://127.0.0.1:4566"), InfrastructureError, "is the emulator running"),
    (bx.ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "DescribeEndpoint"),
     InfrastructureError, "the session token has expired; refresh them (`aws sso login --profile dev`"),
    (bx.ClientError({"Error": {"Code": "InvalidClientTokenId", "Message": "no"}}, "GetCallerIdentity"),
     InfrastructureError, "credentials refused (InvalidClientTokenId on GetCallerIdentity)"),
    (bx.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetMetricData"),
     InfrastructureError, "GetMetricData: access denied"),
    (bx.ProfileNotFound(profile="dev"), ConfigError, "AWS profile 'dev' does not exist"),
])
def test_botocore_failures_are_one_line_with_what_to_do(err: Exception, kind: type, words: str) -> None:
    translated = translate(err, profile_name="dev")
    assert isinstance(translated, kind) and words in str(translated), translated
    assert "\n" not in str(translated)
    assert translate(ValueError("not botocore's")) is None
