"""The model of one account: SageMaker endpoints + Application Auto Scaling + CloudWatch.

:class:`World` is pure and single-threaded: every method takes ``now`` (endpoint time) and first
advances the model to it, processing due events in time order — instance provisioning completing,
metric periods closing (zeros emitted for idle variants), alarms evaluating once per period at the
moment a new period becomes visible, alarm actions, Application Auto Scaling applying the
desired capacity through UpdateEndpointWeightsAndCapacities once the endpoint is not Updating (within
the account's instance quota, :mod:`harness.autoscaling.quota`), and for asynchronous endpoints request
completions, expiries and backlog-metric samples (:mod:`harness.autoscaling.asynchronous`).
The emulator wraps it in a lock and drives it with a sped-up clock; the simulator drives it in
virtual time. Rules are cited in policy.py, alarms.py and physics.py.
"""

from __future__ import annotations

import functools
import math
import random
import uuid
from typing import NamedTuple

from harness.autoscaling.actions import ActionsMixin, Policy
from harness.autoscaling.alarms import Alarm
from harness.autoscaling.asynchronous import ASYNC_IDLE_ZERO_METRICS, AsyncMixin
from harness.autoscaling.entities import (
    DIMENSION,
    ActivityRecord,
    AsyncConfig,
    Endpoint,
    ScalableTarget,
    TruthEvent,
    Variant,
    WorldError,
    resource_names,
)
from harness.autoscaling.metrics import Bucket, MetricKey, MetricStore
from harness.autoscaling.params import ModelParams
from harness.autoscaling.physics import Admission, admit
from harness.autoscaling.quota import QuotaMixin
from harness.autoscaling.scheduled import ScheduledAction, ScheduledMixin
from harness.autoscaling.targets import TargetsMixin

NAMESPACE = "AWS/SageMaker"
IDLE_ZERO_METRICS = ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors",
                     "InvocationModelErrors")


class BulkOutcome(NamedTuple):
    """What :meth:`World.invoke_bulk` did with a batch: served, refused (any error) and their latency."""

    variant: str
    served: int
    failed: int
    latency_s: float


