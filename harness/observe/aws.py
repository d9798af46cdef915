"""The one place boto3 clients are built, for real AWS or the emulator alike, from one resolved :class:`Target`.

A :class:`Target` is a region, an optional explicit ``endpoint_url`` (``--endpoint-url``, ``--local``) and an
optional shared-config profile (``--aws-profile``). Its :attr:`Target.endpoints` — every service's URL, resolved
once by botocore (:mod:`harness.observe.endpoints`: the explicit URL, ``AWS_ENDPOINT_URL_<SERVICE>``,
``AWS_ENDPOINT_URL``, the config file's ``services`` section, the profile's ``endpoint_url``, else AWS) — drive
the boto3 clients (setup, collector, preflight), the Locust ``--host`` (:meth:`Target.runtime_host`), the
environment of the load generator (:meth:`Target.load_environment`: region, credentials) and ``run.json``'s
``endpoints``. A target whose services would reach different places raises
:class:`~harness.errors.ConfigError` on first use, before anything is sent.

Credentials: on a loopback target (:attr:`Target.is_local`, the emulator) the emulator's ``test``/``test``,
as the load generator's signer uses there; elsewhere the standard chain of the profile (environment, shared
files, SSO, container and instance roles). A profile name that does not exist raises ``ConfigError``.

Clients: :func:`make_clients` for the run (standard retries, a 70 s read timeout as AWS advises for
InvokeEndpoint); :func:`collector_clients`, the collector's: botocore's *adaptive* mode (standard retries plus
client-side rate limiting once throttled), at most :data:`COLLECTOR_ATTEMPTS` attempts per call and short
timeouts, so a throttled or hung API costs a feed seconds, not minutes; :func:`preflight_clients` for checks
that must fail within seconds on a dead network (:data:`PROBE_CONFIG` for the first call, one attempt;
:data:`PREFLIGHT_CONFIG`, short timeouts and at most 2 attempts, for the others). :func:`check_access` is the
quick probe of commands that do not run a full preflight.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from harness.errors import InfrastructureError
from harness.observe.endpoints import check_places, is_loopback, origin, resolve_endpoints
from harness.observe.failures import translate
from harness.record import Clock

EMULATOR_CREDENTIALS = ("test", "test")
COLLECTOR_ATTEMPTS = 3  # attempts in all (the first and two retries) per collector call
COLLECTOR_CONNECT_TIMEOUT_S = 3.0
COLLECTOR_READ_TIMEOUT_S = 10.0  # the polled APIs answer in well under a second when healthy

PROBE_CONFIG = botocore.config.Config(connect_timeout=1.5, read_timeout=2.5,
                                      retries={"mode": "standard", "total_max_attempts": 1})
"""The first call of a preflight (GetCallerIdentity) and :func:`check_access`: one attempt, so that a dead network
or a server that never answers fails it within 2.5 s, not after 27 s of retries."""

PREFLIGHT_CONFIG = botocore.config.Config(connect_timeout=1.5, read_timeout=3.0,
                                          retries={"mode": "standard", "total_max_attempts": 2})
"""The other preflight calls, once the target answered: short timeouts, one retry (throttling, a dropped
connection) — a service's host found dead later still fails within 5 s."""

__all__ = ["EMULATOR_CREDENTIALS", "PREFLIGHT_CONFIG", "PROBE_CONFIG", "Clients", "Target", "check_access",
           "emulator_clock", "is_loopback", "make_clients", "preflight_clients"]


