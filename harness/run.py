"""One run, end to end: validate, set up, load with Locust, observe, decide, report.

Order matters for the promises the tool makes:
1. the profile is validated before anything is contacted (ConfigError → 104);
2. AWS/the emulator is checked before any traffic (InfrastructureError → 105);
3. the run folder exists before the load starts, and every stream is appended as data arrives;
4. after the load, observation continues until every expectation is decided or its window (plus
   the collector's sample gap) has passed; Ctrl-C or a crash still finalises the folder, as
   ``aborted`` with the reason, with verdicts and a report of what was recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness import checks
from harness.aws import Target, check_access, emulator_clock, make_clients
from harness.collector import Collector
from harness.emulator.process import EmulatorProcess
from harness.errors import ConfigError
from harness.profile import Profile
from harness.record import Clock, Recorded, RunFolder, RunInfo, StageSpan, Verdict, run_folder_name
from harness.report.html import write_report
from harness.report.junit import write_junit
from harness.setup import apply_scaling, ensure_endpoint
from harness.traffic import stage_starts

STATUS_EVERY_WALL_S = 5.0
LOADGEN = Path(__file__).with_name("loadgen.py")


@dataclass(frozen=True)
class RunOptions:
    """How to run a profile (CLI flags)."""

    local: bool = False
    speed: float | None = None
    reports_dir: Path = Path("reports")
    region: str | None = None
    endpoint_url: str | None = None
    aws_profile: str | None = None
    locust_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    folder: Path
    verdicts: list[Verdict]
    exit_code: int
    status: str
    reason: str | None = None


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("scalecheck", "boto3", "botocore", "locust", "pandas", "plotly", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _speed(profile: Profile, options: RunOptions) -> float:
    if not options.local and options.endpoint_url is None:
        if options.speed not in (None, 1, 1.0):
            raise ConfigError(f"--speed {options.speed:g}: real AWS runs in real time; speed applies to --local only")
        return 1.0
    speed = options.speed if options.speed is not None else profile.local.speed
    if not 0 < speed <= 1000:
        raise ConfigError(f"--speed {speed:g}: must be > 0 and <= 1000")
    return speed


def _apply_events(recorded: Recorded, profile: Profile) -> RunInfo:
    """Fill the load anchors of run.json from what the load generator recorded in events.jsonl."""
    run = recorded.run
    start = next((e.ts for e in recorded.events if e.kind == "load_start"), None)
    stop = next((e.ts for e in recorded.events if e.kind == "load_stop"), None)
    if start is None:
        return run
    stages = [StageSpan(name=n, start_ts=s, end_ts=e) for n, s, e in stage_starts(profile.traffic.stages, start)]
    return run.model_copy(update={"load_start_ts": start, "load_end_ts": stop, "stages": stages})


class Runner:
    """State of one run; :meth:`execute` is the whole life cycle."""

    def __init__(self, profile: Profile, profile_path: Path, options: RunOptions,
                 say: Callable[[str], None]) -> None:
        self.profile = profile
        self.profile_path = profile_path.resolve()
        self.options = options
        self.say = say
        self.speed = _speed(profile, options)
        self.emulator: EmulatorProcess | None = None
        self.folder: RunFolder | None = None
        self.collector: Collector | None = None
        self.locust: subprocess.Popen[bytes] | None = None

    def _target(self) -> Target:
        region = self.options.region or self.profile.region
        if self.options.local:
            self.emulator = EmulatorProcess.start(speed=self.speed, params=self.profile.local.params, say=self.say)
            return Target(region=region, endpoint_url=self.emulator.url)
        return Target(region=region, endpoint_url=self.options.endpoint_url, profile_name=self.options.aws_profile)

    def execute(self) -> RunResult:
        try:
            target = self._target()
            clients = make_clients(target)
            check_access(clients, target)
            clock = emulator_clock(target.endpoint_url) if target.is_local else Clock.identity()
            started = clock.endpoint_ts()
            run = RunInfo(
                run_id=run_folder_name(time.time(), self.profile.name), profile_name=self.profile.name,
                profile=self.profile.model_dump(mode="json", by_alias=True),
                mode="local" if target.is_local else "aws", speed=self.speed, region=target.region,
                endpoint_name=self.profile.endpoint.name, variant_name=self.profile.endpoint.variant,
                endpoint_url=target.endpoint_url if self.options.local else None, versions=_versions(),
                clock=clock, started_ts=started)
            self.folder = RunFolder.create(self.options.reports_dir, run)
            self.say(f"run folder {self.folder.path}")
            ensure_endpoint(clients, self.profile, clock, self.say)
            apply_scaling(clients, self.profile, self.say)
            self.collector = Collector(clients, self.profile, self.folder, clock, since_ts=started,
                                       on_error=lambda text: self.say(f"collector: {text}"))
            self.collector.poll_once(metrics=True)
            self.collector.start()
            self._start_locust(target, clock)
            status, reason = self._observe(clock)
        except KeyboardInterrupt:
            status, reason = "aborted", "interrupted by the user (Ctrl-C)"
        except BaseException as err:
            if self.folder is None:
                self._cleanup()
                raise
            status, reason = "aborted", f"{type(err).__name__}: {err}"
            self.say(f"run aborted: {reason}")
            self._finish_quietly(status, reason)
            raise
        return self._finish(status, reason)

    def _start_locust(self, target: Target, clock: Clock) -> None:
        assert self.folder is not None
        env = dict(os.environ)
        env.update({"SCALECHECK_PROFILE": str(self.profile_path), "SCALECHECK_RUN_DIR": str(self.folder.path),
                    "SCALECHECK_CLOCK": clock.model_dump_json()})
        if target.is_local:
            env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
            env.pop("AWS_SESSION_TOKEN", None)
        cmd = [sys.executable, "-m", "locust", "-f", str(LOADGEN), "--headless", "--host", target.runtime_host(),
               "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10", *self.options.locust_args]
        log = (self.folder.path / "locust.log").open("wb")
        self.say(f"load: {len(self.profile.traffic.stages)} stage(s), "
                 f"{self.profile.traffic.duration_s:.0f} s of endpoint time at speed {self.speed:g}")
        self.locust = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def _observe(self, clock: Clock) -> tuple[str, str | None]:
        assert self.folder is not None and self.locust is not None
        last_status = 0.0
        load_wall_s = self.profile.traffic.duration_s / self.speed
        hard_stop_wall = time.monotonic() + load_wall_s + 120 + max(
            (getattr(e, "within_s", 0.0) for e in self.profile.expectations), default=0.0) / self.speed * 2
        while True:
            time.sleep(min(1.0, max(0.05, 2.0 / self.speed)))
            recorded = self.folder.load()
            run = _apply_events(recorded, self.profile)
            if run != recorded.run:
                self.folder.write_run(run)
                recorded.run = run
            evaluation = checks.evaluate(recorded, self.profile, final=False)
            locust_done = self.locust.poll() is not None
            if time.monotonic() - last_status >= STATUS_EVERY_WALL_S:
                last_status = time.monotonic()
                self._status_line(recorded, evaluation, clock)
            if locust_done and run.load_end_ts is None and run.load_start_ts is None:
                return "aborted", (f"the load generator exited (code {self.locust.returncode}) before the load "
                                   "began; see locust.log")
            if locust_done and run.load_end_ts is None:
                run = run.model_copy(update={"load_end_ts": clock.endpoint_ts()})
                self.folder.write_run(run)
            if locust_done and not evaluation.pending:
                return "complete", None
            now = clock.endpoint_ts()
            if locust_done and evaluation.observe_until_ts is not None and now > evaluation.observe_until_ts:
                return "complete", None
            if time.monotonic() > hard_stop_wall:
                return "complete", "observation time limit reached"

    def _status_line(self, recorded: Recorded, evaluation: checks.Evaluation, clock: Clock) -> None:
        run = recorded.run
        sample = recorded.endpoint[-1] if recorded.endpoint else None
        load = recorded.load[-1] if recorded.load else None
        if run.load_start_ts is None:
            parts = ["starting the load"]
        else:
            t = clock.endpoint_ts() - run.load_start_ts
            parts = [f"load_start+{checks.format_span(t)}"]
        if load is not None and (run.load_end_ts is None):
            parts.append(f"load {load.stage or '-'} {load.achieved_rps:.2f}/{load.offered_rps:.2f} rps")
        if sample is not None:
            parts.append(f"instances {sample.current_instances} (desired {sample.desired_instances}, {sample.status})")
        if evaluation.pending:
            parts.append("waiting: " + ", ".join(sorted(evaluation.pending)))
        self.say("  ".join(parts))

    def _stop_processes(self) -> None:
        if self.locust is not None and self.locust.poll() is None:
            self.locust.terminate()
            try:
                self.locust.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.locust.kill()
        if self.collector is not None:
            self.collector.stop(final_poll=self.emulator is None or self.emulator.alive())
            self.collector = None

    def _cleanup(self) -> None:
        self._stop_processes()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def _finish(self, status: str, reason: str | None) -> RunResult:
        assert self.folder is not None
        self._stop_processes()
        recorded = self.folder.load()
        run = _apply_events(recorded, self.profile)
        run = run.model_copy(update={"status": status, "status_reason": reason,
                                     "ended_ts": recorded.endpoint[-1].ts if recorded.endpoint else run.started_ts})
        if run.load_start_ts is not None and run.load_end_ts is None and status == "complete":
            run = run.model_copy(update={"load_end_ts": run.ended_ts})
        self.folder.write_run(run)
        recorded.run = run
        verdicts = checks.evaluate(recorded, self.profile, final=True).verdicts
        self.folder.write_verdicts(verdicts)
        write_junit(self.folder)
        write_report(self.folder)
        self.folder.close()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        return RunResult(self.folder.path, verdicts, checks.exit_code(verdicts), status, reason)

    def _finish_quietly(self, status: str, reason: str | None) -> None:
        try:
            self._finish(status, reason)
        except Exception as err:  # the original error matters more; keep what was recorded
            self.say(f"could not finalise the run folder: {err}")
            self._cleanup()


def run_profile(profile: Profile, profile_path: Path, options: RunOptions,
                say: Callable[[str], None]) -> RunResult:
    """Run ``profile`` (already validated) and return where it was recorded and how it ended."""
    return Runner(profile, profile_path, options, say).execute()


def recheck(folder_path: Path) -> tuple[RunFolder, list[Verdict]]:
    """Recompute verdicts, JUnit and report from a run folder alone (``scalecheck check``)."""
    from harness.profile import parse_profile

    folder = RunFolder(folder_path)
    recorded = folder.load()
    profile = parse_profile(recorded.run.profile, str(folder_path / "run.json"))
    verdicts = checks.evaluate(recorded, profile, final=True).verdicts
    folder.write_verdicts(verdicts)
    write_junit(folder)
    return folder, verdicts
