"""The one place boto3 clients are built, for real AWS or the emulator alike.

Against AWS the standard credential chain applies (environment, shared profile, SSO, instance role).
Against the emulator (``endpoint_url`` set) the emulator's own credentials are used unless the
caller passes others. :func:`make_clients` retries in botocore's *standard* mode with AWS's advised
70 s read timeout (InvokeEndpoint's). :func:`collector_clients` derives, from the same session and
target, the clients the collector polls with: botocore's *adaptive* mode (standard retries plus
client-side rate limiting once throttled), at most :data:`COLLECTOR_ATTEMPTS` attempts per call and
short timeouts, so a throttled or hung API costs a feed seconds, not minutes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from harness.errors import InfrastructureError
from harness.record import Clock

EMULATOR_CREDENTIALS = ("test", "test")
COLLECTOR_ATTEMPTS = 3  # attempts in all (the first and two retries) per collector call
COLLECTOR_CONNECT_TIMEOUT_S = 3.0
COLLECTOR_READ_TIMEOUT_S = 10.0  # the polled APIs answer in well under a second when healthy


@dataclass(frozen=True)
class Target:
    """Where the endpoint lives: a region, and an ``endpoint_url`` when it is the emulator."""

    region: str
    endpoint_url: str | None = None
    profile_name: str | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def runtime_host(self) -> str:
        """Base URL of SageMaker Runtime (for the load generator)."""
        return self.endpoint_url or f"https://runtime.sagemaker.{self.region}.amazonaws.com"


@dataclass(frozen=True)
class Clients:
    """boto3 clients for the services scalecheck talks to."""

    sagemaker: Any
    runtime: Any
    autoscaling: Any
    cloudwatch: Any
    session: boto3.session.Session
    s3: Any = None  # asynchronous inference reads inputs from and writes results to S3
    target: Target | None = None  # where they point (None: made elsewhere)


def make_session(target: Target) -> boto3.session.Session:
    if target.is_local:
        key, secret = EMULATOR_CREDENTIALS
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                     region_name=target.region)
    return boto3.session.Session(profile_name=target.profile_name, region_name=target.region)


def make_clients(target: Target, *, max_attempts: int = 5, read_timeout_s: float = 70.0) -> Clients:
    """Clients with standard retries; 70 s read timeout as AWS advises for InvokeEndpoint (aws-semantics §9)."""
    session = make_session(target)
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": max_attempts},
                                    connect_timeout=10, read_timeout=read_timeout_s)

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=target.endpoint_url, config=config)

    # The emulator serves S3 path style only (http://127.0.0.1:port/bucket/key); AWS takes either.
    s3_config = config.merge(botocore.config.Config(s3={"addressing_style": "path"})) if target.is_local else config
    return Clients(sagemaker=client("sagemaker"), runtime=client("sagemaker-runtime"),
                   autoscaling=client("application-autoscaling"), cloudwatch=client("cloudwatch"),
                   session=session,
                   s3=session.client("s3", endpoint_url=target.endpoint_url, config=s3_config), target=target)


def collector_clients(clients: Clients) -> Clients:
    """The collector's SageMaker, Application Auto Scaling and CloudWatch clients: ``clients``' session and
    target, adaptive retries capped at :data:`COLLECTOR_ATTEMPTS` attempts, short connect and read timeouts.

    Clients not made by :func:`make_clients` (no ``target``) are returned as they are.
    """
    target = getattr(clients, "target", None)
    if target is None:
        return clients
    config = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": COLLECTOR_ATTEMPTS},
                                    connect_timeout=COLLECTOR_CONNECT_TIMEOUT_S,
                                    read_timeout=COLLECTOR_READ_TIMEOUT_S)

    def client(name: str) -> Any:
        return clients.session.client(name, endpoint_url=target.endpoint_url, config=config)

    return Clients(sagemaker=client("sagemaker"), runtime=clients.runtime,
                   autoscaling=client("application-autoscaling"), cloudwatch=client("cloudwatch"),
                   session=clients.session, s3=clients.s3, target=target)


def check_access(clients: Clients, target: Target) -> None:
    """Fail early with :class:`InfrastructureError` when the service or the credentials are not usable."""
    where = target.endpoint_url or f"AWS region {target.region}"
    try:
        clients.sagemaker.list_endpoints(MaxResults=1)
    except botocore.exceptions.NoCredentialsError:
        raise InfrastructureError(
            "no AWS credentials found (environment, shared config, SSO or instance role); "
            "use --local to run against the embedded emulator") from None
    except botocore.exceptions.EndpointConnectionError as err:
        raise InfrastructureError(f"cannot reach {where}: {err}") from None
    except botocore.exceptions.ClientError as err:
        e = err.response.get("Error", {})
        raise InfrastructureError(f"{where} refused the request: {e.get('Code')}: {e.get('Message')}") from None


def emulator_clock(endpoint_url: str, timeout_s: float = 5.0) -> Clock:
    """The emulator's wall → endpoint time mapping (from its ``/_emulator/clock`` route)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_emulator/clock", timeout=timeout_s) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise InfrastructureError(f"the emulator at {endpoint_url} did not answer its clock route: {err}") from None
    return Clock(wall0_ts=float(data["wall_ts"]), endpoint0_ts=float(data["endpoint_ts"]), speed=float(data["speed"]))
