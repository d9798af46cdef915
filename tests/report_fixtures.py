"""Synthetic run folders for the issue-3 report features, written through :class:`RunFolder`.

* :func:`async_run` — the ``async-scale-from-zero`` profile: an async endpoint at 0 instances, a burst
  of 3 requests then one a minute for 9 minutes; the first instance serves ``first_instance_s`` after
  the first request; the backlog drains, then the endpoint goes back to 0. With the
  HasBacklogWithoutCapacity step policy (scenario ``with-backlog-policy``) its alarm triggers the
  scale-out; without it (``without-backlog-policy``) the target-tracking AlarmHigh does.
* :func:`comparison_runs` — both scenarios under one parent folder, as ``scalecheck run`` lays them out.
* :func:`step_run` — the ``step-scaling`` profile: +1 for a small breach, +4 for a big one, −50 % after.
* :func:`scheduled_run` — the ``scheduled-scaling`` profile: MinCapacity 4 at load_start+3m, 1 at +15m.

All timestamps are endpoint time from :data:`T0` (2026-11-21 19:40:00 UTC); the load starts at ``T0+30``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
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
    RunEvent,
    RunFolder,
    RunInfo,
    StageSpan,
    Verdict,
)

T0 = 1_795_290_000.0  # 2026-11-21 19:40:00 UTC
LOAD_START = T0 + 30

# --- async scale from zero -------------------------------------------------------------------------

ASYNC_EP, ASYNC_VARIANT = "async-zero", "variant1"
ASYNC_DIMS = {"EndpointName": ASYNC_EP}
ASYNC_VARIANT_DIMS = {"EndpointName": ASYNC_EP, "VariantName": ASYNC_VARIANT}
FIRST_REQUEST = LOAD_START + 8  # so that both first instances fall on a DescribeEndpoint sample
ASYNC_LOAD_END = LOAD_START + 600
STEP_ALARM = "async-zero-HasBacklogWithoutCapacity"
RID = f"endpoint/{ASYNC_EP}/variant/{ASYNC_VARIANT}"
ALARM_HIGH = f"TargetTracking-{RID}-AlarmHigh-7d1a0f52-3c4e-4b8e-9a11-5b2f1c9e0d33"
ALARM_LOW = f"TargetTracking-{RID}-AlarmLow-0be8c1d4-77aa-4f0e-8d0c-2a6f93e1b5c7"
WITH, WITHOUT = "with-backlog-policy", "without-backlog-policy"
FIRST_INSTANCE_S = {WITH: 372.0, WITHOUT: 832.0}  # 6m12s and 13m52s: 7m40s apart
PROCESS_S = 10.0

ASYNC_PROFILE: dict[str, Any] = {
    "name": "async-scale-from-zero",
    "description": "Async endpoint at 0 instances: a burst of 3 requests then one request a minute.",
    "endpoint": {"name": ASYNC_EP, "type": "async", "variant": ASYNC_VARIANT, "instance_type": "ml.g5.xlarge",
                 "async": {"max_concurrent_invocations_per_instance": 4, "poll_interval": "10s"}},
    "scaling": {"min_capacity": 0, "max_capacity": 5, "start_capacity": 0, "policies": [
        {"type": "target_tracking", "name": "Invocations-ScalingPolicy", "target_value": 5.0,
         "custom_metric": {"name": "ApproximateBacklogSizePerInstance", "statistic": "Average",
                           "dimensions": {"EndpointName": ASYNC_EP}},
         "scale_in_cooldown": "600s", "scale_out_cooldown": "300s"},
        {"type": "step", "name": "HasBacklogWithoutCapacity-ScalingPolicy", "adjustment_type": "ChangeInCapacity",
         "cooldown": "300s", "steps": [{"lower": 0, "adjustment": 1}],
         "alarm": {"alarm_name": STEP_ALARM, "name": "HasBacklogWithoutCapacity", "statistic": "Average",
                   "dimensions": {"EndpointName": ASYNC_EP}, "period": "60s", "evaluation_periods": 2,
                   "datapoints_to_alarm": 2, "threshold": 1, "comparison": "GreaterThanOrEqualToThreshold"}}]},
    "traffic": {"payload": '{"prompt": "a lighthouse at dusk"}', "content_type": "application/json", "user_rps": 1,
                "stages": [{"name": "burst", "duration": "60s", "rate_rps": 0.05},
                           {"name": "trickle", "duration": "9m", "rate_rps": 0.0167}]},
    "expectations": [{"type": "scale_from_zero", "within": "10m"}, {"type": "scale_to_zero", "within": "25m"},
                     {"type": "error_rate", "max": 0}],
    "scenarios": [{"name": WITH},
                  {"name": WITHOUT, "without_policies": ["HasBacklogWithoutCapacity-ScalingPolicy"],
                   "expectations": [{"type": "scale_from_zero", "within": "16m"},
                                    {"type": "scale_to_zero", "within": "25m"},
                                    {"type": "error_rate", "max": 0}]}],
    "local": {"speed": 60},
}


def _sent() -> list[float]:
    """Request times: 3 in the burst minute, then one a minute."""
    return [FIRST_REQUEST, FIRST_REQUEST + 20, FIRST_REQUEST + 40] + [LOAD_START + 60 * k + 5 for k in range(1, 10)]


def _clock(speed: float) -> Clock:
    return Clock(wall0_ts=T0, endpoint0_ts=T0, speed=speed)


def _run_info(profile: dict[str, Any], run_id: str, endpoint: str, variant: str, end: float, load_end: float,
              stages: list[StageSpan], **extra: Any) -> RunInfo:
    parsed = parse_profile(profile)
    return RunInfo(run_id=run_id, profile_name=parsed.name, profile=parsed.model_dump(mode="json", by_alias=True),
                   mode="local", speed=parsed.local.speed, region="us-east-1", endpoint_name=endpoint,
                   variant_name=variant, clock=_clock(parsed.local.speed), status="complete", started_ts=T0,
                   ended_ts=end, load_start_ts=LOAD_START, load_end_ts=load_end, stages=stages, **extra)


def _create(parent: Path, folder_name: str, run: RunInfo) -> RunFolder:
    folder = RunFolder(parent / folder_name)
    folder.path.mkdir(parents=True)
    folder.write_run(run)
    return folder


def async_profile(scenario: str | None = None) -> dict[str, Any]:
    """The profile as the run records it: the scenario's derived profile when ``scenario`` is given."""
    if scenario is None:
        return copy.deepcopy(ASYNC_PROFILE)
    return parse_profile(ASYNC_PROFILE).for_scenario(scenario).model_dump(mode="json", by_alias=True,
                                                                          exclude_none=True)


