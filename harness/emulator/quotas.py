"""Service Quotas (JSON 1.1, ``ServiceQuotasV20190624``): the SageMaker endpoint instance quotas.

Contract: ``GetServiceQuota`` and ``ListServiceQuotas`` for ServiceCode ``sagemaker``. Its quotas are
'<instance type> for endpoint usage' for every instance type of the pinned SageMaker model's
``ProductionVariantInstanceType`` (plus any type the parameters or an endpoint name), sorted by name;
each value is the model's :func:`harness.autoscaling.quota.instance_quota` (``ModelParams.instance_quota``,
UNCONFIRMED), the limit the model enforces on CreateEndpoint, UpdateEndpointWeightsAndCapacities and
scaling. Quota codes are ``L-`` + 8 hex digits of the SHA-256 of the quota name: stable, but not AWS's
codes (which are not published for every type). Unknown service or quota code: ``NoSuchResourceException``.
``ListServiceQuotas`` pages by ``MaxResults`` (1-100, default 100) and ``NextToken``; ``QuotaCode`` filters.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from harness.autoscaling.quota import instance_quota, quota_name
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call, service_model

if TYPE_CHECKING:
    from harness.emulator.app import Emulator

SERVICE_CODE = "sagemaker"
SERVICE_NAME = "Amazon SageMaker"
MAX_RESULTS = 100


def register(emu: Emulator) -> None:
    emu.register_ops("service-quotas", {"GetServiceQuota": get_service_quota,
                                        "ListServiceQuotas": list_service_quotas})


def quota_code(name: str) -> str:
    """The emulator's (stable) quota code of a quota name."""
    return "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def instance_types(emu: Emulator) -> list[str]:
    known = set(service_model("sagemaker").shape_for("ProductionVariantInstanceType").enum)
    known |= set(emu.params.instance_quota)
    with emu.lock:
        known |= {v.instance_type for ep in emu.world.endpoints.values() for v in ep.variants.values()}
    return sorted(known)


def quotas(emu: Emulator, region: str) -> list[dict[str, Any]]:
    out = []
    for instance_type in instance_types(emu):
        name = quota_name(instance_type)
        code = quota_code(name)
        out.append({
            "ServiceCode": SERVICE_CODE, "ServiceName": SERVICE_NAME, "QuotaCode": code, "QuotaName": name,
            "QuotaArn": f"arn:aws:servicequotas:{region}:{emu.world.account}:{SERVICE_CODE}/{code}",
            "Value": float(instance_quota(emu.params, instance_type)), "Unit": "None", "Adjustable": True,
            "GlobalQuota": False, "QuotaAppliedAtLevel": "ACCOUNT",
        })
    return out


def _check_service(code: str) -> None:
    if code != SERVICE_CODE:
        raise AwsError("NoSuchResourceException", f"The request failed because the specified service {code} "
                       "does not exist or is not available in the scalecheck emulator.")


def get_service_quota(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    _check_service(p["ServiceCode"])
    for quota in quotas(emu, call.region):
        if quota["QuotaCode"] == p["QuotaCode"]:
            return {"Quota": quota}
    raise AwsError("NoSuchResourceException",
                   f"The request failed because the specified quota {p['QuotaCode']} does not exist.")


def list_service_quotas(emu: Emulator, call: Call) -> dict[str, Any]:
    p = call.params
    _check_service(p["ServiceCode"])
    found = [q for q in quotas(emu, call.region) if p.get("QuotaCode") in (None, q["QuotaCode"])]
    size = p.get("MaxResults") or MAX_RESULTS
    token = p.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise AwsError("InvalidPaginationTokenException", "Invalid pagination token.") from None
    if not 0 <= start <= len(found):
        raise AwsError("InvalidPaginationTokenException", "Invalid pagination token.")
    out: dict[str, Any] = {"Quotas": found[start:start + size]}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return out
