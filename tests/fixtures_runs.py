"""Synthetic run folders for the report tests: plausible data written through :class:`RunFolder`.

:func:`scale_out_in_run` writes the ``realtime-target-tracking`` walkthrough as the local emulator
would record it at speed 30: 250 s of 2 req/s on one instance (120 invocations per instance per
minute against a target of 10), AlarmHigh after three datapoints, a scale-out activity to 4, four
instances after a 300 s provisioning delay, fifteen quiet minutes until AlarmLow, a scale-in
activity to 1, and the verdicts the checks would give (scale-out and scale-in PASS, the error rate
FAIL because the fixture loses ~3 % of requests). 23 minutes of endpoint time, minute-aligned.
:func:`empty_aborted_run` is a run interrupted before any sample was written.

The small builders at the end (:func:`endpoint_samples`, :func:`metric_points`, :func:`activity`,
:func:`in_memory`) make literal timelines for the checks' table tests: times are plain endpoint
seconds, usually with the load starting at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.profile import parse_profile
from harness.record import (
    Activity,
    AlarmSample,
    Clock,
    EndpointSample,
    LatencyMs,
    LoadInterval,
    MetricPoint,
    Recorded,
    RunEvent,
    RunFolder,
    RunInfo,
    StageSpan,
    Verdict,
    VerdictStatus,
)

T0 = 1_795_290_000.0  # 2026-11-21 19:40:00 UTC, minute-aligned
LOAD_START = T0 + 30
LOAD_END = LOAD_START + 250
SCALE_OUT_TS = T0 + 270
SCALE_OUT_DONE = SCALE_OUT_TS + 300
SCALE_IN_TS = T0 + 1270
SCALE_IN_DONE = SCALE_IN_TS + 60
END = T0 + 1380
ENDPOINT = "xgboost-abalone"
VARIANT = "AllTraffic"
DIMS = {"EndpointName": ENDPOINT, "VariantName": VARIANT}
NAMES = ("scale_out to 4", "scale_in to 1", "error_rate <= 0.01")

PROFILE: dict[str, Any] = {
    "name": "realtime-target-tracking",
    "description": "Target tracking on InvocationsPerInstance, target 10, 1..4 instances.",
    "region": "us-east-1",
    "endpoint": {"name": ENDPOINT, "variant": VARIANT, "initial_instance_count": 1},
    "scaling": {"min_capacity": 1, "max_capacity": 4, "policies": [{
        "type": "target_tracking", "name": "InvocationsPerInstance-target-10", "target_value": 10,
        "scale_out_cooldown": "60s", "scale_in_cooldown": "300s"}]},
    "traffic": {"stages": [{"name": "stress", "kind": "hold", "duration": "250s", "rate_rps": 2}]},
    "expectations": [
        {"type": "scale_out", "to": 4, "within": "12m", "after": "load_start"},
        {"type": "scale_in", "to": 1, "within": "25m", "after": "load_end"},
        {"type": "error_rate", "max": 0.01},
    ],
    "local": {"speed": 30},
}


def run_info(*, run_id: str = "20261121T194000Z-realtime-target-tracking", kind: str = "run",
             status: str = "complete", **overrides: Any) -> RunInfo:
    """The ``run.json`` of the walkthrough; ``overrides`` replace any field."""
    profile = parse_profile(PROFILE).model_dump(mode="json", by_alias=True)
    fields: dict[str, Any] = dict(
        run_id=run_id, kind=kind, profile_name=PROFILE["name"], profile=profile, mode="local",
        speed=30.0, region="us-east-1", endpoint_name=ENDPOINT, variant_name=VARIANT,
        endpoint_url="http://127.0.0.1:4566", versions={"scalecheck": "0.1.0", "botocore": "1.43.11"},
        clock=Clock(wall0_ts=T0, endpoint0_ts=T0, speed=30.0), status=status, started_ts=T0,
        ended_ts=END, load_start_ts=LOAD_START, load_end_ts=LOAD_END,
        stages=[StageSpan(name="stress", start_ts=LOAD_START, end_ts=LOAD_END)])
    fields.update(overrides)
    return RunInfo(**fields)


def _load() -> list[LoadInterval]:
    out = []
    for k in range(25):
        failures = 1 if k % 3 == 1 else 0
        out.append(LoadInterval(
            ts=LOAD_START + 10 * k, interval_s=10, stage="stress", offered_rps=2.0,
            achieved_rps=2.0 - 0.1 * (k % 2), requests=20 - (k % 2), failures=failures, users=1,
            latency_ms=LatencyMs(p50=9 + k % 4, p90=16, p95=21 + k % 5, p99=48 + 3 * (k % 6), max=90),
            errors={"ModelError": failures} if failures else {}))
    return out


def _invocations_in_minute(start: float) -> float:
    overlap = max(0.0, min(start + 60, LOAD_END) - max(start, LOAD_START))
    return 2.0 * overlap


def _metrics() -> list[MetricPoint]:
    out = []
    for m in range(22):
        start = T0 + 60 * m
        instances = 1 if start < SCALE_OUT_DONE else 4 if start < SCALE_IN_DONE else 1
        invocations = _invocations_in_minute(start)
        common = dict(ts=start, namespace="AWS/SageMaker", dims=DIMS, period_s=60, observed_ts=start + 120)
        out.append(MetricPoint(metric="InvocationsPerInstance", stat="Sum",
                               value=invocations / instances, **common))
        out.append(MetricPoint(metric="Invocations", stat="Sum", value=invocations, **common))
        if invocations:
            out.append(MetricPoint(metric="ModelLatency", stat="Average", value=4200.0 + 150 * m, **common))
    return out


def _endpoint() -> list[EndpointSample]:
    out = []
    for k in range(int((END - T0) // 10) + 1):
        ts = T0 + 10 * k
        desired = 4 if SCALE_OUT_TS <= ts < SCALE_IN_TS else 1
        current = 4 if SCALE_OUT_DONE <= ts < SCALE_IN_DONE else 1
        status = "Updating" if current != desired else "InService"
        out.append(EndpointSample(ts=ts, endpoint_name=ENDPOINT, variant_name=VARIANT, status=status,
                                  current_instances=current, desired_instances=desired))
    return out


def _activities() -> list[Activity]:
    rid = f"endpoint/{ENDPOINT}/variant/{VARIANT}"
    alarm = "TargetTracking-" + rid + "-Alarm{}-3f6b1c2e"
    return [
        Activity(activity_id="a-out", resource_id=rid, start_ts=SCALE_OUT_TS, end_ts=SCALE_OUT_DONE,
                 status_code="Successful", description="Setting desired instance count to 4.",
                 cause=f"monitor alarm {alarm.format('High')} in state ALARM triggered policy "
                 "InvocationsPerInstance-target-10", observed_ts=SCALE_OUT_TS + 10),
        Activity(activity_id="a-in", resource_id=rid, start_ts=SCALE_IN_TS, end_ts=SCALE_IN_DONE,
                 status_code="Successful", description="Setting desired instance count to 1.",
                 cause=f"monitor alarm {alarm.format('Low')} in state ALARM triggered policy "
                 "InvocationsPerInstance-target-10", observed_ts=SCALE_IN_TS + 10),
    ]


def verdicts(status: Mapping[str, VerdictStatus] | None = None) -> list[Verdict]:
    """The walkthrough's verdicts; ``status`` overrides the status of a verdict by name."""
    status = dict(status or {})
    return [
        Verdict(name=NAMES[0], kind="scale_out", status=status.get(NAMES[0], "PASS"),
                source="{type: scale_out, to: 4, within: 12m, after: load_start}",
                summary="4 instances InService 9m00s after load_start (limit 12m)",
                trigger_ts=LOAD_START, observed_ts=SCALE_OUT_DONE, window_start_ts=LOAD_START,
                window_end_ts=LOAD_START + 720, details={"instances": 4}),
        Verdict(name=NAMES[1], kind="scale_in", status=status.get(NAMES[1], "PASS"),
                source="{type: scale_in, to: 1, within: 25m, after: load_end}",
                summary="back to 1 instance 17m30s after load_end (limit 25m)",
                trigger_ts=LOAD_END, observed_ts=SCALE_IN_DONE, window_start_ts=LOAD_END,
                window_end_ts=LOAD_END + 1500),
        Verdict(name=NAMES[2], kind="error_rate", status=status.get(NAMES[2], "FAIL"),
                source="{type: error_rate, max: 0.01}",
                summary="8 of 488 requests failed (1.64 %) > max 1 %",
                trigger_ts=LOAD_START, window_start_ts=LOAD_START, window_end_ts=LOAD_END,
                details={"failures": 8, "requests": 488}),
    ]


