"""Load-generator throughput for ``make bench``: the scalecheck real-time user against boto3 and an unsigned POST.

The emulator runs as a child process pinned to CPU 1 (speed 1, one endpoint that never refuses: no model
latency, huge concurrency and queue); each user type runs in turn as a headless Locust child pinned to CPU 0,
closed loop (``wait_time = constant(0)``), ``USERS`` users. Inside the Locust child
(``harness.bench.users``) a greenlet takes two snapshots ``WARMUP_S`` and ``WARMUP_S + WINDOW_S`` seconds after
the test starts: Locust's request count, its own CPU time and the emulator's CPU time (``/proc/<pid>/stat``),
so rate and CPU per request exclude start-up (imports) and ramp-up. The user types run interleaved ``ROUNDS``
times and the fastest window of each counts (pinning keeps the two processes apart, not other load off the
CPUs).

Printed: the raw rates, ``loadgen_vs_boto3`` and ``loadgen_vs_unsigned`` (rate ratios), the load generator's
and the emulator's CPU per request, ``emulator_cpu_share`` (emulator CPU per request / load generator CPU per
request, for the scalecheck user), ``emulator_busy_<user>`` (cores the emulator used during the window: near 1
means the server, not the load generator, set the rate) and ``emulator_max_rps`` (1 / its CPU per request).
The CPU ratios (``loadgen_cpu_vs_*``) are what the load generator would reach with an infinitely fast server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.autoscaling.params import ModelParams

USERS = 20
WARMUP_S = 1.5
WINDOW_S = 4.0
RUN_S = 7  # Locust -t: warm-up + window + a margin
ROUNDS = 2  # the user types run interleaved this many times; the best window of each counts
ENDPOINT = "bench"
REGION = "us-east-1"
USER_CLASSES = {"scalecheck": "ScalecheckUser", "boto3": "Boto3User", "unsigned": "UnsignedUser"}
LOADGEN_CPU = 0
SERVER_CPU = 1


@dataclass(frozen=True)
class Window:
    """One user type's measurement window."""

    seconds: float
    requests: int
    failures: int
    loadgen_cpu_s: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def loadgen_us_per_request(self) -> float:
        return self.loadgen_cpu_s / self.requests * 1e6 if self.requests else float("inf")

    @property
    def server_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else float("inf")

    @property
    def server_busy(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds > 0 else 0.0


def parse_window(data: dict[str, dict[str, float]]) -> Window:
    """The JSON ``harness.bench.users`` writes (two snapshots) as a :class:`Window`."""
    first, last = data["first"], data["last"]
    return Window(seconds=last["t"] - first["t"], requests=int(last["requests"] - first["requests"]),
                  failures=int(last["failures"] - first["failures"]), loadgen_cpu_s=last["cpu"] - first["cpu"],
                  server_cpu_s=last["server_cpu"] - first["server_cpu"])


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads) from ``/proc/<pid>/stat``, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        return stat_cpu_seconds(f.read())


def stat_cpu_seconds(stat: str, ticks_per_s: float | None = None) -> float:
    """utime + stime from the text of a ``/proc/<pid>/stat`` file (the command name may hold spaces and parens)."""
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is the state (field 3 of the file)
    ticks = int(fields[11]) + int(fields[12])  # utime (14), stime (15)
    return ticks / (ticks_per_s or os.sysconf("SC_CLK_TCK"))


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def bench_lines(windows: dict[str, Window]) -> list[str]:
    """The ``bench <name> <value> <unit>`` lines for the windows of the user types that ran."""
    lines = []
    for name, w in windows.items():
        lines.append(f"bench loadgen_rps_{name} {w.rps:.0f} req/s")
    for name, w in windows.items():
        if w.failures:
            lines.append(f"bench loadgen_failures_{name} {w.failures} requests")
    ours = windows.get("scalecheck")
    if ours is not None:
        for other in ("boto3", "unsigned"):
            if other in windows:
                lines.append(f"bench loadgen_vs_{other} {_ratio(ours.rps, windows[other].rps):.2f} x")
    for name, w in windows.items():
        lines.append(f"bench loadgen_cpu_us_per_request_{name} {w.loadgen_us_per_request:.1f} us")
    if ours is not None:
        for other in ("boto3", "unsigned"):
            if other in windows:
                # > 1: the scalecheck user needs less load-generator CPU per request than the other.
                ratio = _ratio(windows[other].loadgen_us_per_request, ours.loadgen_us_per_request)
                lines.append(f"bench loadgen_cpu_vs_{other} {ratio:.2f} x")
    for name, w in windows.items():
        lines.append(f"bench emulator_cpu_us_per_request_{name} {w.server_us_per_request:.1f} us")
        lines.append(f"bench emulator_busy_{name} {w.server_busy:.2f} cores")
    if ours is not None:
        share = _ratio(ours.server_us_per_request, ours.loadgen_us_per_request)
        lines.append(f"bench emulator_cpu_share {share:.2f} x")
    if windows:
        best = min(w.server_us_per_request for w in windows.values())
        lines.append(f"bench emulator_max_rps {1e6 / best:.0f} req/s")
    return lines


