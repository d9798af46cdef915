"""Async completion tracking in a Locust process: watching S3 for the results of sampled requests, and
how long the process waits for them after the load.

Async completion tracking: one greenlet per process lists the output and failure prefixes of the
outstanding sampled requests (ListObjectsV2, paginated, one listing per prefix per poll) every
``endpoint.async.poll_interval`` of endpoint time. After the load ends the process stays up (with no
users) until every tracked request has completed, or :func:`drain_s` has passed. Each Locust worker
tracks the completions of its own sample.

Times are endpoint seconds (completions are recorded into ``RUN.recorder`` in endpoint seconds from send
to sighting). Failure modes: a failed poll is logged and retried at the next one; a request older than
its TTL plus invocation timeout (:func:`max_age_s`; InvokeEndpointAsync's defaults when the profile
leaves them unset) is given up and counted, as no result can come any more.
"""

from __future__ import annotations

import logging
from typing import Any

import botocore.exceptions
import gevent

from harness.load.completions import poll_completions
from harness.load.state import RUN
from harness.profile import AsyncSpec

# Async: how long (endpoint seconds) after the load ends the completions of still outstanding
# sampled requests are awaited, at most; below that, the request TTL plus invocation timeout.
COMPLETION_DRAIN_MAX_S = 600.0
# Async defaults when the profile leaves them unset (InvokeEndpointAsync: 6 h TTL, 15 min timeout).
DEFAULT_REQUEST_TTL_S = 21600.0
DEFAULT_INVOCATION_TIMEOUT_S = 900.0

log = logging.getLogger("scalecheck.loadgen")


def max_age_s(spec: AsyncSpec) -> float:
    """Endpoint seconds after which a request can no longer produce a result (TTL + invocation timeout)."""
    return (spec.request_ttl_s or DEFAULT_REQUEST_TTL_S) + (spec.invocation_timeout_s or DEFAULT_INVOCATION_TIMEOUT_S)


def drain_s(spec: AsyncSpec) -> float:
    """How long after the load ends outstanding sampled requests are still awaited."""
    return min(max_age_s(spec), COMPLETION_DRAIN_MAX_S)


def draining() -> bool:
    """After the load: whether tracked requests are outstanding and the drain time has not run out."""
    spec = RUN.profile.endpoint.async_ if RUN.profile is not None else None
    if spec is None or RUN.tracker is None or RUN.tracker.outstanding == 0 or RUN.clock is None:
        return False
    end = RUN.load_end_ts if RUN.load_end_ts is not None else RUN.clock.endpoint_ts()
    return RUN.clock.endpoint_ts() < end + drain_s(spec)


def watch_completions(spec: AsyncSpec) -> None:
    """Every poll interval (endpoint time): list where the outstanding sampled results can appear."""
    assert RUN.clock is not None
    while not RUN.stopped:
        gevent.sleep(spec.poll_interval_s / RUN.clock.speed)
        try:
            _poll_completions()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            log.warning("async completion poll failed: %s", err)


def _poll_completions() -> None:
    """One poll: one paginated ListObjectsV2 per prefix with outstanding results; record what appeared."""
    tracker, clock, recorder = RUN.tracker, RUN.clock, RUN.recorder
    if tracker is None or clock is None or recorder is None:
        return
    given_up = tracker.prune(clock.endpoint_ts())
    if given_up:
        log.warning("async completion tracking: gave up %d request(s) past their TTL and timeout", given_up)
    if tracker.outstanding == 0 or RUN.s3 is None:
        return
    s3 = RUN.s3

    def list_page(bucket: str, prefix: str, token: str | None) -> Any:
        return s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {}))

    for done in poll_completions(tracker, list_page, clock.endpoint_ts):
        recorder.record_completion(done.seconds, done.failed)