def scale_out_in_run(root: Path, *, status: Mapping[str, VerdictStatus] | None = None,
                     **run_overrides: Any) -> RunFolder:
    """Write the walkthrough run under ``root`` (see the module docstring) and return its folder."""
    folder = RunFolder.create(root, run_info(**run_overrides))
    folder.append("events", RunEvent(ts=LOAD_START, kind="load_start"))
    folder.append("events", RunEvent(ts=LOAD_START, kind="stage_start", detail="stress"))
    folder.append("events", RunEvent(ts=LOAD_END, kind="load_stop"))
    folder.writer("load").extend(_load())
    folder.writer("metrics").extend(_metrics())
    folder.writer("endpoint").extend(_endpoint())
    folder.writer("activities").extend(_activities())
    folder.writer("alarms").extend([
        AlarmSample(ts=SCALE_OUT_TS - 10, alarm_name="AlarmHigh", state="ALARM", threshold=10),
        AlarmSample(ts=SCALE_IN_TS - 10, alarm_name="AlarmLow", state="ALARM", threshold=9),
    ])
    folder.close()
    folder.write_verdicts(verdicts(status))
    return folder


def empty_aborted_run(root: Path) -> RunFolder:
    """A run aborted before any stream was written (no samples, no verdicts, no end time)."""
    return RunFolder.create(root, run_info(run_id="20261121T194000Z-aborted", status="aborted",
                                           status_reason="interrupted (SIGINT) before the load started",
                                           ended_ts=None, load_start_ts=None, load_end_ts=None, stages=[]))


