"""harness.load.invoke.credentials: the botocore chain, cached frozen credentials refreshed near expiry,
and the emulator's test/test on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import RefreshableCredentials

from harness.load.invoke.credentials import (
    RECHECK_S,
    CredentialSource,
    NoCredentialsError,
    is_loopback,
    resolve_credentials,
)

CHAIN_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                   "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def triple(creds: object) -> tuple[str, str, str | None]:
    return creds.access_key, creds.secret_key, creds.token  # type: ignore[attr-defined]


@pytest.fixture
def clean_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials anywhere: no variables, empty config files, no instance metadata."""
    for name in CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


@pytest.mark.parametrize("host, expected", [
    ("http://127.0.0.1:8080", True), ("http://localhost:9000/", True), ("127.0.0.2:80", True),
    ("http://[::1]:8080", True), ("https://runtime.sagemaker.us-east-1.amazonaws.com", False),
    ("http://10.0.0.5:8080", False), ("", False)])
def test_loopback_hosts_are_the_emulator(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_loopback_uses_the_emulators_credentials(clean_chain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_chain / "credentials").write_text("[default]\naws_access_key_id = REAL\naws_secret_access_key = real\n")
    creds = resolve_credentials("us-east-1", "http://127.0.0.1:8080").get()
    assert (creds.access_key, creds.secret_key, creds.token) == ("test", "test", None)
    # the environment's real credentials never go to the emulator (a worker beside a --local master) ...
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    creds = resolve_credentials("us-east-1", "http://localhost:8080").get()
    assert (creds.access_key, creds.secret_key, creds.token) == ("test", "test", None)
    # ... an emulator with other credentials is named by scalecheck's own variables
    monkeypatch.setenv("SCALECHECK_EMULATOR_ACCESS_KEY_ID", "emu")
    monkeypatch.setenv("SCALECHECK_EMULATOR_SECRET_ACCESS_KEY", "emu-secret")
    creds = resolve_credentials("us-east-1", "http://localhost:8080").get()
    assert (creds.access_key, creds.secret_key) == ("emu", "emu-secret")


def test_environment_credentials_come_from_the_chain(clean_chain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    source = resolve_credentials("eu-west-1", "https://runtime.sagemaker.eu-west-1.amazonaws.com")
    assert triple(source.get()) == ("AKIDENV", "env-secret", "env-token")
    assert source.method == "env"


def test_a_shared_profile_comes_from_the_chain(clean_chain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_chain / "credentials").write_text(
        "[default]\naws_access_key_id = DEF\naws_secret_access_key = d\n"
        "[loadtest]\naws_access_key_id = PROF\naws_secret_access_key = p\n")
    assert resolve_credentials("us-east-1").get().access_key == "DEF"
    assert resolve_credentials("us-east-1", profile="loadtest").get().access_key == "PROF"
    monkeypatch.setenv("AWS_PROFILE", "loadtest")
    assert resolve_credentials("us-east-1").get().access_key == "PROF"


def test_no_credentials_is_an_error(clean_chain: Path) -> None:
    with pytest.raises(NoCredentialsError):
        resolve_credentials("us-east-1", "https://runtime.sagemaker.us-east-1.amazonaws.com")


def test_temporary_credentials_are_cached_then_refreshed_near_expiry() -> None:
    """Frozen credentials are reused for RECHECK_S; then botocore is asked again and refreshes them
    once they are inside its refresh window (here: already expiring)."""
    issued: list[int] = []

    def refresh() -> dict[str, str]:
        issued.append(len(issued))
        n = len(issued)
        expiry = datetime.now(UTC) + (timedelta(minutes=5) if n == 1 else timedelta(hours=1))
        return {"access_key": f"ASIA{n}", "secret_key": f"s{n}", "token": f"t{n}", "expiry_time": expiry.isoformat()}

    botocore_creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "sts-assume-role")
    now = [1000.0]
    source = CredentialSource(botocore_creds, clock=lambda: now[0])
    # created inside the mandatory window (5 min left): botocore refreshed while freezing them
    assert source.get().access_key == "ASIA2"
    assert len(issued) == 2
    botocore_creds._expiry_time = datetime.now(UTC) + timedelta(minutes=5)  # time passes: nearly expired again
    now[0] += RECHECK_S - 1
    assert source.get().access_key == "ASIA2" and len(issued) == 2  # cached: botocore not asked
    now[0] += 1
    assert triple(source.get()) == ("ASIA3", "s3", "t3") and len(issued) == 3


def test_static_credentials_are_never_rechecked() -> None:
    now = [0.0]
    source = CredentialSource.static("AK", "SK", "TOK")
    source._clock = lambda: now[0]
    now[0] = 1e12
    assert triple(source.get()) == ("AK", "SK", "TOK")
