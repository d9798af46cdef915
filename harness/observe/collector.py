"""The collector: polls AWS (or the emulator) through boto3 and appends what it sees to the run folder.

Four feeds, each on its own daemon thread and its own interval of endpoint time (profile ``collector``),
so a slow, throttled or hung API delays only its own feed:
- DescribeEndpoint → ``endpoint.jsonl`` every ``describe_interval_s``;
- DescribeScalingActivities → ``activities.jsonl`` (new or changed activities) every ``describe_interval_s``;
- GetMetricData over a trailing window → ``metrics.jsonl`` (new or revised datapoints) every
  ``metrics_interval_s``;
- DescribeAlarms of the policies' alarms → ``alarms.jsonl`` (state changes) every ``metrics_interval_s``.
Intervals run from the start of one poll to the start of the next; a feed never polls twice at once.
The same code runs against AWS and the emulator, through :func:`harness.observe.aws.collector_clients`:
adaptive retries, at most three attempts per call, short timeouts. A failed poll (after those retries)
is recorded as a ``collector_error`` event naming the feed and the AWS error code (``GetMetricData:
Throttling: Rate exceeded``) and leaves a gap, which the checks treat as missing data (INCONCLUSIVE,
never PASS); it never stops the feed or the run. :meth:`Collector.poll_once` runs one round of every
feed side by side and waits at most one describe interval; :meth:`Collector.stop` returns within about
``STOP_JOIN_S + ROUND_TIMEOUT_S`` wall seconds even if an API hangs: a call still pending is left to its
daemon thread, and nothing is recorded once ``stop`` has returned.

Which metrics: :func:`harness.profile.series.metric_queries` — for a real-time endpoint its REALTIME_METRICS,
for an async one its ASYNC_METRICS (the backlog metrics with the EndpointName dimension only, the others
with EndpointName + VariantName; InvocationsProcesssed under both spellings, each recorded under the
name it was asked by), all at 1-minute periods; plus, for every step policy of the profile, its
alarm's metric at the alarm's statistic, dimensions and period. Duplicates are asked once, and all
of it in one GetMetricData call up to :data:`MAX_QUERIES_PER_CALL` queries. Which alarms
(:func:`alarm_names`): those DescribeScalingPolicies lists for the variant's policies (the
target-tracking alarms AWS manages and the step policies' own), re-read every
:data:`ALARM_NAMES_REFRESH_S` because policies may be put during the run, plus the profile's step
alarm names from the start.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from harness.observe.aws import Clients, collector_clients
from harness.profile import Profile, StepPolicy
from harness.profile.series import PERIOD_S, MetricQuery, metric_queries
from harness.record import Activity, AlarmSample, Clock, EndpointSample, MetricPoint, RunEvent, RunFolder

MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries
METRIC_LOOKBACK_S = 20 * 60  # re-read this much history each poll: CloudWatch revises late datapoints
LOOKBACK_PERIODS = 3  # ... and at least this many periods of the longest one asked
ALARM_NAMES_PER_CALL = 100  # DescribeAlarms' limit on AlarmNames
ALARM_NAMES_REFRESH_S = 300.0  # endpoint seconds between DescribeScalingPolicies reads of the alarm names
FEEDS = ("DescribeEndpoint", "DescribeScalingActivities", "GetMetricData", "DescribeAlarms")
ROUND_TIMEOUT_S = 5.0  # wall seconds poll_once (the first round, and stop's last) waits for the feeds
STOP_JOIN_S = 2.0  # wall seconds stop() waits for the feed threads to finish their current poll


def _ts(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def metric_requests(queries: list[MetricQuery], since_ts: float, now_ts: float) -> list[dict[str, Any]]:
    """Keyword arguments of the GetMetricData calls that read ``queries`` (``Id`` ``m<i>`` = index
    ``i`` in ``queries``): the last METRIC_LOOKBACK_S (at least LOOKBACK_PERIODS of the longest
    period), not before a period ahead of ``since_ts``, from a start aligned to every period asked
    up to the end of the current minute; at most MAX_QUERIES_PER_CALL queries per call."""
    if not queries:
        return []
    longest = max(q.period_s for q in queries)
    align = math.lcm(*(q.period_s for q in queries))
    start = max(since_ts - longest, now_ts - max(METRIC_LOOKBACK_S, LOOKBACK_PERIODS * longest))
    start = math.floor(start / align) * align
    end = (math.floor(now_ts / PERIOD_S) + 1) * PERIOD_S
    window = {"StartTime": datetime.fromtimestamp(start, tz=UTC), "EndTime": datetime.fromtimestamp(end, tz=UTC),
              "ScanBy": "TimestampAscending"}
    entries = [q.as_query(f"m{i}") for i, q in enumerate(queries)]
    return [{"MetricDataQueries": entries[lo: lo + MAX_QUERIES_PER_CALL], **window}
            for lo in range(0, len(entries), MAX_QUERIES_PER_CALL)]


def metric_points(queries: list[MetricQuery], results: Iterable[Mapping[str, Any]],
                  observed_ts: float) -> list[MetricPoint]:
    """The datapoints of GetMetricData ``MetricDataResults`` (Ids as :func:`metric_requests` gave)."""
    points = []
    for result in results:
        q = queries[int(result["Id"][1:])]
        for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            points.append(q.point(_ts(ts), float(value), observed_ts))
    return points


def alarm_names(profile: Profile, policy_pages: Iterable[Mapping[str, Any]]) -> list[str]:
    """The alarms to watch: the profile's step alarms, then every alarm DescribeScalingPolicies lists."""
    names = [p.alarm_name for p in profile.scaling.policies if isinstance(p, StepPolicy)]
    for page in policy_pages:
        for policy in page.get("ScalingPolicies", []):
            names.extend(a["AlarmName"] for a in policy.get("Alarms", []))
    return list(dict.fromkeys(names))


