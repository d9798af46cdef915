"""``scalecheck`` command line: the only place that exits, and where outcomes become exit codes.

    scalecheck demo                      the real-time walkthrough on the embedded emulator
    scalecheck run PROFILE [--local]     one run against AWS (default) or the emulator
    scalecheck check RUN_DIR             recompute verdicts + JUnit from a run folder, offline
    scalecheck report RUN_DIR            rebuild report.html from a run folder, offline
    scalecheck validate PROFILE          validate a profile and print what it would do
    scalecheck setup PROFILE             create the endpoint (if allowed) and apply the profile's policy
    scalecheck emulator [--port 4566]    serve the emulator on 127.0.0.1

Exit codes (harness/exitcodes.py): 0 pass · 99 an expectation failed · 100 inconclusive ·
104 invalid configuration (nothing sent) · 105 infrastructure error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import exitcodes

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


def cmd_run(args: argparse.Namespace, *, demo: bool = False) -> int:
    from harness.errors import ConfigError, InfrastructureError
    from harness.profile import ProfileError, load_profile
    from harness.run import RunOptions, run_profile

    try:
        path = _find_profile(DEMO_PROFILE) if demo else Path(args.profile)
        profile = load_profile(path)
        options = RunOptions(local=demo or args.local, speed=args.speed, reports_dir=Path(args.reports),
                             region=getattr(args, "region", None), endpoint_url=getattr(args, "endpoint_url", None),
                             aws_profile=getattr(args, "aws_profile", None))
        result = run_profile(profile, path, options, _say)
    except (ProfileError, ConfigError, FileNotFoundError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        print(f"scalecheck: infrastructure error: {err}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE
    if result.status != "complete" or result.reason:
        _say(f"run {result.status}" + (f": {result.reason}" if result.reason else ""))
    _print_verdicts(result.verdicts, result.folder / "report.html")
    return result.exit_code


def cmd_check(args: argparse.Namespace) -> int:
    from harness import checks
    from harness.profile import ProfileError
    from harness.run import recheck

    try:
        _folder, verdicts = recheck(Path(args.run_dir))
    except (FileNotFoundError, ProfileError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    _print_verdicts(verdicts, None)
    return checks.exit_code(verdicts)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.record import RunFolder
    from harness.report.html import write_report

    try:
        path = write_report(RunFolder(Path(args.run_dir)))
    except (FileNotFoundError, ValueError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    print(f"report: {path}")
    return exitcodes.OK


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.checks import source_text
    from harness.profile import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    print(f"{args.profile}: valid profile {profile.name!r}")
    print(f"  endpoint {profile.endpoint.name}/{profile.endpoint.variant}, "
          f"capacity {profile.scaling.min_capacity}..{profile.scaling.max_capacity}")
    print(f"  load {profile.traffic.duration_s:.0f} s in {len(profile.traffic.stages)} stage(s)")
    for exp in profile.expectations:
        print(f"  expect {source_text(exp)}")
    return exitcodes.OK


def cmd_setup(args: argparse.Namespace) -> int:
    from harness.aws import Target, check_access, emulator_clock, make_clients
    from harness.errors import ConfigError, InfrastructureError
    from harness.profile import ProfileError, load_profile
    from harness.record import Clock
    from harness.setup import apply_scaling, ensure_endpoint

    try:
        profile = load_profile(args.profile)
        target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url,
                        profile_name=args.aws_profile)
        clients = make_clients(target)
        check_access(clients, target)
        clock = emulator_clock(args.endpoint_url) if args.endpoint_url else Clock.identity()
        ensure_endpoint(clients, profile, clock, _say)
        apply_scaling(clients, profile, _say)
    except (ProfileError, ConfigError) as err:
        print(f"scalecheck: {err}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        print(f"scalecheck: infrastructure error: {err}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE
    print(f"{profile.endpoint.name}/{profile.endpoint.variant} is InService with the profile's scaling applied")
    return exitcodes.OK


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
    run_flags(p)
    p = sub.add_parser("check", help="recompute verdicts and JUnit from a run folder (offline)")
    p.add_argument("run_dir")
    p = sub.add_parser("report", help="rebuild report.html from a run folder (offline)")
    p.add_argument("run_dir")
    p = sub.add_parser("validate", help="validate a profile without sending anything")
    p.add_argument("profile")
    p = sub.add_parser("setup", help="create the endpoint if allowed and apply the profile's scaling policy")
    p.add_argument("profile")
    p.add_argument("--region", help="AWS region (default: the profile's region)")
    p.add_argument("--endpoint-url", help="an emulator (or other AWS-compatible URL) instead of AWS")
    p.add_argument("--aws-profile", help="AWS shared-config profile for credentials")
    p = sub.add_parser("emulator", help="serve the local AWS emulator on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4566, help="0 picks a free port (default 4566)")
    p.add_argument("--speed", type=_positive, default=1.0, help="endpoint time / wall time (default 1)")
    p.add_argument("--params-json", default="", help="model parameters as JSON (see harness/autoscaling/params.py)")
    p.add_argument("--allow-non-loopback", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "check": cmd_check, "report": cmd_report, "validate": cmd_validate,
                "setup": cmd_setup, "emulator": cmd_emulator}
    try:
        if args.command == "demo":
            return cmd_run(args, demo=True)
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
