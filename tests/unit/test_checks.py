"""harness.checks: literal timelines → verdicts.

Times are endpoint seconds; the load starts at 0 unless a case says otherwise (0 on purpose: a
trigger at ts 0 must not read as "unknown"). Samples are ``(ts, current_instances)``.
Default profile: MinCapacity 1, MaxCapacity 4, max_sample_gap 60s, stages warm (0-100) and
stress (100-250).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harness import exitcodes
from harness.checks import Evaluation, evaluate, exit_code, source_text
from harness.profile import Profile, parse_profile
from harness.profile.durations import format_span
from harness.record import LoadInterval, Recorded, StageSpan, Verdict
from tests.fixtures_runs import every, in_memory

STAGES = (StageSpan(name="warm", start_ts=0, end_ts=100), StageSpan(name="stress", start_ts=100, end_ts=250))
OUT_12M: dict[str, Any] = {"type": "scale_out", "to": 4, "within": "12m"}  # window [0, 720]
IN_25M: dict[str, Any] = {"type": "scale_in", "to": 1, "within": "25m"}  # after load_end=250: [250, 1750]
UNSET = object()


def make_profile(*expectations: dict[str, Any], min_capacity: int = 1, max_capacity: int = 4,
                 gap: str = "60s") -> Profile:
    return parse_profile({
        "name": "t",
        "endpoint": {"name": "ep", "initial_instance_count": 1},
        "scaling": {"min_capacity": min_capacity, "max_capacity": max_capacity, "policies": [
            {"type": "target_tracking", "name": "p", "target_value": 10}]},
        "traffic": {"stages": [{"name": "warm", "duration": "100s", "rate_rps": 1},
                               {"name": "stress", "duration": "150s", "rate_rps": 2}]},
        "expectations": list(expectations),
        "collector": {"max_sample_gap": gap},
    })


def interval(ts: float, requests: int, failures: int, stage: str | None = None,
             interval_s: float = 10) -> LoadInterval:
    return LoadInterval(ts=ts, interval_s=interval_s, stage=stage, offered_rps=requests / interval_s,
                        achieved_rps=requests / interval_s, requests=requests, failures=failures, users=1)


def recorded(endpoint: Sequence[tuple[float, int | None]] = (), load: Sequence[LoadInterval] = (),
             load_start: float | None = 0, load_end: Any = UNSET, stages: Sequence[StageSpan] = STAGES,
             ) -> Recorded:
    """A run whose load went from ``load_start`` to ``load_end`` (250 unless given; ``None``: not yet)."""
    return in_memory(endpoint=endpoint, load=load, load_start=load_start,
                     load_end=250 if load_end is UNSET else load_end, stages=stages)


def one(exp: dict[str, Any], rec: Recorded, final: bool = True,
        **profile_kw: Any) -> tuple[Verdict, Evaluation]:
    ev = evaluate(rec, make_profile(exp, **profile_kw), final=final)
    assert len(ev.verdicts) == 1
    return ev.verdicts[0], ev


def expect(status: str, text: str, *, pending: bool = False, observed: Any = UNSET,
           until: Any = UNSET) -> dict[str, Any]:
    return {"status": status, "text": text, "pending": pending, "observed": observed, "until": until}


def assert_outcome(verdict: Verdict, ev: Evaluation, want: dict[str, Any]) -> None:
    assert verdict.status == want["status"], verdict.summary
    assert want["text"] in verdict.summary
    assert (verdict.name in ev.pending) is want["pending"]
    if want["observed"] is not UNSET:
        assert verdict.observed_ts == want["observed"]
    if want["until"] is not UNSET:
        assert ev.observe_until_ts == want["until"]


# --- scale_out --------------------------------------------------------------------------------

SCALE_OUT = [
    pytest.param(OUT_12M, recorded([(-10, 1), (0, 1), (60, 2), (300, 3), (552, 4), (600, 4)]), True,
                 expect("PASS", "reached 4 instances 9m12s after load_start (window 12m)", observed=552),
                 id="pass"),
    pytest.param(OUT_12M, recorded([(0, 1), (400, 4)]), True,
                 expect("PASS", "reached 4 instances 6m40s", observed=400),
                 id="pass-despite-gap-the-hit-proves-it"),
    pytest.param(OUT_12M, recorded([*every(0, 690, 2), (720, 4)]), True,
                 expect("PASS", "12m after load_start", observed=720), id="pass-exactly-at-window-end"),
    pytest.param(OUT_12M, recorded([(-10, 4), (5, 4)]), True,
                 expect("PASS", "already 4 instances at load_start", observed=5), id="pass-already-there"),
    pytest.param({**OUT_12M, "to": 2}, recorded([(0, 1), (60, 3)]), False,
                 expect("PASS", "reached 3 instances", observed=60), id="pass-decided-mid-run"),
    pytest.param(OUT_12M, recorded(every(0, 900, 2)), True,
                 expect("FAIL", "did not reach 4 instances in time: 2 instances 12m after load_start",
                        observed=None), id="fail-deadline"),
    pytest.param(OUT_12M, recorded([*every(0, 690, 3), (750, 3), (780, 4)]), True,
                 expect("FAIL", "reached 4 instances 13m after load_start", observed=780),
                 id="fail-reached-later"),
    pytest.param(OUT_12M, recorded([*every(0, 700, 3, step=20), (740, 4)]), True,
                 expect("FAIL", "reached 4 instances only 12m20s after load_start, after the window",
                        observed=740), id="fail-late-within-sample-gap"),
    pytest.param(OUT_12M, recorded(every(0, 900, 2)), False,
                 expect("FAIL", "did not reach", until=None), id="fail-decided-mid-run"),
    pytest.param(OUT_12M, recorded([(-600, 1), *every(30, 750, 1)]), True,
                 expect("FAIL", "did not reach"), id="fail-gap-before-trigger-does-not-count"),
    pytest.param({**OUT_12M, "to": 5}, recorded([], load_start=None), False,
                 expect("FAIL", "impossible: cannot reach 5 instances, MaxCapacity is 4"),
                 id="fail-impossible-above-max-capacity"),
    pytest.param(OUT_12M, recorded([*every(0, 600, 3), (800, 4)]), True,
                 expect("INCONCLUSIVE", "no sample between 10m and 13m20s after load_start (3m20s > "
                        "max_sample_gap 1m)", observed=800), id="inconclusive-gap-straddles-window-end"),
    pytest.param(OUT_12M, recorded([*every(0, 60, 1), *every(400, 780, 1)]), True,
                 expect("INCONCLUSIVE", "no sample between 1m and 6m40s"), id="inconclusive-gap-in-window"),
    pytest.param(OUT_12M, recorded([*every(0, 60, 1), (90, None), (120, None), *every(150, 780, 1)]), True,
                 expect("INCONCLUSIVE", "no sample between 1m and 2m30s", observed=None),
                 id="inconclusive-samples-without-count-are-gaps"),
    pytest.param(OUT_12M, recorded([(0, 1), (60, 2), (300, 3)]), True,
                 expect("INCONCLUSIVE", "samples end 5m after load_start with 3 instances, before the "
                        "window end (window 12m)"), id="inconclusive-data-ends-early"),
    pytest.param(OUT_12M, recorded([]), True,
                 expect("INCONCLUSIVE", "no DescribeEndpoint sample"), id="inconclusive-no-samples"),
    pytest.param(OUT_12M, recorded([(0, 1), (300, 3)]), False,
                 expect("INCONCLUSIVE", "waiting to reach 4 instances until 12m after load_start; "
                        "last seen 3", pending=True, until=780), id="pending-window-open"),
    pytest.param(OUT_12M, recorded([(0, 1)], load_start=None, load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_start", pending=True, until=None),
                 id="pending-load-not-started"),
    pytest.param(OUT_12M, recorded([(0, 1)], load_start=None, load_end=None), True,
                 expect("INCONCLUSIVE", "load never started"), id="inconclusive-load-never-started"),
]


@pytest.mark.parametrize(("exp", "rec", "final", "want"), SCALE_OUT)
def test_scale_out(exp: dict[str, Any], rec: Recorded, final: bool, want: dict[str, Any]) -> None:
    verdict, ev = one(exp, rec, final)
    assert_outcome(verdict, ev, want)


# --- stage anchors ----------------------------------------------------------------------------

STRESS = {**OUT_12M, "within": "5m", "after": "stage:stress"}  # stress starts at 100: window [100, 400]

STAGE_ANCHORS = [
    pytest.param(STRESS, recorded(every(0, 300, 1) + [(310, 4)]), True,
                 expect("PASS", "reached 4 instances 3m30s after stage:stress (window 5m)", observed=310),
                 id="pass-after-stage-start"),
    pytest.param(STRESS, recorded(every(0, 420, 2, step=20)), True,
                 expect("FAIL", "2 instances 5m after stage:stress"), id="fail-after-stage-start"),
    pytest.param(STRESS, recorded(every(0, 60, 1), stages=STAGES[:1], load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for stage:stress", pending=True, until=None),
                 id="pending-stage-not-started"),
    pytest.param(STRESS, recorded(every(0, 60, 1), stages=STAGES[:1]), True,
                 expect("INCONCLUSIVE", "stage stress never started"), id="inconclusive-stage-never-started"),
]


@pytest.mark.parametrize(("exp", "rec", "final", "want"), STAGE_ANCHORS)
def test_stage_anchor(exp: dict[str, Any], rec: Recorded, final: bool, want: dict[str, Any]) -> None:
    verdict, ev = one(exp, rec, final)
    assert_outcome(verdict, ev, want)
    assert verdict.trigger_ts == (100 if "stress" in {s.name for s in rec.run.stages} else None)


# --- scale_in ---------------------------------------------------------------------------------

SCALE_IN = [
    pytest.param(IN_25M, recorded([(0, 1), (120, 4), *every(250, 1050, 4), (1090, 2), (1110, 1)]), True,
                 expect("PASS", "scaled in to 1 instance 14m20s after load_end (window 25m)", observed=1110),
                 id="pass"),
    pytest.param(IN_25M, recorded([(0, 1), (60, 3), (200, 1), (250, 1), (260, 1)]), True,
                 expect("PASS", "already 1 instance at load_end", observed=250),
                 id="pass-already-down-after-scaling-up"),
    pytest.param(IN_25M, recorded(every(0, 1800, 4)), True,
                 expect("FAIL", "did not scale in to 1 instance in time: 4 instances 25m20s after load_end"),
                 id="fail-deadline"),
    pytest.param({**IN_25M, "to": 0}, recorded([]), True,
                 expect("FAIL", "impossible: cannot go down to 0 instances, MinCapacity is 1"),
                 id="fail-impossible-below-min-capacity"),
    pytest.param(IN_25M, recorded(every(0, 1800, 1)), True,
                 expect("INCONCLUSIVE", "never scaled above 1 instance by the window end, "
                        "nothing to scale in"),
                 id="inconclusive-never-scaled-up"),
    pytest.param(IN_25M, recorded(every(0, 1800, 1)), False,
                 expect("INCONCLUSIVE", "nothing to scale in"), id="never-scaled-up-decided-after-window"),
    pytest.param(IN_25M, recorded(every(0, 600, 1)), False,
                 expect("INCONCLUSIVE", "waiting to scale in to 1 instance (never above it yet)",
                        pending=True, until=1810), id="pending-never-scaled-up-yet"),
    pytest.param(IN_25M, recorded(every(0, 600, 1)), True,
                 expect("INCONCLUSIVE", "never scaled above 1 instance, nothing to scale in"),
                 id="inconclusive-never-scaled-up-data-ends-early"),
    pytest.param(IN_25M, recorded([(-100, 4), (-50, 1), *every(0, 1800, 1)]), True,
                 expect("INCONCLUSIVE", "nothing to scale in"),
                 id="capacity-before-load-start-does-not-count"),
    pytest.param(IN_25M, recorded([(0, 1), (120, 4), *every(250, 900, 4)]), False,
                 expect("INCONCLUSIVE", "waiting to scale in to 1 instance until 25m after load_end",
                        pending=True, until=1810), id="pending-still-high"),
    pytest.param(IN_25M, recorded([(0, 1), (120, 4)], load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_end", pending=True, until=None),
                 id="pending-load-not-ended"),
    pytest.param(IN_25M, recorded([(0, 1), (120, 4)], load_end=None), True,
                 expect("INCONCLUSIVE", "load never ended"), id="inconclusive-load-never-ended"),
    pytest.param(IN_25M, recorded([(0, 1), (120, 4), *every(250, 700, 4), *every(1200, 1800, 4)]), True,
                 expect("INCONCLUSIVE", "no sample between 7m30s and 15m50s after load_end "
                        "(8m20s > max_sample_gap 1m)"),
                 id="inconclusive-gap-in-window"),
]


@pytest.mark.parametrize(("exp", "rec", "final", "want"), SCALE_IN)
def test_scale_in(exp: dict[str, Any], rec: Recorded, final: bool, want: dict[str, Any]) -> None:
    verdict, ev = one(exp, rec, final)
    assert_outcome(verdict, ev, want)


# --- error_rate -------------------------------------------------------------------------------

ERR_1PCT = {"type": "error_rate", "max": 0.01}
# warm: 1000 requests, 20 failed (2%); stress: 1500 requests, none failed.
BY_STAGE = [*(interval(t, 100, 20 if t == 0 else 0, "warm") for t in range(0, 100, 10)),
            *(interval(t, 100, 0, "stress") for t in range(100, 250, 10))]

ERROR_RATE = [
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 1 if t == 0 else 0) for t in range(0, 250, 10)]),
                 True, expect("PASS", "0.04% of requests failed (1 of 2500), within max 1%"), id="pass"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 4) for t in range(0, 250, 10)]), True,
                 expect("FAIL", "4% of requests failed (100 of 2500), above max 1%"), id="fail"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 1) for t in range(0, 250, 10)]), True,
                 expect("PASS", "1% of requests failed"), id="pass-exactly-at-max"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 0, 0) for t in range(0, 250, 10)]), True,
                 expect("INCONCLUSIVE", "no requests recorded"), id="inconclusive-no-requests"),
    pytest.param({**ERR_1PCT, "stage": "stress"}, recorded(load=BY_STAGE), True,
                 expect("PASS", "0% of requests failed in stage stress (0 of 1500)"), id="pass-in-stage"),
    pytest.param({**ERR_1PCT, "stage": "warm"}, recorded(load=BY_STAGE), True,
                 expect("FAIL", "2% of requests failed in stage warm (20 of 1000)"), id="fail-in-stage"),
    pytest.param({**ERR_1PCT, "stage": "stress"}, recorded(load=BY_STAGE[:10]), True,
                 expect("INCONCLUSIVE", "no requests recorded in stage stress"),
                 id="inconclusive-stage-empty"),
    pytest.param(ERR_1PCT, recorded(load=BY_STAGE[:5], load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for the load to end", pending=True, until=None),
                 id="pending-until-load-ends"),
    pytest.param(ERR_1PCT, recorded(load=BY_STAGE), False,
                 expect("PASS", "0.8% of requests failed (20 of 2500)"), id="decided-once-load-ended"),
    pytest.param(ERR_1PCT, recorded(load=BY_STAGE[:5], load_end=None), True,
                 expect("FAIL", "4% of requests failed (20 of 500)"),
                 id="aborted-run-decided-on-what-there-is"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 0) for t in (0, 10, 20, 30, 40, 50, 200, 240)]),
                 True, expect("INCONCLUSIVE", "load records missing for 2m20s"),
                 id="inconclusive-hole-in-load"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 0) for t in range(0, 100, 10)]), False,
                 expect("INCONCLUSIVE", "waiting for the load records up to its end", pending=True),
                 id="pending-trailing-load-records"),
    pytest.param(ERR_1PCT, recorded(load=[interval(t, 100, 0) for t in range(0, 100, 10)]), True,
                 expect("INCONCLUSIVE", "load records missing for 2m30s"),
                 id="inconclusive-load-records-end-early"),
]


@pytest.mark.parametrize(("exp", "rec", "final", "want"), ERROR_RATE)
def test_error_rate(exp: dict[str, Any], rec: Recorded, final: bool, want: dict[str, Any]) -> None:
    verdict, ev = one(exp, rec, final)
    assert_outcome(verdict, ev, want)


# --- evidence, whole evaluation, exit codes ---------------------------------------------------


def test_pass_carries_its_evidence() -> None:
    verdict, _ = one(OUT_12M, recorded([(0, 1), (300, 3), (552, 4)]))
    assert verdict.source == "scale_out: to 4 within 12m after load_start"
    assert (verdict.name, verdict.kind) == ("scale_out to 4", "scale_out")
    assert (verdict.trigger_ts, verdict.window_start_ts, verdict.window_end_ts, verdict.observed_ts) == (
        0, 0, 720, 552)
    assert verdict.details["previous_sample_ts"] == 300
    assert verdict.details["observed_sample_ts"] == 552
    assert verdict.details["observed_until_ts"] == 552


def test_fail_carries_the_sample_that_decided_it() -> None:
    verdict, _ = one(OUT_12M, recorded(every(0, 900, 2)))
    assert verdict.details["window_end_sample_ts"] == 720
    assert verdict.details["window_end_instances"] == 2


def test_evaluation_keeps_profile_order_and_observes_until_the_latest_pending_window() -> None:
    profile = make_profile({**OUT_12M, "name": "out"}, {**IN_25M, "name": "in"}, ERR_1PCT,
                           {**OUT_12M, "to": 2, "name": "early"})
    rec = recorded([(0, 1), (60, 3), (300, 4)], load=[interval(t, 10, 0) for t in range(0, 250, 10)])
    ev = evaluate(rec, profile, final=False)
    assert [v.name for v in ev.verdicts] == ["out", "in", "error_rate <= 0.01", "early"]
    assert [v.status for v in ev.verdicts] == ["PASS", "INCONCLUSIVE", "PASS", "PASS"]
    assert ev.pending == {"in"}
    assert ev.observe_until_ts == 250 + 1500 + 60

    final = evaluate(rec, profile, final=True)
    assert final.pending == frozenset() and final.observe_until_ts is None
    assert "samples end" in final.verdicts[1].summary


def test_no_expectations() -> None:
    ev = evaluate(recorded([]), make_profile(), final=True)
    assert ev == Evaluation([], frozenset(), None)
    assert exit_code(ev.verdicts) == exitcodes.OK


def _v(status: str) -> Verdict:
    return Verdict(name=status, kind="scale_out", status=status, summary="")  # type: ignore[arg-type]


@pytest.mark.parametrize(("statuses", "code"), [
    pytest.param([], 0, id="none"),
    pytest.param(["PASS"], 0, id="pass"),
    pytest.param(["PASS", "PASS"], 0, id="all-pass"),
    pytest.param(["PASS", "FAIL"], 99, id="any-fail"),
    pytest.param(["PASS", "INCONCLUSIVE"], 100, id="any-inconclusive"),
    pytest.param(["INCONCLUSIVE", "FAIL"], 99, id="fail-beats-inconclusive"),
])
def test_exit_code(statuses: list[str], code: int) -> None:
    assert exit_code([_v(s) for s in statuses]) == code


def test_exit_code_numbers_match_the_design() -> None:
    assert (exitcodes.OK, exitcodes.FAILED, exitcodes.INCONCLUSIVE, exitcodes.INVALID_RUN,
            exitcodes.INVALID_CONFIG, exitcodes.INFRASTRUCTURE) == (0, 99, 100, 101, 104, 105)


@pytest.mark.parametrize(("exp", "text"), [
    pytest.param(OUT_12M, "scale_out: to 4 within 12m after load_start", id="scale_out"),
    pytest.param(IN_25M, "scale_in: to 1 within 25m after load_end", id="scale_in-default-anchor"),
    pytest.param(STRESS, "scale_out: to 4 within 5m after stage:stress", id="stage-anchor"),
    pytest.param({**ERR_1PCT, "stage": "warm"}, "error_rate: max 0.01 in stage warm", id="error_rate"),
])
def test_source_text(exp: dict[str, Any], text: str) -> None:
    assert source_text(make_profile(exp).expectations[0]) == text


@pytest.mark.parametrize(("seconds", "text"), [
    pytest.param(0, "0s", id="zero"), pytest.param(12.5, "12.5s", id="fraction"),
    pytest.param(552, "9m12s", id="minutes"), pytest.param(720, "12m", id="whole-minutes"),
    pytest.param(5400, "1h30m", id="hours"), pytest.param(-30, "-30s", id="negative"),
])
def test_format_span(seconds: float, text: str) -> None:
    assert format_span(seconds) == text


@pytest.mark.parametrize(("errors", "requests", "refused"), [
    pytest.param({"UnrecognizedClientException": 60}, 100, True, id="most-requests-refused-credentials"),
    pytest.param({"InvalidSignatureException": 50}, 100, True, id="half-is-enough"),
    pytest.param({"UnrecognizedClientException": 49}, 100, False, id="under-half-is-the-endpoints-business"),
    pytest.param({"ModelError": 100}, 100, False, id="endpoint-errors-are-not-credentials"),
    pytest.param({}, 0, False, id="no-load"),
])
def test_a_load_refused_for_its_credentials_is_an_infrastructure_failure(errors: dict[str, int], requests: int,
                                                                         refused: bool) -> None:
    from harness.checks import credentials_refused
    from harness.record import LoadInterval, Recorded

    load = [LoadInterval(ts=0.0, interval_s=10.0, offered_rps=requests / 10, achieved_rps=requests / 10,
                         requests=requests, failures=sum(errors.values()), users=1, errors=errors)] if requests else []
    recorded = Recorded(path=None, run=None, load=load)  # type: ignore[arg-type]
    reason = credentials_refused(recorded)
    assert (reason is not None) == refused
    if refused:
        assert next(iter(errors)) in reason and "--worker" in reason
