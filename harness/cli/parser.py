"""The argument parser of ``scalecheck``: every command and flag, with its help text."""

from __future__ import annotations

import argparse

from harness import __version__

EXIT_CODES = ("exit codes: 0 pass · 99 an expectation failed · 100 inconclusive · 101 invalid run · 103 stopped "
              "early by a stop condition or the cost cap · 104 invalid configuration (nothing sent) · 105 "
              "infrastructure error")


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
                                     "autoscales the way you think it does.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"scalecheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def target_flags(p: argparse.ArgumentParser, region_default: str = "the profile's region") -> None:
        p.add_argument("--region", help=f"AWS region (default: {region_default})")
        p.add_argument("--endpoint-url", help="an emulator (or other AWS-compatible URL) instead of AWS")
        p.add_argument("--aws-profile", help="AWS shared-config profile for credentials")

    def consent_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--apply-scaling", action="store_true", help="against AWS (anything but --local): put the "
                       "profile's scalable target, policies, alarms and scheduled actions on the endpoint, as "
                       "scaling.apply: true in the profile does (a run snapshots the endpoint's own first and "
                       "restores them after it); without either, a run verifies the live policies and changes "
                       "nothing")
        p.add_argument("--allow-create", action="store_true", help="against AWS: create the endpoint when it does "
                       "not exist, from the profile's endpoint.image and endpoint.execution_role_arn (same as "
                       "endpoint.create: true in the profile)")

    def run_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--speed", type=_positive, default=None,
                       help="emulator only: endpoint time runs this many times faster than wall time "
                            "(default: the profile's local.speed)")
        p.add_argument("--reports", default="reports", help="where run folders are written (default: reports)")

    p = sub.add_parser("demo", help="run the real-time scaling walkthrough on the embedded emulator")
    run_flags(p)
    p = sub.add_parser("init", help="write a commented starter profile, the example profiles and the "
                       "locustfile into DIR (default: the current folder)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR")
    p.add_argument("--force", action="store_true", help="replace files that are already there")
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
    consent_flags(p)
    p.add_argument("--price-file", metavar="FILE", help="AWS's SageMaker offer file (Price List bulk JSON, "
                   "AmazonSageMaker) to price the instance type from, instead of the shipped snapshot; the "
                   "profile's cost.prices still win")
    p.add_argument("--max-cost-usd", type=_positive, metavar="USD", help="stop the run (exit 103) once its "
                   "observed instance cost reaches USD (with the profile's cost.max_usd: the lower one)")
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
                       "alarms, scheduled actions, start capacity); --dry-run shows what would change")
    p.add_argument("profile")
    p.add_argument("--dry-run", action="store_true", help="print what would be created, changed and removed "
                   "(target min/max, each policy, alarm and scheduled action) and change nothing")
    consent_flags(p)
    target_flags(p)
    p = sub.add_parser("restore", help="put back the scaling a run found (RUN_DIR/scaling-before.json), e.g. "
                       "after the run was killed; refused when the endpoint changed since the run set it")
    p.add_argument("run_dir")
    p.add_argument("--force", action="store_true", help="restore even when the endpoint's scaling changed "
                   "since the run set it")
    target_flags(p, region_default="the run's")
    p = sub.add_parser("preflight", help="check in seconds, sending no traffic, what a run needs from the account: "
                       "identity, endpoint, scaling, IAM permissions, instance quota, async S3 paths "
                       "(exit 0 / 104 / 105)")
    p.add_argument("profile")
    consent_flags(p)
    target_flags(p)
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
        target_flags(p)
    p = sub.add_parser("emulator", help="serve the local AWS emulator on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4566, help="0 picks a free port (default 4566)")
    p.add_argument("--speed", type=_positive, default=1.0, help="endpoint time / wall time (default 1)")
    p.add_argument("--params-json", default="", help="model parameters as JSON (see harness/autoscaling/params.py)")
    p.add_argument("--params", metavar="FILE", help="model parameters file (e.g. from scalecheck calibrate), "
                   "merged over --params-json")
    p.add_argument("--fault", action="append", default=[], metavar="KIND:SERVICE:OPERATION[,OPTION=V]",
                   help="inject an AWS-shaped failure (repeatable): KIND deny|throttle|delay|drop, options "
                   "rate=R (fraction of matching calls), seconds=S (delay), times=N; e.g. "
                   "throttle:cloudwatch:GetMetricData,rate=0.5 (see also POST /_emulator/faults)")
    p.add_argument("--faults-json", default="", help='fault rules as JSON: {"rules": [{"fault": "deny", '
                   '"match": "sagemaker:DescribeEndpoint"}, ...]} (added before --fault rules)')
    p.add_argument("--allow-non-loopback", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, metavar="PID", help="exit when process PID exits, however it exits "
                   "(scalecheck run --local passes its own pid)")
    p = sub.add_parser("calibrate", help="estimate the model's undocumented parameters (provisioning delay, "
                       "metric lag, latency) from a run folder and write them as a params file")
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the params file "
                   "(default: RUN_DIR/calibrated-params.yaml)")
    return parser