def _pin(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})


def _pin_all_threads(pid: int, cpu: int) -> None:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except (ProcessLookupError, PermissionError):
            pass


def _deploy(url: str) -> None:
    import time

    import boto3
    import botocore.config

    sm = boto3.Session().client("sagemaker", endpoint_url=url, region_name=REGION, aws_access_key_id="test",
                                aws_secret_access_key="test",
                                config=botocore.config.Config(retries={"total_max_attempts": 1}))
    sm.create_model(ModelName=f"{ENDPOINT}-m", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": f"{ENDPOINT}-m", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-c")
    deadline = time.monotonic() + 20
    while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        if time.monotonic() > deadline:
            raise RuntimeError("bench endpoint did not reach InService")
        time.sleep(0.05)


def _run_locust(user_class: str, url: str, server_pid: int, folder: Path) -> Window:
    out = folder / f"{user_class}.json"
    env = dict(os.environ, SCALECHECK_BENCH_ENDPOINT=ENDPOINT, SCALECHECK_BENCH_REGION=REGION,
               SCALECHECK_BENCH_OUT=str(out), SCALECHECK_BENCH_SERVER_PID=str(server_pid),
               SCALECHECK_BENCH_WARMUP_S=str(WARMUP_S), SCALECHECK_BENCH_WINDOW_S=str(WINDOW_S),
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    env.pop("AWS_SESSION_TOKEN", None)
    users_file = Path(__file__).with_name("users.py")
    cmd = [sys.executable, "-m", "locust", "-f", str(users_file), user_class, "--headless", "-u", str(USERS),
           "-r", str(USERS), "-t", f"{RUN_S}s", "--host", url, "--only-summary", "--loglevel", "WARNING",
           "--stop-timeout", "1"]
    log = folder / f"{user_class}.log"
    with open(log, "w") as f:
        proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, preexec_fn=lambda: _pin(LOADGEN_CPU),
                              timeout=RUN_S + 30, check=False)
    if not out.exists():
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"locust {user_class} wrote no measurement (exit {proc.returncode}):\n{tail}")
    return parse_window(json.loads(out.read_text()))


def measure(names: tuple[str, ...] = ("scalecheck", "boto3", "unsigned"), rounds: int = ROUNDS) -> dict[str, Window]:
    """Run the emulator and the user types in turn, ``rounds`` times interleaved (so a burst of other load on
    the machine hits one window, not one user type); the fastest window of each user type."""
    from harness.emulator.process import EmulatorProcess

    params = ModelParams(endpoint_create_delay_s=0, model_latency_ms=0, latency_jitter=0,
                         instance_concurrency=100_000, max_queue_per_instance=100_000)
    emulator = EmulatorProcess.start(speed=1.0, params=params)
    try:
        _pin_all_threads(emulator.proc.pid, SERVER_CPU)
        _deploy(emulator.url)
        _pin_all_threads(emulator.proc.pid, SERVER_CPU)
        best: dict[str, Window] = {}
        with tempfile.TemporaryDirectory() as root:
            for _ in range(rounds):
                for name in names:
                    window = _run_locust(USER_CLASSES[name], emulator.url, emulator.proc.pid, Path(root))
                    if name not in best or window.rps > best[name].rps:
                        best[name] = window
        return best
    finally:
        emulator.stop()


def main() -> None:
    """Print the load-generator lines (the section of ``make bench``); needs two CPUs."""
    if len(os.sched_getaffinity(0)) < 2 or not {LOADGEN_CPU, SERVER_CPU} <= os.sched_getaffinity(0):
        print(f"bench loadgen_skipped 1 (needs CPUs {LOADGEN_CPU} and {SERVER_CPU})")
        return
    for line in bench_lines(measure()):
        print(line, flush=True)


if __name__ == "__main__":
    main()
