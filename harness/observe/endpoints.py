"""Where each AWS service's requests go, resolved once per run by botocore itself, and refused when mixed.

:func:`resolve_endpoints` asks botocore for the URL of every service scalecheck talks to (:data:`SERVICES`),
exactly as the clients of :mod:`harness.observe.aws` will resolve it — in botocore's order: an explicit
``endpoint_url`` (``--endpoint-url``, ``--local``), then ``AWS_ENDPOINT_URL_<SERVICE>`` (e.g.
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``), ``AWS_ENDPOINT_URL``, the shared config file's ``services`` section of
the profile, the profile's ``endpoint_url``, else AWS's own endpoint for the region
(``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` switches the configured ones off). It builds throwaway clients
with placeholder credentials and reads ``client.meta.endpoint_url``: nothing is sent, no credential is
looked up. The same map then drives boto3, the collector, the Locust ``--host`` and the signer.

:func:`check_places` refuses (:class:`~harness.errors.ConfigError`, one line naming the services and hosts)
a map whose services would not all reach the same place — the load on AWS and the observation on the
emulator, two emulators, or two AWS regions — because the run would then observe something other than
what it loads. A *place* (:func:`place`) is a loopback ``host:port`` (an emulator), ``AWS <region>`` for
``*.amazonaws.com`` hosts (the region read from the host name, else the run's), or any other ``host:port``.
STS is global: only its side (loopback or not) must agree. :func:`origin` is what ``run.json`` records:
scheme, host and port, never a path, query or user info.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError

SERVICES = ("sagemaker", "sagemaker-runtime", "application-autoscaling", "cloudwatch", "s3", "sts",
            "service-quotas")
"""Every service scalecheck calls, by botocore name."""

GLOBAL_SERVICES = frozenset({"sts"})
"""Services whose region does not matter: only loopback-or-not must agree with the others."""

_PLACEHOLDER = {"aws_access_key_id": "endpoint-resolution", "aws_secret_access_key": "endpoint-resolution"}
_REGION_LABEL = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def is_loopback(url: str) -> bool:
    """Whether ``url`` (a base URL or a bare host) is this machine: the emulator."""
    name = urlsplit(url if "://" in url else "//" + url).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def resolve_endpoints(session: Any, region: str, endpoint_url: str | None) -> dict[str, str]:
    """``{service: URL}`` for :data:`SERVICES` as botocore resolves them for ``session`` (a boto3 session,
    its profile's config included) in ``region``, ``endpoint_url`` overriding everything when given (then
    botocore takes it as it is, and so does this function, without building a client)."""
    if endpoint_url:
        return dict.fromkeys(SERVICES, endpoint_url.rstrip("/"))
    return {name: str(session.client(name, region_name=region, endpoint_url=endpoint_url, **_PLACEHOLDER)
                      .meta.endpoint_url).rstrip("/")
            for name in SERVICES}


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the scheme's default port when it names none): what run.json keeps."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


def region_of_host(host: str) -> str | None:
    """The AWS region an ``*.amazonaws.com`` host name names (``runtime.sagemaker.eu-west-1.amazonaws.com``,
    a VPC endpoint's ``vpce-….sagemaker.us-east-1.vpce.amazonaws.com``), else None."""
    return next((label for label in host.split(".") if _REGION_LABEL.match(label)), None)


def place(url: str, region: str) -> str:
    """Where requests to ``url`` end up (see the module docstring): ``127.0.0.1:4566``, ``AWS eu-west-1``, …"""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not is_loopback(url) and host.endswith(_AWS_SUFFIXES):
        return f"AWS {region_of_host(host) or region}"
    return origin(url).split("://", 1)[1]


def check_places(endpoints: Mapping[str, str], region: str) -> None:
    """Raise :class:`ConfigError` (one line) unless every service of ``endpoints`` reaches the same place."""
    groups: dict[str, list[str]] = {}
    for name, url in endpoints.items():
        if name not in GLOBAL_SERVICES:
            groups.setdefault(place(url, region), []).append(name)
    sides = {is_loopback(url) for url in endpoints.values()}
    if len(groups) <= 1 and len(sides) <= 1:
        return
    if len(sides) > 1:  # name the global services too: one of them may be the odd one out
        for name in sorted(GLOBAL_SERVICES & set(endpoints)):
            groups.setdefault(place(endpoints[name], region), []).append(name)
    parts = [f"{', '.join(names)} → {where} ({', '.join(sorted({origin(endpoints[n]) for n in names}))})"
             for where, names in groups.items()]
    raise ConfigError("the AWS services would not all reach the same place, so the load and the observation "
                      f"would go to different places: {'; '.join(parts)}. Point them all at one target "
                      "(--endpoint-url or AWS_ENDPOINT_URL for the emulator; unset the AWS_ENDPOINT_URL_<SERVICE> "
                      "variables or config `services` entries that differ, or set AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
                      "=true for AWS)")


def describe(endpoints: Mapping[str, str]) -> str:
    """One short text of where the services go: ``all → http://127.0.0.1:4566`` or ``sagemaker → …, …``."""
    origins = {name: origin(url) for name, url in endpoints.items()}
    if len(set(origins.values())) == 1:
        return f"all services → {next(iter(origins.values()))}"
    return ", ".join(f"{name} → {where}" for name, where in origins.items())
