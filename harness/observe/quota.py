"""The account's instance quota for endpoints, and how much of it the account's endpoints use now.

:func:`find_quota` looks up the Service Quotas quota named ``"<instance type> for endpoint usage"`` (service code
``sagemaker``): ListServiceQuotas, page by page until the name is found (at most :data:`MAX_QUOTA_PAGES`
pages; None when no quota has that name); :func:`applied_value` asks GetServiceQuota for the value applied to
the account now. :func:`instances_in_use` adds up the current instances of that type over the account's endpoints —
ListEndpoints (at most :data:`MAX_ENDPOINTS`), then DescribeEndpoint and DescribeEndpointConfig of each,
on :data:`WORKERS` threads — and says how many of them the endpoint under test has. Both raise what boto3
raises (``ClientError``, ``BotoCoreError``): the caller classifies (:mod:`harness.observe.preflight`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from harness.autoscaling.quota import quota_name  # one name for the quota: the model's and the preflight's

QUOTA_SERVICE_CODE = "sagemaker"
MAX_QUOTA_PAGES = 40  # 100 quotas a page: SageMaker has well under 4000
MAX_ENDPOINTS = 100  # endpoints described to count instances in use (bounded: preflight takes seconds)
WORKERS = 8
_GONE = ("Failed", "Deleting")  # endpoints that hold no instances


@dataclass(frozen=True)
class Quota:
    name: str
    code: str
    value: float


@dataclass(frozen=True)
class Usage:
    """Current instances of one type: over every endpoint read, and of the endpoint under test."""

    total: int
    own: int
    endpoints: int  # endpoints with at least one instance of the type
    truncated: bool  # more than MAX_ENDPOINTS endpoints: ``total`` is a lower bound

    @property
    def others(self) -> int:
        return self.total - self.own


def find_quota(quotas: Any, instance_type: str) -> Quota | None:
    """The quota named :func:`quota_name` as ListServiceQuotas lists it (code and value), or None."""
    name = quota_name(instance_type)
    kwargs: dict[str, Any] = {"ServiceCode": QUOTA_SERVICE_CODE, "MaxResults": 100}
    for _ in range(MAX_QUOTA_PAGES):
        page = quotas.list_service_quotas(**kwargs)
        found = next((q for q in page.get("Quotas") or [] if q.get("QuotaName") == name), None)
        if found is not None:
            return Quota(name=name, code=str(found["QuotaCode"]), value=float(found.get("Value") or 0))
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]
    return None


def applied_value(quotas: Any, quota: Quota) -> Quota:
    """``quota`` with the value GetServiceQuota says is applied to the account now."""
    applied = quotas.get_service_quota(ServiceCode=QUOTA_SERVICE_CODE, QuotaCode=quota.code)
    value = (applied.get("Quota") or {}).get("Value")
    return quota if value is None else Quota(name=quota.name, code=quota.code, value=float(value))


def _variant_counts(sagemaker: Any, name: str) -> dict[str, tuple[str, int]]:
    """``{variant: (instance type, current instances)}`` of one endpoint ('' type: serverless)."""
    try:
        desc = sagemaker.describe_endpoint(EndpointName=name)
        if desc.get("EndpointStatus") in _GONE:
            return {}
        config = sagemaker.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"])
    except botocore.exceptions.ClientError as err:
        if "Could not find" in str(err.response.get("Error", {}).get("Message", "")):
            return {}  # deleted since ListEndpoints
        raise
    configured = config.get("ProductionVariants") or []
    types = {v["VariantName"]: str(v.get("InstanceType") or "") for v in configured}
    initial = {v["VariantName"]: int(v.get("InitialInstanceCount") or 0) for v in configured}
    out = {}
    for v in desc.get("ProductionVariants") or []:
        count = v.get("CurrentInstanceCount")
        if count is None:  # still Creating: the config's initial count is what it is taking
            count = v.get("DesiredInstanceCount", initial.get(v["VariantName"], 0))
        out[v["VariantName"]] = (types.get(v["VariantName"], ""), int(count or 0))
    if not out:  # Creating, no variant summary yet
        out = {name_: (types.get(name_, ""), count) for name_, count in initial.items()}
    return out


def instances_in_use(sagemaker: Any, instance_type: str, own_endpoint: str) -> Usage:
    """Current instances of ``instance_type`` over the account's endpoints (bounded, see the module docstring)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    truncated = False
    while True:
        page = sagemaker.list_endpoints(**kwargs)
        names += [e["EndpointName"] for e in page.get("Endpoints") or [] if e.get("EndpointStatus") not in _GONE]
        if len(names) >= MAX_ENDPOINTS:
            truncated = len(names) > MAX_ENDPOINTS or bool(page.get("NextToken"))
            names = names[:MAX_ENDPOINTS]
            break
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    if not names:
        return Usage(0, 0, 0, False)
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(names))) as pool:
        described = dict(zip(names, pool.map(lambda n: _variant_counts(sagemaker, n), names), strict=True))
    total = own = holding = 0
    for name, variants in described.items():
        count = sum(n for t, n in variants.values() if t == instance_type)
        total += count
        own += count if name == own_endpoint else 0
        holding += 1 if count else 0
    return Usage(total=total, own=own, endpoints=holding, truncated=truncated)
