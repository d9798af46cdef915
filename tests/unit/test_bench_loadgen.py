"""The pure parts of the load-generator benchmark (harness.bench.loadgen); nothing timed, no Locust import
(importing locust monkey-patches the test process with gevent)."""

from __future__ import annotations

import math

from harness.bench.loadgen import Window, bench_lines, parse_window, stat_cpu_seconds


def test_stat_cpu_seconds_reads_utime_and_stime_past_a_command_with_spaces_and_parens() -> None:
    stat = "4242 (python (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0 100 0 0"
    assert stat_cpu_seconds(stat, ticks_per_s=100) == 3.0


def test_parse_window_takes_differences_of_the_two_snapshots() -> None:
    w = parse_window({"first": {"t": 10.0, "cpu": 1.0, "requests": 100, "failures": 1, "server_cpu": 5.0},
                      "last": {"t": 16.0, "cpu": 4.0, "requests": 6100, "failures": 1, "server_cpu": 6.5}})
    assert w == Window(seconds=6.0, requests=6000, failures=0, loadgen_cpu_s=3.0, server_cpu_s=1.5)
    assert w.rps == 1000.0
    assert math.isclose(w.loadgen_us_per_request, 500.0)
    assert math.isclose(w.server_us_per_request, 250.0)
    assert w.server_busy == 0.25


def test_bench_lines_give_the_ratios_against_boto3_and_unsigned() -> None:
    windows = {"scalecheck": Window(10.0, 40_000, 0, 4.0, 2.0),
               "boto3": Window(10.0, 10_000, 0, 10.0, 1.0),
               "unsigned": Window(10.0, 50_000, 3, 4.0, 2.0)}
    lines = bench_lines(windows)
    assert all(line.startswith("bench ") and len(line.split()) == 4 for line in lines)
    values = {line.split()[1]: float(line.split()[2]) for line in lines}
    assert values["loadgen_rps_scalecheck"] == 4000
    assert values["loadgen_vs_boto3"] == 4.0
    assert values["loadgen_vs_unsigned"] == 0.8
    assert values["loadgen_failures_unsigned"] == 3
    assert "loadgen_failures_scalecheck" not in values
    assert values["loadgen_cpu_vs_boto3"] == 10.0
    assert values["emulator_cpu_share"] == 0.5
    assert values["emulator_busy_scalecheck"] == 0.2
    assert values["emulator_max_rps"] == 25_000


def test_bench_lines_without_the_scalecheck_user_give_no_ratios() -> None:
    names = {line.split()[1] for line in bench_lines({"boto3": Window(1.0, 10, 0, 1.0, 0.1)})}
    assert not any(name.startswith(("loadgen_vs_", "loadgen_cpu_vs_")) or name == "emulator_cpu_share"
                   for name in names)