# --- literal timelines for the checks' table tests ------------------------------------------------

Sample = tuple[float, int | None] | tuple[float, int | None, int | None]


def endpoint_samples(*points: Sample, endpoint: str = "ep", variant: str = VARIANT) -> list[EndpointSample]:
    """``(ts, current)`` or ``(ts, current, desired)`` → DescribeEndpoint samples (desired = current
    unless given; a ``None`` count is a sample without one, as while the endpoint is Updating)."""
    out = []
    for ts, current, *rest in points:
        desired = rest[0] if rest else current
        out.append(EndpointSample(ts=ts, endpoint_name=endpoint, variant_name=variant,
                                  status="InService" if current == desired and current is not None else "Updating",
                                  current_instances=current, desired_instances=desired))
    return out


def every(start: float, stop: float, n: int, step: float = 30) -> list[tuple[float, int]]:
    """``(ts, n)`` every ``step`` s over [start, stop]."""
    out, ts = [], start
    while ts <= stop:
        out.append((ts, n))
        ts += step
    return out


def metric_points(metric: str, values: Sequence[float | None], *, start: float = 0, period_s: int = 60,
                  stat: str = "Maximum", dims: Mapping[str, str] | None = None,
                  namespace: str = "AWS/SageMaker") -> list[MetricPoint]:
    """One datapoint per period from ``start``; a ``None`` value leaves that period out (a gap).
    Default dims: ``{"EndpointName": "ep"}``, as SageMaker publishes the async backlog metrics."""
    dims = dict(dims) if dims is not None else {"EndpointName": "ep"}
    return [MetricPoint(ts=start + k * period_s, namespace=namespace, metric=metric, dims=dims, stat=stat,
                        period_s=period_s, value=float(v), observed_ts=start + (k + 3) * period_s)
            for k, v in enumerate(values) if v is not None]


def activity(start_ts: float, policy: str | None, to: int | None, *, status: str = "Successful",
             cause: str | None = None, activity_id: str | None = None, end_ts: float | None = None,
             status_message: str | None = None, resource_id: str = "endpoint/ep/variant/AllTraffic") -> Activity:
    """A scaling activity as Application Auto Scaling words it: caused by ``policy``'s alarm
    (or ``cause`` verbatim), setting the desired instance count ``to``."""
    if cause is None:
        cause = f"monitor alarm {policy}-alarm in state ALARM triggered policy {policy}"
    return Activity(activity_id=activity_id or f"act-{start_ts:g}-{policy}", resource_id=resource_id,
                    start_ts=start_ts, end_ts=end_ts, status_code=status,
                    description="" if to is None else f"Setting desired instance count to {to}.",
                    cause=cause, status_message=status_message, observed_ts=start_ts + 10)


_UNSET: Any = object()


def in_memory(*, endpoint: Sequence[Sample] = (), load: Sequence[LoadInterval] = (),
              metrics: Sequence[MetricPoint] = (), activities: Sequence[Activity] = (),
              load_start: float | None = 0, load_end: float | None = _UNSET, first_request: float | None = None,
              ended: float | None = None, stages: Sequence[StageSpan] = ()) -> Recorded:
    """A :class:`Recorded` run of endpoint ``ep`` whose load went from ``load_start`` to ``load_end``
    (250 unless given; ``None``: not yet)."""
    run = RunInfo(run_id="r", profile_name="t", profile={}, mode="local", speed=30, region="us-east-1",
                  endpoint_name="ep", variant_name=VARIANT, started_ts=-60, load_start_ts=load_start,
                  load_end_ts=250 if load_end is _UNSET else load_end, first_request_ts=first_request,
                  ended_ts=ended, stages=list(stages))
    return Recorded(path=Path("in-memory"), run=run, endpoint=endpoint_samples(*endpoint), load=list(load),
                    metrics=sorted(metrics, key=lambda p: (p.metric, p.ts)),
                    activities=sorted(activities, key=lambda a: a.start_ts))
