"""Pure parts of run orchestration: load anchors from events, the observation budget, exit codes of
several scenarios, the derived profile handed to Locust, and the scenarios index."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from harness import exitcodes
from harness.exitcodes import worst_exit_code
from harness.profile import load_profile, parse_profile
from harness.profile.aws_requests import plan_relative_actions
from harness.profile.budget import observation_budget_s
from harness.record import Recorded, RunEvent, RunInfo, is_scenarios_parent, scenario_folders
from harness.run.runner import _apply_events, write_profile_yaml

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = yaml.safe_load((ROOT / "profiles" / "realtime-target-tracking.yaml").read_text())


def run_info() -> RunInfo:
    return RunInfo(run_id="r", profile_name="p", profile={}, mode="local", speed=10, region="us-east-1",
                   endpoint_name="e", variant_name="v", started_ts=900.0)


def test_apply_events_fills_load_anchors_and_first_request() -> None:
    profile = parse_profile(WALKTHROUGH)
    recorded = Recorded(path=Path("."), run=run_info(), events=[
        RunEvent(ts=1000.0, kind="load_start"), RunEvent(ts=1000.0, kind="stage_start", detail="stress"),
        RunEvent(ts=1003.5, kind="first_request"), RunEvent(ts=1007.0, kind="first_request"),
        RunEvent(ts=1250.0, kind="load_stop")])
    run = _apply_events(recorded, profile)
    assert (run.load_start_ts, run.first_request_ts, run.load_end_ts) == (1000.0, 1003.5, 1250.0)
    assert [(s.name, s.start_ts, s.end_ts) for s in run.stages] == [("stress", 1000.0, 1250.0)]


def test_apply_events_before_the_load_changes_nothing() -> None:
    recorded = Recorded(path=Path("."), run=run_info())
    assert _apply_events(recorded, parse_profile(WALKTHROUGH)) == recorded.run


def test_observation_budget_covers_every_window() -> None:
    walkthrough = parse_profile(WALKTHROUGH)
    # scale_in: load_end (250 s) + 25 min, plus two 60 s sample gaps and a 60 s metrics interval
    assert observation_budget_s(walkthrough) == 250 + 25 * 60 + 180
    data = dict(WALKTHROUGH, expectations=[{"type": "capacity_at", "at": "stage:stress", "offset": "2h",
                                            "instances": 1}])
    assert observation_budget_s(parse_profile(data)) == 2 * 3600 + 180


def test_observation_budget_after_an_async_backlog_empties() -> None:
    data = yaml.safe_load((ROOT / "profiles" / "async-scale-from-zero.yaml").read_text())
    data["traffic"]["stages"] = [{"name": "burst", "duration": "10m", "rate_rps": 0.05}]
    data["expectations"] = [{"type": "scale_from_zero", "within": "10m"},
                            {"type": "backlog_drained", "within": "15m", "after": "load_end"},
                            {"type": "scale_to_zero", "within": "25m"}]
    data["scenarios"] = []
    # scale_to_zero after backlog_empty: at worst load end + the longest drain window (15m) + 25m
    assert observation_budget_s(parse_profile(data)) == 10 * 60 + 15 * 60 + 25 * 60 + 180


@pytest.mark.parametrize(("codes", "worst"), [
    ([], exitcodes.OK),
    ([0, 0], exitcodes.OK),
    ([0, 100], exitcodes.INCONCLUSIVE),
    ([100, 101, 0], exitcodes.INVALID_RUN),
    ([100, 99, 101], exitcodes.FAILED),
    ([99, 105], exitcodes.INFRASTRUCTURE),
])
def test_worst_exit_code(codes: list[int], worst: int) -> None:
    assert worst_exit_code(codes) == worst


def test_derived_profile_yaml_reads_back_the_same(tmp_path: Path) -> None:
    for name in ("async-scale-from-zero.yaml", "step-scaling.yaml", "scheduled-scaling.yaml",
                 "realtime-target-tracking.yaml"):
        p = load_profile(ROOT / "profiles" / name)
        derived = p.for_scenario(p.scenarios[-1].name) if p.scenarios else p
        write_profile_yaml(derived, tmp_path / "profile.yaml")
        assert load_profile(tmp_path / "profile.yaml") == derived


def test_scenarios_index(tmp_path: Path) -> None:
    assert not is_scenarios_parent(tmp_path)
    (tmp_path / "scenarios.json").write_text(json.dumps(
        {"profile": "p", "scenarios": [{"name": "a", "folder": "a"}, {"name": "b", "folder": "b"}]}))
    assert is_scenarios_parent(tmp_path)
    assert scenario_folders(tmp_path) == [("a", tmp_path / "a"), ("b", tmp_path / "b")]
    (tmp_path / "scenarios.json").write_text(json.dumps({"profile": "p", "scenarios": []}))
    with pytest.raises(ValueError, match="no scenario ran"):
        scenario_folders(tmp_path)
    (tmp_path / "scenarios.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable scenarios index"):
        scenario_folders(tmp_path)


def with_actions(*actions: dict) -> dict:
    data = copy.deepcopy(WALKTHROUGH)
    data["scaling"]["scheduled_actions"] = list(actions)
    return data


def test_relative_actions_are_planned_soonest_first() -> None:
    p = parse_profile(with_actions({"name": "release", "at": "load_end+1m", "min_capacity": 1},
                                   {"name": "cron", "schedule": "cron(0 8 * * ? *)", "min_capacity": 2},
                                   {"name": "prewarm", "at": "load_start+3m", "min_capacity": 4}))
    planned, problem = plan_relative_actions(p, 1_000.0, now_ts=1_005.0)
    assert problem is None
    assert [(ts, a.name) for ts, a in planned] == [(1_180.0, "prewarm"), (1_000.0 + 250 + 60, "release")]


def test_a_relative_action_already_past_aborts_with_a_reason() -> None:
    p = parse_profile(with_actions({"name": "prewarm", "at": "load_start+5s", "min_capacity": 4}))
    _planned, problem = plan_relative_actions(p, 1_000.0, now_ts=1_012.0)
    assert problem is not None
    assert "'prewarm' (at load_start+5s)" in problem and "7s before the run could put it" in problem
    assert "load_start+1m" in problem
    assert plan_relative_actions(p, 1_000.0, now_ts=1_004.0)[1] is None


def test_validate_summary_names_policies_actions_scenarios_and_expectations() -> None:
    from harness.cli.offline import profile_summary

    data = with_actions({"name": "prewarm", "at": "stage:stress+1m", "min_capacity": 2, "max_capacity": 4},
                        {"name": "nightly", "schedule": "cron(0 22 * * ? *)", "timezone": "Europe/Paris",
                         "max_capacity": 1})
    data["scaling"]["policies"].append(
        {"type": "step", "name": "burst", "steps": [{"lower": 0, "upper": 20, "adjustment": 1},
                                                    {"lower": 20, "adjustment": 3}],
         "alarm": {"name": "InvocationsPerInstance", "statistic": "Sum", "threshold": 50, "evaluation_periods": 2,
                   "comparison": "GreaterThanThreshold"}})
    data["expectations"][0]["name"] = "four"
    data["scenarios"] = [{"name": "all"}, {"name": "no-burst", "description": "tracking\n only",
                                           "without_policies": ["burst"],
                                           "expectations": [{"type": "max_instances", "max": 4}]}]
    lines = profile_summary(parse_profile(data))
    assert lines[0] == "endpoint xgboost-abalone/AllTraffic (realtime, ml.m5.large), capacity 1..4"
    assert "policy InvocationsPerInstance-target-10: target tracking on SageMakerVariantInvocationsPerInstance, " \
           "target 10, cooldowns out 60s / in 300s" in lines
    assert "policy burst: step scaling ChangeInCapacity steps [0, 20) +1, [20, +inf) +3, cooldown 300s; " \
           "alarm burst-alarm: AWS/SageMaker/InvocationsPerInstance Sum > 50 for 2 of 2 x 60s" in lines
    assert "scheduled action prewarm: at stage:stress+1m min 2 max 4" in lines
    assert "scheduled action nightly: cron(0 22 * * ? *) [Europe/Paris] max 1" in lines
    assert "expect scale_out: to 4 within 12m after load_start  (four)" in lines
    assert "scenario all: all policies" in lines
    assert "scenario no-burst: without burst, its own 1 expectation(s) — tracking only" in lines
    assert lines[-1] == "  expect max_instances: 4"
