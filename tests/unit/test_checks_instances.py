"""harness.checks: max_instances, capacity_at and the capacity bounds scheduled actions widen, as
literal timelines → verdicts.

Times are endpoint seconds; the load runs 0–250 and observation ends at 600 unless a case says
otherwise. Samples are ``(ts, current)`` or ``(ts, current, desired)``. Profile: MinCapacity 1,
MaxCapacity 4, max_sample_gap 60s, stages warm (0–100) and stress (100–250).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harness.checks import evaluate, source_text
from harness.profile import Profile, parse_profile
from harness.record import Recorded, StageSpan, Verdict
from tests.fixtures_runs import Sample, every, in_memory

UNSET: Any = object()
STAGES = (StageSpan(name="warm", start_ts=0, end_ts=100), StageSpan(name="stress", start_ts=100, end_ts=250))
MAX3: dict[str, Any] = {"type": "max_instances", "max": 3}
AT2M: dict[str, Any] = {"type": "capacity_at", "at": "load_start", "offset": "2m", "instances": 3}  # moment 120
RAISE_MAX = {"name": "raise", "at": "load_start+1m", "max_capacity": 6}
LOWER_MIN = {"name": "lower", "at": "load_start+1m", "min_capacity": 0}


def make_profile(*expectations: dict[str, Any], scheduled: Sequence[dict[str, Any]] = ()) -> Profile:
    return parse_profile({
        "name": "t",
        "endpoint": {"name": "ep", "initial_instance_count": 1},
        "scaling": {"min_capacity": 1, "max_capacity": 4, "scheduled_actions": list(scheduled), "policies": [
            {"type": "target_tracking", "name": "A", "target_value": 10}]},
        "traffic": {"stages": [{"name": "warm", "duration": "100s", "rate_rps": 1},
                               {"name": "stress", "duration": "150s", "rate_rps": 2}]},
        "expectations": list(expectations),
        "collector": {"max_sample_gap": "60s"},
    })


def rec(endpoint: Sequence[Sample] = (), ended: float | None = 600, **kw: Any) -> Recorded:
    return in_memory(endpoint=endpoint, ended=ended, stages=STAGES, **kw)


def expect(status: str, *texts: str, pending: bool = False, observed: Any = UNSET, until: Any = UNSET,
           scheduled: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"status": status, "texts": texts, "pending": pending, "observed": observed, "until": until,
            "scheduled": scheduled}


def check(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> Verdict:
    ev = evaluate(recorded, make_profile(exp, scheduled=want["scheduled"]), final=final)
    (verdict,) = ev.verdicts
    assert verdict.status == want["status"], verdict.summary
    for text in want["texts"]:
        assert text in verdict.summary
    assert (verdict.name in ev.pending) is want["pending"], verdict.summary
    if want["observed"] is not UNSET:
        assert verdict.observed_ts == want["observed"]
    if want["until"] is not UNSET:
        assert ev.observe_until_ts == want["until"]
    return verdict


# --- max_instances ------------------------------------------------------------------------------

MAX_INSTANCES = [
    pytest.param(MAX3, rec([*every(0, 90, 2), (120, 2, 3), *every(150, 600, 3)]), True,
                 expect("PASS", "never above 3: CurrentInstanceCount peaked at 3, DesiredInstanceCount at 3, from "
                        "load_start to 10m after load_start", observed=600), id="pass"),
    pytest.param(MAX3, rec([(-30, 4), *every(0, 600, 2)]), True,
                 expect("PASS", "peaked at 2"), id="pass-capacity-before-load-start-does-not-count"),
    pytest.param(MAX3, rec([*every(0, 270, 3), (300, 4, 3), (330, 3)]), True,
                 expect("FAIL", "CurrentInstanceCount 4 above max 3 at 5m after load_start", observed=300),
                 id="fail-current"),
    pytest.param(MAX3, rec([*every(0, 180, 3), (200, 3, 4), (230, 4)]), True,
                 expect("FAIL", "DesiredInstanceCount 4 above max 3 at 3m20s after load_start", observed=200),
                 id="fail-desired-first"),
    pytest.param(MAX3, rec([(0, 3), (30, 4, 4)]), True,
                 expect("FAIL", "CurrentInstanceCount 4 and DesiredInstanceCount 4 above max 3 at 30s"),
                 id="fail-both"),
    pytest.param(MAX3, rec([(0, 3), (30, 4)], load_end=None), False,
                 expect("FAIL", "above max 3"), id="fail-decided-mid-run"),
    pytest.param({**MAX3, "max": 0}, rec([]), False,
                 expect("FAIL", "impossible: cannot stay at or below 0 instances, MinCapacity is 1 "
                        "(scaling.min_capacity)"),
                 id="fail-impossible-below-min-capacity"),
    pytest.param({**MAX3, "max": 0}, rec(every(0, 600, 1)), True,
                 expect("FAIL", "CurrentInstanceCount 1 and DesiredInstanceCount 1 above max 0 at 0s",
                        scheduled=[LOWER_MIN]),
                 id="scheduled-min-0-makes-it-possible"),
    pytest.param(MAX3, rec(every(0, 300, 2)), False,
                 expect("INCONCLUSIVE", "not above 3 so far, decided when the run ends; last seen 2 instances 5m "
                        "after load_start", pending=True, until=310), id="pending-until-the-run-ends"),
    pytest.param(MAX3, rec(every(0, 200, 2), load_end=None), False,
                 expect("INCONCLUSIVE", "not above 3 so far", pending=True, until=None),
                 id="pending-load-running"),
    pytest.param(MAX3, rec([*every(0, 100, 2), *every(300, 600, 2)]), True,
                 expect("INCONCLUSIVE", "no sample between 1m30s and 5m after load_start (3m30s > max_sample_gap "
                        "1m)"), id="inconclusive-gap"),
    pytest.param(MAX3, rec(every(120, 600, 2)), True,
                 expect("INCONCLUSIVE", "no sample between 0s and 2m after load_start"),
                 id="inconclusive-samples-start-late"),
    pytest.param(MAX3, rec(every(0, 400, 2)), True,
                 expect("INCONCLUSIVE", "no sample between 6m30s and 10m after load_start"),
                 id="inconclusive-samples-end-before-the-run"),
    pytest.param(MAX3, rec(every(0, 150, 2), ended=150), True,
                 expect("INCONCLUSIVE", "no sample between 2m30s and 4m10s after load_start"),
                 id="inconclusive-observation-ends-before-load-end"),
    pytest.param(MAX3, rec([*every(0, 90, 2), (120, None), (150, None), *every(180, 600, 2)]), True,
                 expect("INCONCLUSIVE", "no sample between 1m30s and 3m"), id="inconclusive-samples-without-count"),
    pytest.param(MAX3, rec([], ended=0), True,
                 expect("INCONCLUSIVE", "no DescribeEndpoint sample with an instance count since load_start"),
                 id="inconclusive-no-samples"),
    pytest.param(MAX3, rec(every(0, 200, 2), load_end=None), True,
                 expect("INCONCLUSIVE", "load never ended"), id="inconclusive-load-never-ended"),
    pytest.param(MAX3, rec([], load_start=None, load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_start", pending=True, until=None),
                 id="pending-load-not-started"),
    pytest.param(MAX3, rec([], load_start=None, load_end=None), True,
                 expect("INCONCLUSIVE", "load never started"), id="inconclusive-load-never-started"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), MAX_INSTANCES)
def test_max_instances(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


# --- capacity_at --------------------------------------------------------------------------------

RANGE = {**AT2M, "instances": None, "min": 2, "max": 4}

CAPACITY_AT = [
    pytest.param(AT2M, rec(every(0, 300, 3)), True,
                 expect("PASS", "3 instances at 2m after load_start (sample at that moment), as expected",
                        observed=120), id="pass"),
    pytest.param(AT2M, rec([(0, 1), (100, 3), (130, 1)]), True,
                 expect("PASS", "3 instances at 2m after load_start (sample 20s before), as expected", observed=100),
                 id="pass-last-sample-before-the-moment"),
    pytest.param(AT2M, rec([(0, 1), (100, 3), (130, 1)]), False,
                 expect("PASS", "as expected"), id="pass-decided-mid-run"),
    pytest.param(AT2M, rec([(0, 1), (100, 2), (130, 3)]), True,
                 expect("FAIL", "2 instances at 2m after load_start (sample 20s before), expected 3 instances",
                        observed=100), id="fail"),
    pytest.param(RANGE, rec([(100, 3), (130, 3)]), True, expect("PASS", "as expected"), id="pass-in-range"),
    pytest.param(RANGE, rec([(100, 1), (130, 3)]), True,
                 expect("FAIL", "1 instance at 2m after load_start (sample 20s before), expected 2..4 instances"),
                 id="fail-below-range"),
    pytest.param({**RANGE, "max": None}, rec([(100, 1), (130, 3)]), True,
                 expect("FAIL", "expected at least 2 instances"), id="fail-below-min"),
    pytest.param({**RANGE, "min": None, "max": 2}, rec([(100, 3), (130, 3)]), True,
                 expect("FAIL", "expected at most 2 instances"), id="fail-above-max"),
    pytest.param(AT2M, rec([(30, 3), (200, 3)]), True,
                 expect("INCONCLUSIVE", "no sample within max_sample_gap 1m before 2m after load_start: the last one "
                        "before it was taken 1m30s earlier"), id="inconclusive-last-sample-too-old"),
    pytest.param(AT2M, rec([(130, 3)]), True,
                 expect("INCONCLUSIVE", "none before it"), id="inconclusive-no-sample-before"),
    pytest.param(AT2M, rec([(0, 3), (100, 3), (120, None), (150, 3)]), True,
                 expect("PASS", "sample 20s before"), id="samples-without-count-are-skipped"),
    pytest.param(AT2M, rec([(0, 3), (100, 3)]), False,
                 expect("INCONCLUSIVE", "waiting for 2m after load_start; last seen 3 instances 20s before 2m after "
                        "load_start", pending=True, until=180), id="pending-moment-not-observed-yet"),
    pytest.param(AT2M, rec([(0, 3), (100, 3)]), True,
                 expect("INCONCLUSIVE", "samples end before 2m after load_start"), id="inconclusive-samples-end"),
    pytest.param({**AT2M, "instances": 5}, rec([]), False,
                 expect("FAIL", "impossible: cannot have 5 instances, MaxCapacity is 4 (scaling.max_capacity)"),
                 id="fail-impossible-above-max-capacity"),
    pytest.param({**RANGE, "min": None, "max": 0}, rec([]), False,
                 expect("FAIL", "impossible: cannot have 0 instances, MinCapacity is 1 (scaling.min_capacity)"),
                 id="fail-impossible-below-min-capacity"),
    pytest.param({**AT2M, "instances": 5}, rec([(100, 5), (130, 5)]), True,
                 expect("PASS", "5 instances", scheduled=[RAISE_MAX]), id="scheduled-action-raises-max"),
    pytest.param({**AT2M, "instances": 7}, rec([]), True,
                 expect("FAIL", "impossible: cannot have 7 instances, MaxCapacity is at most 6 "
                        "(scaling.scheduled_actions[0].max_capacity)", scheduled=[RAISE_MAX]),
                 id="fail-impossible-above-the-widest-max"),
    pytest.param({**AT2M, "at": "stage:stress", "offset": "0s"}, rec([(90, 1), (110, 3)]), True,
                 expect("FAIL", "1 instance at stage:stress (sample 10s before)"), id="stage-anchor-no-offset"),
    pytest.param({**AT2M, "at": "load_end"}, rec([(0, 1)], load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_end", pending=True, until=None), id="pending-anchor"),
    pytest.param({**AT2M, "at": "load_end"}, rec([(0, 1)], load_end=None), True,
                 expect("INCONCLUSIVE", "load never ended"), id="inconclusive-anchor-never-came"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), CAPACITY_AT)
def test_capacity_at(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


def test_capacity_at_evidence() -> None:
    verdict = check(AT2M, rec([(0, 1), (100, 3, 4), (130, 1)]), True, expect("PASS"))
    assert (verdict.trigger_ts, verdict.window_start_ts, verdict.window_end_ts) == (0, 120, 120)
    assert {k: verdict.details[k] for k in ("sample_ts", "instances", "desired_instances")} == {
        "sample_ts": 100, "instances": 3, "desired_instances": 4}


# --- bounds widened by scheduled actions, for the window checks ---------------------------------

OUT5 = {"type": "scale_out", "to": 5, "within": "10m"}


@pytest.mark.parametrize(("exp", "scheduled", "status", "text"), [
    pytest.param(OUT5, [], "FAIL", "impossible: cannot reach 5 instances, MaxCapacity is 4 (scaling.max_capacity)",
                 id="scale-out-above-max"),
    pytest.param(OUT5, [RAISE_MAX], "PASS", "reached 5 instances", id="scale-out-possible-once-max-raised"),
    pytest.param({**OUT5, "to": 7}, [RAISE_MAX], "FAIL",
                 "MaxCapacity is at most 6 (scaling.scheduled_actions[0].max_capacity)", id="scale-out-above-widest"),
    pytest.param({"type": "scale_in", "to": 0, "within": "10m"}, [], "FAIL",
                 "impossible: cannot go down to 0 instances, MinCapacity is 1 (scaling.min_capacity)",
                 id="scale-in-below-min"),
])
def test_window_bounds(exp: dict[str, Any], scheduled: list[dict[str, Any]], status: str, text: str) -> None:
    check(exp, rec([(0, 1), (60, 3), (200, 5)]), True, expect(status, text, scheduled=scheduled))


@pytest.mark.parametrize(("exp", "text"), [
    pytest.param(MAX3, "max_instances: 3", id="max_instances"),
    pytest.param(AT2M, "capacity_at: 3 at load_start+2m", id="capacity_at"),
    pytest.param(RANGE, "capacity_at: 2..4 at load_start+2m", id="capacity_at-range"),
    pytest.param({**RANGE, "max": None, "at": "stage:warm", "offset": "0s"}, "capacity_at: 2..inf at stage:warm",
                 id="capacity_at-min-only"),
])
def test_source_text(exp: dict[str, Any], text: str) -> None:
    assert source_text(make_profile(exp).expectations[0]) == text
