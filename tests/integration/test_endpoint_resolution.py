"""One resolved target for every client (harness/observe/endpoints.py, aws.py ``Target``): ``AWS_ENDPOINT_URL``
alone sends everything — setup, the collector and the load — to the emulator, and ``run.json`` says where each
service's requests went; a mix that would load one place and observe another is refused before any traffic.

Nothing here reaches AWS: the environment has no AWS credentials (empty shared files, no instance metadata), and a
refused mix is refused before any request is even signed."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from harness import exitcodes
from harness.autoscaling.params import ModelParams
from harness.emulator.process import EmulatorProcess
from harness.observe.aws import emulator_clock
from harness.observe.endpoints import SERVICES
from harness.record import RunFolder
from tests.cli_support import clean_env, cli, closed_port
from tests.conftest import CONSENT, REAL_MODEL, write_profile
from tests.emulator_support import client, running

pytestmark = pytest.mark.integration

SPEED = 60.0
LAG_S = 10.0
ENDPOINT = "resolved-ep"


def _profile(tmp_path: Path) -> Path:
    # 2 rps of endpoint time for 120 s at speed 60: 120 wall requests/s for 2 s, about 240 requests
    return write_profile(tmp_path, {
        "name": "resolution", "endpoint": {"name": ENDPOINT, **REAL_MODEL},
        "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 1000}]},
        "traffic": {"stages": [{"name": "steady", "duration": "120s", "rate_rps": 2}], "arrivals": "poisson",
                    "seed": 5}})


def _invocations(url: str, start_ts: float, end_ts: float) -> float:
    points = client(url, "cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", Statistics=["Sum"], Period=60,
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=dt.datetime.fromtimestamp(start_ts, dt.UTC), EndTime=dt.datetime.fromtimestamp(end_ts, dt.UTC))
    return sum(p["Sum"] for p in points["Datapoints"])


def test_aws_endpoint_url_alone_sends_every_request_load_included_to_the_emulator(tmp_path: Path) -> None:
    emulator = EmulatorProcess.start(speed=SPEED, params=ModelParams(endpoint_create_delay_s=30,
                                                                     metric_publish_lag_s=LAG_S))
    try:
        reports = tmp_path / "reports"
        env = clean_env(tmp_path, AWS_ENDPOINT_URL=emulator.url)  # no --endpoint-url
        result, _ = cli(env, "run", str(_profile(tmp_path)), "--speed", f"{SPEED:g}", "--reports", str(reports),
                        *CONSENT, timeout=180)
        out = result.stdout + result.stderr
        # a starved machine can make the load fall short (101); where the requests went must hold either way
        assert result.returncode in (exitcodes.OK, exitcodes.INVALID_RUN), out
        assert f"✓ region: us-east-1; all services → {emulator.url}" in out
        [folder] = [p for p in reports.iterdir() if p.is_dir()]
        recorded = RunFolder(folder).load()
        run = recorded.run
        assert run.mode == "local" and run.speed == SPEED
        assert run.endpoints == dict.fromkeys(SERVICES, emulator.url), run.endpoints
        assert run.load_start_ts is not None and run.load_end_ts is not None
        requests = sum(i.requests for i in recorded.load)
        throttled = sum(i.errors.get("ThrottlingException", 0) for i in recorded.load)
        failures = sum(i.failures for i in recorded.load)
        assert requests > 100 and failures == throttled, (requests, failures, throttled)
        # ground truth: every invocation the emulator received (CloudWatch Invocations, once published)
        clock = emulator_clock(emulator.url)
        time.sleep(min(max(0.0, (run.load_end_ts + LAG_S + 120 - clock.endpoint_ts()) / SPEED), 10.0))
        assert requests - throttled == _invocations(emulator.url, run.load_start_ts - 600, run.load_end_ts + 600)
    finally:
        emulator.stop()


MIXES = {
    # the load to AWS, everything else to the emulator
    "runtime-on-aws": ({"AWS_ENDPOINT_URL": "{emu}",
                        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "https://runtime.sagemaker.us-east-1.amazonaws.com"},
                       "sagemaker-runtime → AWS us-east-1 (https://runtime.sagemaker.us-east-1.amazonaws.com:443)"),
    # the load to the emulator, the setup and the observation to AWS
    "runtime-on-loopback": ({"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "{emu}"},
                            "sagemaker-runtime → {host} ({emu})"),
    # two emulators: the metrics of another one
    "two-emulators": ({"AWS_ENDPOINT_URL": "{emu}", "AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:{other}"},
                      "cloudwatch → 127.0.0.1:{other} (http://127.0.0.1:{other})"),
}


@pytest.mark.parametrize("mix", list(MIXES))
@pytest.mark.parametrize("command", ["run", "preflight"])
def test_a_mix_of_places_is_refused_before_any_traffic(tmp_path: Path, mix: str, command: str) -> None:
    variables, expected = MIXES[mix]
    other = closed_port()
    with running(ModelParams(), 60.0) as (_emu, handle):
        fill = {"emu": handle.url, "host": handle.url.split("://")[1], "other": other}
        env = clean_env(tmp_path, **{k: v.format(**fill) for k, v in variables.items()})
        reports = tmp_path / "reports"
        args = ["--reports", str(reports)] if command == "run" else []
        result, took = cli(env, command, str(_profile(tmp_path)), "--speed", "60", *args) if command == "run" \
            else cli(env, command, str(_profile(tmp_path)))
        sagemaker = client(handle.url, "sagemaker")
        assert sagemaker.list_endpoints()["Endpoints"] == []  # nothing was created: no setup, no load
    assert result.returncode == exitcodes.INVALID_CONFIG, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "would go to different places" in lines[0] and expected.format(**fill) in lines[0], lines[0]
    assert not reports.exists() or not any(reports.iterdir())
    assert took < 10
