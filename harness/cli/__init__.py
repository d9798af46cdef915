"""``scalecheck`` command line: the only place that exits, and where outcomes become exit codes.

    scalecheck demo                      the real-time walkthrough on the embedded emulator
    scalecheck init [DIR]                a commented starter profile, the examples and the locustfile in DIR
    scalecheck run PROFILE [--local]     one run against AWS (default) or the emulator; a profile with
                                         scenarios runs each in turn and compares them; --processes N,
                                         --master / --worker: the load from several Locust processes;
                                         against AWS --apply-scaling puts the profile's scaling for the run
                                         (restored after it; else the live policies are verified) and
                                         --allow-create may create the endpoint
    scalecheck check RUN_DIR             recompute verdicts + JUnit from a run folder (or a scenarios
                                         parent folder: every scenario, and comparison.html), offline
    scalecheck report RUN_DIR            rebuild report.html from a run folder (or a scenarios parent), offline
    scalecheck validate PROFILE          validate a profile and print what it would do
    scalecheck setup PROFILE             create the endpoint (if allowed) and apply the profile's policy
                                         (--apply-scaling); --dry-run prints what would change
    scalecheck restore RUN_DIR           put back the scaling a run found (after a killed run); refused
                                         when the endpoint changed since the run set it
    scalecheck preflight PROFILE         check identity, endpoint, scaling, permissions, quota and S3 paths in
                                         seconds, sending no load (exit 0, or 104/105 with the failed checks)
    scalecheck emulator [--port 4566]    serve the emulator on 127.0.0.1
    scalecheck simulate PROFILE          predict the run in virtual time (the autoscaling model, no server,
                                         no load): a run folder marked "prediction", its verdicts and report
    scalecheck plan PROFILE              when alarms should fire and capacity change (analytic, no traffic)
    scalecheck calibrate RUN_DIR [-o F]  estimate undocumented model parameters from a run folder into a
                                         params file for run --local --params F, emulator --params F

Exit codes (harness/exitcodes.py): 0 pass · 99 an expectation failed · 100 inconclusive ·
101 invalid run · 103 stopped early by a stop condition or the cost cap · 104 invalid configuration
(nothing sent; also an --aws-profile that does not exist) · 105 infrastructure error (unreachable,
credentials missing, expired or refused, a failed preflight) · 130 / 143 interrupted by SIGINT / SIGTERM
(the run folder ends ``aborted``). Several scenarios exit with the worst of theirs (103 > 99 > 101 > 100 > 0).
"""

from __future__ import annotations

import signal

from harness import exitcodes
from harness.cli.init import cmd_init
from harness.cli.live import cmd_emulator, cmd_preflight, cmd_restore, cmd_run, cmd_setup
from harness.cli.offline import cmd_calibrate, cmd_check, cmd_plan, cmd_report, cmd_simulate, cmd_validate
from harness.cli.output import aws_failure, error
from harness.cli.parser import build_parser
from harness.errors import ConfigError, InfrastructureError
from harness.profile.loading import ProfileError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "check": cmd_check, "report": cmd_report, "validate": cmd_validate,
                "setup": cmd_setup, "restore": cmd_restore, "emulator": cmd_emulator, "calibrate": cmd_calibrate,
                "plan": cmd_plan, "simulate": cmd_simulate, "init": cmd_init, "preflight": cmd_preflight}
    try:
        if args.command == "demo":
            return cmd_run(args, demo=True)
        return handlers[args.command](args)
    except KeyboardInterrupt as err:  # harness.errors.Interrupted names its signal; a plain one is Ctrl-C
        return exitcodes.for_signal(getattr(err, "signum", signal.SIGINT))
    except (ProfileError, ConfigError) as err:  # found before anything was sent
        error(f"{err}")
        return exitcodes.INVALID_CONFIG
    except InfrastructureError as err:
        error(f"infrastructure error: {err}")
        return exitcodes.INFRASTRUCTURE
    except Exception as err:  # botocore's (credentials, network): one line with what to do, never a traceback
        code = aws_failure(err, args)
        if code is None:
            raise
        return code
