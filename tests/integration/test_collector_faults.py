"""The collector against an emulator whose CloudWatch fails: throttled on every call, or hung.

Real boto3 clients (``make_clients`` → ``collector_clients``) against an in-process emulator at a high
speed. With CloudWatch throttled, DescribeEndpoint samples keep their interval (bounds are generous: at
least half the count the elapsed wall time allows, where a collector polling every feed in one loop gets
a fraction of it), every CloudWatch poll is recorded as a ``collector_error`` naming the throttling, and
the checks of the folder find a metric-dependent expectation INCONCLUSIVE (never PASS) while a capacity
expectation, which needs only DescribeEndpoint, is decided. With CloudWatch hanging, the first round and
``stop()`` return within bounds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.autoscaling.params import ModelParams
from harness.checks import evaluate
from harness.emulator.app import Emulator
from harness.emulator.faults import Rule
from harness.emulator.http import ServerHandle
from harness.observe.aws import Target, emulator_clock, make_clients
from harness.observe.collector import ROUND_TIMEOUT_S, STOP_JOIN_S, Collector
from harness.profile import Profile, parse_profile
from harness.record import EndpointSample, RunEvent, RunFolder, StageSpan, read_stream
from tests.emulator_support import client, deploy, running
from tests.fixtures_runs import run_info

pytestmark = pytest.mark.integration

SPEED = 50.0
PARAMS = ModelParams(endpoint_create_delay_s=10)
EP = "observed"
DESCRIBE_S, METRICS_S = 10.0, 60.0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    with running(PARAMS, SPEED) as (emu, handle):
        sm = client(handle.url, "sagemaker")
        deploy(sm, EP)
        sm.close()
        yield emu, handle


@pytest.fixture
def emulator(served: tuple[Emulator, ServerHandle]) -> Iterator[tuple[Emulator, str]]:
    emu, handle = served
    yield emu, handle.url
    emu.faults.clear()


def profile(**expectations: Any) -> Profile:
    """An async-typed profile (so a metric-dependent expectation exists) on the emulator's endpoint."""
    return parse_profile({
        "name": "observed",
        "endpoint": {"name": EP, "variant": "AllTraffic", "type": "async", "initial_instance_count": 1},
        "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 5,
             "custom_metric": {"name": "ApproximateBacklogSizePerInstance"}}]},
        "traffic": {"stages": [{"name": "s", "duration": "60s", "rate_rps": 1}]},
        "collector": {"describe_interval": f"{DESCRIBE_S:g}s", "metrics_interval": f"{METRICS_S:g}s"},
        "expectations": list(expectations.values()),
    })


def collect(url: str, folder: RunFolder, prof: Profile, wall_s: float) -> tuple[float, float, float]:
    """Run a collector for ``wall_s`` wall seconds after its first round (as a run does: a round, then the
    feed threads); (endpoint ts at the start, wall s until stop() was called, wall s stop() took)."""
    clock = emulator_clock(url)
    collector = Collector(make_clients(Target("us-east-1", url)), prof, folder, clock,
                          since_ts=clock.endpoint_ts())
    began_ts, began = clock.endpoint_ts(), time.monotonic()
    collector.poll_once()
    collector.start()
    time.sleep(wall_s)
    stopping = time.monotonic()
    collector.stop()
    return began_ts, stopping - began, time.monotonic() - stopping


def events(folder: RunFolder) -> list[str]:
    return [e.detail for e in read_stream(folder.stream_path("events"), RunEvent) if e.kind == "collector_error"]


def test_a_throttled_cloudwatch_leaves_describe_endpoint_on_its_beat(emulator: tuple[Emulator, str],
                                                                      tmp_path: Path) -> None:
    emu, url = emulator
    emu.faults.set([Rule("throttle", "cloudwatch:*")])
    prof = profile(drained={"type": "backlog_drained", "within": "60s", "after": "load_end"},
                   capacity={"type": "capacity_at", "at": "load_start", "offset": "30s", "instances": 1})
    folder = RunFolder.create(tmp_path, run_info(run_id="throttled"))
    began_ts, elapsed_s, _ = collect(url, folder, prof, wall_s=4.0)
    folder.close()

    samples = list(read_stream(folder.stream_path("endpoint"), EndpointSample))
    expected = elapsed_s * SPEED / DESCRIBE_S
    assert len(samples) >= expected / 2, f"{len(samples)} DescribeEndpoint samples in {elapsed_s:.1f}s"
    assert {(s.status, s.current_instances) for s in samples} == {("InService", 1)}
    # No policy is put on the endpoint, so no alarm is watched: GetMetricData is the CloudWatch feed here. Its
    # polls take seconds each (three attempts, backoff, adaptive rate limiting), the others never wait for them.
    errors = events(folder)
    assert errors and set(errors) == {"GetMetricData: Throttling: Rate exceeded"}, errors
    assert not list(read_stream(folder.stream_path("metrics"), EndpointSample))
    (rule,) = emu.faults.describe()
    assert rule["matched"] >= 3 * len(errors) and rule["matched"] == rule["applied"]  # each poll: three attempts

    # The checks of that folder: the capacity is decided, the backlog (CloudWatch only) is never a PASS.
    load_start = began_ts + 20
    span = [StageSpan(name="s", start_ts=load_start, end_ts=load_start + 60)]
    folder.write_run(run_info(run_id="throttled", started_ts=began_ts, load_start_ts=load_start,
                              load_end_ts=load_start + 60, stages=span, speed=SPEED))
    verdicts = {v.name: v.status for v in evaluate(folder.load(), prof, final=True).verdicts}
    assert verdicts == {"capacity_at load_start+30s is 1": "PASS",
                        "backlog_drained": "INCONCLUSIVE"}


def test_stop_returns_promptly_while_cloudwatch_hangs(emulator: tuple[Emulator, str], tmp_path: Path) -> None:
    emu, url = emulator
    emu.faults.set([Rule("delay", "cloudwatch:*", seconds=60)])
    folder = RunFolder.create(tmp_path, run_info(run_id="hung"))
    _, elapsed_s, stop_s = collect(url, folder, profile(), wall_s=1.0)
    folder.close()
    assert stop_s < 15 and STOP_JOIN_S + ROUND_TIMEOUT_S < 15
    assert elapsed_s < 15  # the first round waited at most one describe interval for the hung feeds
    assert list(read_stream(folder.stream_path("endpoint"), EndpointSample))  # DescribeEndpoint went on
    assert emu.faults.describe()[0]["applied"] >= 2  # GetMetricData and DescribeAlarms both hung
