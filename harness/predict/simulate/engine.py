"""The simulator proper: see the package docstring (:mod:`harness.predict.simulate`) for what a prediction assumes."""

from __future__ import annotations

import heapq
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.validate import ParamValidator

from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.errors import AwsError
from harness.emulator.protocol import Call, service_model
from harness.errors import ConfigError
from harness.profile import Profile, Stage, StepPolicy, TargetTrackingPolicy
from harness.profile.aws_requests import (
    alarm_request,
    at_expression,
    endpoint_config_request,
    plan_relative_actions,
    scheduled_action_request,
    step_policy_request,
    target_tracking_request,
)
from harness.profile.budget import observation_budget_s
from harness.profile.series import metric_queries
from harness.profile.traffic import integral, stage_starts
from harness.record import (
    STREAMS,
    RunFolder,
    RunInfo,
    StageSpan,
    Verdict,
    make_unique_dir,
    run_folder_name,
    write_scenarios_index,
)
from harness.report.compare import write_comparison
from harness.report.conclude import conclude

SETTLE_S = 60.0  # the endpoint is InService with its scaling applied this long before the load starts
TICK_S = 10.0  # traffic and load.jsonl intervals; divides the 60 s metric period
LONG_LOAD_S = 86400.0  # a load longer than this (a day) is played in LONG_TICK_S ticks
LONG_TICK_S = 60.0  # one metric period: 6x fewer model calls and load records for week-long predictions
BULK_MIN_PER_TICK = 200  # from this many real-time arrivals in a tick on, World.invoke_bulk is used
DEFAULT_REGION_ACCOUNT = ("test", "000000000000")


class SimulationError(ConfigError):
    """The profile cannot be simulated (the emulator refused a setup call, a relative action is past)."""


class VirtualClock:
    """Endpoint time that only moves when the simulator sets it; ``sleep`` does nothing (the simulator
    models request latency itself). ``speed`` 0: no relation to wall time."""

    speed = 0.0

    def __init__(self, ts: float) -> None:
        self.ts = ts

    def now(self) -> float:
        return self.ts

    def sleep(self, endpoint_s: float) -> None:
        return None


@dataclass(frozen=True)
class CapacityChange:
    """One completed change of the variant's instance count: requested at ``start_ts`` (Updating), done
    (InService with ``to`` instances) at ``end_ts``."""

    start_ts: float
    end_ts: float
    from_count: int
    to_count: int


@dataclass
class Prediction:
    """A simulated run: its run.json and every stream, as dicts of the :mod:`harness.record` models."""

    profile: Profile
    run: RunInfo
    streams: dict[str, list[dict[str, Any]]]
    changes: list[CapacityChange] = field(default_factory=list)


class _Api:
    """Calls the emulator's registered handlers as boto3 would reach them, at the virtual clock's time."""

    def __init__(self, emu: Emulator, region: str) -> None:
        self.emu = emu
        self.region = region
        self._validator = ParamValidator()

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.emu.router.handler(service, operation)
        if handler is None:
            raise SimulationError(f"the emulator has no handler for {service} {operation}")
        shape = service_model(service).operation_model(operation).input_shape
        report = self._validator.validate(params, shape)
        if report.has_errors():
            raise SimulationError(f"{operation}: {report.generate_report()}")
        try:
            return handler(Call(service, operation, params, self.region, DEFAULT_REGION_ACCOUNT[0]))
        except AwsError as err:
            raise SimulationError(f"{operation} refused by the model: {err}") from None


