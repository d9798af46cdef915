"""`scalecheck preflight` (harness/observe/preflight.py) and the one-line failures of every command, as a user
meets them: the real CLI in a child process, real boto3, the emulator on loopback, an environment with no AWS
settings of the developer's (empty shared files, no instance metadata).

Nothing here reaches AWS: targets are the emulator, a closed loopback port, or TEST-NET-1 (192.0.2.1, a
documentation address nobody answers on) behind a failure that comes before any connection (credentials)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.http import start_in_thread
from harness.observe.preflight import READ_ACTIONS
from tests.cli_support import clean_env, cli, closed_port
from tests.conftest import CONSENT, REAL_MODEL, ROOT, shortened_profile, write_profile
from tests.emulator_support import client, deploy, running

pytestmark = pytest.mark.integration

NOWHERE = "http://192.0.2.1:9"  # TEST-NET-1: never a real host
BOUND_S = 10.0  # generous: preflight itself gives up within 5 s; the rest is starting Python on a busy machine
ENDPOINT = "preflight-ep"


@contextmanager
def emulator_accepting(credentials: dict[str, str]) -> Iterator[str]:
    """An emulator that accepts only ``credentials`` (access key → secret), so scalecheck's test/test is refused."""
    emu = Emulator(ModelParams(), speed=1.0, credentials=credentials)
    handle = start_in_thread(emu.router)
    try:
        yield handle.url
    finally:
        handle.stop()
        emu.stop()


def profile_file(tmp_path: Path, **endpoint: object) -> Path:
    data = shortened_profile()
    data["endpoint"] = {**data["endpoint"], "name": ENDPOINT, **endpoint}
    return write_profile(tmp_path, data)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def test_preflight_against_the_emulator_lists_every_check(tmp_path: Path) -> None:
    with running(ModelParams(endpoint_create_delay_s=1), 60.0) as (_emu, handle):
        deploy(client(handle.url, "sagemaker"), ENDPOINT)
        result, took = cli(clean_env(tmp_path), "preflight", str(profile_file(tmp_path)), "--endpoint-url", handle.url,
                           "--apply-scaling")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"✓ region: us-east-1; all services → {handle.url}" in out
    assert "✓ caller identity: account 000000000000, arn:aws:iam::000000000000:user/test" in out
    assert f"✓ endpoint {ENDPOINT}: InService, AllTraffic ml.m5.large × 1 (desired 1)" in out
    assert "✓ scaling: the profile's, applied by the run: 1..4 instances; policy " in out
    assert ("✓ instance quota: 'ml.m5.large for endpoint usage' is 100 (L-735C41FD); 1 in use across 1 endpoint(s), "
            f"1 by {ENDPOINT}; the run may reach 4: 4 of 100") in out
    for action in READ_ACTIONS:
        if not action.startswith("s3:"):  # S3 only for async endpoints
            assert f"✓ {action}: allowed" in out, (action, out)
    assert "preflight passed in " in out
    print(f"preflight passed in {took:.2f} s wall")


def test_preflight_checks_the_async_paths(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "profiles" / "async-scale-from-zero.yaml").read_text())
    data["endpoint"]["async"].update({"input_path": "s3://in-bucket/input", "output_path": "s3://out-bucket/out",
                                      "failure_path": "s3://out-bucket/fail"})
    data["endpoint"].update(REAL_MODEL)
    with running(ModelParams(), 60.0) as (_emu, handle):
        client(handle.url, "s3").create_bucket(Bucket="out-bucket")
        result, _ = cli(clean_env(tmp_path), "preflight", str(write_profile(tmp_path, data)), "--endpoint-url",
                        handle.url, *CONSENT)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "✓ s3://in-bucket/input (endpoint.async.input_path): bucket in-bucket does not exist yet: setup creates " \
           "it on the emulator" in out
    assert "✓ s3://out-bucket/out (endpoint.async.output_path): bucket out-bucket reachable" in out
    assert "✓ s3:ListBucket: allowed" in out and "✓ s3:GetObject: allowed (NoSuchKey for the probe)" in out


def test_a_missing_endpoint_the_profile_may_not_create_is_a_profile_problem(tmp_path: Path) -> None:
    with running(ModelParams(), 60.0) as (_emu, handle):
        result, took = cli(clean_env(tmp_path), "preflight", str(profile_file(tmp_path, create=False)),
                           "--endpoint-url", handle.url)
    assert result.returncode == 104, result.stdout + result.stderr
    assert f"✗ endpoint {ENDPOINT}: does not exist in us-east-1 and the run may not create it" in result.stdout
    assert one_line(result.stderr).startswith(f"scalecheck: preflight failed: endpoint {ENDPOINT}: does not exist")
    assert took < BOUND_S


