"""Locust users for the load-generator benchmark (``harness.bench.loadgen``); not part of a run.

Three closed-loop users (``wait_time = constant(0)``), each sending the same InvokeEndpoint request:

- ``ScalecheckUser``: the per-send path of ``harness.load.users.RealtimeUser`` without the profile machinery:
  ``Signer.headers(request)`` (fresh SigV4 signature) then ``FastHttpUser.client.post``.
- ``Boto3User``: today's practice: one boto3 ``sagemaker-runtime`` client shared by all users of the process,
  ``invoke_endpoint`` timed and reported to Locust by hand.
- ``UnsignedUser``: the ceiling: a FastHttpUser POST with no per-request signing. Its headers are signed once
  at start and replayed (the emulator never compares the signature time with a clock), so the server does the
  same work for it as for the other two while the load generator does none of the signing.

Configured by environment variables (set by ``harness.bench.loadgen``): ``SCALECHECK_BENCH_ENDPOINT``,
``SCALECHECK_BENCH_REGION``, ``SCALECHECK_BENCH_OUT`` (JSON file for the measurement window),
``SCALECHECK_BENCH_SERVER_PID`` (whose CPU time is read in the same window), ``SCALECHECK_BENCH_WARMUP_S`` and
``SCALECHECK_BENCH_WINDOW_S``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust import FastHttpUser, User, constant, events, task

from harness.bench.loadgen import proc_cpu_seconds
from harness.load.invoke import Signer, invoke_request, resolve_credentials

ENDPOINT = os.environ.get("SCALECHECK_BENCH_ENDPOINT", "bench")
REGION = os.environ.get("SCALECHECK_BENCH_REGION", "us-east-1")
PAYLOAD = b"1.0,2.0,3.0,4.0"
CONTENT_TYPE = "text/csv"

_shared: dict[str, Any] = {}


def _signer(host: str) -> Signer:
    if "signer" not in _shared:
        _shared["signer"] = Signer(REGION, host, resolve_credentials(REGION, host))
    return _shared["signer"]


def _finish(response: Any) -> None:
    if response.status_code == 200:
        response.success()
    else:
        response.failure(f"HTTP {response.status_code}")


class ScalecheckUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self._signer = _signer(self.host or "")
        self._request = invoke_request(ENDPOINT, PAYLOAD, CONTENT_TYPE, accept="*/*")

    @task
    def invoke(self) -> None:
        request = self._request
        headers = self._signer.headers(request)
        with self.client.post(request.path, data=request.body, headers=headers, name="InvokeEndpoint",
                              catch_response=True) as response:
            _finish(response)


class UnsignedUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self._request = invoke_request(ENDPOINT, PAYLOAD, CONTENT_TYPE, accept="*/*")
        self._headers = _signer(self.host or "").headers(self._request)  # once, then replayed

    @task
    def invoke(self) -> None:
        with self.client.post(self._request.path, data=self._request.body, headers=self._headers,
                              name="InvokeEndpoint", catch_response=True) as response:
            _finish(response)


def _boto3_client(host: str, users: int) -> Any:
    if "boto3" not in _shared:
        import boto3
        import botocore.config

        config = botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=max(10, users))
        _shared["boto3"] = boto3.Session().client(
            "sagemaker-runtime", region_name=REGION, endpoint_url=host, aws_access_key_id="test",
            aws_secret_access_key="test", config=config)
    return _shared["boto3"]


class Boto3User(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        self._client = _boto3_client(self.host or "", self.environment.parsed_options.num_users
                                     if self.environment.parsed_options else 10)

    @task
    def invoke(self) -> None:
        started = time.perf_counter()
        exception = None
        length = 0
        try:
            response = self._client.invoke_endpoint(EndpointName=ENDPOINT, Body=PAYLOAD, ContentType=CONTENT_TYPE,
                                                    Accept="*/*")
            length = len(response["Body"].read())
        except Exception as err:  # noqa: BLE001 -- reported to Locust as a failure
            exception = err
        self.environment.events.request.fire(
            request_type="POST", name="InvokeEndpoint", response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length, exception=exception, context={})


# --- the measurement window ------------------------------------------------------------------


def _snapshot(environment: Any, server_pid: int | None) -> dict[str, float]:
    cpu = os.times()
    total = environment.runner.stats.total
    return {"t": time.monotonic(), "cpu": cpu.user + cpu.system, "requests": total.num_requests,
            "failures": total.num_failures,
            "server_cpu": proc_cpu_seconds(server_pid) if server_pid else 0.0}


def _measure(environment: Any) -> None:
    out = os.environ.get("SCALECHECK_BENCH_OUT")
    if not out:
        return
    server_pid = int(os.environ.get("SCALECHECK_BENCH_SERVER_PID", "0")) or None
    gevent.sleep(float(os.environ.get("SCALECHECK_BENCH_WARMUP_S", "2")))
    first = _snapshot(environment, server_pid)
    gevent.sleep(float(os.environ.get("SCALECHECK_BENCH_WINDOW_S", "6")))
    last = _snapshot(environment, server_pid)
    with open(out, "w") as f:
        json.dump({"first": first, "last": last}, f)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    gevent.spawn(_measure, environment)