class World(TargetsMixin, ScheduledMixin, ActionsMixin, AsyncMixin, QuotaMixin):
    """SageMaker + Application Auto Scaling + CloudWatch state, advanced in endpoint time."""

    def __init__(self, params: ModelParams | None = None, *, start_ts: float, region: str = "us-east-1",
                 account: str = "000000000000") -> None:
        self.params = params or ModelParams()
        self.region = region
        self.account = account
        self.now = start_ts
        self.rng = random.Random(self.params.seed)
        self.metrics = MetricStore(self.params.metric_period_s, self.params.metric_publish_lag_s)
        self._period_s = self.metrics.period_s
        self._meters: dict[tuple[str, str], _Meter] = {}  # (endpoint, variant): invoke's buckets
        self.endpoints: dict[str, Endpoint] = {}
        self.targets: dict[str, ScalableTarget] = {}
        self.policies: dict[str, Policy] = {}
        self.alarms: dict[str, Alarm] = {}
        self.activities: list[ActivityRecord] = []
        self._open_activities: list[ActivityRecord] = []  # the InProgress ones, in creation order
        self.scheduled: dict[tuple[str, str], ScheduledAction] = {}  # (ResourceId, ScheduledActionName)
        self.truth: list[TruthEvent] = []
        period = self.params.metric_period_s
        self._next_close = math.floor(start_ts / period) * period + period
        phase = self.params.metric_publish_lag_s % period
        first_eval = math.floor(start_ts / period) * period + phase
        self._next_eval = first_eval if first_eval > start_ts else first_eval + period
        self._init_async()

    # ----------------------------------------------------------------------------------- time
    def advance(self, now: float) -> None:
        """Process every event due at or before ``now``, in time order."""
        if now < self.now:
            return  # a late caller; the model never runs backwards
        inf = math.inf
        while True:
            t_ready = inf
            for e in self.endpoints.values():
                r = e.ready_ts
                if r is not None and r < t_ready:
                    t_ready = r
            t_sched = self._next_scheduled_ts() if self.scheduled else inf
            t_async = self._next_async_event_ts() if self._async_events else inf
            # min(t_ready, _next_close, _next_eval, t_sched, t_async, _next_sample): the first smallest
            t = t_ready
            if self._next_close < t:
                t = self._next_close
            if self._next_eval < t:
                t = self._next_eval
            if t_sched < t:
                t = t_sched
            if t_async < t:
                t = t_async
            if self._next_sample < t:
                t = self._next_sample
            if t > now:
                break
            self.now = t
            # A period closes before an endpoint completing at the same instant: a period that ends as
            # the endpoint comes InService was spent Creating and gets no idle zero.
            if t == self._next_close:
                self._close_period(t)
                self._next_close += self.params.metric_period_s
            elif t == t_ready:
                self._complete_endpoint_changes(t)
            elif t == t_sched:
                self._run_scheduled(t)
            elif t == t_async:  # async completions and expiries change no capacity: nothing to actuate
                self._async_event(t)
                continue
            elif t == self._next_sample:
                self._sample_async(t)
                continue
            else:
                self._evaluate_alarms(t)
                self._next_eval += self.params.metric_period_s
            self._actuate(t)
        self.now = now
        self._actuate(now)

    def next_event_ts(self) -> float:
        """When the next event :meth:`advance` processes is due (``inf``: none scheduled).

        Right after :meth:`advance` (to ``now``), and as long as nothing but metrics and requests in flight
        changed since (:meth:`invoke`, :meth:`invoke_bulk`, :meth:`finish`), advancing to a time from ``now``
        up to before this one processes nothing and applies nothing: it only moves ``now`` on.
        """
        t_ready = math.inf
        for e in self.endpoints.values():
            r = e.ready_ts
            if r is not None and r < t_ready:
                t_ready = r
        t_async = self._next_async_event_ts() if self._async_events else math.inf
        return min(t_ready, self._next_close, self._next_eval, self._next_scheduled_ts(), t_async, self._next_sample)

    def log(self, ts: float, kind: str, **detail: object) -> None:
        self.truth.append(TruthEvent(ts, kind, dict(detail)))  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------ endpoints
    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def endpoint(self, name: str) -> Endpoint:
        ep = self.endpoints.get(name)
        if ep is None:
            raise WorldError("ValidationException",
                             f'Could not find endpoint "{self.arn("sagemaker", "endpoint/" + name.lower())}".')
        return ep

    def create_endpoint(self, name: str, config_name: str, variants: list[Variant], now: float,
                        async_config: AsyncConfig | None = None) -> Endpoint:
        """CreateEndpoint: Creating until ``endpoint_create_delay_s`` has passed, then InService.

        With ``async_config`` the endpoint is asynchronous (aws-semantics §6, :mod:`.asynchronous`).
        """
        self.advance(now)
        if name in self.endpoints:
            arn = self.arn("sagemaker", "endpoint/" + name.lower())
            raise WorldError("ValidationException", f'Cannot create already existing endpoint "{arn}".')
        self._check_quota(((v, v.desired) for v in variants), new=True)  # ResourceLimitExceeded (quota.py)
        for v in variants:
            v.current = 0
        ep = Endpoint(name=name, arn=self.arn("sagemaker", f"endpoint/{name.lower()}"), config_name=config_name,
                      status="Creating", created_ts=now, modified_ts=now,
                      variants={v.name: v for v in variants}, ready_ts=now + self.params.endpoint_create_delay_s,
                      async_config=async_config)
        self.endpoints[name] = ep
        if async_config is not None:
            self._start_async(ep, now)
        self.log(now, "endpoint_status", endpoint=name, status="Creating")
        return ep

    def delete_endpoint(self, name: str, now: float) -> None:
        self.advance(now)
        self.endpoint(name)
        del self.endpoints[name]
        self._drop_async(name)
        self.log(now, "endpoint_status", endpoint=name, status="Deleted")

    def update_capacities(self, name: str, desired: dict[str, int], now: float) -> Endpoint:
        """UpdateEndpointWeightsAndCapacities: Updating until the instances are added or removed.

        A registered variant's scalable target takes the new count as its desired capacity:
        Application Auto Scaling reads the resource's capacity (aws-semantics §1: it applies its own
        decisions through this same call), so it does not push the variant back to its old desired.
        """
        self.advance(now)
        ep = self._apply_capacities(name, desired, now)
        for vname, count in desired.items():
            target = self.targets.get(f"endpoint/{name}/variant/{vname}")
            if target is not None:
                target.desired = count
        return ep

    def _apply_capacities(self, name: str, desired: dict[str, int], now: float) -> Endpoint:
        ep = self.endpoint(name)
        if ep.status != "InService":
            raise WorldError("ValidationException", f'Cannot update in-progress endpoint "{ep.arn}".')
        for vname in desired:
            if vname not in ep.variants:
                raise WorldError("ValidationException",
                                 f"The variant name(s) [{vname}] is/are not present in endpoint {name}.")
        grows = any(count > ep.variants[v].current for v, count in desired.items())
        if all(count == ep.variants[v].desired for v, count in desired.items()):
            return ep
        self._check_quota((ep.variants[v], count) for v, count in desired.items())
        for vname, count in desired.items():
            ep.variants[vname].desired = count
        ep.status = "Updating"
        ep.modified_ts = now
        delay = self.params.provisioning_delay_s if grows else self.params.deprovision_delay_s
        ep.ready_ts = now + delay
        self._log_capacity(ep, now)
        return ep

    def _complete_endpoint_changes(self, t: float) -> None:
        for ep in self.endpoints.values():
            if ep.ready_ts is None or ep.ready_ts > t:
                continue
            ep.ready_ts = None
            ep.status = "InService"
            ep.modified_ts = t
            for v in ep.variants.values():
                v.current = v.desired
            self._log_capacity(ep, t)
            if ep.async_config is not None:
                self._dispatch_endpoint(ep, t)  # new instances take queued requests at once
            self._settle_activities(t)

    def _log_capacity(self, ep: Endpoint, t: float) -> None:
        for v in ep.variants.values():
            self.log(t, "capacity", endpoint=ep.name, variant=v.name, status=ep.status,
                     current=v.current, desired=v.desired)

    # ------------------------------------------------------------------------------- traffic
    def invoke(self, name: str, now: float, target_variant: str | None = None) -> tuple[Admission, str]:
        """InvokeEndpoint arriving at ``now``; a served request must be closed with :meth:`finish`."""
        self.advance(now)
        ep = self.endpoints.get(name)
        if ep is None or ep.status not in ("InService", "Updating"):
            raise WorldError("ValidationError", f"Endpoint {name} of account {self.account} not found.")
        if ep.async_config is not None:  # §6 [S15-async]: async only; wording UNCONFIRMED
            raise WorldError("ValidationError", f"Endpoint {name} of account {self.account} is an "
                             "asynchronous endpoint: use InvokeEndpointAsync.")
        variant = self._pick_variant(ep, target_variant)
        admission = admit(inflight=variant.inflight, instances=variant.current, params=self.params,
                          rng=self.rng, endpoint=name)
        error = admission.error
        if error != "ThrottlingException":
            # One sample of each of INVOCATION_METRICS (InvocationsPerInstance when there are instances,
            # ModelLatency when served), added to the buckets of now's period as MetricStore.add would. The
            # variant's _Meter holds the buckets of the period it last saw, fetched (created) when and in
            # the order add would.
            period = self._period_s
            b = int(math.floor(now / period)) * period  # MetricStore.bucket_ts
            vname = variant.name
            meter = self._meters.get((name, vname))
            current = variant.current
            if meter is None or meter.bucket_ts != b:
                meter = self._meter(name, vname, b, current > 0)
            meter.inv.add(1.0)
            if current > 0:
                bk = meter.ipi
                if bk is None:
                    bk = meter.ipi = self.metrics.bucket(meter.keys[1], b)
                bk.add(1.0 / current)
            meter.e4xx.add(0.0)
            value = 0.0 if error is None else 1.0
            meter.e5xx.add(value)
            meter.emodel.add(value)
            if error is None:
                bk = meter.latency
                if bk is None:
                    bk = meter.latency = self.metrics.bucket(meter.keys[5], b)
                bk.add(admission.latency_s * 1e6)
        if error is None:
            variant.inflight += 1
        return admission, variant.name

    def _meter(self, name: str, variant: str, bucket_ts: int, per_instance: bool) -> _Meter:
        """The :class:`_Meter` of a variant, pointed at the period starting at ``bucket_ts``."""
        meter = self._meters.get((name, variant))
        if meter is None:
            meter = self._meters[(name, variant)] = _Meter(_invocation_keys(name, variant))
        meter.point(self.metrics, bucket_ts, per_instance)
        return meter

    def invoke_bulk(self, name: str, now: float, count: int, duration_s: float) -> BulkOutcome:
        """``count`` InvokeEndpoint requests arriving evenly over ``[now, now + duration_s)``, in aggregate.

        The simulator's fast path for high rates: one call instead of ``count`` :meth:`invoke` +
        :meth:`finish` pairs. The interval must lie in one metric period (its samples go to the bucket of
        ``now``). Admission is the fluid version of :func:`~harness.autoscaling.physics.admit`, without
        jitter: by Little's law ``rate x latency`` requests are in flight; beyond the slots latency grows
        in proportion, and the share of arrivals above slots + queue is refused with ``overload_error``;
        a latency above ``invocation_timeout_s`` fails them all as ModelError. Capacity is the variant's
        at ``now``; single-variant endpoints only.
        """
        self.advance(now)
        ep = self.endpoints.get(name)
        if ep is None or ep.status not in ("InService", "Updating"):
            raise WorldError("ValidationError", f"Endpoint {name} of account {self.account} not found.")
        if ep.async_config is not None or len(ep.variants) != 1:
            raise WorldError("ValidationError", "invoke_bulk models single-variant real-time endpoints only.")
        variant = next(iter(ep.variants.values()))
        p = self.params
        if count <= 0:
            return BulkOutcome(variant.name, 0, 0, 0.0)
        instances = variant.current
        base_s = p.model_latency_ms / 1000.0
        slots = instances * p.instance_concurrency
        limit = slots + instances * p.max_queue_per_instance
        inflight = count / duration_s * base_s if duration_s > 0 else float(count)
        served = timed_out = 0
        latency_s = 0.0
        if instances > 0:
            admitted = count if inflight <= limit else int(count * limit / inflight)
            latency_s = base_s * max(1.0, min(inflight, limit) / slots)
            if latency_s > p.invocation_timeout_s:
                timed_out, latency_s = admitted, p.invocation_timeout_s
            else:
                served = admitted
        overloaded = count - served - timed_out
        counted = served + timed_out + (overloaded if p.overload_error != "ThrottlingException" else 0)
        failed = counted - served
        refused = count - served
        if counted or served:
            inv, ipi, e4xx, e5xx, emodel, latency = _invocation_keys(name, variant.name)
            add = self.metrics.aggregator(now)
            if counted:
                add(inv, float(counted), counted, 1.0, 1.0)
                if instances > 0:
                    per = 1.0 / instances
                    add(ipi, counted * per, counted, per, per)
                add(e4xx, 0.0, counted, 0.0, 0.0)
                lo, hi = 1.0 if served == 0 else 0.0, 1.0 if failed else 0.0
                add(e5xx, float(failed), counted, lo, hi)
                add(emodel, float(failed), counted, lo, hi)
            if served:
                us = latency_s * 1e6
                add(latency, served * us, served, us, us)
        return BulkOutcome(variant.name, served, refused, latency_s)

    def finish(self, name: str, variant: str) -> None:
        """A served request left the endpoint (frees its slot)."""
        ep = self.endpoints.get(name)
        if ep is not None:
            v = ep.variants.get(variant)
            if v is not None:
                inflight = v.inflight - 1
                v.inflight = inflight if inflight > 0 else 0

    def _pick_variant(self, ep: Endpoint, target_variant: str | None) -> Variant:
        if target_variant is not None:
            if target_variant not in ep.variants:
                raise WorldError("ValidationError", f"Variant {target_variant} not found for endpoint {ep.name}.")
            return ep.variants[target_variant]
        if len(ep.variants) == 1:
            for v in ep.variants.values():
                return v
        variants = list(ep.variants.values())
        total = sum(v.weight for v in variants) or 1.0
        pick = self.rng.random() * total
        for v in variants:
            pick -= v.weight
            if pick <= 0:
                return v
        return variants[-1]

    def _put(self, metric: str, dims: dict[str, str], ts: float, value: float) -> None:
        self.metrics.add(MetricKey.of(NAMESPACE, metric, **dims), ts, value)

    def _close_period(self, t: float) -> None:
        bucket = int(t) - self.params.metric_period_s
        for ep in self.endpoints.values():
            if ep.status not in ("InService", "Updating"):
                continue
            idle_zero = IDLE_ZERO_METRICS if ep.async_config is None else ASYNC_IDLE_ZERO_METRICS
            for v in ep.variants.values():
                for metric in idle_zero:
                    self.metrics.emit_zero(_variant_key(metric, ep.name, v.name), bucket)

    # ------------------------------------------------------------------------- actuation
    def set_desired(self, target: ScalableTarget, capacity: int, t: float, cause: str) -> ActivityRecord:
        """Application Auto Scaling decides ``capacity``: record the activity and apply it when it can."""
        for act in self._open_activities:
            if act.resource_id == target.resource_id and act.status_code in ("Pending", "InProgress"):
                act.status_code, act.end_ts = "Overridden", t
                act.status_message = "Superseded by a newer scaling activity."
                self.log(t, "activity", activity_id=act.activity_id, status=act.status_code)
        act = ActivityRecord(
            activity_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), namespace=target.namespace,
            resource_id=target.resource_id, dimension=target.dimension,
            description=f"Setting desired instance count to {capacity}.", cause=cause, start_ts=t,
            status_code="InProgress", target_capacity=capacity,
            status_message="Waiting for change to be fulfilled by sagemaker.")
        self.activities.append(act)
        self._open_activities = [a for a in self._open_activities if a.status_code == "InProgress"]
        self._open_activities.append(act)
        target.desired = capacity
        self.log(t, "activity", activity_id=act.activity_id, status=act.status_code, desired=capacity,
                 cause=cause)
        self._actuate(t)
        return act

    def _actuate(self, t: float) -> None:
        for target in self.targets.values():
            ep_name, v_name = resource_names(target.resource_id)
            ep = self.endpoints.get(ep_name)
            if ep is None or ep.status != "InService":
                continue
            self._apply_target_capacity(target, ep_name, v_name, t)  # quota.py: over the quota, it fails
        if self._open_activities:
            self._settle_activities(t)

    def _settle_activities(self, t: float) -> None:
        """Close the InProgress activities whose change is done (or whose endpoint is gone), in creation order."""
        if not self._open_activities:
            return
        for act in self._open_activities:
            if act.status_code != "InProgress":
                continue
            ep_name, v_name = resource_names(act.resource_id)
            ep = self.endpoints.get(ep_name)
            if ep is None:
                act.status_code, act.end_ts = "Failed", t
                act.status_message = (f"Failed to set desired instance count to {act.target_capacity}. "
                                      "Reason: endpoint deleted.")
            elif ep.status == "InService" and ep.variants[v_name].current == act.target_capacity:
                act.status_code, act.end_ts = "Successful", t
                act.status_message = (f"Successfully set desired instance count to {act.target_capacity}. "
                                      "Change successfully fulfilled by sagemaker.")
            else:
                continue
            self.log(t, "activity", activity_id=act.activity_id, status=act.status_code)
        self._open_activities = [a for a in self._open_activities if a.status_code == "InProgress"]