FAILURES = {
    "refused-credentials": ("UnrecognizedClientException", 105),
    "dead-endpoint": ("cannot reach http://127.0.0.1:", 105),
    "endpoint-never-answers": ("cannot reach http://127.0.0.1:", 105),
    "no-credentials": ("no usable AWS credentials: looked in the environment", 105),
    "no-such-profile": ("AWS profile 'nope' does not exist", 104),
    "expired-sso": ("run `aws sso login --profile sso-dev`", 105),
}

SSO_CONFIG = """[profile sso-dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ScalecheckRunner
region = us-east-1

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
"""


@pytest.mark.parametrize("case", list(FAILURES))
def test_each_preflight_failure_gives_its_line_and_exit_code_in_seconds(tmp_path: Path, case: str) -> None:
    expected, code = FAILURES[case]
    profile = str(profile_file(tmp_path))
    env = clean_env(tmp_path)
    if case == "refused-credentials":
        with emulator_accepting({"someone-else": "secret"}) as url:
            result, took = cli(env, "preflight", profile, "--endpoint-url", url)
    elif case == "dead-endpoint":
        result, took = cli(env, "preflight", profile, "--endpoint-url", f"http://127.0.0.1:{closed_port()}")
    elif case == "endpoint-never-answers":  # the kernel completes the handshake; nobody ever reads or answers
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            result, took = cli(env, "preflight", profile, "--endpoint-url",
                               f"http://127.0.0.1:{silent.getsockname()[1]}")
    elif case == "no-credentials":  # not loopback, so the credential chain runs (and finds nothing)
        result, took = cli(env, "preflight", profile, "--endpoint-url", NOWHERE)
    elif case == "no-such-profile":
        result, took = cli(env, "preflight", profile, "--aws-profile", "nope", "--endpoint-url",
                           f"http://127.0.0.1:{closed_port()}")
    else:  # an SSO profile never logged in: botocore finds no token in ~/.aws/sso/cache (HOME is empty)
        Path(env["AWS_CONFIG_FILE"]).write_text(SSO_CONFIG)
        result, took = cli(env, "preflight", profile, "--aws-profile", "sso-dev", "--endpoint-url", NOWHERE)
    print(f"{case}: exit {result.returncode} in {took:.2f} s wall")
    assert result.returncode == code, result.stdout + result.stderr
    line = one_line(result.stderr)
    assert expected in line, line
    if code == 105:  # the checklist says which check stopped it, and that the rest did not run
        assert "✗ caller identity: " in result.stdout or "credentials refused" in result.stdout, result.stdout
        assert "· remaining checks: stopped at the failure above" in result.stdout
    assert took < BOUND_S, took


def test_a_missing_instance_quota_fails(tmp_path: Path) -> None:
    with running(ModelParams(), 60.0) as (_emu, handle):
        result, took = cli(clean_env(tmp_path), "preflight", str(profile_file(tmp_path, instance_type="ml.none.9xl")),
                           "--endpoint-url", handle.url)
    assert result.returncode == 105, result.stdout + result.stderr
    assert "✗ instance quota: no quota named 'ml.none.9xl for endpoint usage'" in result.stdout
    assert took < BOUND_S


@pytest.mark.parametrize("command", ["plan", "simulate"])
def test_from_endpoint_without_credentials_is_one_line(tmp_path: Path, command: str) -> None:
    env = clean_env(tmp_path, AWS_ENDPOINT_URL=NOWHERE)
    result, took = cli(env, command, str(profile_file(tmp_path)), "--from-endpoint", ENDPOINT,
                       *(["--reports", str(tmp_path / "reports")] if command == "simulate" else []))
    assert result.returncode == 105, result.stdout + result.stderr
    assert one_line(result.stderr).startswith("scalecheck: infrastructure error: no usable AWS credentials")
    assert took < BOUND_S


@pytest.mark.parametrize("command", ["run", "setup", "plan"])
def test_a_profile_name_that_does_not_exist_is_one_line_in_every_command(tmp_path: Path, command: str) -> None:
    args = [command, str(profile_file(tmp_path)), "--aws-profile", "nope"]
    args += ["--apply-scaling"] if command == "setup" else []
    args += ["--from-endpoint", ENDPOINT] if command == "plan" else []
    args += ["--reports", str(tmp_path / "reports")] if command == "run" else []
    result, _ = cli(clean_env(tmp_path), *args)
    assert result.returncode == 104, result.stdout + result.stderr
    assert "AWS profile 'nope' does not exist" in one_line(result.stderr)


def test_the_profiles_endpoint_url_in_the_config_file_is_the_target(tmp_path: Path) -> None:
    with running(ModelParams(), 60.0) as (_emu, handle):
        env = clean_env(tmp_path)
        Path(env["AWS_CONFIG_FILE"]).write_text(f"[profile emulator]\nendpoint_url = {handle.url}\n")
        result, _ = cli(env, "preflight", str(profile_file(tmp_path, **REAL_MODEL)), "--aws-profile", "emulator",
                        *CONSENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"✓ region: us-east-1; all services → {handle.url} (the emulator: its test credentials)" in result.stdout
