"""``scalecheck`` command line: the only place that exits, and where outcomes become exit codes.

    scalecheck demo                      the real-time walkthrough on the embedded emulator
    scalecheck run PROFILE [--local]     one run against AWS (default) or the emulator; a profile with
                                         scenarios runs each in turn and compares them; --processes N,
                                         --master / --worker: the load from several Locust processes
    scalecheck check RUN_DIR             recompute verdicts + JUnit from a run folder (or a scenarios
                                         parent folder: every scenario, and comparison.html), offline
    scalecheck report RUN_DIR            rebuild report.html from a run folder (or a scenarios parent), offline
    scalecheck validate PROFILE          validate a profile and print what it would do
    scalecheck setup PROFILE             create the endpoint (if allowed) and apply the profile's policy
    scalecheck emulator [--port 4566]    serve the emulator on 127.0.0.1
    scalecheck simulate PROFILE          predict the run in virtual time (the autoscaling model, no server,
                                         no load): a run folder marked "prediction", its verdicts and report
    scalecheck plan PROFILE              when alarms should fire and capacity change (analytic, no traffic)
    scalecheck calibrate RUN_DIR [-o F]  estimate undocumented model parameters from a run folder into a
                                         params file for run --local --params F, emulator --params F

Exit codes (harness/exitcodes.py): 0 pass · 99 an expectation failed · 100 inconclusive ·
101 invalid run · 104 invalid configuration (nothing sent) · 105 infrastructure error. Several
scenarios exit with the worst of theirs (99 > 101 > 100 > 0).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from harness import exitcodes

if TYPE_CHECKING:
    from harness.autoscaling.params import ModelParams
    from harness.checks.common import AnyExpectation
    from harness.profile import Profile
    from harness.run import ScenariosResult

T = TypeVar("T")

DEMO_PROFILE = "realtime-target-tracking.yaml"


def _say(message: str) -> None:
    print(f"[scalecheck] {message}", file=sys.stderr, flush=True)


def _find_profile(name: str) -> Path:
    for base in (Path.cwd() / "profiles", Path(__file__).resolve().parent.parent / "profiles"):
        if (base / name).exists():
            return base / name
    raise FileNotFoundError(f"cannot find profiles/{name} (run from the scalecheck checkout)")


def _print_verdicts(verdicts: list, report: Path | None) -> None:
    for v in verdicts:
        print(f"{v.status:<12} {v.name}: {v.summary}")
    if report is not None:
        print(f"report: {report}")


DEFAULT_MASTER_PORT = 5557


def _distribution(args: argparse.Namespace, profile: Profile) -> dict[str, object]:
    """The distribution flags of ``scalecheck run`` as RunOptions fields; ConfigError for a combination that
    does not make sense (checked before anything is contacted)."""
    from harness.errors import ConfigError

    def given(*names: str) -> list[str]:
        return ["--" + n.replace("_", "-") for n in names
                if getattr(args, n, None) not in (None, False)]

    processes, master, worker = getattr(args, "processes", None), getattr(args, "master", False), \
        getattr(args, "worker", False)
    modes = given("processes", "master", "worker")
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)} cannot be combined: --processes N runs master and workers "
                          "on this machine, --master and --worker are the two sides of a run across machines")
    if not master and (flags := given("expect_workers", "master_bind_host", "master_bind_port")):
        raise ConfigError(f"{', '.join(flags)} only apply with --master")
    if not worker and (flags := given("master_host", "master_port")):
        raise ConfigError(f"{', '.join(flags)} only apply with --worker")
    if processes is not None and processes < 1:
        raise ConfigError(f"--processes {processes}: must be at least 1 (the number of Locust worker processes)")
    if worker and (flags := given("local", "speed", "predict", "params")):
        raise ConfigError(f"--worker with {', '.join(flags)}: a worker only sends load; the master's run decides "
                          "these (pass them to scalecheck run --master)")
    if (master or worker) and profile.scenarios:
        raise ConfigError("--master/--worker: a profile with scenarios runs a new load generator per scenario, "
                          "which workers on other machines cannot follow; run one scenario per profile, or use "
                          "--processes N")
    expect = getattr(args, "expect_workers", None)
    if expect is not None and expect < 1:
        raise ConfigError(f"--expect-workers {expect}: must be at least 1")
    for flag in ("master_bind_port", "master_port"):
        port = getattr(args, flag, None)
        if port is not None and not 1 <= port <= 65535:
            raise ConfigError(f"--{flag.replace('_', '-')} {port}: not a TCP port (1-65535)")
    return {"processes": processes, "master": master, "expect_workers": expect or 1,
            "master_bind_host": getattr(args, "master_bind_host", None) or "127.0.0.1",
            "master_bind_port": getattr(args, "master_bind_port", None) or DEFAULT_MASTER_PORT}


def cmd_run(args: argparse.Namespace, *, demo: bool = False) -> int:
    from harness.errors import ConfigError, InfrastructureError
    from harness.profile import ProfileError, load_profile
    from harness.run import RunOptions, run_profile, run_scenarios, run_worker

    try:
        path = _find_profile(DEMO_PROFILE) if demo else Path(args.profile)
        profile = load_profile(path)
        distribution = _distribution(args, profile)
        if getattr(args, "worker", False):
            return run_worker(profile, path, master_host=args.master_host or "127.0.0.1",
                              master_port=args.master_port or DEFAULT_MASTER_PORT, region=args.region,
                              endpoint_url=args.endpoint_url, aws_profile=args.aws_profile, say=_say)
        if getattr(args, "params", None):
            profile = _with_params_file(profile, args.params)
        options = RunOptions(local=demo or args.local, speed=args.speed, reports_dir=Path(args.reports),
                             region=getattr(args, "region", None), endpoint_url=getattr(args, "endpoint_url", None),
                             aws_profile=getattr(args, "aws_profile", None), predict=getattr(args, "predict", False),
                             **distribution)  # type: ignore[arg-type]
        if profile.scenarios:
            scenarios = run_scenarios(profile, path, options, _say)
        else:
            result = run_profile(profile, path, options, _say)
    except (ProfileError, ConfigError, FileNotFoundError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        print(f"scalecheck: infrastructure error: {err}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE
    if profile.scenarios:
        _print_scenarios(scenarios)
        return scenarios.exit_code
    if result.status != "complete" or result.reason:
        _say(f"run {result.status}" + (f": {result.reason}" if result.reason else ""))
    _print_verdicts(result.verdicts, result.folder / "report.html")
    return result.exit_code


def _with_params_file(profile: Profile, params_file: str) -> Profile:
    """``profile`` with ``local.params`` overridden by the fields of a params file (``--params``)."""
    from harness.errors import ConfigError
    from harness.predict.calibrate import load_params_file, merge_params

    try:
        params = merge_params(profile.local.params, load_params_file(params_file))
    except ValueError as err:
        raise ConfigError(f"--params: {err}") from None
    return profile.model_copy(update={"local": profile.local.model_copy(update={"params": params})})


def cmd_calibrate(args: argparse.Namespace) -> int:
    from harness.predict.calibrate import DEFAULT_FILE, calibrate, write_params_file

    run_dir = Path(args.run_dir)
    try:
        cal = calibrate(run_dir)
        out = write_params_file(cal, run_dir, Path(args.output) if args.output else run_dir / DEFAULT_FILE)
    except (FileNotFoundError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    for e in cal.estimates:
        print(f"{e.field} = {e.value:g} ± {e.uncertainty:g}  ({e.observations} observations)")
    for name, why in cal.skipped.items():
        print(f"{name}: skipped: {why}")
    print(f"params: {out}")
    return exitcodes.OK if cal.estimates else exitcodes.INCONCLUSIVE


def _print_scenarios(scenarios: ScenariosResult) -> None:
    """One line per scenario (its verdict statuses and exit code), then the comparison."""
    names = [r.name for r in scenarios.runs] + list(scenarios.skipped)
    width = max(len(n) for n in names)
    for run in scenarios.runs:
        r = run.result
        statuses = " ".join(v.status for v in r.verdicts) or "(no expectations)"
        state = "" if r.status == "complete" and not r.reason else f"  [{r.status}: {r.reason}]"
        print(f"scenario {run.name:<{width}}  exit {r.exit_code:<3}  {statuses}  {r.folder}{state}")
    for name in scenarios.skipped:
        print(f"scenario {name:<{width}}  skipped (interrupted)")
    if scenarios.comparison is not None:
        print(f"comparison: {scenarios.comparison}")
    print(f"exit {scenarios.exit_code} (the worst scenario)")


def cmd_check(args: argparse.Namespace) -> int:
    from harness import checks
    from harness.profile import ProfileError
    from harness.record import is_scenarios_parent, scenario_folders
    from harness.report.compare import write_comparison_of
    from harness.report.conclude import recheck
    from harness.run import worst_exit_code

    run_dir = Path(args.run_dir)
    try:
        if not is_scenarios_parent(run_dir):
            folder, verdicts = recheck(run_dir)
            _print_verdicts(verdicts, None)
            run = folder.read_run()
            if run.status == "invalid":
                _say(f"run invalid: {run.status_reason}")
            return checks.exit_code(verdicts, invalid=run.status == "invalid")
        codes = []
        for name, folder in scenario_folders(run_dir):
            _folder, verdicts = recheck(folder)
            code = checks.exit_code(verdicts, invalid=_folder.read_run().status == "invalid")
            codes.append(code)
            print(f"scenario {name} (exit {code}): {folder}")
            _print_verdicts(verdicts, None)
        comparison = write_comparison_of(run_dir)
    except (FileNotFoundError, ProfileError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    print(f"comparison: {comparison}")
    return worst_exit_code(codes)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.record import RunFolder, is_scenarios_parent, scenario_folders
    from harness.report.compare import write_comparison_of
    from harness.report.html import write_report

    run_dir = Path(args.run_dir)
    try:
        if not is_scenarios_parent(run_dir):
            print(f"report: {write_report(RunFolder(run_dir))}")
            return exitcodes.OK
        for name, folder in scenario_folders(run_dir):
            print(f"report ({name}): {write_report(RunFolder(folder))}")
        print(f"comparison: {write_comparison_of(run_dir)}")
    except (FileNotFoundError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    return exitcodes.OK


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.profile import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    print(f"{args.profile}: valid profile {profile.name!r}")
    for line in profile_summary(profile):
        print(f"  {line}")
    return exitcodes.OK


def profile_summary(profile: Profile) -> list[str]:
    """What a profile would do, line by line: endpoint, load, policies, scheduled actions, scenarios,
    expectations (``scalecheck validate``)."""
    from harness.checks import source_text
    from harness.profile.aws_requests import describe_action, describe_policy

    ep, s = profile.endpoint, profile.scaling
    start = f", starting at {s.start_capacity}" if s.start_capacity is not None else ""
    lines = [f"endpoint {ep.name}/{ep.variant} ({ep.type}, {ep.instance_type}), "
             f"capacity {s.min_capacity}..{s.max_capacity}{start}"]
    if ep.is_async and ep.async_ is not None:
        a = ep.async_
        limit = (f", max {a.max_concurrent_invocations_per_instance} concurrent per instance"
                 if a.max_concurrent_invocations_per_instance else "")
        lines.append(f"async: input {a.input_path}, output {a.output_path}, failure {a.failure_path}{limit}")
    stages = ", ".join(f"{st.name} {st.duration_s:g}s" for st in profile.traffic.stages)
    lines.append(f"load {profile.traffic.duration_s:.0f} s in {len(profile.traffic.stages)} stage(s): {stages}")
    if not s.apply:
        lines.append("scaling.apply is false: the policies in place are used as they are")
    for policy in s.policies:
        lines.append(f"policy {policy.name}: {describe_policy(policy)}")
    for action in s.scheduled_actions:
        lines.append(f"scheduled action {action.name}: {describe_action(action)}")
    def expect(exp: AnyExpectation) -> str:
        return f"expect {source_text(exp)}" + (f"  ({exp.name})" if exp.name else "")

    lines += [expect(exp) for exp in profile.expectations]
    for sc in profile.scenarios:
        without = f"without {', '.join(sc.without_policies)}" if sc.without_policies else "all policies"
        own = "" if sc.expectations is None else f", its own {len(sc.expectations)} expectation(s)"
        desc = f" — {' '.join(sc.description.split())}" if sc.description.strip() else ""
        lines.append(f"scenario {sc.name}: {without}{own}{desc}")
        lines += [f"  {expect(exp)}" for exp in sc.expectations or []]
    return lines


def cmd_setup(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError, InfrastructureError
    from harness.observe.aws import Target, check_access, emulator_clock, make_clients
    from harness.observe.setup import prepare
    from harness.profile import ProfileError, load_profile
    from harness.record import Clock

    try:
        profile = load_profile(args.profile)
        target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url,
                        profile_name=args.aws_profile)
        clients = make_clients(target)
        check_access(clients, target)
        clock = emulator_clock(args.endpoint_url) if args.endpoint_url else Clock.identity()
        prepare(clients, profile, clock, _say, local=target.is_local)
    except (ProfileError, ConfigError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        print(f"scalecheck: infrastructure error: {err}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE
    print(f"{profile.endpoint.name}/{profile.endpoint.variant} is InService with the profile's scaling applied")
    return exitcodes.OK


def _modelled(args: argparse.Namespace, work: Callable[[Profile, ModelParams], T]) -> T | int:
    """Load PROFILE (with ``--from-endpoint``'s live scaling and ``--params``) and run ``work`` on it; an
    error is printed and becomes its exit code (104 configuration, 105 AWS/emulator unreachable)."""
    from harness.errors import ConfigError, InfrastructureError
    from harness.predict.plan import load_params
    from harness.profile import ProfileError, load_profile

    try:
        profile = _live_scaling(args, load_profile(args.profile))
        return work(profile, load_params(profile, args.params))
    except (ProfileError, ConfigError, OSError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        print(f"scalecheck: infrastructure error: {err}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE


def cmd_plan(args: argparse.Namespace) -> int:
    """``scalecheck plan PROFILE``: the analytic timeline (harness/predict/plan.py), optionally with the live
    scaling setup of ``--from-endpoint`` instead of the profile's."""
    from harness.predict.plan import plan, render

    result = _modelled(args, plan)
    if isinstance(result, int):
        return result
    print(result.to_json() if args.json else render(result))
    return exitcodes.OK


def _live_scaling(args: argparse.Namespace, profile: Profile) -> Profile:
    """With ``--from-endpoint``: the profile with the scaling setup that endpoint has now (boto3)."""
    if not args.from_endpoint:
        return profile
    from harness.observe.aws import Target, make_clients
    from harness.observe.livepolicy import read_scaling, with_live_scaling

    target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url, profile_name=args.aws_profile)
    variant = args.variant or profile.endpoint.variant
    return with_live_scaling(profile, read_scaling(make_clients(target), args.from_endpoint, variant))