@dataclass(frozen=True)
class Target:
    """Where the endpoint lives: a region, an explicit ``endpoint_url`` (the emulator) or none, a profile."""

    region: str
    endpoint_url: str | None = None
    profile_name: str | None = None

    @cached_property
    def session(self) -> boto3.session.Session:
        """The boto3 session of the profile (its config's endpoint URLs included); ConfigError if it does not exist."""
        try:
            return boto3.session.Session(profile_name=self.profile_name, region_name=self.region)
        except botocore.exceptions.ProfileNotFound as err:
            raise translate(err, profile_name=self.profile_name) from None  # type: ignore[misc]

    @cached_property
    def endpoints(self) -> dict[str, str]:
        """``{service: URL}`` of every service, resolved once; ConfigError if they would reach different places."""
        urls = resolve_endpoints(self.session, self.region, self.endpoint_url)
        check_places(urls, self.region)
        return urls

    @property
    def is_local(self) -> bool:
        """Every service is on loopback: the emulator (its credentials, its clock, its buckets created by setup)."""
        return all(is_loopback(url) for url in self.endpoints.values())

    @property
    def base_url(self) -> str:
        """SageMaker's URL: the emulator's base URL (its ``/_emulator`` routes) when :attr:`is_local`."""
        return self.endpoints["sagemaker"]

    def runtime_host(self) -> str:
        """Base URL of SageMaker Runtime (the Locust ``--host``), as boto3 resolves it."""
        return self.endpoints["sagemaker-runtime"]

    def origins(self) -> dict[str, str]:
        """``{service: scheme://host:port}``: what run.json records of where requests went."""
        return {name: origin(url) for name, url in self.endpoints.items()}

    def load_environment(self) -> dict[str, str | None]:
        """Environment changes (None: unset) for the load generator, so that it signs for the same region with
        the same credentials as these clients: the emulator's on loopback, else the profile's (without the
        environment's keys, which would win over ``AWS_PROFILE`` in botocore's chain)."""
        env: dict[str, str | None] = {"SCALECHECK_REGION": self.region}
        if self.is_local:
            key, secret = EMULATOR_CREDENTIALS
            env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": None})
            return env
        if self.profile_name:
            env.update({"AWS_PROFILE": self.profile_name, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                        "AWS_SESSION_TOKEN": None})
        if self.endpoint_url:  # async load's S3 client resolves by itself: give it the explicit URL too
            env["AWS_ENDPOINT_URL_S3"] = self.endpoints["s3"]
        return env

    def client(self, service: str, config: botocore.config.Config) -> Any:
        """A boto3 client of ``service`` for this target (see the module docstring for credentials)."""
        if self.is_local:
            key, secret = EMULATOR_CREDENTIALS
            # the emulator serves S3 path style only (http://127.0.0.1:port/bucket/key); AWS takes either
            if service == "s3":
                config = config.merge(botocore.config.Config(s3={"addressing_style": "path"}))
            return self.session.client(service, region_name=self.region, endpoint_url=self.endpoints[service],
                                       aws_access_key_id=key, aws_secret_access_key=secret, config=config)
        return self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url, config=config)


@dataclass(frozen=True)
class Clients:
    """boto3 clients for the services scalecheck talks to."""

    sagemaker: Any
    runtime: Any
    autoscaling: Any
    cloudwatch: Any
    session: boto3.session.Session
    s3: Any = None  # asynchronous inference reads inputs from and writes results to S3
    sts: Any = None  # caller identity (preflight)
    quotas: Any = None  # Service Quotas (preflight)
    target: Target | None = None  # where they point (None: made elsewhere)


def _clients(target: Target, config: botocore.config.Config,
             overrides: dict[str, botocore.config.Config] | None = None) -> Clients:
    def client(name: str) -> Any:
        return target.client(name, (overrides or {}).get(name, config))

    return Clients(sagemaker=client("sagemaker"), runtime=client("sagemaker-runtime"),
                   autoscaling=client("application-autoscaling"), cloudwatch=client("cloudwatch"),
                   session=target.session, s3=client("s3"), sts=client("sts"), quotas=client("service-quotas"),
                   target=target)


def make_clients(target: Target, *, max_attempts: int = 5, read_timeout_s: float = 70.0) -> Clients:
    """Clients with standard retries; 70 s read timeout as AWS advises for InvokeEndpoint (aws-semantics §9)."""
    return _clients(target, botocore.config.Config(retries={"mode": "standard", "max_attempts": max_attempts},
                                                   connect_timeout=10, read_timeout=read_timeout_s))


def collector_clients(clients: Clients) -> Clients:
    """The collector's clients: ``clients``' target, adaptive retries capped at :data:`COLLECTOR_ATTEMPTS`
    attempts, short connect and read timeouts. Clients not made by :func:`make_clients` (no ``target``) are
    returned as they are."""
    target = getattr(clients, "target", None)
    if target is None:
        return clients
    config = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": COLLECTOR_ATTEMPTS},
                                    connect_timeout=COLLECTOR_CONNECT_TIMEOUT_S, read_timeout=COLLECTOR_READ_TIMEOUT_S)
    return _clients(target, config)


def preflight_clients(target: Target) -> Clients:
    """Clients that give up within seconds, for checks before any traffic: STS (the first call) with
    :data:`PROBE_CONFIG`, the others with :data:`PREFLIGHT_CONFIG`."""
    return _clients(target, PREFLIGHT_CONFIG, {"sts": PROBE_CONFIG})


def check_access(target: Target) -> None:
    """Fail within seconds, with one line saying what to do, when the target cannot be reached or the
    credentials are missing or refused (one ListEndpoints, :data:`PROBE_CONFIG`)."""
    try:
        target.client("sagemaker", PROBE_CONFIG).list_endpoints(MaxResults=1)
    except Exception as err:
        translated = translate(err, profile_name=target.profile_name, url=target.base_url)
        if translated is None:
            raise
        raise translated from None


def emulator_clock(endpoint_url: str, timeout_s: float = 5.0) -> Clock:
    """The emulator's wall → endpoint time mapping (from its ``/_emulator/clock`` route)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_emulator/clock", timeout=timeout_s) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise InfrastructureError(f"the emulator at {endpoint_url} did not answer its clock route: {err}") from None
    return Clock(wall0_ts=float(data["wall_ts"]), endpoint0_ts=float(data["endpoint_ts"]), speed=float(data["speed"]))
