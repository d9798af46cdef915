"""The account-level instance quota of SageMaker endpoints: '<instance type> for endpoint usage'.

Contract (pure; no clock, no I/O): :func:`instance_quota` is the quota of one instance type
(``ModelParams.instance_quota``, else ``instance_quota_default``: both UNCONFIRMED parameters).
:func:`check_quota` raises :class:`~harness.autoscaling.entities.WorldError` ``ResourceLimitExceeded``
when a change would take the account's instances of a type above its quota, with SageMaker's message
(:func:`limit_message`). Usage counts, across every endpoint, each variant's ``max(current, desired)``
(instances held or being provisioned); a change's delta is its new count minus what its variant holds
(the whole count for a variant being created). Only a positive delta is checked: scale-in always passes.
In AWS's example [S15-history] a variant at 90 asked for 110 with 997 in use reports "current
utilization of 997 Instances and a request delta of 20 Instances".

:class:`QuotaMixin` (methods of :class:`~harness.autoscaling.world.World`) turns a refusal of a
change Application Auto Scaling applies into what DescribeScalingActivities shows (aws-semantics §4):
the open activities of the target end ``Failed`` with "Failed to set desired instance count to N.
Reason: <message> (Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceLimitExceeded;
Request ID: <id>)." and the target's desired capacity falls back to the variant's, so the capacity
stays and a policy whose alarm still breaches tries again (and fails again) on its next action.
CreateEndpoint and UpdateEndpointWeightsAndCapacities refuse synchronously with the error itself.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from harness.autoscaling.entities import Endpoint, ScalableTarget, Variant, WorldError
from harness.autoscaling.params import ModelParams

if TYPE_CHECKING:
    from harness.autoscaling.world import World

LIMIT_CODE = "ResourceLimitExceeded"


def quota_name(instance_type: str) -> str:
    """The Service Quotas name of the endpoint instance quota of ``instance_type``."""
    return f"{instance_type} for endpoint usage"


def instance_quota(params: ModelParams, instance_type: str) -> int:
    return params.instance_quota.get(instance_type, params.instance_quota_default)


def limit_message(instance_type: str, quota: int, usage: int, delta: int) -> str:
    """SageMaker's ResourceLimitExceeded message for one instance type."""
    return (f"The account-level service limit '{quota_name(instance_type)}' is {quota} Instances, with current "
            f"utilization of {usage} Instances and a request delta of {delta} Instances. Please use AWS Service "
            "Quotas to request an increase for this quota. If AWS Service Quotas is not available, contact AWS "
            "support to request an increase for this quota.")


def held(variant: Variant) -> int:
    """Instances a variant counts against the quota: those serving or being provisioned."""
    return max(variant.current, variant.desired)


def usage(endpoints: Iterable[Endpoint]) -> Counter[str]:
    """Instances held per instance type across ``endpoints``."""
    used: Counter[str] = Counter()
    for ep in endpoints:
        for v in ep.variants.values():
            used[v.instance_type] += held(v)
    return used


def check_quota(params: ModelParams, endpoints: Iterable[Endpoint],
                changes: Iterable[tuple[str, int, int]]) -> None:
    """Refuse ``changes`` — (instance type, instances held now, instances wanted) — that take a type above its
    quota, given the ``endpoints`` of the account (module docstring)."""
    delta: Counter[str] = Counter()
    for instance_type, now_held, wanted in changes:
        delta[instance_type] += wanted - now_held
    if not any(d > 0 for d in delta.values()):
        return
    used = usage(endpoints)
    for instance_type, d in delta.items():
        quota = instance_quota(params, instance_type)
        if d > 0 and used[instance_type] + d > quota:
            raise WorldError(LIMIT_CODE, limit_message(instance_type, quota, used[instance_type], d))


def failed_status(capacity: int, message: str, request_id: str) -> str:
    """An activity's StatusMessage when SageMaker refused its change (the Java SDK's wording of the error)."""
    return (f"Failed to set desired instance count to {capacity}. Reason: {message} (Service: AmazonSageMaker; "
            f"Status Code: 400; Error Code: {LIMIT_CODE}; Request ID: {request_id}).")


class QuotaMixin:
    """Quota checks of the world's capacity changes (methods of World)."""

    def _check_quota(self: World, changes: Iterable[tuple[Variant, int]], *, new: bool = False) -> None:
        """Refuse ``changes`` (variant, new count) beyond the quota; ``new``: the variants are being created."""
        check_quota(self.params, self.endpoints.values(),
                    [(v.instance_type, 0 if new else held(v), count) for v, count in changes])

    def _apply_target_capacity(self: World, target: ScalableTarget, ep_name: str, v_name: str, t: float) -> None:
        """Apply a target's desired capacity to its (InService) variant; a refusal over the quota fails the
        target's open activities instead of raising (module docstring)."""
        variant = self.endpoints[ep_name].variants.get(v_name)
        if variant is None or variant.desired == target.desired:
            return
        try:
            self._apply_capacities(ep_name, {v_name: target.desired}, t)
        except WorldError as err:
            if err.code != LIMIT_CODE:
                raise
            self._fail_scaling(target, variant, err, t)

    def _fail_scaling(self: World, target: ScalableTarget, variant: Variant, error: WorldError, t: float) -> None:
        """SageMaker refused the capacity Application Auto Scaling applies: its open activities fail."""
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{target.arn}/{t!r}"))  # the seeded rng stays untouched
        for act in self._open_activities:
            if act.resource_id == target.resource_id and act.status_code == "InProgress":
                act.status_code, act.end_ts = "Failed", t
                act.status_message = failed_status(act.target_capacity, error.message, request_id)
                self.log(t, "activity", activity_id=act.activity_id, status=act.status_code, reason=error.code)
        target.desired = variant.desired
        self._open_activities = [a for a in self._open_activities if a.status_code == "InProgress"]


__all__ = ["LIMIT_CODE", "QuotaMixin", "check_quota", "failed_status", "instance_quota", "limit_message",
           "quota_name", "usage"]
