"""The commands that talk to AWS or the emulator: ``run`` (and ``demo``), ``setup``, ``restore``, ``preflight``,
``emulator``.

Their configuration and infrastructure errors, and a botocore failure (credentials, reachability), are worded by
``harness.cli.main`` (:func:`harness.cli.output.aws_failure`) in one line with the exit code: never a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness import exitcodes
from harness.cli.output import error, print_verdicts, say

if TYPE_CHECKING:
    from harness.load.launch import Distribution
    from harness.profile import Profile
    from harness.run import ScenariosResult

DEMO_PROFILE = "realtime-target-tracking.yaml"


def _distribution(args: argparse.Namespace, profile: Profile) -> Distribution:
    """The distribution flags of ``scalecheck run``; ConfigError for a combination that
    does not make sense (checked before anything is contacted)."""
    from harness.errors import ConfigError
    from harness.load.launch import DEFAULT_MASTER_PORT, Distribution

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
    if worker and (flags := given("local", "speed", "predict", "params", "price_file", "max_cost_usd")):
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
    return Distribution(processes=processes, master=master, expect_workers=expect or 1,
                        master_bind_host=getattr(args, "master_bind_host", None) or "127.0.0.1",
                        master_bind_port=getattr(args, "master_bind_port", None) or DEFAULT_MASTER_PORT)


def cmd_run(args: argparse.Namespace, *, demo: bool = False) -> int:
    """``scalecheck run`` (and ``demo``), with SIGINT and SIGTERM handled (harness/load/interrupts.py): the run
    finalises its folder as ``aborted`` and the command exits 128 + the signal (130, 143)."""
    from harness.load.interrupts import handling

    with handling():
        return _run(args, demo=demo)


def _run(args: argparse.Namespace, *, demo: bool) -> int:
    from harness.observe.consent import resolve_consent
    from harness.profile import load_profile
    from harness.profile.examples import example_profile

    try:
        path = example_profile(DEMO_PROFILE) if demo else Path(args.profile)
        profile = load_profile(path)
        worker = getattr(args, "worker", False)
        if not worker:  # what the run may change: refused before the rest is even imported
            resolve_consent(profile, local=demo or args.local, apply_flag=getattr(args, "apply_scaling", False),
                            create_flag=getattr(args, "allow_create", False))
        distribution = _distribution(args, profile)
        from harness.load.launch import DEFAULT_MASTER_PORT
        from harness.run import RunOptions, run_profile, run_scenarios

        if worker:
            from harness.load.launch import run_worker

            return run_worker(profile, path, master_host=args.master_host or "127.0.0.1",
                              master_port=args.master_port or DEFAULT_MASTER_PORT, region=args.region,
                              endpoint_url=args.endpoint_url, aws_profile=args.aws_profile, say=say)
        if getattr(args, "params", None):
            profile = _with_params_file(profile, args.params)
        offer = None
        if getattr(args, "price_file", None):
            from harness.profile.pricing import load_offer_file

            offer = load_offer_file(args.price_file, getattr(args, "region", None) or profile.region)
        options = RunOptions(local=demo or args.local, speed=args.speed, reports_dir=Path(args.reports),
                             region=getattr(args, "region", None), endpoint_url=getattr(args, "endpoint_url", None),
                             aws_profile=getattr(args, "aws_profile", None), predict=getattr(args, "predict", False),
                             distribution=distribution, apply_scaling=getattr(args, "apply_scaling", False),
                             allow_create=getattr(args, "allow_create", False), offer_prices=offer,
                             max_cost_usd=getattr(args, "max_cost_usd", None))
        if profile.scenarios:
            scenarios = run_scenarios(profile, path, options, say)
        else:
            result = run_profile(profile, path, options, say)
    except FileNotFoundError as err:  # the demo's example profile (ProfileError & co: harness.cli.main)
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    if profile.scenarios:
        _print_scenarios(scenarios)
        return scenarios.exit_code
    if result.status != "complete" or result.reason:
        say(f"run {result.status}" + (f": {result.reason}" if result.reason else ""))
    report = result.folder / "report.html"
    print_verdicts(result.verdicts, report if report.exists() else None)
    _print_cost(result.folder)
    return result.exit_code


def _print_cost(folder: Path, prefix: str = "") -> None:
    """The run's cost lines (``cost.json``) on stdout, after the verdicts."""
    from harness.report.cost import cost_lines, read_cost

    data = read_cost(folder)
    for line in cost_lines(data) if data is not None else []:
        print(f"{prefix}cost {line}")


def _with_params_file(profile: Profile, params_file: str) -> Profile:
    """``profile`` with ``local.params`` overridden by the fields of a params file (``--params``)."""
    from harness.errors import ConfigError
    from harness.predict.calibrate import load_params_file, merge_params

    try:
        params = merge_params(profile.local.params, load_params_file(params_file))
    except ValueError as err:
        raise ConfigError(f"--params: {err}") from None
    return profile.model_copy(update={"local": profile.local.model_copy(update={"params": params})})


