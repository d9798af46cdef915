"""The AWS side of one load generator process: the SigV4 signer its users share, the S3 client async
endpoints need, and the error code of a failed invocation.

On loopback (:func:`is_emulator`: the emulator) the credentials are the emulator's
(:func:`~harness.load.invoke.credentials.emulator_credentials`, never the environment's) and S3 is path
style on the same port; elsewhere the standard credential chain and the region's S3. :func:`signer`
builds one signer per process (kept in ``RUN.signer``; temporary credentials are refreshed before they
expire) and ends the process (SystemExit) when no credentials are found. :func:`error_code` never
raises: the AWS error type, else ``HTTP<status>``, else ``ConnectionError``.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.config

from harness.load.invoke import NoCredentialsError, Signer, is_loopback, resolve_credentials
from harness.load.invoke.credentials import emulator_credentials
from harness.load.state import RUN


def is_emulator(host: str) -> bool:
    """Whether the Locust host is the emulator on loopback (its own credentials, path-style S3 on the same port):
    the same rule as the signer's credentials and the run's clients (harness.observe.endpoints.is_loopback)."""
    return bool(host) and is_loopback(host)


def _session(region: str, host: str) -> boto3.session.Session:
    """The emulator's credentials on loopback (never the environment's), else the standard credential chain."""
    if is_emulator(host):
        key, secret = emulator_credentials()
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    return boto3.session.Session(region_name=region)


def signer(region: str, host: str) -> Signer:
    """One fast SigV4 signer per process (harness.load.invoke), shared by all users; credentials from the standard
    chain (test/test for the emulator on loopback), refreshed when temporary ones near expiry."""
    if RUN.signer is None:
        try:
            RUN.signer = Signer(region, host, resolve_credentials(region, host))
        except NoCredentialsError:
            raise SystemExit("scalecheck locustfile: no AWS credentials found for signing requests") from None
    return RUN.signer


def error_code(response: Any) -> str:
    code = response.headers.get("x-amzn-ErrorType") if response.headers else None
    if not code:
        try:
            code = json.loads(response.content or b"{}").get("__type")
        except (ValueError, AttributeError):
            code = None
    if not code:
        code = f"HTTP{response.status_code}" if response.status_code else "ConnectionError"
    return str(code).split(":")[0]


def s3_client(region: str, host: str) -> Any:
    """boto3 S3 client: the emulator (path style, same port) on loopback, else S3 of the region."""
    emulator = is_emulator(host)
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10,
                                    read_timeout=60, s3={"addressing_style": "path"} if emulator else None)
    return _session(region, host).client("s3", endpoint_url=host.rstrip("/") if emulator else None, config=config)
