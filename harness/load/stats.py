"""Per-interval load statistics: what was offered, what was achieved, how fast, what failed.

Pure (no Locust, no gevent: the checks and reports import it without the load generator): the load
generator feeds :meth:`IntervalRecorder.record` one call per finished request (and, for async endpoints,
:meth:`IntervalRecorder.record_completion` one call per observed completion) and calls
:meth:`IntervalRecorder.flush` once per interval. Interval timestamps and rates are endpoint time
(converted through a :class:`~harness.record.Clock`); latencies are the client's wall-clock milliseconds,
completion times endpoint seconds.

Latencies and completion times go into HDR histograms (:class:`hdrh.histogram.HdrHistogram`), one per
interval: recording is O(1) with no list of samples, percentiles are within
:data:`HDR_SIGNIFICANT_DIGITS` significant digits (an upper bound: never better than the truth), and
the flushed :class:`~harness.record.LoadInterval` carries the encoded histograms (``latency_hdr``,
``completion_hdr``) so that intervals of several load generator processes can be merged exactly
(:func:`merge_intervals`; on a Locust master, :class:`IntervalMerger`).

:func:`load_shortfall` and :func:`invalid_load_reason` judge recorded intervals: offered vs achieved
requests, over the whole load and per stage.

Failure modes: a value beyond a histogram's range is counted at its top (the exact max is kept apart);
merging a record that has samples but no histogram leaves the merged percentiles None (``max`` stays
exact); :func:`merge_intervals` of no records raises ValueError. Open-loop arrivals and pool sizing are
in :mod:`harness.load.arrivals`, async completion bookkeeping in :mod:`harness.load.completions`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from harness.record import Clock, LatencyMs, LoadInterval

# Request latencies: integer microseconds from 1 µs to one hour.
LATENCY_LOWEST_US = 1
LATENCY_HIGHEST_US = 3_600 * 1_000_000
# Async completion times (send to result object, endpoint time): integer milliseconds from 1 ms to one
# day (a request lives at most its TTL, <= 6 h, plus its invocation timeout, <= 1 h).
COMPLETION_LOWEST_MS = 1
COMPLETION_HIGHEST_MS = 24 * 3_600 * 1_000
# Resolution of both: values within 0.1 % (bucket width <= value / 1024; exact below 2048 units).
HDR_SIGNIFICANT_DIGITS = 3

PERCENTILES = (50, 90, 95, 99)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(latencies_ms: Sequence[float]) -> LatencyMs:
    """Exact nearest-rank percentiles of raw values (the simulator's and tests' reference)."""
    values = sorted(latencies_ms)
    return LatencyMs(p50=percentile(values, 50), p90=percentile(values, 90), p95=percentile(values, 95),
                     p99=percentile(values, 99), max=values[-1] if values else None)


def new_latency_histogram() -> HdrHistogram:
    """An empty request latency histogram (microseconds)."""
    return HdrHistogram(LATENCY_LOWEST_US, LATENCY_HIGHEST_US, HDR_SIGNIFICANT_DIGITS)


def new_completion_histogram() -> HdrHistogram:
    """An empty async completion time histogram (milliseconds)."""
    return HdrHistogram(COMPLETION_LOWEST_MS, COMPLETION_HIGHEST_MS, HDR_SIGNIFICANT_DIGITS)


def encode_histogram(hist: HdrHistogram) -> str | None:
    """The histogram as a base64 string (HdrHistogram V2 compressed format); None when it is empty."""
    if hist.get_total_count() == 0:
        return None
    return hist.encode().decode("ascii")


def decode_histogram(encoded: str) -> HdrHistogram:
    """A histogram from :func:`encode_histogram`'s string."""
    return HdrHistogram.decode(encoded.encode("ascii"))


