"""The shipped profiles, each run exactly as a user runs it: ``scalecheck run profiles/X.yaml --local``.

Each must pass, within 3 minutes of wall time (the four run side by side), and its run folder must show
the behaviour the profile is there to demonstrate (not only PASS lines): step sizes that grow with the
breach, capacity raised by a schedule before the peak, and an async endpoint reaching its first instance
sooner with the HasBacklogWithoutCapacity policy than without it.

Agreement (issue 4): every run is made with ``--predict``, so the simulator predicts it from the run's
actual load start; the emulator's capacity steps must be the predicted ones, each within one metric
period of its predicted time, with no extra step.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.checks.prediction import compare_capacity
from harness.record import RunFolder
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

WALL_LIMIT_S = 180.0


PROFILES = ("realtime-target-tracking.yaml", "step-scaling.yaml", "scheduled-scaling.yaml",
            "async-scale-from-zero.yaml")


@dataclass
class _Started:
    proc: subprocess.Popen[bytes]
    reports: Path
    log: Path
    started: float


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Started]]:
    """Every shipped profile's run, started at once: each mostly waits on its emulator's sped-up clock, so
    running them side by side takes about as long as the longest instead of their sum."""
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    started: dict[str, _Started] = {}
    try:
        for profile in PROFILES:
            folder = tmp_path_factory.mktemp(profile.removesuffix(".yaml"))
            reports, log = folder / "reports", folder / "output.txt"
            reports.mkdir()
            with log.open("wb") as out:
                proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(ROOT / "profiles" / profile),
                                         "--local", "--predict", "--reports", str(reports)],
                                        stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
            started[profile] = _Started(proc, reports, log, time.monotonic())
        yield started
    finally:
        for run in started.values():
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()


def _run(runs: dict[str, _Started], profile: str) -> tuple[str, Path]:
    """The profile's run once it has ended: (its output, its reports folder)."""
    run = runs[profile]
    try:
        run.proc.wait(timeout=max(1.0, run.started + WALL_LIMIT_S + 60 - time.monotonic()))
    except subprocess.TimeoutExpired:
        run.proc.kill()
        pytest.fail(f"{profile} did not end within {WALL_LIMIT_S + 60:.0f} s")
    took = time.monotonic() - run.started
    output = run.log.read_text()
    assert run.proc.returncode == 0, output
    assert took <= WALL_LIMIT_S, f"{profile} took {took:.0f} s of wall time"
    return output, run.reports


def _assert_agrees_with_prediction(folder: Path) -> int:
    """The observed capacity steps are the predicted ones, each within one metric period; returns how many
    steps were compared."""
    recorded = RunFolder(folder).load()
    pred = recorded.run.prediction
    assert pred is not None and pred.error is None, pred
    assert (folder / "prediction" / "run.json").exists()
    observed_until = recorded.endpoint[-1].ts
    period = recorded.run.profile["local"]["params"]["metric_period_s"]
    # The run stops once every expectation is decided; predicted steps after that cannot be compared.
    due = [c for c in pred.changes if c.end_ts - period <= observed_until]
    cmp = compare_capacity(recorded.endpoint, due, period, since_ts=recorded.run.load_start_ts,
                           initial=pred.initial_instances)
    detail = [(m.predicted.from_count, m.predicted.to_count, m.status, m.delta_s) for m in cmp.matches]
    unseen_after_end = [m for m in cmp.matches if m.status == "not_yet" and m.predicted.end_ts > observed_until]
    assert all(m.ok or m in unseen_after_end for m in cmp.matches), f"{folder.name}: {detail}"
    assert not cmp.extra and not cmp.initial_mismatch, f"{folder.name}: extra {cmp.extra}, {detail}"
    compared = len(cmp.matches) - len(unseen_after_end)
    assert compared, "nothing predicted to compare"
    return compared


def test_realtime_target_tracking_walkthrough(runs: dict[str, _Started]) -> None:
    output, reports = _run(runs, "realtime-target-tracking.yaml")
    folder = _only_child(reports)
    assert {v.status for v in RunFolder(folder).read_verdicts()} == {"PASS"}, output
    assert _assert_agrees_with_prediction(folder) >= 2  # 1 -> 4 and 4 -> 1


