"""One run, end to end: validate, set up, load with Locust, observe, decide, report.

Order matters for the promises the tool makes:
1. the profile is validated before anything is contacted (ConfigError → 104);
2. every service's endpoint is resolved once (harness/observe/aws.py ``Target``) and a preflight checks AWS/the
   emulator before any traffic (harness/observe/preflight.py; InfrastructureError → 105);
3. the run folder exists before the load starts, and every stream is appended as data arrives;
4. after the load, observation continues until every expectation is decided or its window (plus
   the collector's sample gap) has passed; Ctrl-C or a crash still finalises the folder, as
   ``aborted`` with the reason, with verdicts and a report of what was recorded.

Prediction: when the profile needs one (a ``within: auto`` window, an ``agrees_with_prediction``
expectation) or with ``--predict``, the run simulates the profile (:mod:`harness.predict.simulate`, with
``local.params`` as ``--params`` left them) from its own load start, as soon as that is known, into
``<run folder>/prediction/`` (a run folder of ``kind`` prediction, with its own verdicts and report),
and stores in ``run.json`` ``prediction`` what the checks take from it: the derived windows and the
predicted capacity changes (:class:`~harness.record.PredictionInfo`). A simulation that fails leaves
``prediction.error`` (those checks are INCONCLUSIVE) and the run goes on. ``scalecheck check``
reads ``run.json`` and never simulates again.

Scheduled actions with a relative ``at`` (``load_start+3m``) are put as ``at(...)`` as soon as the
load has started (a ``scheduled_action_put`` event each); one already in the past aborts the run.

A profile with ``scenarios`` runs each in turn (:func:`run_scenarios`): one full run folder per
scenario under ``<reports>/<stamp>-<profile>/``, with the derived profile in its ``profile.yaml``
(what the load generator reads) and, with ``--local``, a fresh emulator each, so that every
scenario starts from the same state; then ``scenarios.json`` and ``comparison.html`` in the parent.
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

import yaml

from harness import checks, exitcodes
from harness.emulator.process import EmulatorProcess
from harness.errors import ConfigError
from harness.load.launch import WORKERS_WAIT_S, Distribution, locust_command
from harness.observe.aws import Clients, Target, emulator_clock, make_clients
from harness.observe.collector import Collector
from harness.observe.preflight import require as require_preflight
from harness.observe.setup import prepare, put_relative_action
from harness.profile import Profile
from harness.profile.aws_requests import plan_relative_actions
from harness.profile.budget import observation_budget_s
from harness.profile.durations import format_span
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
    write_scenarios_index,
)
from harness.report.compare import write_comparison
from harness.report.conclude import conclude

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


@dataclass(frozen=True)
class RunResult:
    folder: Path
    verdicts: list[Verdict]
    exit_code: int
    status: str
    reason: str | None = None
    interrupted: bool = False


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
        self.emulator: EmulatorProcess | None = None
        self.folder: RunFolder | None = None
        self.clients: Clients | None = None
        self.collector: Collector | None = None
        self.locust: subprocess.Popen[bytes] | None = None
        self.actions_put = False
        self.predicted = not (options.predict or profile.needs_prediction)  # True: nothing (more) to predict

    def _target(self) -> Target:
        if self.target is None:  # --local
            self.emulator = EmulatorProcess.start(speed=self.speed, params=self.profile.local.params, say=self.say)
            self.target = Target(region=self.options.region or self.profile.region, endpoint_url=self.emulator.url)
        return self.target

    def execute(self) -> RunResult:
        try:
            target = self._target()
            require_preflight(target, self.profile, self.say)
            clients = self.clients = make_clients(target)
            clock = emulator_clock(target.base_url) if target.is_local else Clock.identity()
            started = clock.endpoint_ts()
            run = RunInfo(
                run_id=self.run_id or run_folder_name(time.time(), self.profile.name), profile_name=self.profile.name,
                profile=self.profile.model_dump(mode="json", by_alias=True),
                mode="local" if target.is_local else "aws", speed=self.speed, region=target.region,
                endpoint_name=self.profile.endpoint.name, variant_name=self.profile.endpoint.variant,
                endpoint_url=target.endpoint_url if self.options.local else None, endpoints=target.origins(),
                versions=_versions(),
                clock=clock, started_ts=started, scenario=self.scenario)
            self.folder = RunFolder.create(self.options.reports_dir, run)
            self.say(f"run folder {self.folder.path}")
            if self.scenario is not None:  # the load generator reads the scenario's profile, not the file's
                self.profile_path = self.folder.path / "profile.yaml"
                write_profile_yaml(self.profile, self.profile_path)
            prepare(clients, self.profile, clock, self.say, local=target.is_local)
            self.collector = Collector(clients, self.profile, self.folder, clock, since_ts=started,
                                       on_error=lambda text: self.say(f"collector: {text}"))
            self.collector.poll_once(metrics=True)
            self.collector.start()
            self._start_locust(target, clock)
            status, reason = self._observe(clock)
        except KeyboardInterrupt:
            if self.folder is None:
                self._cleanup()
                raise
            self.say("interrupted: finalising the run folder")
            result = self._finish("aborted", "interrupted by the user (Ctrl-C)")
            return RunResult(result.folder, result.verdicts, result.exit_code, result.status, result.reason,
                             interrupted=True)
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
        for name, value in target.load_environment().items():  # the region and credentials of the clients
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        cmd = locust_command(target.runtime_host(), self.options.distribution, *self.options.locust_args)
        log = (self.folder.path / "locust.log").open("wb")
        self.say(f"load: {len(self.profile.traffic.stages)} stage(s), "
                 f"{self.profile.traffic.duration_s:.0f} s of endpoint time at speed {self.speed:g}"
                 + self.options.distribution.describe())
        self.locust = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

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
            locust_done = self.locust.poll() is not None
            if time.monotonic() - last_status >= STATUS_EVERY_WALL_S:
                last_status = time.monotonic()
                self._status_line(recorded, evaluation, clock)
            dist = self.options.distribution
            if run.load_start_ts is None and dist.master:  # the time limit counts once the workers came
                hard_stop_wall = max(hard_stop_wall, time.monotonic() + limit_wall)
            if locust_done and run.load_end_ts is None and run.load_start_ts is None:
                waited = (f" (a --master waits {WORKERS_WAIT_S} s at most for its {dist.expect_workers} "
                          "worker(s))" if dist.master else "")
                return "aborted", (f"the load generator exited (code {self.locust.returncode}) before the load "
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
        if not self.profile.scaling.apply:
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
        invalid = checks.invalid_load(recorded, self.profile) if status == "complete" else None
        if invalid is not None:  # the verdicts are still computed; the exit code says 101 (checks.exit_code)
            status, reason = "invalid", invalid + (f"; {reason}" if reason else "")
            run = run.model_copy(update={"status": status, "status_reason": reason})
            self.folder.write_run(run)
            recorded.run = run
        verdicts = conclude(self.folder, recorded, self.profile)
        self.folder.close()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        return RunResult(self.folder.path, verdicts, checks.exit_code(verdicts, invalid=invalid is not None),
                         status, reason)

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


def write_profile_yaml(profile: Profile, path: Path) -> None:
    """``profile`` as YAML that :func:`~harness.profile.load_profile` reads back to the same profile."""
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclass(frozen=True)
class ScenarioRun:
    name: str
    result: RunResult


@dataclass(frozen=True)
class ScenariosResult:
    """The outcome of ``scalecheck run`` on a profile with scenarios."""

    parent: Path
    runs: list[ScenarioRun]
    skipped: list[str]
    comparison: Path | None
    exit_code: int
    interrupted: bool = False


def run_scenarios(profile: Profile, profile_path: Path, options: RunOptions,
                  say: Callable[[str], None]) -> ScenariosResult:
    """Run every scenario of ``profile`` in turn, each a full run folder in ``<reports>/<stamp>-<profile>/``,
    then write ``scenarios.json`` and ``comparison.html`` there. Ctrl-C finalises the scenario running
    (aborted) and skips the rest; what exists is still indexed and compared."""
    parent_name = run_folder_name(time.time(), profile.name)
    parent = Path(options.reports_dir) / parent_name
    parent.mkdir(parents=True, exist_ok=False)
    say(f"{len(profile.scenarios)} scenarios: {', '.join(s.name for s in profile.scenarios)} in {parent}")
    runs: list[ScenarioRun] = []
    folders: list[tuple[str, Path]] = []  # every scenario that left a run folder, even one that raised
    interrupted = False
    try:
        for i, sc in enumerate(profile.scenarios, start=1):
            without = f" without {', '.join(sc.without_policies)}" if sc.without_policies else ""
            say(f"scenario {i}/{len(profile.scenarios)}: {sc.name}{without}"
                + (f" — {sc.description.strip()}" if sc.description.strip() else ""))
            runner = Runner(profile.for_scenario(sc.name), profile_path, options, say, scenario=sc.name,
                            run_id=f"{parent_name}/{sc.name}")
            try:
                result = runner.execute()
            finally:
                if runner.folder is not None:
                    folders.append((sc.name, runner.folder.path))
            runs.append(ScenarioRun(sc.name, result))
            if result.interrupted:
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        comparison = _index_and_compare(parent, profile.name, folders, say)
    done = {r.name for r in runs}
    skipped = [sc.name for sc in profile.scenarios if sc.name not in done]
    if skipped:
        say(f"skipped scenario(s) {', '.join(skipped)} (interrupted)")
    codes = [r.result.exit_code for r in runs] + ([exitcodes.INCONCLUSIVE] if skipped else [])
    return ScenariosResult(parent, runs, skipped, comparison, exitcodes.worst_exit_code(codes), interrupted)


def _index_and_compare(parent: Path, profile_name: str, folders: list[tuple[str, Path]],
                       say: Callable[[str], None]) -> Path | None:
    write_scenarios_index(parent, profile_name, folders)
    if not folders:
        return None
    try:
        return write_comparison(parent, [f for _n, f in folders])
    except Exception as err:  # the run folders are what matters; a broken comparison must not lose them
        say(f"could not write the comparison: {type(err).__name__}: {err}")
        return None