def cmd_simulate(args: argparse.Namespace) -> int:
    """Predict PROFILE; prints each predicted capacity change (T+ after load_start) and the verdicts.
    Exits like a run would with the predicted verdicts (0 / 99 / 100), 104 for a bad profile or --params."""
    from harness.checks import exit_code
    from harness.predict.simulate import simulate_profile
    from harness.profile.durations import format_span

    outcome = _modelled(args, lambda profile, params: (profile, *simulate_profile(
        profile, Path(args.reports), params, say=lambda m: None)))
    if isinstance(outcome, int):
        return outcome
    profile, folder, runs = outcome
    codes = []
    for r in runs:
        run = r.prediction.run
        assert run.load_start_ts is not None
        title = f"prediction {profile.name}" + (f" — scenario {r.scenario}" if r.scenario else "")
        print(f"{title}: {r.folder}")
        for c in r.prediction.changes:
            kind = "scale-out" if c.to_count > c.from_count else "scale-in"
            asked, done = format_span(c.start_ts - run.load_start_ts), format_span(c.end_ts - run.load_start_ts)
            print(f"  {kind:<9} {c.from_count} → {c.to_count}: requested T+{asked}, InService T+{done}")
        if not r.prediction.changes:
            print("  no capacity change predicted")
        _print_verdicts(r.verdicts, r.folder / "report.html")
        codes.append(exit_code(r.verdicts))
    if len(runs) > 1:
        print(f"comparison: {folder / 'comparison.html'}")
    from harness.run import worst_exit_code

    return worst_exit_code(codes)