def _only_child(reports: Path) -> Path:
    (folder,) = [p for p in reports.iterdir() if p.is_dir()]
    return folder


def _set_capacities(folder: Path) -> list[tuple[str, int]]:
    """(policy or cause, capacity) of every scaling activity, in start order."""
    out = []
    for act in RunFolder(folder).load().activities:
        match = re.search(r"Setting desired instance count to (\d+)", act.description)
        policy = act.cause.rsplit("triggered policy ", 1)[-1] if "triggered policy" in act.cause else act.cause
        if match:
            out.append((policy, int(match.group(1))))
    return out


def test_step_scaling_steps_grow_with_the_breach(runs: dict[str, _Started]) -> None:
    output, reports = _run(runs, "step-scaling.yaml")
    folder = _only_child(reports)
    verdicts = {v["name"]: v for v in json.loads((folder / "verdicts.json").read_text())}
    assert {v["status"] for v in verdicts.values()} == {"PASS"}, output
    outs = [c for p, c in _set_capacities(folder) if p == "ipi-step-out"]
    # A small breach (10 over the threshold) adds 1; the spike (34 over on two instances) adds 4 at once.
    assert outs[:2] == [2, 6], outs
    ins = [c for p, c in _set_capacities(folder) if p == "ipi-step-in"]
    assert ins and ins[0] == 3, ins  # -50 % of 6
    assert (folder / "report.html").stat().st_size > 100_000
    assert _assert_agrees_with_prediction(folder) >= 3


def test_scheduled_scaling_prewarms_before_the_peak(runs: dict[str, _Started]) -> None:
    output, reports = _run(runs, "scheduled-scaling.yaml")
    folder = _only_child(reports)
    recorded = RunFolder(folder).load()
    assert {v.status for v in RunFolder(folder).read_verdicts()} == {"PASS"}, output
    puts = [e.detail for e in recorded.events if e.kind == "scheduled_action_put"]
    assert [d.split()[0] for d in puts] == ["prewarm-for-peak", "release-after-peak"], puts
    peak = next(s for s in recorded.run.stages if s.name == "peak")
    before_peak = [s.current_instances for s in recorded.endpoint if s.ts <= peak.start_ts]
    assert before_peak[-1] == 4, before_peak[-5:]
    causes = [a.cause for a in recorded.activities]
    assert any("minimum capacity was set to 4" in c or "prewarm-for-peak" in c for c in causes), causes
    assert _assert_agrees_with_prediction(folder) >= 2


def test_async_scale_from_zero_with_and_without_the_backlog_policy(runs: dict[str, _Started]) -> None:
    output, reports = _run(runs, "async-scale-from-zero.yaml")
    parent = _only_child(reports)
    index = json.loads((parent / "scenarios.json").read_text())
    names = [s["name"] for s in index["scenarios"]]
    assert names == ["with-backlog-policy", "without-backlog-policy"]
    first_instance = {}
    for name in names:
        folder = parent / name
        recorded = RunFolder(folder).load()
        assert recorded.run.scenario == name
        assert {v.status for v in RunFolder(folder).read_verdicts()} == {"PASS"}, output
        start = recorded.run.first_request_ts
        assert start is not None
        at_start = [s.current_instances for s in recorded.endpoint if s.ts <= start]
        assert at_start[-1] == 0, "the variant must be at zero instances when the first request arrives"
        first = next(s.ts for s in recorded.endpoint if s.ts >= start and (s.current_instances or 0) >= 1)
        first_instance[name] = first - start
        # Every request sent was completed: the async user watched the output locations.
        assert sum(x.requests for x in recorded.load) == sum(x.completions for x in recorded.load) > 0
        backlog = [p.value for p in recorded.metrics if p.metric == "ApproximateBacklogSize"]
        assert backlog and max(backlog) >= 3
        assert not any(p.metric in ("Invocations", "InvocationsPerInstance") for p in recorded.metrics)
        assert _assert_agrees_with_prediction(folder) >= 2
    # The guide: without the policy, scale-up from zero waits for the backlog to exceed the target.
    gained = first_instance["without-backlog-policy"] - first_instance["with-backlog-policy"]
    assert gained >= 120, first_instance
    comparison = (parent / "comparison.html").read_text()
    assert "with-backlog-policy" in comparison and "without-backlog-policy" in comparison
