"""Plain `locust -f locustfile.py` with an async profile: AsyncUser against the emulator's
InvokeEndpointAsync and S3, with completion tracking, end to end."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from harness.autoscaling.params import ModelParams
from harness.emulator.process import EmulatorProcess
from harness.record import LoadInterval, RunEvent
from tests.conftest import ROOT, write_profile
from tests.emulator_support import client, wait_until

pytestmark = pytest.mark.integration

SPEED = 120.0
PROCESSING_S = 20.0  # async_processing_s, no jitter: every request takes exactly this long once dispatched
CONCURRENCY = 5  # MaxConcurrentInvocationsPerInstance, one instance: 0.25 requests/s of capacity
RATE_RPS = 0.5  # offered: twice the capacity, so a backlog builds and later requests queue
DURATION_S = 240.0
POLL_S = 5.0
SAMPLE = 0.5
BUCKET = "scalecheck-async-it"
PAYLOAD = '{"prompt": "a lighthouse at dusk"}'
# endpoint-time slack for wall-clock hiccups of two processes on shared cores (0.1 s wall = 12 s)
SLACK_S = 15.0


def _s3(url: str) -> Any:
    return boto3.Session().client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                                  aws_secret_access_key="test",
                                  config=botocore.config.Config(s3={"addressing_style": "path"},
                                                                retries={"total_max_attempts": 1}))


def _deploy_async(url: str, endpoint: str) -> None:
    sm = client(url, "sagemaker")
    sm.create_model(ModelName=f"{endpoint}-m", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    sm.create_endpoint_config(
        EndpointConfigName=f"{endpoint}-c",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{endpoint}-m", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/output",
                                               "S3FailurePath": f"s3://{BUCKET}/failure"},
                              "ClientConfig": {"MaxConcurrentInvocationsPerInstance": CONCURRENCY}})
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-c")
    wait_until(lambda: sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService",
               f"{endpoint} InService")


def _fifo_completions(n: int) -> list[float]:
    """End-to-end times of ``n`` requests arriving evenly over the load into a FIFO backlog served by
    CONCURRENCY slots of PROCESSING_S each: what the emulator should do with what Locust sent."""
    slots = [0.0] * CONCURRENCY
    times = []
    for k in range(n):
        arrival = k * DURATION_S / n
        slot = min(range(CONCURRENCY), key=lambda i: slots[i])
        start = max(arrival, slots[slot])
        slots[slot] = start + PROCESSING_S
        times.append(slots[slot] - arrival)
    return times


def _key(uri: str) -> str:
    return uri.split("/", 3)[3]


def test_async_user_invokes_and_tracks_completions(tmp_path: Path) -> None:
    emulator = EmulatorProcess.start(speed=SPEED, params=ModelParams(
        endpoint_create_delay_s=30, async_processing_s=PROCESSING_S, latency_jitter=0.0))
    try:
        s3 = _s3(emulator.url)
        s3.create_bucket(Bucket=BUCKET)
        _deploy_async(emulator.url, "async-it")
        profile = write_profile(tmp_path, {
            "name": "locust-async",
            "endpoint": {"name": "async-it", "type": "async", "create": False, "async": {
                "input_path": f"s3://{BUCKET}/input", "output_path": f"s3://{BUCKET}/output",
                "failure_path": f"s3://{BUCKET}/failure", "request_ttl": "3600s", "invocation_timeout": "600s",
                "completion_sample": SAMPLE, "poll_interval": f"{POLL_S:g}s"}},
            "scaling": {"min_capacity": 1, "max_capacity": 1, "apply": False},
            "traffic": {"payload": PAYLOAD, "content_type": "application/json",
                        "stages": [{"name": "s", "duration": f"{DURATION_S:g}s", "rate_rps": RATE_RPS}]}})
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        started = time.monotonic()
        # 240 s of endpoint time at speed 120 is 2 s of wall time; then the process stays up (no users)
        # until the sampled requests of the backlog have completed, and exits on its own well before -t
        result = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--headless",
             "--scalecheck-profile", str(profile), "--scalecheck-run-dir", str(run_dir), "--host", emulator.url,
             "--csv", str(tmp_path / "stats"), "--only-summary", "-t", "40s"],
            capture_output=True, text=True, timeout=90, cwd=ROOT, env=env)
        wall_s = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]  # Locust exits 1 on any failed request
        assert wall_s < 30, f"locust took {wall_s:.1f} s: the drain did not end by itself"
        assert "Traceback" not in result.stderr, result.stderr[-3000:]

        with (tmp_path / "stats_stats.csv").open() as fh:
            rows = {r["Name"]: r for r in csv.DictReader(fh)}
        assert "InvokeEndpoint" not in rows  # only the AsyncUser ran
        invoke = rows["InvokeEndpointAsync"]
        assert int(invoke["Failure Count"]) == 0
        assert int(rows["PutObject (payload)"]["Request Count"]) == 1  # the payload is uploaded once

        load = [LoadInterval.model_validate_json(line) for line in (run_dir / "load.jsonl").read_text().splitlines()]
        events = [RunEvent.model_validate_json(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        requests = sum(r.requests for r in load)
        completions = sum(r.completions for r in load)
        assert requests == int(invoke["Request Count"])  # load.jsonl counts invocations only
        assert 0.8 * RATE_RPS * DURATION_S <= requests <= 1.1 * RATE_RPS * DURATION_S
        assert sum(r.failures for r in load) == 0
        assert sum(r.completion_failures for r in load) == 0
        # every 2nd accepted request is tracked, and all of them completed before Locust exited
        assert abs(completions - math.floor(requests * SAMPLE)) <= 1, (completions, requests)

        kinds = [e.kind for e in events]
        assert kinds.count("first_request") == 1 and kinds.count("load_start") == 1
        first = next(e for e in events if e.kind == "first_request")
        load_start = next(e for e in events if e.kind == "load_start")
        load_stop = next(e for e in events if e.kind == "load_stop")
        assert load_start.ts <= first.ts < load_start.ts + 30  # users spread their first requests
        # completions keep being recorded after the load stopped (the drain), in intervals without requests
        drain = [r for r in load if r.ts >= load_stop.ts + 10]  # (a response may land just after the end)
        assert any(r.completions for r in drain)
        assert all(r.requests == 0 and r.stage is None and r.users == 0 for r in drain)

        # end-to-end times: never below the processing time; the first completions (no backlog yet) at
        # about the processing time; the largest as the FIFO backlog predicts
        with_completions = [r for r in load if r.completions]
        assert all(r.completion_s.p50 is not None and r.completion_s.p50 >= PROCESSING_S for r in with_completions)
        first_p50 = with_completions[0].completion_s.p50
        assert first_p50 is not None and first_p50 <= PROCESSING_S + POLL_S + SLACK_S, first_p50
        predicted = _fifo_completions(requests)
        seen_max = max(r.completion_s.max or 0.0 for r in with_completions)
        assert abs(seen_max - max(predicted)) <= POLL_S + 2 * SLACK_S, (seen_max, max(predicted))
        assert seen_max > 4 * PROCESSING_S  # queueing shows

        # the emulator got the payload once and wrote an output object for every request
        inputs = s3.list_objects_v2(Bucket=BUCKET, Prefix="input/").get("Contents", [])
        assert len(inputs) == 1 and inputs[0]["Key"].endswith(".json")
        assert s3.get_object(Bucket=BUCKET, Key=inputs[0]["Key"])["Body"].read() == PAYLOAD.encode()

        def outputs() -> int:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="output/")
            return sum(len(p.get("Contents", [])) for p in pages)

        wait_until(lambda: outputs() == requests, f"{requests} output objects", timeout_s=10)
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="failure/").get("KeyCount") == 0

        figures = {"requests": requests, "completions": completions, "wall_s": round(wall_s, 1),
                   "first_p50": first_p50, "max": seen_max, "predicted_max": round(max(predicted), 1),
                   "p50s": [r.completion_s.p50 for r in with_completions]}
        print(json.dumps(figures))
    finally:
        emulator.stop()
