"""Distributed load end to end: `scalecheck run --processes 2` (a Locust master and two forked workers on
loopback) against the emulator; the merged load.jsonl counts exactly what the emulator received."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import exitcodes
from harness.autoscaling.params import ModelParams
from harness.emulator.process import EmulatorProcess
from harness.observe.aws import emulator_clock
from harness.record import RunFolder
from tests.conftest import CONSENT, REAL_MODEL, ROOT, scalecheck, write_profile
from tests.emulator_support import client

pytestmark = pytest.mark.integration

SPEED = 60.0
LAG_S = 10.0


def _sum(cloudwatch: object, metric: str, endpoint: str, start_ts: float, end_ts: float) -> float:
    points = cloudwatch.get_metric_statistics(  # type: ignore[attr-defined]
        Namespace="AWS/SageMaker", MetricName=metric, Statistics=["Sum"], Period=60,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=dt.datetime.fromtimestamp(start_ts, dt.UTC), EndTime=dt.datetime.fromtimestamp(end_ts, dt.UTC))
    return sum(p["Sum"] for p in points["Datapoints"])


def _profile(tmp_path: Path, mode: str) -> Path:
    # 2 rps of endpoint time for 180 s at speed 60: 120 wall requests/s for 3 s, about 360 requests
    return write_profile(tmp_path, {
        "name": "distributed", "endpoint": {"name": "dist-ep", **REAL_MODEL},
        "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
            {"type": "target_tracking", "name": "tt", "target_value": 1000}]},
        "traffic": {"stages": [{"name": "steady", "duration": "180s", "rate_rps": 2}], "mode": mode,
                    "arrivals": "poisson", "seed": 3}})


def _check_against_the_emulator(emulator: EmulatorProcess, reports: Path) -> None:
    """The run folder's merged load: both workers' records, and exactly the requests the emulator got."""
    [path] = [p for p in reports.iterdir() if p.is_dir()]
    recorded = RunFolder(path).load()
    run = recorded.run
    assert run.load_start_ts is not None and run.load_end_ts is not None and run.first_request_ts is not None
    kinds = [e.kind for e in recorded.events]
    assert kinds.count("load_start") == 1 and kinds.count("load_stop") == 1  # the master's, once
    assert "Traceback" not in (path / "locust.log").read_text()

    load = recorded.load
    assert max(r.workers or 0 for r in load) == 2  # records of both workers merged
    assert sum(1 for r in load if r.workers == 2) >= len(load) / 2
    requests = sum(r.requests for r in load)
    failures = sum(r.failures for r in load)
    throttled = sum(r.errors.get("ThrottlingException", 0) for r in load)
    offered = sum(r.offered_rps * r.interval_s for r in load)
    assert 300 <= offered <= 420, offered  # the whole schedule, split across the workers
    assert requests >= 0.5 * offered, (requests, offered)

    # ground truth: every invocation the emulator received (CloudWatch Invocations, once published)
    cloudwatch = client(emulator.url, "cloudwatch")
    start, end = run.load_start_ts - 600, run.load_end_ts + 600
    clock = emulator_clock(emulator.url)
    wait_wall = (run.load_end_ts + LAG_S + 120 - clock.endpoint_ts()) / SPEED  # published and its minute closed
    time.sleep(min(max(0.0, wait_wall), 10.0))
    invocations = _sum(cloudwatch, "Invocations", "dist-ep", start, end)
    errors_5xx = _sum(cloudwatch, "Invocation5XXErrors", "dist-ep", start, end)
    assert requests - throttled == invocations, (requests, throttled, invocations)
    assert failures - throttled == errors_5xx, (failures, errors_5xx)


def test_two_worker_processes_share_the_load_and_the_merged_counts_equal_the_emulators(tmp_path: Path,
                                                                                         reports: Path) -> None:
    emulator = EmulatorProcess.start(speed=SPEED, params=ModelParams(endpoint_create_delay_s=30,
                                                                     metric_publish_lag_s=LAG_S))
    try:
        profile = _profile(tmp_path, "open")
        result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, *CONSENT,
                            "--speed", f"{SPEED:g}",
                            "--processes", "2", "--reports", str(reports), timeout=120)
        out = result.stdout + result.stderr
        # a starved machine can make the load fall short (101); the counts must agree either way
        assert result.returncode in (exitcodes.OK, exitcodes.INVALID_RUN), out
        assert "in 2 Locust worker process(es)" in out
        _check_against_the_emulator(emulator, reports)
    finally:
        emulator.stop()



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_master_and_two_scalecheck_workers_closed_loop(tmp_path: Path, reports: Path) -> None:
    emulator = EmulatorProcess.start(speed=SPEED, params=ModelParams(endpoint_create_delay_s=30,
                                                                     metric_publish_lag_s=LAG_S))
    port = str(_free_port())
    workers: list[subprocess.Popen[str]] = []
    try:
        profile = _profile(tmp_path, "closed")
        env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"}
        for _ in range(2):  # they wait for the master (Locust retries the connection)
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "run", str(profile), "--worker", "--master-port", port,
                 "--endpoint-url", emulator.url], cwd=ROOT, env=env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, *CONSENT,
                            "--speed", f"{SPEED:g}",
                            "--master", "--expect-workers", "2", "--master-bind-port", port,
                            "--reports", str(reports), timeout=120)
        out = result.stdout + result.stderr
        assert result.returncode in (exitcodes.OK, exitcodes.INVALID_RUN), out
        assert f"Locust master on 127.0.0.1:{port} waiting for 2 worker(s)" in out
        for worker in workers:  # each exits when the master stops
            worker_out, _ = worker.communicate(timeout=30)
            assert worker.returncode == 0, worker_out
            assert "connecting to the Locust master at 127.0.0.1:" + port in worker_out
            assert "load started" in worker_out
        _check_against_the_emulator(emulator, reports)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
        emulator.stop()


def test_async_endpoint_each_worker_tracks_its_own_completion_sample(tmp_path: Path, reports: Path) -> None:
    emulator = EmulatorProcess.start(speed=SPEED, params=ModelParams(endpoint_create_delay_s=30))
    try:
        # 1 rps for 180 s, uniform: exactly 180 arrivals; half of the accepted requests are tracked to completion
        profile = write_profile(tmp_path, {
            "name": "distributed-async", "region": "us-east-1",
            "endpoint": {"name": "dist-async-ep", "type": "async", **REAL_MODEL, "async": {
                "input_path": "s3://scalecheck-dist/input", "output_path": "s3://scalecheck-dist/output",
                "failure_path": "s3://scalecheck-dist/failure", "max_concurrent_invocations_per_instance": 20,
                "completion_sample": 0.5, "poll_interval": "10s"}},
            "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [{
                "type": "target_tracking", "name": "tt", "target_value": 1000, "custom_metric": {
                    "name": "ApproximateBacklogSizePerInstance", "namespace": "AWS/SageMaker",
                    "statistic": "Average", "dimensions": {"EndpointName": "dist-async-ep"}}}]},
            "traffic": {"stages": [{"name": "steady", "duration": "180s", "rate_rps": 1}], "mode": "open"}})
        result = scalecheck("run", str(profile), "--endpoint-url", emulator.url, *CONSENT,
                            "--speed", f"{SPEED:g}",
                            "--processes", "2", "--reports", str(reports), timeout=120)
        out = result.stdout + result.stderr
        assert result.returncode in (exitcodes.OK, exitcodes.INVALID_RUN), out
        [path] = [p for p in reports.iterdir() if p.is_dir()]
        load = RunFolder(path).load().load
        assert max(r.workers or 0 for r in load) == 2
        requests, dropped = sum(r.requests for r in load), sum(r.dropped for r in load)
        accepted = requests - sum(r.failures for r in load)
        assert requests + dropped == 180, (requests, dropped)  # the two halves of the uniform schedule
        completions = sum(r.completions for r in load)
        assert abs(completions - 0.5 * accepted) <= 1, (completions, accepted)  # each worker's sample, all done
        assert "Traceback" not in (path / "locust.log").read_text()
    finally:
        emulator.stop()
