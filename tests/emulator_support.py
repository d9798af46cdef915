"""Test support for talking to an in-process emulator through real boto3 clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.config

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.http import ServerHandle, start_in_thread

# total_max_attempts counts the first try: no retries, so errors surface at once. S3 is addressed
# path style (http://127.0.0.1:port/bucket/key), the only style the emulator serves.
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})


@contextmanager
def running(params: ModelParams, speed: float) -> Iterator[tuple[Emulator, ServerHandle]]:
    """An emulator with its ticker, served on a free loopback port, stopped afterwards."""
    emu = Emulator(params, speed=speed)
    emu.start_ticker()
    handle = start_in_thread(emu.router)
    try:
        yield emu, handle
    finally:
        handle.stop()
        emu.stop()


def client(url: str, service: str, *, key: str = "test", secret: str = "test", region: str = "us-east-1") -> Any:
    """A real boto3 client for ``service`` pointed at the emulator at ``url``."""
    return boto3.Session().client(service, endpoint_url=url, region_name=region, aws_access_key_id=key,
                                  aws_secret_access_key=secret, config=NO_RETRIES)


def wait_until(probe: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    """Poll ``probe`` until it returns something truthy; bounded by ``timeout_s`` wall seconds — a safety bound
    for a busy machine, not what a test checks: the emulator's events happen in endpoint time."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {value!r}")
        time.sleep(0.02)


def deploy(sm: Any, endpoint: str, *, variant: str = "AllTraffic", instances: int = 1) -> None:
    """Create model, endpoint config and endpoint, and wait until it is InService."""
    sm.create_model(ModelName=f"{endpoint}-m", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    sm.create_endpoint_config(EndpointConfigName=f"{endpoint}-c", ProductionVariants=[
        {"VariantName": variant, "ModelName": f"{endpoint}-m", "InitialInstanceCount": instances,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-c")
    wait_until(lambda: sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService",
               f"{endpoint} InService")