def cmd_emulator(args: argparse.Namespace) -> int:
    from harness.autoscaling.params import ModelParams
    from harness.emulator.serve import serve

    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow_non_loopback:
        print(f"scalecheck: refusing to bind {args.host}: the emulator serves loopback only "
              "(--allow-non-loopback to override)", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    try:
        params = ModelParams.model_validate_json(args.params_json) if args.params_json else ModelParams()
    except ValueError as err:
        print(f"scalecheck: --params-json: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    if args.params:
        from harness.predict.calibrate import load_params_file, merge_params

        try:
            params = merge_params(params, load_params_file(args.params))
        except ValueError as err:
            print(f"scalecheck: --params: {err}", file=sys.stderr)
            return exitcodes.INVALID_CONFIG
    return serve(host=args.host, port=args.port, speed=args.speed, params=params)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalecheck", description="Prove that a SageMaker endpoint "
                                     "autoscales the way you think it does.")
    sub = parser.add_subparsers(dest="command", required=True)

    def run_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--speed", type=_positive, default=None,
                       help="emulator only: endpoint time runs this many times faster than wall time "
                            "(default: the profile's local.speed)")
        p.add_argument("--reports", default="reports", help="where run folders are written (default: reports)")

    p = sub.add_parser("demo", help="run the real-time scaling walkthrough on the embedded emulator")
    run_flags(p)
    p = sub.add_parser("run", help="run a profile against AWS, or the embedded emulator with --local")
    p.add_argument("profile", help="profile YAML, e.g. profiles/realtime-target-tracking.yaml")
    p.add_argument("--local", action="store_true", help="start the embedded emulator and run against it")
    p.add_argument("--region", help="AWS region (default: the profile's region)")
    p.add_argument("--endpoint-url", help="use an already running emulator (or other AWS-compatible URL)")
    p.add_argument("--aws-profile", help="AWS shared-config profile for credentials")
    p.add_argument("--predict", action="store_true", help="simulate the profile from the run's load start into "
                   "<run folder>/prediction/ even when no expectation needs it (within: auto and "
                   "agrees_with_prediction do)")
    p.add_argument("--params", metavar="FILE", help="--local: model parameters file (e.g. from scalecheck "
                   "calibrate), merged over the profile's local.params")
    dist = p.add_argument_group(
        "distributed load", "Locust's own distribution: the rate is split across the workers, the collector runs "
        "once (here, with the master) and the workers' per-interval load is merged into one load.jsonl")
    dist.add_argument("--processes", type=int, metavar="N", help="send the load from N Locust worker processes on "
                      "this machine (a master in the Locust process; loopback only)")
    dist.add_argument("--master", action="store_true", help="run the Locust master (and the collector, the run "
                      "folder, the emulator with --local) and wait for --expect-workers workers, each started "
                      "with: scalecheck run PROFILE --worker --master-host HOST")
    dist.add_argument("--expect-workers", type=int, metavar="K", help="--master: workers to wait for before the "
                      "load starts (default 1)")
    dist.add_argument("--master-bind-host", metavar="ADDR", help="--master: address to accept workers on (default "
                      "127.0.0.1, this machine only; e.g. 0.0.0.0 for workers on other machines)")
    dist.add_argument("--master-bind-port", type=int, metavar="P", help="--master: port to accept workers on "
                      "(default 5557)")
    dist.add_argument("--worker", action="store_true", help="only a Locust worker of a --master run: no collector, "
                      "no run folder, no emulator; exits when the master stops")
    dist.add_argument("--master-host", metavar="HOST", help="--worker: the master's address (default 127.0.0.1)")
    dist.add_argument("--master-port", type=int, metavar="P", help="--worker: the master's port (default 5557)")
    run_flags(p)
    p = sub.add_parser("check", help="recompute verdicts and JUnit from a run folder or a scenarios parent "
                       "folder (offline)")
    p.add_argument("run_dir")
    p = sub.add_parser("report", help="rebuild report.html (and comparison.html for a scenarios parent folder) "
                       "from a run folder (offline)")
    p.add_argument("run_dir")
    p = sub.add_parser("validate", help="validate a profile without sending anything")
    p.add_argument("profile")
    p = sub.add_parser("setup", help="create the endpoint if allowed and apply the profile's scaling (policies, "
                       "alarms, scheduled actions, start capacity)")
    p.add_argument("profile")
    p.add_argument("--region", help="AWS region (default: the profile's region)")
    p.add_argument("--endpoint-url", help="an emulator (or other AWS-compatible URL) instead of AWS")
    p.add_argument("--aws-profile", help="AWS shared-config profile for credentials")
    plan_p = sub.add_parser("plan", help="when alarms should fire and capacity change, from named delays "
                            "(no traffic)")
    plan_p.add_argument("--json", action="store_true", help="machine-readable output")
    sim_p = sub.add_parser("simulate", help="predict a profile's run with the autoscaling model in virtual time "
                           "(no server, no load): writes a run folder marked \"prediction\"")
    sim_p.add_argument("--reports", default="reports", help="where the prediction folder is written "
                       "(default: reports)")
    for p in (plan_p, sim_p):
        p.add_argument("profile")
        p.add_argument("--params", metavar="FILE", help="model parameters (YAML of ModelParams fields, e.g. from "
                       "scalecheck calibrate) merged over the profile's local.params")
        p.add_argument("--from-endpoint", metavar="NAME",
                       help="use the scaling setup endpoint NAME has now (read through boto3) instead of the profile's")
        p.add_argument("--variant", help="variant of --from-endpoint (default: the profile's)")
        p.add_argument("--region", help="AWS region (default: the profile's region)")
        p.add_argument("--endpoint-url", help="an emulator (or other AWS-compatible URL) instead of AWS")
        p.add_argument("--aws-profile", help="AWS shared-config profile for credentials")
    p = sub.add_parser("emulator", help="serve the local AWS emulator on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4566, help="0 picks a free port (default 4566)")
    p.add_argument("--speed", type=_positive, default=1.0, help="endpoint time / wall time (default 1)")
    p.add_argument("--params-json", default="", help="model parameters as JSON (see harness/autoscaling/params.py)")
    p.add_argument("--params", metavar="FILE", help="model parameters file (e.g. from scalecheck calibrate), "
                   "merged over --params-json")
    p.add_argument("--allow-non-loopback", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("calibrate", help="estimate the model's undocumented parameters (provisioning delay, "
                       "metric lag, latency) from a run folder and write them as a params file")
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the params file "
                   "(default: RUN_DIR/calibrated-params.yaml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "check": cmd_check, "report": cmd_report, "validate": cmd_validate,
                "setup": cmd_setup, "emulator": cmd_emulator, "calibrate": cmd_calibrate,
                "plan": cmd_plan, "simulate": cmd_simulate}
    try:
        if args.command == "demo":
            return cmd_run(args, demo=True)
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
