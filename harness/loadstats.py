"""Per-interval load statistics: what was offered, what was achieved, how fast, what failed.

Pure (no Locust, no gevent): the load generator feeds :meth:`IntervalRecorder.record` one call per
finished request and calls :meth:`IntervalRecorder.flush` once per interval. Interval timestamps
and rates are endpoint time (converted through a :class:`~harness.record.Clock`); latencies are
the client's wall-clock milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from harness.record import Clock, LatencyMs, LoadInterval


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(latencies_ms: Sequence[float]) -> LatencyMs:
    values = sorted(latencies_ms)
    return LatencyMs(p50=percentile(values, 50), p90=percentile(values, 90), p95=percentile(values, 95),
                     p99=percentile(values, 99), max=values[-1] if values else None)


class IntervalRecorder:
    """Accumulates finished requests and turns them into :class:`LoadInterval` records."""

    def __init__(self, clock: Clock, start_wall_ts: float) -> None:
        self.clock = clock
        self.start_wall = start_wall_ts
        self._latencies: list[float] = []
        self._failures = 0
        self._errors: Counter[str] = Counter()

    def record(self, latency_ms: float, error: str | None = None) -> None:
        """One finished request; ``error`` is the AWS error code (or a transport error name) if it failed."""
        self._latencies.append(latency_ms)
        if error is not None:
            self._failures += 1
            self._errors[error] += 1

    def flush(self, wall_now: float, *, offered_rps: float, users: int, stage: str | None) -> LoadInterval | None:
        """Close the interval ending at ``wall_now``; None if it has no length."""
        wall_len = wall_now - self.start_wall
        if wall_len <= 0:
            return None
        interval_s = wall_len * self.clock.speed
        requests = len(self._latencies)
        record = LoadInterval(
            ts=self.clock.endpoint_ts(self.start_wall), interval_s=interval_s, stage=stage,
            offered_rps=offered_rps, achieved_rps=requests / interval_s, requests=requests,
            failures=self._failures, users=users, latency_ms=latency_summary(self._latencies),
            errors=dict(self._errors))
        self.start_wall = wall_now
        self._latencies = []
        self._failures = 0
        self._errors = Counter()
        return record
