"""Locust users and the profile-driven load shape (the module ``locustfile.py`` wires in).

This is the only harness module that imports Locust (and so gevent). Options, each also read from
the environment so ``scalecheck run`` can pass them to a Locust subprocess:

``--scalecheck-profile`` / ``SCALECHECK_PROFILE``  the profile YAML (required)
``--scalecheck-run-dir`` / ``SCALECHECK_RUN_DIR``  a run folder to append ``load.jsonl``/``events.jsonl`` to
``--scalecheck-clock`` / ``SCALECHECK_CLOCK``    JSON {wall0_ts, endpoint0_ts, speed}; when absent and the
               host is the emulator on loopback, its ``/_emulator/clock`` is asked; else real time.

Stage rates are requests per second of endpoint time; against the emulator they are multiplied by
its speed (DESIGN.md "Time"). Requests are SigV4-signed with the standard credential chain.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import boto3
import gevent
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from locust import FastHttpUser, LoadTestShape, events, task

from harness.loadstats import IntervalRecorder
from harness.profile import Profile, load_profile
from harness.record import Clock, RunEvent, RunFolder
from harness.traffic import rate_at, stage_at, total_duration_s

LOAD_INTERVAL_S = 10.0  # endpoint seconds per load.jsonl record
IDLE_POLL_WALL_S = 0.05  # how often an idle user looks at the rate again


class _Run:
    """Process-wide state shared by the shape, the users and the interval writer."""

    profile: Profile | None = None
    clock: Clock | None = None
    folder: RunFolder | None = None
    recorder: IntervalRecorder | None = None
    users: int = 0
    stage: str | None = None
    started_wall: float | None = None
    stopped: bool = False
    load_stopped: bool = False
    writer: Any = None


RUN = _Run()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scalecheck-profile", type=str, env_var="SCALECHECK_PROFILE", default="",
                        help="scalecheck profile YAML")
    parser.add_argument("--scalecheck-run-dir", type=str, env_var="SCALECHECK_RUN_DIR", default="",
                        help="scalecheck run folder to record load into")
    parser.add_argument("--scalecheck-clock", type=str, env_var="SCALECHECK_CLOCK", default="",
                        help="JSON wall->endpoint clock mapping (set by scalecheck run)")


def _resolve_clock(options: Any, host: str) -> Clock:
    if options.scalecheck_clock:
        return Clock.model_validate(json.loads(options.scalecheck_clock))
    if host.startswith(("http://127.0.0.1", "http://localhost")):
        from harness.aws import emulator_clock

        return emulator_clock(host.rstrip("/"))
    return Clock.identity()


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.scalecheck_profile:
        raise SystemExit("scalecheck locustfile: pass --scalecheck-profile PROFILE.yaml (or SCALECHECK_PROFILE)")
    RUN.profile = load_profile(options.scalecheck_profile)
    RUN.clock = _resolve_clock(options, environment.host or "")
    if options.scalecheck_run_dir:
        RUN.folder = RunFolder(options.scalecheck_run_dir)


def _event(kind: str, detail: str = "") -> None:
    if RUN.folder is not None and RUN.clock is not None:
        RUN.folder.append("events", RunEvent(ts=RUN.clock.endpoint_ts(), kind=kind, detail=detail))


@events.test_start.add_listener
def _test_start(environment: Any, **_kw: Any) -> None:
    _begin()


def _begin() -> None:
    """Start the load clock once (the shape may tick before Locust fires test_start)."""
    if RUN.started_wall is not None or RUN.clock is None:
        return
    RUN.started_wall = time.time()
    RUN.stopped = False
    RUN.load_stopped = False
    RUN.recorder = IntervalRecorder(RUN.clock, RUN.started_wall)
    _event("load_start", f"speed {RUN.clock.speed:g}")
    RUN.writer = gevent.spawn(_write_intervals)


def _elapsed_s(wall_ts: float | None = None) -> float:
    """Endpoint seconds since the load started."""
    if RUN.started_wall is None or RUN.clock is None:
        return -1.0
    return ((time.time() if wall_ts is None else wall_ts) - RUN.started_wall) * RUN.clock.speed


def _rate_wall(wall_ts: float | None = None) -> float:
    """Requests per wall second the profile asks for now (stage rate x speed); 0 after the end."""
    if RUN.profile is None or RUN.clock is None:
        return 0.0
    return rate_at(RUN.profile.traffic.stages, _elapsed_s(wall_ts)) * RUN.clock.speed


def _flush() -> None:
    if RUN.recorder is None or RUN.clock is None or RUN.profile is None:
        return
    now = time.time()
    middle = (RUN.recorder.start_wall + now) / 2
    offered = rate_at(RUN.profile.traffic.stages, _elapsed_s(middle))
    record = RUN.recorder.flush(now, offered_rps=offered, users=RUN.users, stage=RUN.stage)
    if record is not None and RUN.folder is not None:
        RUN.folder.append("load", record)


def _write_intervals() -> None:
    assert RUN.clock is not None
    while not RUN.stopped:
        gevent.sleep(LOAD_INTERVAL_S / RUN.clock.speed)
        _flush()


@events.test_stop.add_listener
def _test_stop(environment: Any, **_kw: Any) -> None:
    if RUN.started_wall is None or RUN.stopped:
        return
    RUN.stopped = True
    if RUN.writer is not None:
        RUN.writer.kill(block=False)
    _flush()
    _load_stop()


def _load_stop() -> None:
    """Record the end of the load once: the scheduled end, or now if the load was cut short."""
    if RUN.load_stopped or RUN.clock is None or RUN.profile is None or RUN.started_wall is None:
        return
    RUN.load_stopped = True
    planned_end_wall = RUN.started_wall + RUN.profile.traffic.duration_s / RUN.clock.speed
    end = RUN.clock.endpoint_ts(min(time.time(), planned_end_wall))
    if RUN.folder is not None:
        RUN.folder.append("events", RunEvent(ts=end, kind="load_stop"))


class ProfileShape(LoadTestShape):
    """Sizes the user pool: enough users pacing at ``traffic.user_rps`` for the rate until the next tick.

    Locust ticks a shape about once per wall second, which is ``speed`` endpoint seconds: too coarse
    for the rate itself, so users read the rate from the clock at every request (``_rate_wall``).
    """

    def tick(self) -> tuple[int, float] | None:
        profile, clock = RUN.profile, RUN.clock
        if profile is None or clock is None:
            return None
        _begin()
        t_ep = _elapsed_s()
        stages = profile.traffic.stages
        if t_ep >= total_duration_s(stages):
            _load_stop()
            return None
        found = stage_at(stages, t_ep)
        stage = stages[found[0]].name if found else None
        if stage != RUN.stage:
            RUN.stage = stage
            _event("stage_start", stage or "")
        peak_wall = max(_rate_wall(), _rate_wall(time.time() + 1.0))
        RUN.users = math.ceil(peak_wall / profile.traffic.user_rps - 1e-9) if peak_wall > 0 else 0
        return RUN.users, max(RUN.users, 1) * 10.0


class Signer:
    """SigV4 signing of runtime requests with the standard credential chain (refreshes as it expires)."""

    def __init__(self, region: str, host: str) -> None:
        if host.startswith(("http://127.0.0.1", "http://localhost")):
            session = boto3.session.Session(aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                                            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                                            region_name=region)
        else:
            session = boto3.session.Session(region_name=region)
        credentials = session.get_credentials()
        if credentials is None:
            raise SystemExit("scalecheck locustfile: no AWS credentials found for signing requests")
        self._credentials = credentials
        self.region = region
        self.host = host.rstrip("/")

    def headers(self, path: str, body: bytes, content_type: str) -> dict[str, str]:
        request = AWSRequest(method="POST", url=self.host + path, data=body,
                             headers={"Content-Type": content_type, "Accept": "*/*"})
        SigV4Auth(self._credentials.get_frozen_credentials(), "sagemaker", self.region).add_auth(request)
        return dict(request.headers.items())


def _error_code(response: Any) -> str:
    code = response.headers.get("x-amzn-ErrorType") if response.headers else None
    if not code:
        try:
            code = json.loads(response.content or b"{}").get("__type")
        except (ValueError, AttributeError):
            code = None
    if not code:
        code = f"HTTP{response.status_code}" if response.status_code else "ConnectionError"
    return str(code).split(":")[0]


class RealtimeUser(FastHttpUser):
    """Calls InvokeEndpoint at the pace the shape sets (``users / rate`` seconds between requests)."""

    def on_start(self) -> None:
        assert RUN.profile is not None
        self._signer = Signer(RUN.profile.region, self.host or "")
        self._path = f"/endpoints/{RUN.profile.endpoint.name}/invocations"
        self._body = RUN.profile.traffic.payload.encode()
        self._content_type = RUN.profile.traffic.content_type
        self._last_start = time.monotonic()
        gevent.sleep(self._pacing_s() * (hash(id(self)) % 1000) / 1000.0)  # spread the first requests

    def _pacing_s(self) -> float:
        rate = _rate_wall()
        return max(RUN.users, 1) / rate if rate > 0 else IDLE_POLL_WALL_S

    def wait_time(self) -> float:
        return max(0.0, self._last_start + self._pacing_s() - time.monotonic())

    @task
    def invoke(self) -> None:
        self._last_start = time.monotonic()
        if _rate_wall() <= 0:
            return  # between stages at rate 0, or past the end: send nothing
        headers = self._signer.headers(self._path, self._body, self._content_type)
        started = time.perf_counter()
        with self.client.post(self._path, data=self._body, headers=headers, name="InvokeEndpoint",
                              catch_response=True) as response:
            latency_ms = (time.perf_counter() - started) * 1000.0
            error = None if response.status_code == 200 else _error_code(response)
            if error is None:
                response.success()
            else:
                response.failure(f"{error} (HTTP {response.status_code})")
        if RUN.recorder is not None:
            RUN.recorder.record(latency_ms, error)