@functools.lru_cache(maxsize=4096)
def _variant_key(metric: str, endpoint: str, variant: str) -> MetricKey:
    """``MetricKey.of(NAMESPACE, metric, EndpointName=endpoint, VariantName=variant)``, cached."""
    return MetricKey.of(NAMESPACE, metric, EndpointName=endpoint, VariantName=variant)


INVOCATION_METRICS = ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors",
                      "InvocationModelErrors", "ModelLatency")


@functools.lru_cache(maxsize=1024)
def _invocation_keys(endpoint: str, variant: str) -> tuple[MetricKey, ...]:
    """The keys of :data:`INVOCATION_METRICS` of one variant, in that order."""
    return tuple(_variant_key(metric, endpoint, variant) for metric in INVOCATION_METRICS)


class _Meter:
    """The buckets :meth:`World.invoke` adds one variant's samples to, for the period at ``bucket_ts``.

    A bucket must come to exist exactly when, and in the order, :meth:`MetricStore.add` would create it
    (the order of first creation is the order :meth:`MetricStore.keys` lists metrics in). Invocations
    and the three error counts get a sample with every metered request, InvocationsPerInstance with
    those that find instances: :meth:`point` fetches (creates if absent) them in
    :data:`INVOCATION_METRICS` order for the request that moves the meter to a period —
    InvocationsPerInstance only if that request has instances (``per_instance``), else ``None`` until its
    first sample in the period, as ModelLatency (last in the order) always is.
    """

    __slots__ = ("keys", "bucket_ts", "inv", "ipi", "e4xx", "e5xx", "emodel", "latency")

    def __init__(self, keys: tuple[MetricKey, ...]) -> None:
        self.keys = keys
        self.bucket_ts: int | None = None

    def point(self, store: MetricStore, bucket_ts: int, per_instance: bool) -> None:
        keys = self.keys
        self.bucket_ts = bucket_ts
        self.inv = store.bucket(keys[0], bucket_ts)
        self.ipi: Bucket | None = store.bucket(keys[1], bucket_ts) if per_instance else None
        self.e4xx = store.bucket(keys[2], bucket_ts)
        self.e5xx = store.bucket(keys[3], bucket_ts)
        self.emodel = store.bucket(keys[4], bucket_ts)
        self.latency: Bucket | None = None


__all__ = ["World", "WorldError", "Variant", "AsyncConfig", "DIMENSION", "NAMESPACE"]
