"""The collector: polls AWS (or the emulator) through boto3 and appends what it sees to the run folder.

Three feeds, on intervals of endpoint time (profile ``collector``):
- DescribeEndpoint → ``endpoint.jsonl`` every ``describe_interval_s``;
- DescribeScalingActivities → ``activities.jsonl`` (new or changed activities) on the same beat;
- GetMetricData over a trailing window → ``metrics.jsonl`` (new or revised datapoints) and
  DescribeAlarms of the policies' alarms → ``alarms.jsonl`` (state changes) every ``metrics_interval_s``.
The same code runs against AWS and the emulator. A failed poll is recorded as a ``collector_error``
event and leaves a gap (which the checks treat as missing data); it never stops the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from harness.aws import Clients
from harness.profile import Profile
from harness.record import Activity, AlarmSample, Clock, EndpointSample, MetricPoint, RunEvent, RunFolder

METRICS: tuple[tuple[str, str], ...] = (
    ("InvocationsPerInstance", "Sum"),
    ("Invocations", "Sum"),
    ("ModelLatency", "Average"),
    ("Invocation4XXErrors", "Sum"),
    ("Invocation5XXErrors", "Sum"),
    ("InvocationModelErrors", "Sum"),
)
NAMESPACE = "AWS/SageMaker"
METRIC_LOOKBACK_S = 20 * 60  # re-read this much history each poll: CloudWatch revises late datapoints


def _ts(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


@dataclass
class CollectorState:
    """What has been written already, so only new or changed records are appended."""

    metrics: dict[tuple[Any, ...], float] = field(default_factory=dict)
    activities: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)
    alarm_names: list[str] = field(default_factory=list)
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
        ep = self.profile.endpoint
        now = self.clock.endpoint_ts()
        start = max(self.since_ts - 60, now - METRIC_LOOKBACK_S)
        dims = [{"Name": "EndpointName", "Value": ep.name}, {"Name": "VariantName", "Value": ep.variant}]
        queries = [{"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": name,
                                                              "Dimensions": dims},
                                                   "Period": 60, "Stat": stat}, "ReturnData": True}
                   for i, (name, stat) in enumerate(METRICS)]
        resp = self.clients.cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=datetime.fromtimestamp(start // 60 * 60, tz=UTC),
            EndTime=datetime.fromtimestamp(now // 60 * 60 + 60, tz=UTC), ScanBy="TimestampAscending")
        written = []
        dim_map = {"EndpointName": ep.name, "VariantName": ep.variant}
        for result in resp.get("MetricDataResults", []):
            name, stat = METRICS[int(result["Id"][1:])]
            for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                point = MetricPoint(ts=_ts(ts), namespace=NAMESPACE, metric=name, dims=dim_map, stat=stat,
                                    period_s=60, value=float(value), observed_ts=now)
                if self.state.metrics.get(point.key()) == point.value:
                    continue
                self.state.metrics[point.key()] = point.value
                self.folder.append("metrics", point)
                written.append(point)
        return written

    def poll_alarms(self) -> list[AlarmSample]:
        if not self.state.alarm_names:
            resp = self.clients.autoscaling.describe_scaling_policies(
                ServiceNamespace="sagemaker", ResourceId=self.profile.resource_id)
            self.state.alarm_names = [a["AlarmName"] for p in resp.get("ScalingPolicies", [])
                                      for a in p.get("Alarms", [])]
        if not self.state.alarm_names:
            return []
        resp = self.clients.cloudwatch.describe_alarms(AlarmNames=self.state.alarm_names[:100])
        now = self.clock.endpoint_ts()
        written = []
        for a in resp.get("MetricAlarms", []):
            if self.state.alarms.get(a["AlarmName"]) == a["StateValue"]:
                continue
            self.state.alarms[a["AlarmName"]] = a["StateValue"]
            sample = AlarmSample(ts=now, alarm_name=a["AlarmName"], state=a["StateValue"],
                                 threshold=a.get("Threshold"),
                                 state_updated_ts=_ts(a["StateUpdatedTimestamp"])
                                 if a.get("StateUpdatedTimestamp") else None)
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
