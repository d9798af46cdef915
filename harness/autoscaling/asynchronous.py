"""Asynchronous endpoints of the model: the backlog, its dispatch, completions, expiries and metrics.

A mixin of :class:`harness.autoscaling.world.World`. Rules (``docs/aws-semantics.md`` §6) — A-numbers
are cited by the tests:

- A1 an endpoint with an AsyncInferenceConfig accepts only InvokeEndpointAsync [S15-async]; the
  request joins its variant's FIFO backlog (queued + in progress = the backlog) and the call returns
  at once (HTTP 202 [S9]).
- A2 a queued request is dispatched, oldest first, when its variant has a free slot: ``current
  instances x MaxConcurrentInvocationsPerInstance`` slots (ClientConfig [S10]; unset = "SageMaker
  chooses" = ``ModelParams.async_default_max_concurrent``, UNCONFIRMED). Requests received at 0
  instances just queue [S15-async-as]. Instances removed by a scale-in take no new work; requests
  already in progress on them finish.
- A3 processing takes ``async_processing_s`` times the real-time jitter rule (UNCONFIRMED); if that
  exceeds the request's InvocationTimeoutSeconds (1-3600, default 900 [S9]) the request fails at
  dispatch + timeout.
- A4 a request still queued when its RequestTTLSeconds (60-21600, default 21600 [S9]) has passed
  since arrival expires without being dispatched.
- A5 metrics, namespace AWS/SageMaker [S15-asyncmon]. Dimension EndpointName only, one sample every
  ``async_metric_sample_s`` (UNCONFIRMED) while the endpoint is InService or Updating:
  ApproximateBacklogSize, ApproximateBacklogSizePerInstance (backlog / instances; at 0 instances
  ``backlog_per_instance_at_zero``, UNCONFIRMED), ApproximateAgeOfOldestRequest (s),
  HasBacklogWithoutCapacity. Dimensions EndpointName + VariantName, one datapoint per outcome:
  InvocationsProcesssed and InvocationsProcessed (both documented spellings, UNCONFIRMED which is
  published), TimeInBacklog and TotalProcessingTime (``async_time_unit``, UNCONFIRMED) for a
  completed request, InvocationFailures, ExpiredRequests; the count metrics read 0 in idle periods.
  Invocations, InvocationsPerInstance and OverheadLatency are not published for async endpoints.

Completions and expiries are events of ``World.advance`` (a heap ordered by time), and so are the
sampling instants, so that :meth:`AsyncMixin.drain_async_results` after ``advance(t)`` returns every
request finished by ``t``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness.autoscaling.entities import AsyncResult, Endpoint, Variant, WorldError

if TYPE_CHECKING:
    from harness.autoscaling.world import World

ASYNC_IDLE_ZERO_METRICS = ("InvocationsProcesssed", "InvocationsProcessed", "InvocationFailures", "ExpiredRequests")
TTL_RANGE_S = (60, 21600)  # RequestTTLSeconds [S9]
TIMEOUT_RANGE_S = (1, 3600)  # InvocationTimeoutSeconds [S9]
_COMPLETE, _EXPIRE = 0, 1  # event kinds; a completion sorts before an expiry at the same instant
_TIME_UNIT_FACTOR = {"Milliseconds": 1e3, "Microseconds": 1e6}


@dataclass(eq=False)
class AsyncRequest:
    """One request in a backlog; ``outcome``/``done_ts`` are decided when it is dispatched."""

    seq: int
    inference_id: str
    endpoint: str
    variant: str
    arrival_ts: float
    ttl_s: float
    timeout_s: float
    input_location: str
    output_location: str
    failure_location: str
    state: Literal["queued", "running", "done", "expired", "dropped"] = "queued"
    start_ts: float | None = None
    outcome: Literal["Completed", "Failed"] = "Completed"
    message: str = ""


@dataclass
class Lane:
    """The backlog of one variant: queued requests in arrival order and the ones in progress.

    Entries that left the queue by expiring (or finished while running) are removed lazily from the
    deques; ``queued`` and ``in_progress`` are the live counts.
    """

    queue: deque[AsyncRequest] = field(default_factory=deque)
    running: deque[AsyncRequest] = field(default_factory=deque)  # dispatch order = arrival order
    queued: int = 0
    in_progress: int = 0

    @property
    def size(self) -> int:
        return self.queued + self.in_progress

    def oldest_arrival(self) -> float | None:
        while self.running and self.running[0].state != "running":
            self.running.popleft()
        while self.queue and self.queue[0].state != "queued":
            self.queue.popleft()
        heads = [d[0].arrival_ts for d in (self.running, self.queue) if d]
        return min(heads) if heads else None


def timeout_message(inference_id: str, timeout_s: float) -> str:
    """Failure reason of a request that ran past its InvocationTimeoutSeconds (wording UNCONFIRMED)."""
    return (f"Inference request {inference_id} timed out: processing did not finish within "
            f"InvocationTimeoutSeconds ({timeout_s:g} s).")


class AsyncMixin:
    """InvokeEndpointAsync, the backlogs and their events (methods of World)."""

    def _init_async(self: World) -> None:
        self.backlogs: dict[str, dict[str, Lane]] = {}  # endpoint -> variant -> lane
        self._async_events: list[tuple[float, int, int, AsyncRequest]] = []
        self._async_results: list[AsyncResult] = []
        self._async_seq = 0
        self._next_sample = math.inf

    def _start_async(self: World, ep: Endpoint, now: float) -> None:
        """Give a new async endpoint its (empty) backlog and start the sampling clock if needed."""
        self.backlogs[ep.name] = {v: Lane() for v in ep.variants}
        if self._next_sample == math.inf:
            step = self.params.async_metric_sample_s
            self._next_sample = math.floor(now / step) * step + step

    def _drop_async(self: World, name: str) -> None:
        """The endpoint is deleted: its requests vanish (their pending events are skipped)."""
        for lane in self.backlogs.pop(name, {}).values():
            for req in (*lane.queue, *lane.running):
                req.state = "dropped"

    def max_concurrent(self: World, ep: Endpoint) -> int:
        """A2: slots per instance of an async endpoint."""
        configured = ep.async_config.max_concurrent_per_instance if ep.async_config else None
        return configured if configured is not None else self.params.async_default_max_concurrent

    # ------------------------------------------------------------------------------ requests
    def invoke_async(self: World, name: str, now: float, *, inference_id: str, input_location: str,
                     output_location: str, failure_location: str, ttl_s: float = 21600,
                     timeout_s: float = 900, target_variant: str | None = None) -> str:
        """InvokeEndpointAsync arriving at ``now`` (A1): queue the request; returns its variant's name."""
        self.advance(now)
        ep = self.endpoints.get(name)
        if ep is None or ep.status not in ("InService", "Updating"):
            raise WorldError("ValidationError", f"Endpoint {name} of account {self.account} not found.")
        if ep.async_config is None:  # wording UNCONFIRMED
            raise WorldError("ValidationError", f"Endpoint {name} of account {self.account} is not an "
                             "asynchronous endpoint: it has no AsyncInferenceConfig. Use InvokeEndpoint.")
        for label, value, (low, high) in (("requestTTLSeconds", ttl_s, TTL_RANGE_S),
                                          ("invocationTimeoutSeconds", timeout_s, TIMEOUT_RANGE_S)):
            if not low <= value <= high:
                raise WorldError("ValidationError", f"1 validation error detected: Value '{value:g}' at "
                                 f"'{label}' failed to satisfy constraint: Member must have value between "
                                 f"{low} and {high}")
        variant = self._pick_variant(ep, target_variant)
        self._async_seq += 1
        req = AsyncRequest(seq=self._async_seq, inference_id=inference_id, endpoint=name, variant=variant.name,
                           arrival_ts=now, ttl_s=ttl_s, timeout_s=timeout_s, input_location=input_location,
                           output_location=output_location, failure_location=failure_location)
        lane = self.backlogs[name][variant.name]
        lane.queue.append(req)
        lane.queued += 1
        heapq.heappush(self._async_events, (now + ttl_s, _EXPIRE, req.seq, req))
        self._dispatch_lane(ep, variant, lane, now)
        return variant.name

    def drain_async_results(self: World) -> list[AsyncResult]:
        """Requests finished (Completed, Failed, Expired) since the last drain, in completion order."""
        results, self._async_results = self._async_results, []
        return results

    def backlog_size(self: World, name: str) -> int:
        """Queued + in-progress requests of async endpoint ``name`` (0 if it has no backlog)."""
        return sum(lane.size for lane in self.backlogs.get(name, {}).values())

    # -------------------------------------------------------------------------------- events
    def _dispatch_endpoint(self: World, ep: Endpoint, t: float) -> None:
        lanes = self.backlogs.get(ep.name)
        if lanes:
            for v in ep.variants.values():
                self._dispatch_lane(ep, v, lanes[v.name], t)

    def _dispatch_lane(self: World, ep: Endpoint, variant: Variant, lane: Lane, t: float) -> None:
        """A2, A3: start queued requests, oldest first, while the variant has free slots."""
        slots = variant.current * self.max_concurrent(ep)
        params = self.params
        while lane.queued and lane.in_progress < slots:
            req = lane.queue.popleft()
            if req.state != "queued":
                continue  # expired while queued
            lane.queued -= 1
            lane.in_progress += 1
            lane.running.append(req)
            req.state, req.start_ts = "running", t
            jitter = 1.0 + params.latency_jitter * (2.0 * self.rng.random() - 1.0)
            processing_s = params.async_processing_s * jitter
            if processing_s > req.timeout_s:
                req.outcome, req.message = "Failed", timeout_message(req.inference_id, req.timeout_s)
                processing_s = req.timeout_s
            heapq.heappush(self._async_events, (t + processing_s, _COMPLETE, req.seq, req))

    def _next_async_event_ts(self: World) -> float:
        """Time of the next live completion or expiry (stale heap entries are discarded here)."""
        heap = self._async_events
        while heap:
            _, kind, _, req = heap[0]
            if req.state == ("running" if kind == _COMPLETE else "queued"):
                return heap[0][0]
            heapq.heappop(heap)
        return math.inf

    def _async_event(self: World, t: float) -> None:
        """Process the completion or expiry at the top of the heap (due at ``t``)."""
        _, kind, _, req = heapq.heappop(self._async_events)
        ep = self.endpoints[req.endpoint]
        lane = self.backlogs[req.endpoint][req.variant]
        dims = {"EndpointName": req.endpoint, "VariantName": req.variant}
        if kind == _EXPIRE:  # A4
            req.state = "expired"
            lane.queued -= 1
            self._put("ExpiredRequests", dims, t, 1.0)
            self._record_result(req, "Expired", t, f"Request {req.inference_id} expired: it waited in the "
                                f"backlog longer than RequestTTLSeconds ({req.ttl_s:g} s).")
            return
        req.state = "done"
        lane.in_progress -= 1
        if req.outcome == "Completed":
            unit = _TIME_UNIT_FACTOR[self.params.async_time_unit]
            assert req.start_ts is not None
            for metric in ("InvocationsProcesssed", "InvocationsProcessed"):
                self._put(metric, dims, t, 1.0)
            self._put("TimeInBacklog", dims, t, (req.start_ts - req.arrival_ts) * unit)
            self._put("TotalProcessingTime", dims, t, (t - req.arrival_ts) * unit)
        else:
            self._put("InvocationFailures", dims, t, 1.0)
        self._record_result(req, req.outcome, t, req.message)
        self._dispatch_lane(ep, ep.variants[req.variant], lane, t)

    def _record_result(self: World, req: AsyncRequest, status: Literal["Completed", "Failed", "Expired"],
                       t: float, message: str) -> None:
        self._async_results.append(AsyncResult(
            inference_id=req.inference_id, endpoint=req.endpoint, variant=req.variant, status=status,
            arrival_ts=req.arrival_ts, start_ts=req.start_ts, done_ts=t, input_location=req.input_location,
            output_location=req.output_location, failure_location=req.failure_location, message=message))

    def _sample_async(self: World, t: float) -> None:
        """A5: one sample of the EndpointName-level backlog metrics of every serving async endpoint."""
        active = False
        for ep in self.endpoints.values():
            lanes = self.backlogs.get(ep.name)
            if lanes is None:
                continue
            active = True
            if ep.status not in ("InService", "Updating"):
                continue
            size = sum(lane.size for lane in lanes.values())
            instances = sum(v.current for v in ep.variants.values())
            oldest = min((a for lane in lanes.values() if (a := lane.oldest_arrival()) is not None), default=None)
            dims = {"EndpointName": ep.name}
            self._put("ApproximateBacklogSize", dims, t, float(size))
            if instances > 0:
                self._put("ApproximateBacklogSizePerInstance", dims, t, size / instances)
            elif self.params.backlog_per_instance_at_zero != "absent":
                per_instance = size if self.params.backlog_per_instance_at_zero == "backlog" else 0
                self._put("ApproximateBacklogSizePerInstance", dims, t, float(per_instance))
            self._put("ApproximateAgeOfOldestRequest", dims, t, 0.0 if oldest is None else t - oldest)
            self._put("HasBacklogWithoutCapacity", dims, t, 1.0 if size > 0 and instances == 0 else 0.0)
        self._next_sample = t + self.params.async_metric_sample_s if active else math.inf
