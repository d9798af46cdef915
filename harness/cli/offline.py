"""The commands that work offline, from a profile or a run folder: ``check``, ``report``, ``validate``,
``plan``, ``simulate``, ``calibrate`` (``plan``/``simulate --from-endpoint`` read one endpoint's scaling)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from harness import exitcodes
from harness.cli.output import error, print_verdicts, say

if TYPE_CHECKING:
    from harness.autoscaling.params import ModelParams
    from harness.checks.common import AnyExpectation
    from harness.profile import Profile

T = TypeVar("T")


def cmd_check(args: argparse.Namespace) -> int:
    from harness import checks
    from harness.exitcodes import worst_exit_code
    from harness.profile import ProfileError
    from harness.record import is_scenarios_parent, scenario_folders
    from harness.report.compare import write_comparison_of
    from harness.report.conclude import recheck

    run_dir = Path(args.run_dir)
    try:
        if not is_scenarios_parent(run_dir):
            folder, verdicts, problems = recheck(run_dir)
            _say_problems(problems)
            print_verdicts(verdicts, None)
            run = folder.read_run()
            if run.status in ("invalid", "stopped"):
                say(f"run {run.status}: {run.status_reason}")
            if run.status == "stopped":
                return exitcodes.STOPPED
            return checks.exit_code(verdicts, invalid=run.status == "invalid")
        codes = []
        for name, folder in scenario_folders(run_dir):
            _folder, verdicts, problems = recheck(folder)
            _say_problems(problems)
            status = _folder.read_run().status
            code = exitcodes.STOPPED if status == "stopped" else checks.exit_code(verdicts, invalid=status == "invalid")
            codes.append(code)
            print(f"scenario {name} (exit {code}): {folder}")
            print_verdicts(verdicts, None)
        comparison = write_comparison_of(run_dir)
    except (FileNotFoundError, ProfileError, ValueError) as err:
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    print(f"comparison: {comparison}")
    return worst_exit_code(codes)


def _say_problems(problems: list[str]) -> None:
    """The stream lines a folder could not read (skipped; the rest of the folder is used)."""
    for line in problems[:10]:
        say(f"skipped {line}")
    if len(problems) > 10:
        say(f"... and {len(problems) - 10} more unreadable lines")


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
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    return exitcodes.OK


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.profile import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as err:
        error(f"{err}")
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
    if not s.applies:
        lines.append("scaling.apply is false: the policies in place are used as they are")
    for policy in s.policies:
        lines.append(f"policy {policy.name}: {describe_policy(policy)}")
    for action in s.scheduled_actions:
        lines.append(f"scheduled action {action.name}: {describe_action(action)}")
    def expect(exp: AnyExpectation) -> str:
        return f"expect {source_text(exp)}" + (f"  ({exp.name})" if exp.name else "")

    lines += [expect(exp) for exp in profile.expectations]
    lines += _cost_summary(profile)
    for sc in profile.scenarios:
        without = f"without {', '.join(sc.without_policies)}" if sc.without_policies else "all policies"
        own = "" if sc.expectations is None else f", its own {len(sc.expectations)} expectation(s)"
        desc = f" — {' '.join(sc.description.split())}" if sc.description.strip() else ""
        lines.append(f"scenario {sc.name}: {without}{own}{desc}")
        lines += [f"  {expect(exp)}" for exp in sc.expectations or []]
    return lines


def _cost_summary(profile: Profile) -> list[str]:
    """The price the run would use (or "no price"), the cap and the stop conditions."""
    from harness.errors import ConfigError
    from harness.profile.pricing import format_usd, plan_cost

    try:
        plan = plan_cost(profile.endpoint.instance_type, profile.region, overrides=profile.cost.prices,
                         profile_max_usd=profile.cost.max_usd)
        lines = [f"price {plan.price_text()}"]
        if plan.max_usd is not None:
            lines.append(f"cost cap {format_usd(plan.max_usd)}")
    except ConfigError as err:
        lines = [f"cost: {err}"]
    for cond in profile.stop:
        fields = cond.model_dump(by_alias=True, exclude={"type"})
        lines.append(f"stop on {cond.type} " + ", ".join(f"{k} {v}" for k, v in fields.items()))
    return lines


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
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        error(f"infrastructure error: {err}")
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
    from harness.observe.aws import Target, preflight_clients
    from harness.observe.livepolicy import read_scaling, with_live_scaling

    target = Target(region=args.region or profile.region, endpoint_url=args.endpoint_url, profile_name=args.aws_profile)
    variant = args.variant or profile.endpoint.variant
    # a few reads: the preflight's short timeouts, so that a dead network or refused credentials fail in seconds
    return with_live_scaling(profile, read_scaling(preflight_clients(target), args.from_endpoint, variant))


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
        print_verdicts(r.verdicts, r.folder / "report.html")
        codes.append(exit_code(r.verdicts))
    if len(runs) > 1:
        print(f"comparison: {folder / 'comparison.html'}")
    from harness.exitcodes import worst_exit_code

    return worst_exit_code(codes)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from harness.predict.calibrate import DEFAULT_FILE, calibrate, write_params_file

    run_dir = Path(args.run_dir)
    try:
        cal = calibrate(run_dir)
        out = write_params_file(cal, run_dir, Path(args.output) if args.output else run_dir / DEFAULT_FILE)
    except (FileNotFoundError, ValueError) as err:
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    for e in cal.estimates:
        print(f"{e.field} = {e.value:g} ± {e.uncertainty:g}  ({e.observations} observations)")
    for name, why in cal.skipped.items():
        print(f"{name}: skipped: {why}")
    print(f"params: {out}")
    return exitcodes.OK if cal.estimates else exitcodes.INCONCLUSIVE
