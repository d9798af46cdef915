"""The collector: polls AWS (or the emulator) through boto3 and appends what it sees to the run folder.

Three feeds, on intervals of endpoint time (profile ``collector``):
- DescribeEndpoint → ``endpoint.jsonl`` every ``describe_interval_s``;
- DescribeScalingActivities → ``activities.jsonl`` (new or changed activities) on the same beat;
- GetMetricData over a trailing window → ``metrics.jsonl`` (new or revised datapoints) and
  DescribeAlarms of the policies' alarms → ``alarms.jsonl`` (state changes) every ``metrics_interval_s``.
The same code runs against AWS and the emulator. A failed poll is recorded as a ``collector_error``
event and leaves a gap (which the checks treat as missing data); it never stops the run.

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

from harness.observe.aws import Clients
from harness.profile import Profile, StepPolicy
from harness.profile.series import PERIOD_S, MetricQuery, metric_queries
from harness.record import Activity, AlarmSample, Clock, EndpointSample, MetricPoint, RunEvent, RunFolder

MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries
METRIC_LOOKBACK_S = 20 * 60  # re-read this much history each poll: CloudWatch revises late datapoints
LOOKBACK_PERIODS = 3  # ... and at least this many periods of the longest one asked
ALARM_NAMES_PER_CALL = 100  # DescribeAlarms' limit on AlarmNames
ALARM_NAMES_REFRESH_S = 300.0  # endpoint seconds between DescribeScalingPolicies reads of the alarm names


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
    """Polls one endpoint variant and its scaling; call :meth:`poll_once` or run it in a thread."""

    def __init__(self, clients: Clients, profile: Profile, folder: RunFolder, clock: Clock,
                 since_ts: float, on_error: Callable[[str], None] | None = None) -> None:
        self.clients = clients
        self.profile = profile
        self.folder = folder
        self.clock = clock
        self.since_ts = since_ts
        self.state = CollectorState()
        self.queries = metric_queries(profile)
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_metrics_ts = 0.0

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
        self.folder.append("endpoint", sample)
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
                self.state.activities[a["ActivityId"]] = seen
                act = Activity(activity_id=a["ActivityId"], resource_id=a["ResourceId"], start_ts=start,
                               end_ts=end, status_code=a["StatusCode"], description=a.get("Description", ""),
                               cause=a.get("Cause", ""), status_message=a.get("StatusMessage"), observed_ts=now)
                self.folder.append("activities", act)
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
                    self.state.metrics[point.key()] = point.value
                    self.folder.append("metrics", point)
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
                    self.state.alarms[sample.alarm_name] = seen
                    self.folder.append("alarms", sample)
                    written.append(sample)
        return written
    def poll_once(self, *, metrics: bool = True) -> None:
        """One round of every feed; each failure is recorded and the others still run."""
        feeds: list[tuple[str, Callable[[], object]]] = [("DescribeEndpoint", self.poll_endpoint),
                                                          ("DescribeScalingActivities", self.poll_activities)]
        if metrics:
            feeds += [("GetMetricData", self.poll_metrics), ("DescribeAlarms", self.poll_alarms)]
        for name, feed in feeds:
            try:
                feed()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
                self._record_error(name, err)

    def _record_error(self, feed: str, err: Exception) -> None:
        self.state.errors += 1
        if isinstance(err, botocore.exceptions.ClientError):
            e = err.response.get("Error", {})
            text = f"{feed}: {e.get('Code')}: {e.get('Message')}"
        else:
            text = f"{feed}: {type(err).__name__}: {err}"
        self.folder.append("events", RunEvent(ts=self.clock.endpoint_ts(), kind="collector_error", detail=text))
        if self._on_error:
            self._on_error(text)

    # ---------------------------------------------------------------------------- thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="collector", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        c = self.profile.collector
        while not self._stop.is_set():
            began = time.monotonic()
            now = self.clock.endpoint_ts()
            due_metrics = now >= self._next_metrics_ts
            if due_metrics:
                self._next_metrics_ts = now + c.metrics_interval_s
            self.poll_once(metrics=due_metrics)
            wait_s = c.describe_interval_s / self.clock.speed - (time.monotonic() - began)
            self._stop.wait(max(0.0, wait_s))

    def stop(self, final_poll: bool = True) -> None:
        """Stop the thread; with ``final_poll`` read every feed one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if final_poll:
            self.poll_once(metrics=True)
