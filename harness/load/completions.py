"""Bookkeeping of async completion tracking, without any I/O of its own.

:class:`CompletionTracker`: which sampled requests are still outstanding, where their output or failure
object will appear, and when they were sent. Pure (no Locust, no gevent, no boto3): :func:`poll_completions`
lists S3 through the ``list_page`` callable it is given (one ListObjectsV2 page) and lets its exceptions
through. Times are endpoint seconds (``sent_ts``, ``seen_ts``, ``max_age_s``); a completion is timed at
the arrival of the listing page that showed its object, so it is late by up to one poll interval.
:func:`split_s3_uri` raises ValueError for anything but an ``s3://bucket/...`` URI, the tracker for a
sample outside ``[0, 1]``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``; ValueError if it is not an S3 URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in S3 URI: {uri!r}")
    return bucket, key


def s3_prefix(uri: str) -> tuple[str, str]:
    """The (bucket, prefix) to list to find the object at ``uri``: its key up to the last ``/``."""
    bucket, key = split_s3_uri(uri)
    return bucket, key.rsplit("/", 1)[0] + "/" if "/" in key else ""


@dataclass(frozen=True)
class Completion:
    """A tracked request whose result appeared: ``seconds`` from send to sighting (endpoint time)."""

    inference_id: str
    seconds: float
    failed: bool


@dataclass(frozen=True)
class _Pending:
    inference_id: str
    output_uri: str
    failure_uri: str | None
    sent_ts: float


class CompletionTracker:
    """Outstanding async requests of the completion sample, looked up by the S3 URI of their result.

    ``sample`` is the fraction of accepted requests to track; :meth:`should_track` picks them evenly
    by a counter (deterministic: with 0.25, every 4th). Requests older than ``max_age_s`` are given up
    (:meth:`prune`): past their TTL and invocation timeout no result will come.
    """

    def __init__(self, sample: float, max_age_s: float) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"sample must be within [0, 1], got {sample}")
        self.sample = sample
        self.max_age_s = max_age_s
        self._accepted = 0
        self._pending: dict[str, _Pending] = {}
        self._by_uri: dict[str, tuple[_Pending, bool]] = {}
        self._prefixes: Counter[tuple[str, str]] = Counter()
        self.given_up = 0

    def should_track(self) -> bool:
        """Count one accepted request; True if it belongs to the sample."""
        n = self._accepted
        self._accepted += 1
        return math.floor((n + 1) * self.sample + 1e-9) > math.floor(n * self.sample + 1e-9)

    def track(self, inference_id: str, output_uri: str, failure_uri: str | None, sent_ts: float) -> None:
        """Watch for ``output_uri`` (success) or ``failure_uri`` (failure) of a request sent at ``sent_ts``."""
        if inference_id in self._pending:
            self._forget(self._pending[inference_id])
        entry = _Pending(inference_id, output_uri, failure_uri, sent_ts)
        self._pending[inference_id] = entry
        for uri, failed in ((output_uri, False), (failure_uri, True)):
            if uri is not None:
                self._by_uri[uri] = (entry, failed)
                self._prefixes[s3_prefix(uri)] += 1

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def prefixes(self) -> list[tuple[str, str]]:
        """The (bucket, prefix) pairs to list: where outstanding requests' results can appear."""
        return sorted(p for p, n in self._prefixes.items() if n > 0)

    def waiting_in(self, bucket: str, prefix: str) -> int:
        """How many outstanding results can still appear under ``prefix`` of ``bucket``."""
        return self._prefixes[(bucket, prefix)]

    def observe(self, uri: str, seen_ts: float) -> Completion | None:
        """An object exists at ``uri`` (seen at endpoint time ``seen_ts``): the completion it means, if tracked."""
        found = self._by_uri.get(uri)
        if found is None:
            return None
        entry, failed = found
        self._forget(entry)
        return Completion(entry.inference_id, max(0.0, seen_ts - entry.sent_ts), failed)

    def prune(self, now_ts: float) -> int:
        """Give up requests sent more than ``max_age_s`` before ``now_ts``; how many were given up."""
        old = [e for e in self._pending.values() if now_ts - e.sent_ts > self.max_age_s]
        for entry in old:
            self._forget(entry)
        self.given_up += len(old)
        return len(old)

    def _forget(self, entry: _Pending) -> None:
        self._pending.pop(entry.inference_id, None)
        for uri in (entry.output_uri, entry.failure_uri):
            if uri is not None and self._by_uri.pop(uri, None) is not None:
                key = s3_prefix(uri)
                self._prefixes[key] -= 1
                if self._prefixes[key] <= 0:
                    del self._prefixes[key]


# One ListObjectsV2 page: (bucket, prefix, continuation token or None) -> the response
ListPage = Callable[[str, str, "str | None"], Mapping[str, Any]]


def poll_completions(tracker: CompletionTracker, list_page: ListPage, now_ts: Callable[[], float]) -> list[Completion]:
    """One poll: list each prefix where an outstanding result can appear (paginated, stopping once
    nothing more is awaited there) and return the completions seen, each timed at its page's arrival."""
    found: list[Completion] = []
    for bucket, prefix in tracker.prefixes():
        token: str | None = None
        while tracker.waiting_in(bucket, prefix) > 0:
            page = list_page(bucket, prefix, token)
            seen_ts = now_ts()
            for obj in page.get("Contents", ()):
                done = tracker.observe(f"s3://{bucket}/{obj['Key']}", seen_ts)
                if done is not None:
                    found.append(done)
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                break
    return found

