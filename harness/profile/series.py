"""The CloudWatch series a run of a profile reads: which metrics, with which statistic, dimensions and period.

Pure: the collector (:mod:`harness.observe.collector`) asks AWS for exactly these, and the simulator
records exactly these, so a prediction holds the data a run would. For a real-time endpoint
:data:`REALTIME_METRICS`, for an async one :data:`ASYNC_METRICS` (the backlog metrics with the
EndpointName dimension only, the others with EndpointName + VariantName), all at 1-minute periods; plus,
for every step policy, its alarm's metric at the alarm's statistic, dimensions and period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.profile import MetricSpec, Profile, StepPolicy
from harness.record import MetricPoint

NAMESPACE = "AWS/SageMaker"
PERIOD_S = 60
REALTIME_METRICS: tuple[tuple[str, str], ...] = (
    ("InvocationsPerInstance", "Sum"),
    ("Invocations", "Sum"),
    ("ModelLatency", "Average"),
    ("Invocation4XXErrors", "Sum"),
    ("Invocation5XXErrors", "Sum"),
    ("InvocationModelErrors", "Sum"),
)
# aws-semantics §6. Invocations, InvocationsPerInstance and OverheadLatency are not published for
# async endpoints. The docs spell InvocationsProcesssed with three s's; which spelling CloudWatch
# publishes is unconfirmed, so both are asked.
ASYNC_METRICS: tuple[tuple[str, str], ...] = (
    ("ApproximateBacklogSize", "Average"),
    ("ApproximateBacklogSize", "Maximum"),
    ("ApproximateBacklogSizePerInstance", "Average"),
    ("ApproximateAgeOfOldestRequest", "Maximum"),
    ("HasBacklogWithoutCapacity", "Average"),
    ("HasBacklogWithoutCapacity", "Maximum"),
    ("InvocationsProcesssed", "Sum"),
    ("InvocationsProcessed", "Sum"),
    ("TimeInBacklog", "Average"),
    ("TotalProcessingTime", "Average"),
    ("InvocationFailures", "Sum"),
    ("ExpiredRequests", "Sum"),
)


@dataclass(frozen=True)
class MetricQuery:
    """One metric series to read: namespace, name, dimensions, statistic and period."""

    namespace: str
    metric: str
    dims: tuple[tuple[str, str], ...]
    stat: str
    period_s: int

    @staticmethod
    def of(metric: str, stat: str, dims: Mapping[str, str], period_s: int = PERIOD_S,
           namespace: str = NAMESPACE) -> MetricQuery:
        return MetricQuery(namespace, metric, tuple(sorted(dims.items())), stat, period_s)

    def as_query(self, query_id: str) -> dict[str, Any]:
        """The GetMetricData ``MetricDataQueries`` entry."""
        return {"Id": query_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": self.metric,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in self.dims]},
            "Period": self.period_s, "Stat": self.stat}}

    def point(self, ts: float, value: float, observed_ts: float) -> MetricPoint:
        return MetricPoint(ts=ts, namespace=self.namespace, metric=self.metric, dims=dict(self.dims),
                           stat=self.stat, period_s=self.period_s, value=value, observed_ts=observed_ts)


def metric_queries(profile: Profile) -> list[MetricQuery]:
    """Every series the collector reads for ``profile``, each once (see the module docstring)."""
    ep = profile.endpoint
    base = ASYNC_METRICS if ep.is_async else REALTIME_METRICS
    queries = [MetricQuery.of(name, stat, MetricSpec(name=name).resolved_dimensions(ep.name, ep.variant))
               for name, stat in base]
    for policy in profile.scaling.policies:
        if isinstance(policy, StepPolicy):
            a = policy.alarm
            queries.append(MetricQuery.of(a.name, a.statistic, a.resolved_dimensions(ep.name, ep.variant),
                                          int(a.period_s), a.namespace))
    return list(dict.fromkeys(queries))