def async_run(root: Path, scenario: str = WITH, *, folder_name: str | None = None) -> RunFolder:
    """One scenario of the async scale-from-zero profile (see the module docstring)."""
    first_instance = FIRST_REQUEST + FIRST_INSTANCE_S[scenario]
    desired_ts = first_instance - 300
    backlog_empty = first_instance + 60
    zero_ts = max(backlog_empty, ASYNC_LOAD_END) + 1080
    end = zero_ts + 120
    sent = _sent()
    done = sorted(max(s, first_instance) + PROCESS_S + 5 * (i % 2) for i, s in enumerate(sent))
    stages = [StageSpan(name="burst", start_ts=LOAD_START, end_ts=LOAD_START + 60),
              StageSpan(name="trickle", start_ts=LOAD_START + 60, end_ts=ASYNC_LOAD_END)]
    run = _run_info(async_profile(scenario), f"20261121T194000Z-async-scale-from-zero-{scenario}", ASYNC_EP,
                    ASYNC_VARIANT, end, ASYNC_LOAD_END, stages, first_request_ts=FIRST_REQUEST, scenario=scenario)
    folder = _create(root, folder_name or scenario, run)
    folder.writer("events").extend([
        RunEvent(ts=LOAD_START, kind="load_start"), RunEvent(ts=LOAD_START, kind="stage_start", detail="burst"),
        RunEvent(ts=FIRST_REQUEST, kind="first_request"),
        RunEvent(ts=LOAD_START + 60, kind="stage_start", detail="trickle"),
        RunEvent(ts=ASYNC_LOAD_END, kind="load_stop")])

    def instances(t: float) -> int:
        return 1 if first_instance <= t < zero_ts else 0

    def backlog(t: float) -> int:
        return sum(1 for s in sent if s <= t) - sum(1 for d in done if d <= t)

    load = []
    t = LOAD_START
    while t < max(done) + 10:
        in_load = t < ASYNC_LOAD_END
        rate = (0.05 if t < LOAD_START + 60 else 0.0167) if in_load else 0.0
        n = sum(1 for s in sent if t <= s < t + 10)
        finished = [d - s for s, d in zip(sent, done, strict=True) if t <= d < t + 10]
        comp = (LatencyMs(p50=sorted(finished)[len(finished) // 2], p95=max(finished), max=max(finished))
                if finished else LatencyMs())
        load.append(LoadInterval(ts=t, interval_s=10, stage=None if not in_load else
                                 ("burst" if t < LOAD_START + 60 else "trickle"), offered_rps=rate,
                                 achieved_rps=n / 10, requests=n, failures=0, users=1 if in_load else 0,
                                 latency_ms=LatencyMs(p50=35, p95=60, p99=80) if n else LatencyMs(),
                                 completions=len(finished), completion_s=comp))
        t += 10
    folder.writer("load").extend(load)

    metrics = []
    for m in range(int((end - T0) // 60)):
        start = T0 + 60 * m
        b_avg, b_max = backlog(start + 30), max(backlog(start + k) for k in range(0, 60, 10))
        n = instances(start + 30)
        common = dict(ts=start, namespace="AWS/SageMaker", period_s=60, observed_ts=start + 120)
        metrics += [
            MetricPoint(metric="ApproximateBacklogSize", stat="Average", value=b_avg, dims=ASYNC_DIMS, **common),
            MetricPoint(metric="ApproximateBacklogSize", stat="Maximum", value=b_max, dims=ASYNC_DIMS, **common),
            MetricPoint(metric="ApproximateBacklogSizePerInstance", stat="Average", value=b_avg / max(n, 1),
                        dims=ASYNC_DIMS, **common),
            MetricPoint(metric="HasBacklogWithoutCapacity", stat="Average", value=float(b_avg > 0 and n == 0),
                        dims=ASYNC_DIMS, **common),
            MetricPoint(metric="HasBacklogWithoutCapacity", stat="Maximum", value=float(b_max > 0 and n == 0),
                        dims=ASYNC_DIMS, **common),
            MetricPoint(metric="InvocationsProcesssed", stat="Sum", dims=ASYNC_VARIANT_DIMS,
                        value=sum(1 for d in done if start <= d < start + 60), **common),
        ]
    folder.writer("metrics").extend(metrics)

    samples = []
    for k in range(int((end - T0) // 10) + 1):
        ts = T0 + 10 * k
        desired = 1 if desired_ts <= ts < zero_ts - 60 else 0
        current = instances(ts)
        samples.append(EndpointSample(ts=ts, endpoint_name=ASYNC_EP, variant_name=ASYNC_VARIANT,
                                      status="Updating" if desired != current else "InService",
                                      current_instances=current, desired_instances=desired))
    folder.writer("endpoint").extend(samples)

    trigger = STEP_ALARM if scenario == WITH else ALARM_HIGH
    policy = "HasBacklogWithoutCapacity-ScalingPolicy" if scenario == WITH else "Invocations-ScalingPolicy"
    folder.writer("activities").extend([
        Activity(activity_id="a-out", resource_id=RID, start_ts=desired_ts, end_ts=first_instance,
                 status_code="Successful", description="Setting desired instance count to 1.",
                 cause=f"monitor alarm {trigger} in state ALARM triggered policy {policy}"),
        Activity(activity_id="a-in", resource_id=RID, start_ts=zero_ts - 60, end_ts=zero_ts,
                 status_code="Successful", description="Setting desired instance count to 0.",
                 cause=f"monitor alarm {ALARM_LOW} in state ALARM triggered policy Invocations-ScalingPolicy")])

    tt = dict(metric="ApproximateBacklogSizePerInstance", comparison="GreaterThanThreshold")
    alarms = [AlarmSample(ts=T0 + 5, alarm_name=ALARM_HIGH, state="INSUFFICIENT_DATA", threshold=5,
                          state_updated_ts=T0 - 900, **tt)]
    if scenario == WITH:
        alarms += [
            AlarmSample(ts=T0 + 5, alarm_name=STEP_ALARM, state="INSUFFICIENT_DATA", threshold=1,
                        state_updated_ts=T0 - 900, metric="HasBacklogWithoutCapacity",
                        comparison="GreaterThanOrEqualToThreshold"),
            AlarmSample(ts=desired_ts + 20, alarm_name=STEP_ALARM, state="ALARM", threshold=1,
                        state_updated_ts=desired_ts - 5, metric="HasBacklogWithoutCapacity",
                        comparison="GreaterThanOrEqualToThreshold",
                        state_reason="Threshold Crossed: 2 out of the last 2 datapoints were >= 1.0"),
            AlarmSample(ts=first_instance + 150, alarm_name=STEP_ALARM, state="OK", threshold=1,
                        state_updated_ts=first_instance + 140, metric="HasBacklogWithoutCapacity",
                        comparison="GreaterThanOrEqualToThreshold")]
    else:
        alarms.append(AlarmSample(ts=desired_ts + 20, alarm_name=ALARM_HIGH, state="ALARM", threshold=5,
                                  state_updated_ts=desired_ts - 5, **tt,
                                  state_reason="Threshold Crossed: 3 datapoints were greater than 5.0"))
    alarms += [
        AlarmSample(ts=first_instance + 200, alarm_name=ALARM_HIGH, state="OK", threshold=5,
                    state_updated_ts=first_instance + 190, **tt),
        AlarmSample(ts=zero_ts - 70, alarm_name=ALARM_LOW, state="ALARM", threshold=4.5,
                    state_updated_ts=zero_ts - 75, metric="ApproximateBacklogSizePerInstance",
                    comparison="LessThanThreshold")]
    folder.writer("alarms").extend(sorted(alarms, key=lambda a: a.ts))
    folder.close()
    within = 600 if scenario == WITH else 960
    folder.write_verdicts([
        Verdict(name="scale_from_zero", kind="scale_from_zero", status="PASS",
                source="{type: scale_from_zero, within: 10m}",
                summary=f"first instance InService {FIRST_INSTANCE_S[scenario]:.0f}s after first_request",
                trigger_ts=FIRST_REQUEST, observed_ts=first_instance, window_start_ts=FIRST_REQUEST,
                window_end_ts=FIRST_REQUEST + within),
        Verdict(name="scale_to_zero", kind="scale_to_zero", status="PASS" if scenario == WITH else "FAIL",
                source="{type: scale_to_zero, within: 25m}", summary="0 instances after the backlog emptied",
                trigger_ts=backlog_empty, observed_ts=zero_ts, window_start_ts=backlog_empty,
                window_end_ts=backlog_empty + 1500),
        Verdict(name="error_rate <= 0", kind="error_rate", status="PASS", summary="0 of 12 requests failed",
                trigger_ts=LOAD_START, window_start_ts=LOAD_START, window_end_ts=ASYNC_LOAD_END),
    ])
    return folder


def comparison_runs(parent: Path) -> list[RunFolder]:
    """Both scenarios of the async profile laid out as ``scalecheck run`` does: ``parent/<scenario>/``
    and ``parent/scenarios.json``."""
    parent.mkdir(parents=True, exist_ok=True)
    folders = [async_run(parent, WITH), async_run(parent, WITHOUT)]
    (parent / "scenarios.json").write_text(json.dumps({
        "profile": ASYNC_PROFILE["name"], "scenarios": [{"name": s, "folder": s} for s in (WITH, WITHOUT)]}))
    return folders


# --- step scaling ----------------------------------------------------------------------------------

STEP_EP, STEP_VARIANT = "step-demo", "AllTraffic"
STEP_DIMS = {"EndpointName": STEP_EP, "VariantName": STEP_VARIANT}
STEP_LOAD_END = LOAD_START + 840
STEP_PROFILE: dict[str, Any] = {
    "name": "step-scaling",
    "endpoint": {"name": STEP_EP, "variant": STEP_VARIANT},
    "scaling": {"min_capacity": 1, "max_capacity": 8, "policies": [
        {"type": "step", "name": "ipi-step-out", "adjustment_type": "ChangeInCapacity", "cooldown": "7m",
         "steps": [{"lower": 0, "upper": 15, "adjustment": 1}, {"lower": 15, "upper": 30, "adjustment": 2},
                   {"lower": 30, "adjustment": 4}],
         "alarm": {"name": "InvocationsPerInstance", "statistic": "Sum", "period": "60s", "evaluation_periods": 1,
                   "threshold": 20, "comparison": "GreaterThanOrEqualToThreshold"}},
        {"type": "step", "name": "ipi-step-in", "adjustment_type": "PercentChangeInCapacity", "cooldown": "5m",
         "steps": [{"upper": 0, "adjustment": -50}],
         "alarm": {"name": "InvocationsPerInstance", "statistic": "Sum", "period": "60s", "evaluation_periods": 5,
                   "threshold": 5, "comparison": "LessThanThreshold"}}]},
    "traffic": {"stages": [{"name": "moderate", "duration": "8m", "rate_rps": 0.5},
                           {"name": "spike", "duration": "6m", "rate_rps": 1.8}]},
    "expectations": [{"type": "max_instances", "max": 6}],
    "local": {"speed": 40},
}
# (desired from, current from, count)
STEP_CAPACITY = ((T0, T0, 1), (T0 + 160, T0 + 460, 2), (T0 + 630, T0 + 930, 6), (T0 + 1240, T0 + 1300, 3),
                 (T0 + 1560, T0 + 1620, 2))
STEP_END = T0 + 1800


def _count(t: float, col: int) -> int:
    return [c[2] for c in STEP_CAPACITY if c[col] <= t][-1]


def step_run(root: Path) -> RunFolder:
    """The step-scaling walkthrough (see the module docstring)."""
    spike = LOAD_START + 480
    stages = [StageSpan(name="moderate", start_ts=LOAD_START, end_ts=spike),
              StageSpan(name="spike", start_ts=spike, end_ts=STEP_LOAD_END)]
    folder = _create(root, "20261121T194000Z-step-scaling",
                     _run_info(STEP_PROFILE, "20261121T194000Z-step-scaling", STEP_EP, STEP_VARIANT, STEP_END,
                               STEP_LOAD_END, stages, first_request_ts=LOAD_START))

    def rate(t: float) -> float:
        return 0.0 if not LOAD_START <= t < STEP_LOAD_END else 0.5 if t < spike else 1.8

    folder.writer("load").extend(
        LoadInterval(ts=t, interval_s=10, offered_rps=rate(t), achieved_rps=rate(t), requests=int(10 * rate(t)),
                     failures=0, users=1, latency_ms=LatencyMs(p50=10, p95=20, p99=40))
        for t in range(int(LOAD_START), int(STEP_LOAD_END), 10))
    metrics = []
    for m in range(int((STEP_END - T0) // 60)):
        start = T0 + 60 * m
        inv = sum(rate(t) * 10 for t in range(int(start), int(start) + 60, 10))
        metrics.append(MetricPoint(ts=start, namespace="AWS/SageMaker", metric="InvocationsPerInstance", stat="Sum",
                                   dims=STEP_DIMS, period_s=60, value=inv / _count(start + 30, 1)))
    folder.writer("metrics").extend(metrics)
    folder.writer("endpoint").extend(
        EndpointSample(ts=T0 + 10 * k, endpoint_name=STEP_EP, variant_name=STEP_VARIANT, status="InService",
                       current_instances=_count(T0 + 10 * k, 1), desired_instances=_count(T0 + 10 * k, 0))
        for k in range(int((STEP_END - T0) // 10) + 1))
    rid = f"endpoint/{STEP_EP}/variant/{STEP_VARIANT}"
    acts = [("out1", 1, 0, "ipi-step-out"), ("out2", 2, 1, "ipi-step-out"), ("in1", 3, 2, "ipi-step-in"),
            ("in2", 4, 3, "ipi-step-in")]
    folder.writer("activities").extend(
        Activity(activity_id=a, resource_id=rid, start_ts=STEP_CAPACITY[i][0], end_ts=STEP_CAPACITY[i][1],
                 status_code="Successful", description=f"Setting desired instance count to {STEP_CAPACITY[i][2]}.",
                 cause=f"monitor alarm {p}-alarm in state ALARM triggered policy {p}")
        for a, i, _, p in acts)
    out = dict(alarm_name="ipi-step-out-alarm", threshold=20, metric="InvocationsPerInstance",
               comparison="GreaterThanOrEqualToThreshold")
    low = dict(alarm_name="ipi-step-in-alarm", threshold=5, metric="InvocationsPerInstance",
               comparison="LessThanThreshold")
    folder.writer("alarms").extend(sorted([
        AlarmSample(ts=T0 + 5, state="INSUFFICIENT_DATA", **out), AlarmSample(ts=T0 + 5, state="ALARM", **low),
        AlarmSample(ts=T0 + 150, state="ALARM", state_updated_ts=T0 + 145, **out),
        AlarmSample(ts=T0 + 200, state="OK", state_updated_ts=T0 + 195, **low),
        AlarmSample(ts=T0 + 500, state="OK", state_updated_ts=T0 + 490, **out),
        AlarmSample(ts=T0 + 620, state="ALARM", state_updated_ts=T0 + 615, **out),
        AlarmSample(ts=T0 + 1000, state="OK", state_updated_ts=T0 + 990, **out),
        AlarmSample(ts=T0 + 1235, state="ALARM", state_updated_ts=T0 + 1230, **low),
    ], key=lambda a: a.ts))
    folder.close()
    folder.write_verdicts([Verdict(name="max_instances <= 6", kind="max_instances", status="PASS",
                                   summary="at most 6 instances")])
    return folder


# --- scheduled scaling -----------------------------------------------------------------------------

SCHED_EP, SCHED_VARIANT = "scheduled-demo", "AllTraffic"
PREWARM_TS, RELEASE_TS = LOAD_START + 180, LOAD_START + 900
SCHED_LOAD_END = LOAD_START + 1020
SCHED_END = T0 + 1800
SCHED_RID = f"endpoint/{SCHED_EP}/variant/{SCHED_VARIANT}"
SCHED_HIGH = f"TargetTracking-{SCHED_RID}-AlarmHigh-5e0c2b7a-1f1d-4d0f-b1c4-8f2a3e4d5c6b"
SCHED_LOW = f"TargetTracking-{SCHED_RID}-AlarmLow-9a8b7c6d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
SCHED_PROFILE: dict[str, Any] = {
    "name": "scheduled-scaling",
    "endpoint": {"name": SCHED_EP, "variant": SCHED_VARIANT},
    "scaling": {"min_capacity": 1, "max_capacity": 6,
                "policies": [{"type": "target_tracking", "name": "ipi-target-60", "target_value": 60}],
                "scheduled_actions": [{"name": "prewarm-for-peak", "at": "load_start+3m", "min_capacity": 4},
                                      {"name": "release-after-peak", "at": "load_start+15m", "min_capacity": 1}]},
    "traffic": {"stages": [{"name": "quiet", "duration": "9m", "rate_rps": 0.2},
                           {"name": "peak", "duration": "5m", "rate_rps": 2},
                           {"name": "after", "duration": "3m", "rate_rps": 0.2}]},
    "expectations": [{"type": "max_instances", "max": 4}],
    "local": {"speed": 40},
}


def _at(ts: float) -> str:
    return f"at({datetime.fromtimestamp(ts, UTC):%Y-%m-%dT%H:%M:%S})"


def scheduled_run(root: Path, *, with_put_events: bool = True) -> RunFolder:
    """The scheduled-scaling walkthrough (see the module docstring)."""
    q, p = LOAD_START + 540, LOAD_START + 840
    stages = [StageSpan(name="quiet", start_ts=LOAD_START, end_ts=q), StageSpan(name="peak", start_ts=q, end_ts=p),
              StageSpan(name="after", start_ts=p, end_ts=SCHED_LOAD_END)]
    folder = _create(root, "20261121T194000Z-scheduled-scaling",
                     _run_info(SCHED_PROFILE, "20261121T194000Z-scheduled-scaling", SCHED_EP, SCHED_VARIANT,
                               SCHED_END, SCHED_LOAD_END, stages, first_request_ts=LOAD_START))
    events = [RunEvent(ts=LOAD_START, kind="load_start"), RunEvent(ts=SCHED_LOAD_END, kind="load_stop")]
    if with_put_events:
        # as run.py records them: "<name> at(...)[ min N][ max M]"
        events += [RunEvent(ts=LOAD_START, kind="scheduled_action_put",
                            detail=f"prewarm-for-peak {_at(PREWARM_TS)} min 4"),
                   RunEvent(ts=LOAD_START, kind="scheduled_action_put",
                            detail=f"release-after-peak {_at(RELEASE_TS)} min 1")]
    folder.writer("events").extend(events)
    folder.writer("load").extend(
        LoadInterval(ts=t, interval_s=10, offered_rps=r, achieved_rps=r, requests=int(10 * r), failures=0, users=1,
                     latency_ms=LatencyMs(p50=10, p95=20, p99=40))
        for t in range(int(LOAD_START), int(SCHED_LOAD_END), 10) for r in [2.0 if q <= t < p else 0.2])

    def counts(t: float) -> tuple[int, int]:
        desired = 4 if PREWARM_TS <= t < T0 + 1500 else 1
        current = 4 if PREWARM_TS + 300 <= t < T0 + 1560 else 1
        return desired, current

    folder.writer("endpoint").extend(
        EndpointSample(ts=T0 + 10 * k, endpoint_name=SCHED_EP, variant_name=SCHED_VARIANT, status="InService",
                       desired_instances=counts(T0 + 10 * k)[0], current_instances=counts(T0 + 10 * k)[1])
        for k in range(int((SCHED_END - T0) // 10) + 1))
    folder.writer("activities").extend([
        Activity(activity_id="s1", resource_id=SCHED_RID, start_ts=PREWARM_TS + 2, end_ts=PREWARM_TS + 300,
                 status_code="Successful", description="Setting desired instance count to 4.",
                 cause="scheduled action name prewarm-for-peak was triggered"),
        Activity(activity_id="s2", resource_id=SCHED_RID, start_ts=T0 + 1500, end_ts=T0 + 1560,
                 status_code="Successful", description="Setting desired instance count to 1.",
                 cause=f"monitor alarm {SCHED_LOW} in state ALARM triggered policy ipi-target-60")])
    tt = dict(metric="InvocationsPerInstance")
    folder.writer("alarms").extend([
        AlarmSample(ts=T0 + 5, alarm_name=SCHED_HIGH, state="OK", threshold=60, comparison="GreaterThanThreshold",
                    **tt),
        AlarmSample(ts=T0 + 5, alarm_name=SCHED_LOW, state="INSUFFICIENT_DATA", threshold=54,
                    comparison="LessThanThreshold", **tt),
        AlarmSample(ts=T0 + 1490, alarm_name=SCHED_LOW, state="ALARM", threshold=54,
                    comparison="LessThanThreshold", state_updated_ts=T0 + 1485, **tt)])
    folder.writer("metrics").extend(
        MetricPoint(ts=T0 + 60 * m, namespace="AWS/SageMaker", metric="InvocationsPerInstance", stat="Sum",
                    dims={"EndpointName": SCHED_EP, "VariantName": SCHED_VARIANT}, period_s=60,
                    value=(120.0 if q <= T0 + 60 * m < p else 12.0) / counts(T0 + 60 * m + 30)[1])
        for m in range(int((SCHED_END - T0) // 60)))
    folder.close()
    folder.write_verdicts([Verdict(name="max_instances <= 4", kind="max_instances", status="PASS",
                                   summary="at most 4 instances")])
    return folder