def alarm_sample(alarm: Mapping[str, Any], observed_ts: float) -> AlarmSample:
    """One DescribeAlarms ``MetricAlarms`` entry as recorded."""
    updated = alarm.get("StateUpdatedTimestamp")
    return AlarmSample(ts=observed_ts, alarm_name=alarm["AlarmName"], state=alarm["StateValue"],
                       threshold=alarm.get("Threshold"), state_updated_ts=_ts(updated) if updated else None,
                       metric=alarm.get("MetricName"), comparison=alarm.get("ComparisonOperator"),
                       state_reason=alarm.get("StateReason"))


@dataclass
class CollectorState:
    """What has been written already, so only new or changed records are appended."""

    metrics: dict[tuple[Any, ...], float] = field(default_factory=dict)
    activities: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    alarms: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    alarm_names: list[str] = field(default_factory=list)
    alarm_names_ts: float | None = None
    errors: int = 0
    last_sample: EndpointSample | None = None


class Collector:
    """Polls one endpoint variant and its scaling: :meth:`poll_once`, or one thread per feed from :meth:`start`."""

    def __init__(self, clients: Clients, profile: Profile, folder: RunFolder, clock: Clock,
                 since_ts: float, on_error: Callable[[str], None] | None = None) -> None:
        self.clients = collector_clients(clients)
        self._own_clients = self.clients is not clients  # made here: closed by stop()
        self.profile = profile
        self.folder = folder
        self.clock = clock
        self.since_ts = since_ts
        self.state = CollectorState()
        self.queries = metric_queries(profile)
        self._on_error = on_error
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = {name: threading.Lock() for name in FEEDS}  # held while a feed polls
        self._last_poll: dict[str, float] = {}  # monotonic start of each feed's last poll
        self._write = threading.Lock()  # the folder's streams, the error count, the closed flag
        self._closed = False

    def _append(self, stream: str, record: Any) -> bool:
        """Append to the folder unless the collector has stopped (a poll that outlived stop() writes nothing)."""
        with self._write:
            if self._closed:
                return False
            self.folder.append(stream, record)
            return True

    # ------------------------------------------------------------------------------ polls
    def poll_endpoint(self) -> EndpointSample:
        ep = self.profile.endpoint
        desc = self.clients.sagemaker.describe_endpoint(EndpointName=ep.name)
        now = self.clock.endpoint_ts()
        variant = next((v for v in desc.get("ProductionVariants", []) if v["VariantName"] == ep.variant), {})
        sample = EndpointSample(
            ts=now, endpoint_name=ep.name, variant_name=ep.variant, status=desc["EndpointStatus"],
            current_instances=variant.get("CurrentInstanceCount"),
            desired_instances=variant.get("DesiredInstanceCount"),
            current_weight=variant.get("CurrentWeight"), desired_weight=variant.get("DesiredWeight"))
        if self._append("endpoint", sample):
            self.state.last_sample = sample
        return sample

    def poll_activities(self) -> list[Activity]:
        written = []
        paginator = self.clients.autoscaling.get_paginator("describe_scaling_activities")
        pages = paginator.paginate(ServiceNamespace="sagemaker", ResourceId=self.profile.resource_id,
                                   ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                                   PaginationConfig={"MaxItems": 100})
        now = self.clock.endpoint_ts()
        for page in pages:
            for a in page.get("ScalingActivities", []):
                start = _ts(a["StartTime"])
                if start < self.since_ts:
                    continue
                end = _ts(a["EndTime"]) if a.get("EndTime") else None
                seen = (a["StatusCode"], end)
                if self.state.activities.get(a["ActivityId"]) == seen:
                    continue
                act = Activity(activity_id=a["ActivityId"], resource_id=a["ResourceId"], start_ts=start,
                               end_ts=end, status_code=a["StatusCode"], description=a.get("Description", ""),
                               cause=a.get("Cause", ""), status_message=a.get("StatusMessage"), observed_ts=now)
                if self._append("activities", act):
                    self.state.activities[a["ActivityId"]] = seen
                    written.append(act)
        return written

    def poll_metrics(self) -> list[MetricPoint]:
        now = self.clock.endpoint_ts()
        written = []
        for request in metric_requests(self.queries, self.since_ts, now):
            token: str | None = None
            while True:
                resp = self.clients.cloudwatch.get_metric_data(**request, **({"NextToken": token} if token else {}))
                for point in metric_points(self.queries, resp.get("MetricDataResults", []), now):
                    if self.state.metrics.get(point.key()) == point.value:
                        continue
                    if self._append("metrics", point):
                        self.state.metrics[point.key()] = point.value
                        written.append(point)
                token = resp.get("NextToken")
                if not token:
                    break
        return written

    def refresh_alarm_names(self, now: float) -> list[str]:
        """Re-read the policies' alarm names when none are known or the last read is old."""
        s = self.state
        if s.alarm_names_ts is None or not s.alarm_names or now - s.alarm_names_ts >= ALARM_NAMES_REFRESH_S:
            paginator = self.clients.autoscaling.get_paginator("describe_scaling_policies")
            pages = paginator.paginate(ServiceNamespace="sagemaker", ResourceId=self.profile.resource_id,
                                       ScalableDimension="sagemaker:variant:DesiredInstanceCount")
            s.alarm_names = alarm_names(self.profile, pages)
            s.alarm_names_ts = now
        return s.alarm_names

    def poll_alarms(self) -> list[AlarmSample]:
        names = self.refresh_alarm_names(self.clock.endpoint_ts())
        written = []
        for lo in range(0, len(names), ALARM_NAMES_PER_CALL):
            pages = self.clients.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names[lo: lo + ALARM_NAMES_PER_CALL], AlarmTypes=["MetricAlarm"])
            now = self.clock.endpoint_ts()
            for page in pages:
                for a in page.get("MetricAlarms", []):
                    sample = alarm_sample(a, now)
                    seen = (sample.state, sample.state_updated_ts)
                    if self.state.alarms.get(sample.alarm_name) == seen:
                        continue
                    if self._append("alarms", sample):
                        self.state.alarms[sample.alarm_name] = seen
                        written.append(sample)
        return written

    # ------------------------------------------------------------------------------ feeds
    def _feeds(self, metrics: bool = True) -> list[tuple[str, Callable[[], object], float]]:
        """(name, poll, interval in endpoint seconds) of each feed."""
        c = self.profile.collector
        feeds: list[tuple[str, Callable[[], object], float]] = [
            ("DescribeEndpoint", self.poll_endpoint, c.describe_interval_s),
            ("DescribeScalingActivities", self.poll_activities, c.describe_interval_s)]
        if metrics:
            feeds += [("GetMetricData", self.poll_metrics, c.metrics_interval_s),
                      ("DescribeAlarms", self.poll_alarms, c.metrics_interval_s)]
        return feeds

    def _run_feed(self, name: str, poll: Callable[[], object], *, wait: bool = True) -> None:
        """One poll of a feed, never two at once; a failure is recorded. ``wait=False``: skip a busy feed."""
        busy = self._busy[name]
        if not busy.acquire(blocking=wait):
            return
        try:
            self._last_poll[name] = time.monotonic()
            poll()
        except Exception as err:  # a failed poll leaves a gap; it never stops the feed
            self._record_error(name, err)
        finally:
            busy.release()

    def poll_once(self, *, metrics: bool = True, timeout_s: float | None = None, wait: bool = True) -> None:
        """One round of every feed, side by side; each failure is recorded and the others still run.

        Returns once every feed has polled, or after ``timeout_s`` wall seconds (default: one describe interval,
        at most ROUND_TIMEOUT_S, so a slow API never holds back the next DescribeEndpoint sample): a feed still
        waiting for AWS then finishes in the background, its feed thread (:meth:`start`) waiting for it, and what
        it reads is recorded unless the collector has stopped. ``wait=False`` skips feeds busy polling."""
        if timeout_s is None:
            timeout_s = min(ROUND_TIMEOUT_S, self.profile.collector.describe_interval_s / self.clock.speed)
        rounds = [threading.Thread(target=self._run_feed, args=(name, poll), kwargs={"wait": wait},
                                   name=f"collector-{name}-once", daemon=True)
                  for name, poll, _ in self._feeds(metrics)]
        for thread in rounds:
            thread.start()
        deadline = time.monotonic() + timeout_s
        for thread in rounds:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _record_error(self, feed: str, err: Exception) -> None:
        if isinstance(err, botocore.exceptions.ClientError):
            e = err.response.get("Error", {})
            text = f"{feed}: {e.get('Code')}: {e.get('Message')}"
        else:
            text = f"{feed}: {type(err).__name__}: {err}"
        with self._write:
            if self._closed:
                return
            self.state.errors += 1
            self.folder.append("events", RunEvent(ts=self.clock.endpoint_ts(), kind="collector_error", detail=text))
        if self._on_error:
            self._on_error(text)

    # --------------------------------------------------------------------------- threads
    def start(self) -> None:
        """One daemon thread per feed, each on its own interval: a slow or throttled API delays only its feed."""
        for name, poll, interval_s in self._feeds():
            thread = threading.Thread(target=self._loop, args=(name, poll, interval_s), name=f"collector-{name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, name: str, poll: Callable[[], object], interval_s: float) -> None:
        """Poll every ``interval_s`` endpoint seconds, start to start (at once if the feed never polled)."""
        while not self._stop.is_set():
            last = self._last_poll.get(name)
            if last is not None:
                wait_s = interval_s / self.clock.speed - (time.monotonic() - last)
                if wait_s > 0 and self._stop.wait(wait_s):
                    return
            self._run_feed(name, poll)

    def stop(self, final_poll: bool = True) -> None:
        """Stop the feeds; with ``final_poll`` read every feed not busy one last time. Returns within about
        STOP_JOIN_S + ROUND_TIMEOUT_S wall seconds whatever the APIs do: a call still hanging then is
        abandoned to its daemon thread, and nothing it reads is recorded."""
        self._stop.set()
        deadline = time.monotonic() + STOP_JOIN_S
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []
        if final_poll:
            self.poll_once(metrics=True, timeout_s=ROUND_TIMEOUT_S, wait=False)
        with self._write:
            self._closed = True
        if self._own_clients:  # a call still pending fails at once or finishes on its own connection
            for client in (self.clients.sagemaker, self.clients.autoscaling, self.clients.cloudwatch):
                client.close()