def _print_scenarios(scenarios: ScenariosResult) -> None:
    """One line per scenario (its verdict statuses and exit code), then the comparison."""
    names = [r.name for r in scenarios.runs] + list(scenarios.skipped)
    width = max(len(n) for n in names)
    for run in scenarios.runs:
        r = run.result
        statuses = " ".join(v.status for v in r.verdicts) or "(no expectations)"
        state = "" if r.status == "complete" and not r.reason else f"  [{r.status}: {r.reason}]"
        print(f"scenario {run.name:<{width}}  exit {r.exit_code:<3}  {statuses}  {r.folder}{state}")
        _print_cost(r.folder, prefix=f"scenario {run.name:<{width}}  ")
    for name in scenarios.skipped:
        print(f"scenario {name:<{width}}  skipped (interrupted)")
    if scenarios.comparison is not None:
        print(f"comparison: {scenarios.comparison}")
    if scenarios.signum is not None:
        print(f"exit {scenarios.exit_code} (interrupted)")
    else:
        print(f"exit {scenarios.exit_code} (the worst scenario)")


def cmd_setup(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from harness.observe.aws import Target, check_access, emulator_clock, make_clients
    from harness.observe.consent import resolve_consent
    from harness.observe.setup import plan_setup, prepare
    from harness.profile import load_profile
    from harness.record import Clock

    profile = load_profile(args.profile)
    consent = resolve_consent(profile, local=False, apply_flag=args.apply_scaling, create_flag=args.allow_create,
                              check_image=not args.dry_run, scenarios=False)
    if not args.dry_run and profile.scaling.applies and not consent.apply_scaling:
        raise ConfigError("setup puts the profile's scaling on the endpoint and deletes the policies and "
                          "scheduled actions it does not name: pass --apply-scaling (or scaling.apply: true "
                          "in the profile); --dry-run shows what would change")
    target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url,
                    profile_name=args.aws_profile)
    check_access(target)
    clients = make_clients(target)
    if args.dry_run:
        print(f"setup --dry-run: what `scalecheck setup` would do to {profile.resource_id} in {target.region} "
              "(nothing is changed)")
        for line in plan_setup(clients, profile):
            print(f"  {line}")
        return exitcodes.OK
    clock = emulator_clock(target.base_url) if target.is_local else Clock.identity()
    prepare(clients, profile, clock, say, local=target.is_local, change_scaling=consent.apply_scaling,
            create_endpoint=consent.create_endpoint)
    applied = "the profile's scaling applied" if consent.apply_scaling else "its scaling left as it was"
    print(f"{profile.endpoint.name}/{profile.endpoint.variant} is InService with {applied}")
    return exitcodes.OK


def cmd_restore(args: argparse.Namespace) -> int:
    from harness.observe.aws import Target, check_access, make_clients
    from harness.observe.snapshot import BEFORE, restore_run_folder, snapshot_of

    run_dir = Path(args.run_dir)
    try:
        before = snapshot_of(run_dir)
        if before is None:
            print(f"nothing to restore: {run_dir} has no {BEFORE} (the run did not change the scaling)")
            return exitcodes.OK
        target = Target(region=args.region or before.region, endpoint_url=args.endpoint_url,
                        profile_name=args.aws_profile)
        check_access(target)
        clients = make_clients(target)
        done = restore_run_folder(run_dir, clients, say, force=args.force)
    except FileNotFoundError as err:  # a folder that is not a run folder
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    print(f"{before.resource_id}: as in {run_dir / BEFORE} ({len(done)} change(s))")
    for change in done:
        print(f"  {change}")
    return exitcodes.OK


def cmd_preflight(args: argparse.Namespace) -> int:
    """``scalecheck preflight PROFILE``: the checklist of harness/observe/preflight.py on stdout, sending no load;
    0 when every check passed, 104 for a profile problem, 105 for the account, the network or the credentials."""
    from harness.errors import ConfigError
    from harness.observe.aws import Target
    from harness.observe.consent import resolve_consent
    from harness.observe.preflight import run_preflight
    from harness.profile import load_profile

    profile = load_profile(args.profile)
    target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url,
                    profile_name=args.aws_profile)
    consent = resolve_consent(profile, local=False, apply_flag=args.apply_scaling, create_flag=args.allow_create)
    result = run_preflight(target, consent.applied_to(profile))
    for line in result.lines():
        print(line)
    if result.ok:
        print(f"preflight passed in {result.elapsed_s:.1f} s")
        return exitcodes.OK
    failure = result.error()
    error(f"{failure} ({result.elapsed_s:.1f} s)")
    return exitcodes.INVALID_CONFIG if isinstance(failure, ConfigError) else exitcodes.INFRASTRUCTURE


def cmd_emulator(args: argparse.Namespace) -> int:
    from harness.load.interrupts import die_with_parent

    if args.parent_pid is not None:  # first: an emulator whose parent is gone serves nobody
        die_with_parent(args.parent_pid)
    from harness.autoscaling.params import ModelParams
    from harness.emulator.serve import serve

    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow_non_loopback:
        print(f"scalecheck: refusing to bind {args.host}: the emulator serves loopback only "
              "(--allow-non-loopback to override)", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    try:
        params = ModelParams.model_validate_json(args.params_json) if args.params_json else ModelParams()
    except ValueError as err:
        error(f"--params-json: {err}")
        return exitcodes.INVALID_CONFIG
    if args.params:
        from harness.predict.calibrate import load_params_file, merge_params

        try:
            params = merge_params(params, load_params_file(args.params))
        except ValueError as err:
            error(f"--params: {err}")
            return exitcodes.INVALID_CONFIG
    from harness.emulator.faults import parse_flag, parse_rules

    try:
        faults = parse_rules(args.faults_json) if args.faults_json else []
        faults += [parse_flag(text) for text in args.fault]
    except ValueError as err:
        error(f"--fault/--faults-json: {err}")
        return exitcodes.INVALID_CONFIG
    return serve(host=args.host, port=args.port, speed=args.speed, params=params, faults=faults)
