"""One run of a profile, end to end: see the package docstring (:mod:`harness.run`)."""


from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from harness import checks, exitcodes
from harness.checks.cost import CostFigures
from harness.checks.stop import should_stop
from harness.emulator.process import EmulatorProcess
from harness.errors import ConfigError, signal_name
from harness.load import interrupts
from harness.load.launch import (
    WORKERS_WAIT_S,
    Distribution,
    check_load_capacity,
    check_master_port,
    exit_code,
    load_environment,
    locust_command,
    start_locust,
    stop_locust,
)
from harness.observe.aws import Clients, Target, emulator_clock, make_clients
from harness.observe.collector import Collector
from harness.observe.consent import Consent, resolve_consent
from harness.observe.livepolicy import verify_live
from harness.observe.preflight import require as require_preflight
from harness.observe.setup import prepare, put_relative_action
from harness.observe.snapshot import ScalingGuard
from harness.predict.cost import announce_expected
from harness.profile import Profile
from harness.profile.aws_requests import plan_relative_actions
from harness.profile.budget import observation_budget_s
from harness.profile.durations import format_span
from harness.profile.pricing import Price, plan_cost
from harness.profile.traffic import stage_starts
from harness.record import (
    Clock,
    PredictionInfo,
    Recorded,
    RunEvent,
    RunFolder,
    RunInfo,
    StageSpan,
    Verdict,
    run_folder_name,
)
from harness.report.conclude import conclude
from harness.report.cost import record_cost
from harness.report.html import write_report

STATUS_EVERY_WALL_S = 5.0
OBSERVE_EVERY_WALL_S = 0.25  # how often the run re-evaluates the checks while it observes
PREDICTION_FOLDER = "prediction"


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
    predict: bool = False  # simulate the profile even when no expectation needs the prediction
    distribution: Distribution = Distribution()  # one Locust process, or several (harness/load/launch.py)
    apply_scaling: bool = False  # --apply-scaling: may put the profile's scaling against AWS (restored after)
    allow_create: bool = False  # --allow-create: may create the endpoint against AWS
    offer_prices: dict[str, Price] | None = None  # --price-file: AWS's SageMaker offer file (profile/pricing.py)
    max_cost_usd: float | None = None  # --max-cost-usd (with cost.max_usd: the lower one)


@dataclass(frozen=True)
class RunResult:
    folder: Path
    verdicts: list[Verdict]
    exit_code: int
    status: str
    reason: str | None = None
    interrupted: bool = False
    signum: int | None = None  # the signal that interrupted the run (exit_code is then 128 + it)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("scalecheck", "boto3", "botocore", "locust", "pandas", "plotly", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _speed(profile: Profile, options: RunOptions, *, local: bool) -> float:
    if not local and options.endpoint_url is None:
        if options.speed not in (None, 1, 1.0):
            raise ConfigError(f"--speed {options.speed:g}: real AWS runs in real time; speed applies to --local only")
        return 1.0
    speed = options.speed if options.speed is not None else profile.local.speed
    if not 0 < speed <= 1000:
        raise ConfigError(f"--speed {speed:g}: must be > 0 and <= 1000")
    return speed


def consent_of(profile: Profile, options: RunOptions) -> Consent:
    return resolve_consent(profile, local=options.local, apply_flag=options.apply_scaling,
                           create_flag=options.allow_create)


def _apply_events(recorded: Recorded, profile: Profile) -> RunInfo:
    """Fill the load anchors of run.json from what the load generator recorded in events.jsonl."""
    run = recorded.run
    start = next((e.ts for e in recorded.events if e.kind == "load_start"), None)
    stop = next((e.ts for e in recorded.events if e.kind == "load_stop"), None)
    # the earliest: a distributed run's master records a worker's first request, then an earlier one if any
    first = min((e.ts for e in recorded.events if e.kind == "first_request"), default=None)
    if start is None:
        return run
    stages = [StageSpan(name=n, start_ts=s, end_ts=e) for n, s, e in stage_starts(profile.traffic.stages, start)]
    return run.model_copy(update={"load_start_ts": start, "load_end_ts": stop, "first_request_ts": first,
                                  "stages": stages})