def hdr_percentiles(hist: HdrHistogram, qs: Iterable[int] = PERCENTILES) -> list[int | None]:
    """Nearest-rank percentiles (``qs`` ascending integers, 1-100) in one pass over the counts, each the
    highest value equivalent to the sample of that rank (within the histogram's precision, never below
    it); None each when the histogram is empty. Nearest rank (``ceil(q/100 * n)``), as :func:`percentile`,
    where :meth:`HdrHistogram.get_value_at_percentile` rounds the rank."""
    qs = list(qs)
    total = hist.get_total_count()
    if total == 0:
        return [None] * len(qs)
    targets = [max(1, -(-q * total // 100)) for q in qs]
    out: list[int | None] = []
    counts = hist.counts
    seen = 0
    for index in range(hist.counts_len):
        count = counts[index]
        if not count:
            continue
        seen += count
        while len(out) < len(targets) and seen >= targets[len(out)]:
            out.append(hist.get_highest_equivalent_value(hist.get_value_from_index(index)))
        if len(out) == len(targets):
            break
    return out


def hdr_summary(hist: HdrHistogram, per: float, exact_max: float | None) -> LatencyMs:
    """p50/p90/p95/p99 of ``hist`` divided by ``per`` (1000: microseconds to milliseconds), none above
    ``exact_max``, which is the reported max (the histogram's own max when None)."""
    if hist.get_total_count() == 0:
        return LatencyMs()
    top = exact_max if exact_max is not None else hist.get_max_value() / per
    p50, p90, p95, p99 = (min(v / per, top) for v in hdr_percentiles(hist) if v is not None)
    return LatencyMs(p50=p50, p90=p90, p95=p95, p99=p99, max=top)


def _to_units(value: float, per_unit: float, highest: int) -> int:
    """``value`` as a whole number of histogram units, clamped into its range (a longer value counts as the
    range's top in the percentiles; the exact max is kept apart)."""
    return min(max(0, round(value * per_unit)), highest)


class IntervalRecorder:
    """Accumulates finished requests and turns them into :class:`LoadInterval` records.

    Per request: one histogram ``record_value`` and a max; nothing grows with the request count."""

    def __init__(self, clock: Clock, start_wall_ts: float) -> None:
        self.clock = clock
        self.start_wall = start_wall_ts
        self._reset()

    def _reset(self) -> None:
        self._latency = new_latency_histogram()
        self._latency_max: float | None = None
        self._failures = 0
        self._errors: Counter[str] = Counter()
        self._completion = new_completion_histogram()
        self._completion_max: float | None = None
        self._completion_failures = 0
        self._arrivals = 0
        self._dropped = 0

    def arrival(self, dropped: bool = False) -> None:
        """Open loop: one scheduled arrival; ``dropped`` if no user was free to send it."""
        self._arrivals += 1
        if dropped:
            self._dropped += 1

    def record(self, latency_ms: float, error: str | None = None) -> None:
        """One finished request; ``error`` is the AWS error code (or a transport error name) if it failed."""
        self._latency.record_value(_to_units(latency_ms, 1000.0, LATENCY_HIGHEST_US))
        if self._latency_max is None or latency_ms > self._latency_max:
            self._latency_max = latency_ms
        if error is not None:
            self._failures += 1
            self._errors[error] += 1

    def record_completion(self, seconds: float, failed: bool = False) -> None:
        """One async request of the completion sample finished ``seconds`` (endpoint time) after it was
        sent: its output object appeared, or its failure object if ``failed``."""
        self._completion.record_value(_to_units(seconds, 1000.0, COMPLETION_HIGHEST_MS))
        if self._completion_max is None or seconds > self._completion_max:
            self._completion_max = seconds
        if failed:
            self._completion_failures += 1

    def flush(self, wall_now: float, *, offered_rps: float | None, users: int,
              stage: str | None) -> LoadInterval | None:
        """Close the interval ending at ``wall_now``; None if it has no length. ``offered_rps`` None: the
        arrivals counted by :meth:`arrival` (dropped ones included) per second (open loop)."""
        wall_len = wall_now - self.start_wall
        if wall_len <= 0:
            return None
        interval_s = wall_len * self.clock.speed
        requests = self._latency.get_total_count()
        record = LoadInterval(
            ts=self.clock.endpoint_ts(self.start_wall), interval_s=interval_s, stage=stage,
            offered_rps=self._arrivals / interval_s if offered_rps is None else offered_rps,
            achieved_rps=requests / interval_s, requests=requests,
            failures=self._failures, users=users, dropped=self._dropped,
            latency_ms=hdr_summary(self._latency, 1000, self._latency_max),
            latency_hdr=encode_histogram(self._latency),
            errors=dict(self._errors), completions=self._completion.get_total_count(),
            completion_failures=self._completion_failures,
            completion_s=hdr_summary(self._completion, 1000, self._completion_max),
            completion_hdr=encode_histogram(self._completion))
        self.start_wall = wall_now
        self._reset()
        return record


def _merged(encoded: Sequence[tuple[int, str | None]], new: Callable[[], HdrHistogram]) -> HdrHistogram | None:
    """The sum of the histograms of ``(count, encoded)`` pairs; None if one with samples has none
    (an old record, or one the simulator wrote): then the merge cannot be exact."""
    total = new()
    for count, blob in encoded:
        if blob is None:
            if count:
                return None
            continue
        total.add(decode_histogram(blob))
    return total


def _max_of(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def merge_intervals(records: Sequence[LoadInterval], *, offered_rps: float | None = None) -> LoadInterval:
    """One interval from the intervals of several load generator processes (Locust workers) for the same
    interval: counts, failures, errors, completions and users summed, histograms merged and percentiles
    recomputed from them, exactly as if one process had recorded every sample.

    The result starts at the earliest ``ts`` and spans to the latest end (workers flush on their own
    clocks, so their intervals differ slightly); ``achieved_rps`` is the summed requests over that span.
    ``offered_rps``: the total offered rate, when workers each record their share; by default the
    largest of the records' (loadgen records the profile's rate, the same on every worker). ``stage``:
    the first record's that has one. A record with samples but no histogram (written before histograms,
    or by the simulator) leaves the merged percentiles unknown (None), but ``max`` stays exact.
    """
    if not records:
        raise ValueError("merge_intervals needs at least one record")
    ts = min(r.ts for r in records)
    interval_s = max(r.ts + r.interval_s for r in records) - ts
    requests = sum(r.requests for r in records)
    completions = sum(r.completions for r in records)
    errors: Counter[str] = Counter()
    for r in records:
        errors.update(r.errors)
    latency_max = _max_of(r.latency_ms.max for r in records)
    completion_max = _max_of(r.completion_s.max for r in records)
    latency = _merged([(r.requests, r.latency_hdr) for r in records], new_latency_histogram)
    completion = _merged([(r.completions, r.completion_hdr) for r in records], new_completion_histogram)
    return LoadInterval(
        ts=ts, interval_s=interval_s, stage=next((r.stage for r in records if r.stage is not None), None),
        offered_rps=max(r.offered_rps for r in records) if offered_rps is None else offered_rps,
        achieved_rps=requests / interval_s if interval_s > 0 else 0.0, requests=requests,
        failures=sum(r.failures for r in records), users=sum(r.users for r in records),
        dropped=sum(r.dropped for r in records),
        latency_ms=(hdr_summary(latency, 1000, latency_max) if latency is not None
                    else LatencyMs(max=latency_max)),
        latency_hdr=encode_histogram(latency) if latency is not None else None,
        errors=dict(errors), completions=completions,
        completion_failures=sum(r.completion_failures for r in records),
        completion_s=(hdr_summary(completion, 1000, completion_max) if completion is not None
                      else LatencyMs(max=completion_max)),
        completion_hdr=encode_histogram(completion) if completion is not None else None)


class IntervalMerger:
    """The Locust master's side of distributed load records: each worker sends its records of interval
    ``index`` (0, 1, ...: the intervals of every worker share their boundaries, all counted from the same
    load start) in order, the last one marked ``final``; :meth:`pop` returns one merged record per interval
    (:meth:`merge`), in order, once every expected worker has reported that interval or a later one (or is
    done), or once ``overdue`` says the master should stop waiting for it (a worker that hangs or died).

    A record that arrives after its interval was written is returned by :meth:`add` (``workers`` 1), to be
    appended on its own: the totals stay exact even then (:attr:`late` counts them) — in closed loop its
    ``offered_rps`` is 0, since every worker records the profile's whole rate and the interval's was written.
    """

    def __init__(self, workers: Iterable[str] = (), *, open_loop: bool = False) -> None:
        self.workers: set[str] = set(workers)
        self.open_loop = open_loop
        self.next_index = 0
        self.late = 0
        self._pending: dict[int, dict[str, LoadInterval]] = {}
        self._last: dict[str, int] = {}
        self._final: set[str] = set()

    def add(self, worker: str, index: int, record: LoadInterval | None, *, final: bool = False) -> LoadInterval | None:
        """Worker ``worker``'s record of interval ``index`` (None: it has nothing for it, e.g. a final
        marker); returns the record to append at once if its interval was already written."""
        self.workers.add(worker)
        self._last[worker] = max(self._last.get(worker, -1), index)
        if final:
            self._final.add(worker)
        if record is None:
            return None
        if index < self.next_index:
            self.late += 1
            return record.model_copy(update={"workers": 1} if self.open_loop else {"workers": 1, "offered_rps": 0.0})
        slot = self._pending.setdefault(index, {})
        if worker in slot:  # (not sent by loadgen: one record per worker and interval) keep both samples
            previous = slot[worker]
            users = max(previous.users, record.users)
            record = merge_intervals([previous, record], offered_rps=max(previous.offered_rps, record.offered_rps))
            record = record.model_copy(update={"users": users})
        slot[worker] = record
        return None

    def leave(self, worker: str) -> None:
        """``worker`` is gone (quit, or lost): wait for nothing more from it."""
        self._final.add(worker)

    def done(self, worker: str) -> bool:
        return worker in self._final

    @property
    def finished(self) -> bool:
        """Every expected worker sent its final record (or left), and every record was popped."""
        return all(w in self._final for w in self.workers) and not self._pending

    def complete(self, index: int) -> bool:
        """Whether every expected worker has reported interval ``index`` or a later one, or is done."""
        return all(w in self._final or self._last.get(w, -1) >= index for w in self.workers)

    def pop(self, overdue: Callable[[int], bool] | None = None, *, everything: bool = False) -> list[LoadInterval]:
        """The merged records of the intervals now complete (or ``overdue(index)``; ``everything``: all
        that were received, at the end), in interval order."""
        out: list[LoadInterval] = []
        while self._pending:
            k = self.next_index
            if not (everything or self.complete(k) or (overdue is not None and overdue(k))):
                break
            records = self._pending.pop(k, None)
            self.next_index += 1
            if records:
                out.append(self.merge(list(records.values())))
        return out

    def merge(self, records: Sequence[LoadInterval]) -> LoadInterval:
        """One interval from the workers' records of it: :func:`merge_intervals`, with ``users`` the total
        the master set (every worker records it: the largest), the offered rate closed loop the profile's
        (the same on every worker), open loop each worker's scheduled arrivals summed, and ``workers``."""
        span = max(r.ts + r.interval_s for r in records) - min(r.ts for r in records)
        offered = (sum(r.offered_rps * r.interval_s for r in records) / span if self.open_loop and span > 0
                   else max(r.offered_rps for r in records))
        merged = merge_intervals(records, offered_rps=offered)
        return merged.model_copy(update={"users": max(r.users for r in records), "workers": len(records)})


# --- the validity of the load ---------------------------------------------------------------------


@dataclass(frozen=True)
class Shortfall:
    """Offered vs achieved requests over some load intervals; ``fraction`` = 1 - achieved / offered."""

    stage: str | None  # None: the whole load
    offered: float
    achieved: int
    dropped: int

    @property
    def fraction(self) -> float:
        return max(0.0, 1.0 - self.achieved / self.offered) if self.offered > 0 else 0.0

    def text(self) -> str:
        return (f"{self.achieved} of {self.offered:.0f} offered requests sent ({self.fraction:.1%} short, "
                f"{self.dropped} dropped)")


def load_shortfall(records: Sequence[LoadInterval]) -> tuple[Shortfall, list[Shortfall]]:
    """The shortfall of the whole load and of each stage (in order of first appearance), over the
    intervals of the load (those with a stage; async drain intervals have none). Offered requests are
    ``offered_rps x interval_s`` (open loop: the arrivals scheduled), achieved ones ``requests``."""
    per: dict[str, list[LoadInterval]] = {}
    for r in records:
        if r.stage is not None:
            per.setdefault(r.stage, []).append(r)

    def of(stage: str | None, rs: Sequence[LoadInterval]) -> Shortfall:
        return Shortfall(stage, sum(r.offered_rps * r.interval_s for r in rs), sum(r.requests for r in rs),
                         sum(r.dropped for r in rs))

    return of(None, [r for rs in per.values() for r in rs]), [of(name, rs) for name, rs in per.items()]


def invalid_load_reason(records: Sequence[LoadInterval], max_shortfall: float) -> str | None:
    """Why the load is invalid (the achieved requests fell more than ``max_shortfall`` below the offered
    ones over the whole load), naming the stages that fell short; None when it is valid."""
    whole, stages = load_shortfall(records)
    if whole.offered <= 0 or whole.fraction <= max_shortfall:
        return None
    short = [s for s in stages if s.fraction > max_shortfall] or [max(stages, key=lambda s: s.fraction)]
    where = "; ".join(f"stage {s.stage!r}: {s.text()}" for s in short)
    return (f"invalid load: the load generator fell short of the offered load by {whole.fraction:.1%} "
            f"(> traffic.max_shortfall {max_shortfall:g}): {whole.text()}; {where}")