class _Rate:
    """The integral of the offered rate over ``[a, b)`` (seconds since load start), for increasing ``a``."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = stages
        self.spans = [(start, end, s) for (_n, start, end), s in zip(stage_starts(stages, 0.0), stages, strict=True)]
        self.i = 0

    def stage(self, t: float) -> str | None:
        while self.i < len(self.spans) and self.spans[self.i][1] <= t:
            self.i += 1
        return self.spans[self.i][2].name if self.i < len(self.spans) else None

    def integral(self, a: float, b: float) -> float:
        """Requests offered over ``[a, b)``: :func:`harness.profile.traffic.integral` (exact for every stage kind; the
        simulator's arrivals are deterministic even with ``traffic.arrivals: poisson``)."""
        self.stage(a)
        if self.i >= len(self.spans):
            return 0.0
        return integral(self.stages, a, b, first=self.i, first_start=self.spans[self.i][0])


def _pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {}
    if len(values) == 1:  # every percentile is the one value (the bulk path's ticks)
        v = values[0]
        return {"p50": v, "p90": v, "p95": v, "p99": v, "max": v}
    values.sort()
    n = len(values)

    def at(q: float) -> float:
        return values[min(n - 1, int(math.ceil(q * n)) - 1)]

    return {"p50": at(0.5), "p90": at(0.9), "p95": at(0.95), "p99": at(0.99), "max": values[-1]}


def _setup(api: _Api, emu: Emulator, clock: VirtualClock, profile: Profile) -> None:
    """CreateModel, CreateEndpointConfig, CreateEndpoint; InService; scaling; start capacity (as setup.prepare)."""
    ep = profile.endpoint
    model = ep.model_name or f"{ep.name}-model"
    config = f"{ep.name}-config-{int(clock.ts)}"
    api("sagemaker", "CreateModel", {"ModelName": model, "PrimaryContainer": {"Image": ep.image},
                                     "ExecutionRoleArn": ep.execution_role_arn})
    api("sagemaker", "CreateEndpointConfig", endpoint_config_request(profile, config, model))
    api("sagemaker", "CreateEndpoint", {"EndpointName": ep.name, "EndpointConfigName": config})
    clock.ts += emu.params.endpoint_create_delay_s
    emu.world.advance(clock.ts)
    s = profile.scaling
    if s.applies:
        target = {"ServiceNamespace": "sagemaker", "ResourceId": profile.resource_id,
                  "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
        api("application-autoscaling", "RegisterScalableTarget",
            {**target, "MinCapacity": s.min_capacity, "MaxCapacity": s.max_capacity})
        for policy in s.policies:
            if isinstance(policy, TargetTrackingPolicy):
                api("application-autoscaling", "PutScalingPolicy", target_tracking_request(policy, profile))
            elif isinstance(policy, StepPolicy):
                resp = api("application-autoscaling", "PutScalingPolicy", step_policy_request(policy, profile))
                api("cloudwatch", "PutMetricAlarm", alarm_request(policy, profile, resp["PolicyARN"]))
        for action in s.scheduled_actions:
            if action.schedule is not None:
                api("application-autoscaling", "PutScheduledAction", scheduled_action_request(action, profile))
    if s.start_capacity is not None and s.start_capacity != ep.initial_instance_count:
        grows = s.start_capacity > ep.initial_instance_count
        api("sagemaker", "UpdateEndpointWeightsAndCapacities", {
            "EndpointName": ep.name,
            "DesiredWeightsAndCapacities": [{"VariantName": ep.variant, "DesiredInstanceCount": s.start_capacity}]})
        clock.ts += emu.params.provisioning_delay_s if grows else emu.params.deprovision_delay_s
        emu.world.advance(clock.ts)


def _setup_s(profile: Profile, params: ModelParams) -> float:
    s, ep = profile.scaling, profile.endpoint
    out = params.endpoint_create_delay_s
    if s.start_capacity is not None and s.start_capacity != ep.initial_instance_count:
        grows = s.start_capacity > ep.initial_instance_count
        out += params.provisioning_delay_s if grows else params.deprovision_delay_s
    return out


def simulate(profile: Profile, params: ModelParams | None = None, *, load_start_ts: float | None = None,
             scenario: str | None = None, run_id: str | None = None) -> Prediction:
    """Run the model over ``profile`` (already the scenario's profile, if any) in virtual time."""

    params = params or profile.local.params
    load_start = math.floor(time.time() / 3600) * 3600.0 if load_start_ts is None else float(load_start_ts)
    begin = load_start - SETTLE_S
    started = begin - _setup_s(profile, params)
    clock = VirtualClock(started)
    emu = Emulator(params, clock=clock, region=profile.region)
    world = emu.world
    api = _Api(emu, profile.region)
    _setup(api, emu, clock, profile)
    ep_spec = profile.endpoint
    name, vname = ep_spec.name, ep_spec.variant
    is_async = ep_spec.is_async
    duration = profile.traffic.duration_s
    load_end = load_start + duration
    end = load_start + observation_budget_s(profile)
    tick_s = LONG_TICK_S if duration > LONG_LOAD_S else TICK_S
    end = begin + math.ceil((end - begin) / tick_s) * tick_s

    events: list[dict[str, Any]] = []
    load: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []

    def event(ts: float, kind: str, detail: str = "") -> None:
        events.append({"ts": ts, "kind": kind, "detail": detail})

    clock.ts = begin
    world.advance(begin)
    alarm_samples = [_alarm_sample(a, begin, a.state, a.state_reason) for a in world.alarms.values()]
    truth_from = len(world.truth)

    # the load starts: relative `at` actions are put at once, as the run does
    clock.ts = load_start
    world.advance(load_start)
    event(load_start, "load_start")
    for stage_name, start, _end in stage_starts(profile.traffic.stages, load_start):
        event(start, "stage_start", stage_name)
    if profile.scaling.applies:
        planned, problem = plan_relative_actions(profile, load_start, load_start)
        if problem is not None:
            raise SimulationError(problem)
        for fire_ts, action in planned:
            schedule = at_expression(fire_ts)
            api("application-autoscaling", "PutScheduledAction", scheduled_action_request(action, profile, schedule))
            bounds = "".join(f" {k} {v}" for k, v in (("min", action.min_capacity), ("max", action.max_capacity))
                             if v is not None)
            event(load_start, "scheduled_action_put", f"{action.name} {schedule}{bounds}")

    rate = _Rate(profile.traffic.stages)
    acc = 1.0  # credit of arrivals: the first request goes at load start
    finishes: list[tuple[float, int, str]] = []
    seq = 0
    first_request: float | None = None
    spec = ep_spec.async_
    ttl = float(spec.request_ttl_s) if spec is not None and spec.request_ttl_s else 21600.0
    timeout = float(spec.invocation_timeout_s) if spec is not None and spec.invocation_timeout_s else 900.0
    describe_s = float(profile.collector.describe_interval_s)
    next_sample = begin

    # A real-time run changes the model only through advance (whose last step applies what is due) and
    # through invoke/invoke_bulk/finish, which touch nothing but metrics and requests in flight: so after
    # advancing, nothing happens before World.next_event_ts() and advancing to an earlier time only moves
    # the model's clock. `quiet` is that time (-inf: unknown; an async run always advances).
    quiet = -math.inf

    def advance(ts: float) -> None:
        nonlocal quiet
        if world.now <= ts < quiet:
            world.now = ts
            return
        world.advance(ts)
        if not is_async:
            quiet = world.next_event_ts()

    def sample(ts: float) -> None:
        advance(ts)
        ep = world.endpoints[name]
        v = ep.variants[vname]
        samples.append({"ts": ts, "endpoint_name": name, "variant_name": vname, "status": ep.status,
                        "current_instances": v.current, "desired_instances": v.desired,
                        "current_weight": v.weight, "desired_weight": v.weight})

    def finish_until(ts: float) -> None:
        while finishes and finishes[0][0] <= ts:
            _t, _s, v = heapq.heappop(finishes)
            world.finish(name, v)

    a = begin
    while a < end:
        # long ticks follow the metric-period grid, so each tick's bulk samples fall in one period
        b = a + tick_s if tick_s == TICK_S else (math.floor(a / tick_s) + 1) * tick_s
        in_load = load_start <= a < load_end
        requests = failures = 0
        errors: dict[str, int] = {}
        latencies: list[float] = []
        offered = 0.0
        stage = rate.stage(a - load_start) if in_load else None
        arrivals: list[float] = []
        if in_load:
            hi = min(b, load_end)
            offered = rate.integral(a - load_start, hi - load_start)
            if not is_async and acc + offered >= BULK_MIN_PER_TICK:
                n = max(0, math.ceil(acc + offered) - 1)  # the arrivals the per-request path would make
                acc += offered - n
                if finishes and finishes[0][0] <= a:
                    finish_until(a)
                out = world.invoke_bulk(name, a, n, hi - a)
                if a >= quiet:  # it advanced the model over events
                    quiet = world.next_event_ts()
                requests, failures = n, out.failed
                if out.failed:
                    code = params.overload_error if out.latency_s < params.invocation_timeout_s else "ModelError"
                    errors[code] = errors.get(code, 0) + out.failed
                if out.served:
                    latencies = [out.latency_s * 1000.0]
                if first_request is None and n:
                    first_request = a
            else:
                x = a
                while x < hi:
                    y = min(hi, x + 1.0)
                    i_s = rate.integral(x - load_start, y - load_start)
                    if i_s > 0:
                        m = 1
                        while m - acc < i_s:
                            arrivals.append(x + (m - acc) / i_s * (y - x))
                            m += 1
                        acc = acc + i_s - (m - 1)
                    x = y
        for t in arrivals:
            while next_sample <= t:
                finish_until(next_sample)
                sample(next_sample)
                next_sample += describe_s
            finish_until(t)
            if first_request is None:
                first_request = t
            requests += 1
            seq += 1
            if is_async:
                assert spec is not None
                iid = f"sim-{seq:08d}"
                world.invoke_async(name, t, inference_id=iid, input_location=f"{spec.input_path}/{iid}",
                                   output_location=f"{spec.output_path}/{iid}.out",
                                   failure_location=f"{spec.failure_path}/{iid}-error.out", ttl_s=ttl,
                                   timeout_s=timeout)
                continue
            admission, v = world.invoke(name, t)
            if t >= quiet:
                quiet = world.next_event_ts()
            if admission.error is None:
                heapq.heappush(finishes, (t + admission.latency_s, seq, v))
                latencies.append(admission.latency_s * 1000.0)
            else:
                failures += 1
                errors[admission.error] = errors.get(admission.error, 0) + 1
        while next_sample < b:
            if finishes and finishes[0][0] <= next_sample:
                finish_until(next_sample)
            sample(next_sample)
            next_sample += describe_s
        if finishes and finishes[0][0] <= b:
            finish_until(b)
        clock.ts = b
        advance(b)
        completions = completion_failures = 0
        completion_s: list[float] = []
        if is_async:
            for r in world.drain_async_results():
                completions += 1
                if r.status != "Completed":
                    completion_failures += 1
                completion_s.append(r.done_ts - r.arrival_ts)
        # after the load, an async run keeps recording intervals while requests are outstanding (the drain)
        draining = is_async and a >= load_end and (completions or world.backlog_size(name) > 0)
        if in_load or draining:
            span = b - a if not in_load else min(b, load_end) - a
            load.append({"ts": a, "interval_s": span, "stage": stage, "offered_rps": offered / span if in_load else 0.0,
                         "achieved_rps": requests / span, "requests": requests, "failures": failures, "users": 0,
                         "latency_ms": _pct(latencies), "errors": errors, "completions": completions,
                         "completion_failures": completion_failures, "completion_s": _pct(completion_s)})
        a = b
    if next_sample <= end:
        sample(end)
    if first_request is not None:
        event(first_request, "first_request")
    event(load_end, "load_stop")

    for e in world.truth[truth_from:]:
        if e.kind == "alarm_state":
            alarm = world.alarms.get(str(e.detail["alarm"]))
            if alarm is not None:
                alarm_samples.append(_alarm_sample(alarm, e.ts, str(e.detail["state"]), str(e.detail["reason"])))
    activities = [{"activity_id": act.activity_id, "resource_id": act.resource_id, "start_ts": act.start_ts,
                   "end_ts": act.end_ts, "status_code": act.status_code, "description": act.description,
                   "cause": act.cause, "status_message": act.status_message,
                   "observed_ts": act.end_ts if act.end_ts is not None else act.start_ts}
                  for act in world.activities if act.start_ts >= started]
    metrics = []
    lag = params.metric_publish_lag_s
    for q in metric_queries(profile):
        key = MetricKey(q.namespace, q.metric, q.dims)
        dims = dict(q.dims)
        for ts, value in world.metrics.datapoints(key, q.stat, q.period_s, started, end + 1, end):
            metrics.append({"ts": float(ts), "namespace": q.namespace, "metric": q.metric, "dims": dims.copy(),
                            "stat": q.stat, "period_s": q.period_s, "value": value,
                            "observed_ts": ts + q.period_s + lag})
    changes = _changes(world.truth[truth_from:], name, vname, variant_start=samples[0]["current_instances"])
    events.sort(key=lambda e: e["ts"])
    reason = (f"prediction: the model run in virtual time (no request sent); endpoint InService with its scaling "
              f"applied {SETTLE_S:g} s before the load; deterministic arrivals; every sample, activity and alarm "
              f"transition observed as it happened")
    run = RunInfo(
        run_id=run_id or f"{run_folder_name(load_start, profile.name)}-prediction", kind="prediction",
        profile_name=profile.name, profile=profile.model_dump(mode="json", by_alias=True), mode="local", speed=0.0,
        region=profile.region, endpoint_name=name, variant_name=vname, versions={}, status="complete",
        status_reason=reason, started_ts=started, ended_ts=end, load_start_ts=load_start, load_end_ts=load_end,
        first_request_ts=first_request, scenario=scenario,
        stages=[StageSpan(name=n, start_ts=s, end_ts=e)
                for n, s, e in stage_starts(profile.traffic.stages, load_start)])
    streams = {"events": events, "load": load, "metrics": metrics, "endpoint": samples, "activities": activities,
               "alarms": sorted(alarm_samples, key=lambda x: x["ts"])}
    return Prediction(profile, run, streams, changes)


def _alarm_sample(alarm: Any, ts: float, state: str, reason: str) -> dict[str, Any]:
    return {"ts": ts, "alarm_name": alarm.name, "state": state, "threshold": float(alarm.threshold),
            "state_updated_ts": ts, "metric": alarm.metric.name, "comparison": alarm.comparison,
            "state_reason": reason}


def _changes(truth: Sequence[Any], name: str, vname: str, variant_start: int | None) -> list[CapacityChange]:
    out = []
    current = variant_start or 0
    requested: float | None = None
    for e in truth:
        if e.kind != "capacity" or e.detail.get("endpoint") != name or e.detail.get("variant") != vname:
            continue
        if e.detail["status"] == "Updating":
            requested = e.ts if requested is None else requested
        elif e.detail["status"] == "InService":
            now = int(e.detail["current"])
            if now != current:
                out.append(CapacityChange(requested if requested is not None else e.ts, e.ts, current, now))
            current, requested = now, None
    return out


def write_prediction(prediction: Prediction, root: Path, *, finish: bool = True) -> tuple[Path, list[Verdict]]:
    """Write the run folder of ``prediction`` under ``root`` (its ``run_id`` may hold a parent folder), then
    (``finish``) verdicts.json, junit.xml and report.html, as a run's end does."""
    folder = RunFolder.create(root, prediction.run)
    for stream, records in prediction.streams.items():
        assert stream in STREAMS
        with folder.stream_path(stream).open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    if not finish:
        return folder.path, []
    return folder.path, conclude(folder, folder.load(), prediction.profile)


@dataclass(frozen=True)
class SimulatedRun:
    scenario: str | None
    folder: Path
    prediction: Prediction
    verdicts: list[Verdict]


def simulate_profile(profile: Profile, reports_dir: Path, params: ModelParams | None = None, *,
                     load_start_ts: float | None = None,
                     say: Callable[[str], None] | None = None) -> tuple[Path, list[SimulatedRun]]:
    """Predict ``profile`` into ``reports_dir``: one folder ``<stamp>-<profile>-prediction``, or for a profile
    with scenarios that parent folder holding one prediction per scenario, ``scenarios.json`` and
    ``comparison.html``. Returns the folder and the predictions."""
    start = math.floor(time.time() / 3600) * 3600.0 if load_start_ts is None else float(load_start_ts)
    base = f"{run_folder_name(time.time(), profile.name)}-prediction"
    if not profile.scenarios:
        pred = simulate(profile, params, load_start_ts=start, run_id=base)
        path, verdicts = write_prediction(pred, reports_dir)
        return path, [SimulatedRun(None, path, pred, verdicts)]
    parent = make_unique_dir(Path(reports_dir), base)
    base = parent.name
    runs = []
    for sc in profile.scenarios:
        if say is not None:
            say(f"scenario {sc.name}")
        pred = simulate(profile.for_scenario(sc.name), params, load_start_ts=start, scenario=sc.name,
                        run_id=f"{base}/{sc.name}")
        path, verdicts = write_prediction(pred, reports_dir)
        runs.append(SimulatedRun(sc.name, path, pred, verdicts))
    write_scenarios_index(parent, profile.name, [(str(r.scenario), r.folder) for r in runs])
    write_comparison(parent, [r.folder for r in runs])
    return parent, runs