class Runner:
    """State of one run; :meth:`execute` is the whole life cycle."""

    def __init__(self, profile: Profile, profile_path: Path, options: RunOptions,
                 say: Callable[[str], None], *, scenario: str | None = None, run_id: str | None = None) -> None:
        self.profile = profile
        self.profile_path = profile_path.resolve()
        self.options = options
        self.say = say
        self.scenario = scenario
        self.run_id = run_id
        self.target = None if options.local else Target(  # resolved now: a refused mix stops here (104)
            region=options.region or profile.region, endpoint_url=options.endpoint_url,
            profile_name=options.aws_profile)
        self.speed = _speed(profile, options, local=self.target is None or self.target.is_local)
        self.consent = consent_of(profile, options)
        self.guard: ScalingGuard | None = None  # the snapshot to put back, when the run changes the scaling
        self.emulator: EmulatorProcess | None = None
        self.folder: RunFolder | None = None
        self.clients: Clients | None = None
        self.collector: Collector | None = None
        self.locust: subprocess.Popen[bytes] | None = None
        self.actions_put = False
        self.predicted = not (options.predict or profile.needs_prediction)  # True: nothing (more) to predict
        self.cost_plan = plan_cost(profile.endpoint.instance_type, options.region or profile.region,
                                   overrides=profile.cost.prices, offer=options.offer_prices,
                                   profile_max_usd=profile.cost.max_usd, flag_max_usd=options.max_cost_usd)
        self.expected_cost: tuple[CostFigures | None, str | None] = (None, None)  # announce_expected

    def _target(self) -> Target:
        if self.target is None:  # --local
            self.emulator = EmulatorProcess.start(speed=self.speed, params=self.profile.local.params, say=self.say)
            self.target = Target(region=self.options.region or self.profile.region, endpoint_url=self.emulator.url)
        return self.target

    def execute(self) -> RunResult:
        check_load_capacity(self.profile, self.speed, self.options.distribution)  # ConfigError: nothing contacted
        check_master_port(self.options.distribution)
        try:
            self.expected_cost = announce_expected(self.profile, self.cost_plan, self.say)
            target = self._target()
            require_preflight(target, self.consent.applied_to(self.profile), self.say)
            clients = self.clients = make_clients(target)
            clock = emulator_clock(target.base_url) if target.is_local else Clock.identity()
            if not self.consent.apply_scaling:
                self.profile = verify_live(clients, self.profile, self.say)
            started = clock.endpoint_ts()
            run = RunInfo(
                run_id=self.run_id or run_folder_name(time.time(), self.profile.name), profile_name=self.profile.name,
                profile=self.profile.model_dump(mode="json", by_alias=True),
                mode="local" if target.is_local else "aws", speed=self.speed, region=target.region,
                endpoint_name=self.profile.endpoint.name, variant_name=self.profile.endpoint.variant,
                endpoint_url=target.endpoint_url if self.options.local else None, endpoints=target.origins(),
                versions=_versions(), clock=clock, started_ts=started, scenario=self.scenario,
                scaling_source="profile" if self.consent.apply_scaling else "live")
            self.folder = RunFolder.create(self.options.reports_dir, run)
            self.say(f"run folder {self.folder.path}")
            if self.scenario is not None:  # the load generator reads the scenario's profile, not the file's
                self.profile_path = self.folder.path / "profile.yaml"
                write_profile_yaml(self.profile, self.profile_path)
            if self.consent.apply_scaling and not self.options.local:
                self.guard = ScalingGuard(clients, self.profile, self.folder, clock, self.say)
                self.guard.snapshot()
            prepare(clients, self.profile, clock, self.say, local=target.is_local,
                    change_scaling=self.consent.apply_scaling, create_endpoint=self.consent.create_endpoint)
            if self.guard is not None:
                self.guard.applied()
            self.collector = Collector(clients, self.profile, self.folder, clock, since_ts=started,
                                       on_error=lambda text: self.say(f"collector: {text}"))
            self.collector.poll_once(metrics=True)
            self.collector.start()
            self._start_locust(target, clock)
            status, reason = self._observe(clock)
        except KeyboardInterrupt as err:
            return self._interrupted(err)
        except BaseException as err:
            if self.folder is None:
                self._cleanup()
                raise
            status, reason = "aborted", f"{type(err).__name__}: {err}"
            self.say(f"run aborted: {reason}")
            self._finish_quietly(status, reason)
            raise
        try:
            return self._finish(status, reason)
        except KeyboardInterrupt as err:  # while finalising: again, as interrupted
            return self._interrupted(err)

    def _interrupted(self, err: KeyboardInterrupt) -> RunResult:
        """Finalise the folder after SIGINT/SIGTERM (a plain KeyboardInterrupt: SIGINT); no folder: re-raise."""
        signum = getattr(err, "signum", signal.SIGINT)
        if self.folder is None:
            self._cleanup(interrupted=True)
            raise err
        self.say(f"interrupted by {signal_name(signum)}: finalising the run folder")
        result = self._finish("aborted", f"interrupted by {signal_name(signum)}", interrupted=True)
        return dataclasses.replace(result, exit_code=exitcodes.for_signal(signum), interrupted=True, signum=signum)

    def _start_locust(self, target: Target, clock: Clock) -> None:
        assert self.folder is not None
        env = load_environment(target, SCALECHECK_PROFILE=str(self.profile_path),
                               SCALECHECK_RUN_DIR=str(self.folder.path), SCALECHECK_CLOCK=clock.model_dump_json())
        cmd = locust_command(target.runtime_host(), self.options.distribution, *self.options.locust_args)
        self.say(f"load: {len(self.profile.traffic.stages)} stage(s), "
                 f"{self.profile.traffic.duration_s:.0f} s of endpoint time at speed {self.speed:g}"
                 + self.options.distribution.describe())
        with (self.folder.path / "locust.log").open("wb") as log, interrupts.deferred():  # kept before a signal acts
            self.locust = start_locust(cmd, env, log)

    def _observe(self, clock: Clock) -> tuple[str, str | None]:
        assert self.folder is not None and self.locust is not None
        last_status = 0.0
        limit_wall = 120 + 2 * observation_budget_s(self.profile) / self.speed
        hard_stop_wall = time.monotonic() + limit_wall
        while True:
            # Each pass re-reads the whole run folder: at most 4 a second, so the checks do not take the CPU
            # the load generator needs on a small machine (a starved generator makes the run invalid).
            time.sleep(OBSERVE_EVERY_WALL_S)
            recorded = self.folder.load()
            run = _apply_events(recorded, self.profile)
            if run != recorded.run:
                self.folder.write_run(run)
                recorded.run = run
            if run.load_start_ts is not None and not self.actions_put:
                self.actions_put = True
                problem = self._put_relative_actions(run.load_start_ts, clock)
                if problem is not None:
                    return "aborted", problem
            if run.load_start_ts is not None and not self.predicted:
                self.predicted = True
                run = run.model_copy(update={"prediction": self._predict(run.load_start_ts)})
                self.folder.write_run(run)
                recorded.run = run
            evaluation = checks.evaluate(recorded, self.profile, final=False)
            if (stop := should_stop(recorded, self.profile, self.cost_plan)) is not None:
                self.folder.append("events", RunEvent(ts=clock.endpoint_ts(), kind="stopped", detail=stop.reason))
                return "stopped", stop.reason
            locust_code = exit_code(self.locust)  # (not reaped: stop_locust signals its process group first)
            locust_done = locust_code is not None
            if time.monotonic() - last_status >= STATUS_EVERY_WALL_S:
                last_status = time.monotonic()
                self._status_line(recorded, evaluation, clock)
            dist = self.options.distribution
            if run.load_start_ts is None and dist.master:  # the time limit counts once the workers came
                hard_stop_wall = max(hard_stop_wall, time.monotonic() + limit_wall)
            if locust_done and run.load_end_ts is None and run.load_start_ts is None:
                waited = (f" (a --master waits {WORKERS_WAIT_S} s at most for its {dist.expect_workers} "
                          "worker(s))" if dist.master else "")
                return "aborted", (f"the load generator exited (code {locust_code}) before the load "
                                   f"began{waited}; see locust.log")
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

    def _predict(self, load_start_ts: float) -> PredictionInfo:
        """Simulate the profile from the run's load start into ``prediction/``; what the checks take from it."""
        assert self.folder is not None
        from harness.checks.prediction import derive_prediction
        from harness.predict.simulate import simulate, write_prediction

        began = time.monotonic()
        try:
            pred = simulate(self.profile, self.profile.local.params, load_start_ts=load_start_ts,
                            scenario=self.scenario, run_id=PREDICTION_FOLDER)
            recorded = Recorded.of(self.folder.path / PREDICTION_FOLDER, pred.run, pred.streams)
            info = derive_prediction(recorded, self.profile, pred.changes, folder=PREDICTION_FOLDER)
            pred.run = pred.run.model_copy(update={"prediction": info})
            write_prediction(pred, self.folder.path)
        except Exception as err:  # the run goes on; the checks that need the prediction say why they cannot
            self.say(f"prediction failed: {type(err).__name__}: {err}")
            return PredictionInfo(folder=None, error=f"{type(err).__name__}: {err}")
        changes = ", ".join(f"{c.from_count}→{c.to_count} at T+{format_span(c.end_ts - load_start_ts)}"
                            for c in info.changes) or "no capacity change"
        windows = "".join(f"; {label}: within {format_span(w)}" for label, w in info.windows.items())
        self.say(f"prediction ({time.monotonic() - began:.1f} s): {changes}{windows}")
        return info

    def _put_relative_actions(self, load_start_ts: float, clock: Clock) -> str | None:
        """Put the profile's relative ``at`` scheduled actions now that the load has started; the reason
        to abort the run when one of them would already be in the past."""
        assert self.folder is not None and self.clients is not None
        if not self.consent.apply_scaling:
            return None
        planned, problem = plan_relative_actions(self.profile, load_start_ts, clock.endpoint_ts())
        if problem is not None:
            return problem
        for fire_ts, action in planned:
            schedule = put_relative_action(self.clients, self.profile, action, fire_ts)
            bounds = "".join(f" {k} {v}" for k, v in (("min", action.min_capacity), ("max", action.max_capacity))
                             if v is not None)
            self.folder.append("events", RunEvent(ts=clock.endpoint_ts(), kind="scheduled_action_put",
                                                  detail=f"{action.name} {schedule}{bounds}"))
            self.say(f"scheduled action {action.name}: {schedule}{bounds} ({action.at})")
        if planned and self.guard is not None:
            self.guard.applied()
        return None

    def _status_line(self, recorded: Recorded, evaluation: checks.Evaluation, clock: Clock) -> None:
        run = recorded.run
        sample = recorded.endpoint[-1] if recorded.endpoint else None
        load = recorded.load[-1] if recorded.load else None
        if run.load_start_ts is None:
            parts = ["starting the load"]
        else:
            t = clock.endpoint_ts() - run.load_start_ts
            parts = [f"load_start+{format_span(t)}"]
        if load is not None and (run.load_end_ts is None):
            parts.append(f"load {load.stage or '-'} {load.achieved_rps:.2f}/{load.offered_rps:.2f} rps"
                         + (f" ({load.dropped} dropped)" if load.dropped else ""))
        if sample is not None:
            parts.append(f"instances {sample.current_instances} (desired {sample.desired_instances}, {sample.status})")
        if evaluation.pending:
            parts.append("waiting: " + ", ".join(sorted(evaluation.pending)))
        self.say("  ".join(parts))

    def _stop_processes(self, *, interrupted: bool = False) -> None:
        """The load (Locust's process group), then the collector while the emulator still answers it;
        interrupted: a short grace for Locust, no last poll, and nothing waited for once hurried."""
        if self.locust is not None:
            stop_locust(self.locust, interrupted=interrupted)
        if self.collector is not None:
            collector, self.collector = self.collector, None
            final_poll = not interrupted and (self.emulator is None or self.emulator.alive())
            interrupts.unless_hurried(lambda: collector.stop(final_poll=final_poll))

    def _cleanup(self, *, interrupted: bool = False) -> None:
        self._stop_processes(interrupted=interrupted)
        self._stop_emulator(interrupted=interrupted)

    def _stop_emulator(self, *, interrupted: bool) -> None:
        if self.emulator is not None:
            if interrupted:  # nothing talks to it any more, and its state goes with it: no need to wait
                self.emulator.proc.kill()
            self.emulator.stop()
            self.emulator = None

    def _finish(self, status: str, reason: str | None, *, interrupted: bool = False) -> RunResult:
        assert self.folder is not None
        try:
            self._stop_processes(interrupted=interrupted)
        finally:
            if self.guard is not None:  # passed, failed, aborted, interrupted or crashed: put it back
                self.guard.restore()
        recorded = self.folder.load()
        run = _apply_events(recorded, self.profile)
        run = run.model_copy(update={"status": status, "status_reason": reason,
                                     "ended_ts": recorded.endpoint[-1].ts if recorded.endpoint else run.started_ts})
        if run.load_start_ts is not None and run.load_end_ts is None and status in ("complete", "stopped"):
            run = run.model_copy(update={"load_end_ts": run.ended_ts})
        self.folder.write_run(run)
        recorded.run = run
        record_cost(recorded, self.cost_plan, *self.expected_cost)  # cost.json, before the report shows it
        refused = checks.credentials_refused(recorded) if status == "complete" else None
        invalid = checks.invalid_load(recorded, self.profile) if status == "complete" and not refused else None
        if refused or invalid:  # the verdicts are still computed; the exit code says 105 or 101
            status, reason = ("aborted" if refused else "invalid"), (refused or invalid or "") + (
                f"; {reason}" if reason else "")
            run = run.model_copy(update={"status": status, "status_reason": reason})
            self.folder.write_run(run)
            recorded.run = run
        verdicts = conclude(self.folder, recorded, self.profile, report=False)
        if not interrupts.unless_hurried(lambda: write_report(self.folder)):  # a second signal: no report
            self.say(f"report skipped; scalecheck report {self.folder.path} writes it")
        self.folder.close()
        self._stop_emulator(interrupted=interrupted)
        if refused:
            code = exitcodes.INFRASTRUCTURE
        else:
            code = exitcodes.STOPPED if status == "stopped" else checks.exit_code(verdicts, invalid=invalid is not None)
        return RunResult(self.folder.path, verdicts, code, status, reason)

    def _finish_quietly(self, status: str, reason: str | None) -> None:
        try:
            try:
                self._finish(status, reason, interrupted=interrupts.interrupted_by() is not None)
            except KeyboardInterrupt:  # a signal while finalising: once more, waiting for nothing
                self._finish(status, reason, interrupted=True)
        except Exception as err:  # the original error matters more; keep what was recorded
            self.say(f"could not finalise the run folder: {err}")
            self._cleanup(interrupted=True)


def run_profile(profile: Profile, profile_path: Path, options: RunOptions,
                say: Callable[[str], None]) -> RunResult:
    """Run ``profile`` (already validated) and return where it was recorded and how it ended."""
    return Runner(profile, profile_path, options, say).execute()


def write_profile_yaml(profile: Profile, path: Path) -> None:
    """``profile`` as YAML that :func:`~harness.profile.load_profile` reads back to the same profile."""
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
