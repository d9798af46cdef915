"""CloudWatch metric storage as the model sees it: per-period buckets that become visible late.

A sample is added to the bucket of its period (``floor(ts / period) * period``). A bucket is
*visible* — returned by queries, seen by alarms — once ``bucket_ts + period + publish_lag <= now``
(aws-semantics §5: publication delay UNCONFIRMED, a named parameter). Pure: time is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

Dims = tuple[tuple[str, str], ...]

STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")


def _first(item: tuple[int, float]) -> int:
    return item[0]


class MetricKey(NamedTuple):
    """One CloudWatch metric: namespace, name and dimensions (sorted name/value pairs)."""

    namespace: str
    name: str
    dims: Dims

    @staticmethod
    def of(namespace: str, name: str, **dims: str) -> MetricKey:
        return MetricKey(namespace, name, tuple(sorted(dims.items())))


@dataclass(slots=True)
class Bucket:
    """Aggregate of the samples of one period."""

    sum: float = 0.0
    count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, value: float, count: int = 1) -> None:
        self.sum += value
        self.count += count
        if value < self.minimum:  # as min()/max() decide, without their call
            self.minimum = value
        if value > self.maximum:
            self.maximum = value

    def merge(self, other: Bucket) -> None:
        self.sum += other.sum
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def merged_stat(self, statistic: str) -> float:
        """``Bucket()`` merged with this one, then :meth:`stat` (a datapoint of a single bucket), without the copy."""
        if statistic == "Sum":
            return 0.0 + self.sum
        if statistic == "SampleCount":
            return float(self.count)
        if self.count == 0:
            return 0.0
        if statistic == "Average":
            return (0.0 + self.sum) / self.count
        if statistic == "Minimum":
            return min(math.inf, self.minimum)
        if statistic == "Maximum":
            return max(-math.inf, self.maximum)
        raise ValueError(f"unsupported statistic {statistic!r}; supported: {', '.join(STATISTICS)}")

    def stat(self, statistic: str) -> float:
        """Value of ``statistic``; an empty bucket (zero emitted while idle) reads as 0."""
        if statistic == "Sum":
            return self.sum
        if statistic == "SampleCount":
            return float(self.count)
        if self.count == 0:
            return 0.0
        if statistic == "Average":
            return self.sum / self.count
        if statistic == "Minimum":
            return self.minimum
        if statistic == "Maximum":
            return self.maximum
        raise ValueError(f"unsupported statistic {statistic!r}; supported: {', '.join(STATISTICS)}")


class MetricStore:
    """All datapoints of one emulated account, bucketed by ``period_s``."""

    def __init__(self, period_s: int = 60, publish_lag_s: float = 60.0) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self.period_s = period_s
        self.publish_lag_s = publish_lag_s
        self._series: dict[MetricKey, dict[int, Bucket]] = {}

    def bucket_ts(self, ts: float) -> int:
        """Start of the period that contains ``ts``."""
        return int(math.floor(ts / self.period_s)) * self.period_s

    def add(self, key: MetricKey, ts: float, value: float) -> None:
        """Record one sample of ``value`` at ``ts``."""
        series = self._series.setdefault(key, {})
        b = self.bucket_ts(ts)
        bucket = series.get(b)
        if bucket is None:
            bucket = series[b] = Bucket()
        bucket.add(value)

    def bucket(self, key: MetricKey, bucket_ts: int) -> Bucket:
        """The bucket of ``key`` for the period starting at ``bucket_ts``, created (empty) if absent.

        For hot paths that add samples to it in place, as :meth:`add` does (``sum`` and ``count`` up,
        ``minimum``/``maximum`` widened): a bucket, once created, stays the store's for good.
        """
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = {}
        bucket = series.get(bucket_ts)
        if bucket is None:
            bucket = series[bucket_ts] = Bucket()
        return bucket

    def add_aggregate(self, key: MetricKey, ts: float, total: float, count: int, minimum: float,
                      maximum: float) -> None:
        """Record ``count`` samples at once (all in the period of ``ts``): their sum, minimum and maximum.

        Equivalent to ``count`` calls of :meth:`add` for every statistic a bucket keeps.
        """
        if count <= 0:
            return
        self.aggregator(ts)(key, total, count, minimum, maximum)

    def aggregator(self, ts: float) -> Callable[[MetricKey, float, int, float, float], None]:
        """``add(key, total, count, minimum, maximum)``: :meth:`add_aggregate` at ``ts``, its bucket found once."""
        b = self.bucket_ts(ts)
        all_series = self._series

        def add(key: MetricKey, total: float, count: int, minimum: float, maximum: float) -> None:
            if count <= 0:
                return
            series = all_series.get(key)
            if series is None:
                series = all_series[key] = {}
            bucket = series.get(b)
            if bucket is None:
                bucket = series[b] = Bucket()
            bucket.sum += total
            bucket.count += count
            if minimum < bucket.minimum:
                bucket.minimum = minimum
            if maximum > bucket.maximum:
                bucket.maximum = maximum

        return add

    def emit_zero(self, key: MetricKey, bucket_ts: int) -> None:
        """Make the period at ``bucket_ts`` exist with value 0 if nothing was recorded in it.

        SageMaker publishes zeros for an idle variant (aws-semantics §1, S15-prereq).
        """
        series = self._series.setdefault(key, {})
        if bucket_ts not in series:
            series[bucket_ts] = Bucket(minimum=0.0, maximum=0.0)

    def visible_until(self, now: float) -> float:
        """Buckets starting before this are visible at ``now``."""
        return now - self.publish_lag_s - self.period_s

    def keys(self, namespace: str | None = None, name: str | None = None) -> list[MetricKey]:
        return [k for k in self._series if (namespace is None or k.namespace == namespace)
                and (name is None or k.name == name)]

    def datapoints(self, key: MetricKey, statistic: str, period_s: int, start_ts: float, end_ts: float,
                   now: float) -> list[tuple[int, float]]:
        """Visible datapoints of ``key`` aggregated to ``period_s``, ``start_ts <= ts < end_ts``, ascending.

        ``period_s`` must be a multiple of the store's period; ``start_ts`` is rounded down to it.
        Periods without data are omitted, as CloudWatch does (aws-semantics §8).
        """
        if period_s % self.period_s:
            raise ValueError(f"period {period_s} is not a multiple of {self.period_s}")
        series = self._series.get(key)
        if not series:
            return []
        limit = self.visible_until(now)
        start = int(math.floor(start_ts / period_s)) * period_s
        grouped: dict[int, Bucket] = {}
        step = self.period_s
        first = math.ceil(start / step) * step
        stop = min(end_ts, limit + 1)
        if stop <= first:
            return []
        if period_s == step:  # the store's own period: each bucket is its datapoint
            out = []
            if (stop - first) / step < len(series):  # a short window of a long series: look the buckets up
                for b in range(int(first), int(math.ceil(stop)), step):
                    bucket = series.get(b)
                    if bucket is None or b < start or b >= end_ts or b > limit:
                        continue
                    out.append((b, bucket.merged_stat(statistic)))
                return out
            for b, bucket in series.items():
                if b < start or b >= end_ts or b > limit:
                    continue
                out.append((int(math.floor(b / period_s)) * period_s, bucket.merged_stat(statistic)))
            out.sort(key=_first)
            return out
        if (stop - first) / step < len(series):  # a short window of a long series: look the buckets up
            found = ((b, series[b]) for b in range(int(first), int(math.ceil(stop)), step) if b in series)
        else:
            found = ((b, bucket) for b, bucket in series.items())
        for b, bucket in found:
            if b < start or b >= end_ts or b > limit:
                continue
            g = int(math.floor(b / period_s)) * period_s
            if g + period_s - self.period_s > limit:
                continue  # the aggregate period is not complete and published yet
            grouped.setdefault(g, Bucket()).merge(bucket)
        return [(g, grouped[g].stat(statistic)) for g in sorted(grouped)]

    def latest(self, key: MetricKey, statistic: str, now: float, count: int,
               period_s: int | None = None) -> list[tuple[int, float]]:
        """The last ``count`` complete visible periods of ``period_s`` (default the store's period),
        present or not: the datapoints among them."""
        period = period_s or self.period_s
        limit = self.visible_until(now)
        last = int(math.floor((limit - (period - self.period_s)) / period)) * period
        first = last - (count - 1) * period
        if period == self.period_s:  # what datapoints() returns for the store's period, looked up directly
            series = self._series.get(key)
            if not series:
                return []
            out = []
            for b in range(first, last + period, period):
                bucket = series.get(b)
                if bucket is not None:
                    out.append((b, bucket.merged_stat(statistic)))
            return out
        return self.datapoints(key, statistic, period, first, last + period, now)
