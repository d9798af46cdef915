"""harness.checks: scaled_by — which policy's scaling activity set the capacity — as literal
timelines → verdicts.

Times are endpoint seconds; the load starts at 0. Default expectation: policy A sets 3 instances
within 10m after load_start (window [0, 600]). Activities are built as Application Auto Scaling
words them (``monitor alarm ... in state ALARM triggered policy A``, ``Setting desired instance count
to 3.``). The collector has observed up to the last DescribeEndpoint sample (700 unless a case says
otherwise); describe_interval 10s, so a pending check observes until 600 + 2 × 10 = 620.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harness.checks import evaluate, source_text
from harness.checks.activities import desired_of, policy_of
from harness.profile import Profile, parse_profile
from harness.record import Activity, Recorded, Verdict
from tests.fixtures_runs import activity, every, in_memory

UNSET: Any = object()
BY_A: dict[str, Any] = {"type": "scaled_by", "policy": "A", "to": 3, "within": "10m"}
ANY_A: dict[str, Any] = {"type": "scaled_by", "policy": "A", "within": "10m"}


def make_profile(*expectations: dict[str, Any]) -> Profile:
    return parse_profile({
        "name": "t",
        "endpoint": {"name": "ep", "initial_instance_count": 1},
        "scaling": {"min_capacity": 1, "max_capacity": 4, "policies": [
            {"type": "target_tracking", "name": "A", "target_value": 10},
            {"type": "step", "name": "B", "steps": [{"lower": 0, "adjustment": 2}],
             "alarm": {"name": "ModelLatency", "threshold": 500000, "comparison": "GreaterThanThreshold"}}]},
        "traffic": {"stages": [{"name": "s", "duration": "250s", "rate_rps": 1}]},
        "expectations": list(expectations),
        "collector": {"describe_interval": "10s"},
    })


def rec(*activities: Activity, observed: float | None = 700, **kw: Any) -> Recorded:
    endpoint: Sequence[tuple[float, int]] = every(0, observed, 1) if observed is not None else ()
    return in_memory(endpoint=endpoint, activities=activities, **kw)


def expect(status: str, *texts: str, pending: bool = False, observed: Any = UNSET,
           until: Any = UNSET) -> dict[str, Any]:
    return {"status": status, "texts": texts, "pending": pending, "observed": observed, "until": until}


def check(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> Verdict:
    ev = evaluate(recorded, make_profile(exp), final=final)
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


SCALED_BY = [
    pytest.param(BY_A, rec(activity(120, "A", 3)), True,
                 expect("PASS", "policy A set 3 instances 2m after load_start (window 10m)", observed=120), id="pass"),
    pytest.param(BY_A, rec(activity(120, "A", 3), observed=130), False,
                 expect("PASS", "policy A set 3 instances"), id="pass-decided-mid-run"),
    pytest.param(ANY_A, rec(activity(120, "A", 2)), True,
                 expect("PASS", "policy A set 2 instances 2m after load_start"), id="pass-any-capacity"),
    pytest.param(ANY_A, rec(activity(120, "A", None)), True,
                 expect("PASS", "policy A started a scaling activity 2m after load_start"),
                 id="pass-capacity-not-in-description"),
    pytest.param(BY_A, rec(activity(60, "A", 2), activity(200, "A", 3)), True,
                 expect("PASS", "policy A set 3 instances 3m20s after load_start", observed=200),
                 id="pass-first-activity-set-another-capacity-keep-looking"),
    pytest.param(BY_A, rec(activity(0, "A", 3)), True, expect("PASS", observed=0), id="pass-at-window-start"),
    pytest.param(BY_A, rec(activity(600, "A", 3)), True, expect("PASS", observed=600), id="pass-at-window-end"),
    pytest.param(BY_A, rec(activity(60, "A", 3, status="InProgress")), True,
                 expect("PASS", observed=60), id="pass-in-progress-activity"),
    pytest.param(BY_A, rec(activity(60, "A", 2)), True,
                 expect("FAIL", "policy A did not set 3 instances within 10m after load_start: it set 2 instances "
                        "1m after load_start", observed=None), id="fail-other-capacity"),
    pytest.param(BY_A, rec(activity(60, "B", 3)), True,
                 expect("FAIL", "no scaling activity of policy A set 3 instances within 10m after load_start; "
                        "capacity 3 was set by policy B instead, 1m after load_start"), id="fail-set-by-other-policy"),
    pytest.param(BY_A, rec(activity(60, "A", 2), activity(90, "B", 3)), True,
                 expect("FAIL", "it set 2 instances 1m after load_start; capacity 3 was set by policy B instead, "
                        "1m30s after load_start"), id="fail-conflicting-policies"),
    pytest.param(BY_A, rec(activity(60, "XA", 3)), True,
                 expect("FAIL", "capacity 3 was set by policy XA instead"), id="fail-policy-name-matched-exactly"),
    pytest.param(BY_A, rec(activity(60, None, 3, cause="minimum capacity was set to 3")), True,
                 expect("FAIL", "capacity 3 was set by an activity caused by 'minimum capacity was set to 3' instead"),
                 id="fail-set-by-a-scheduled-action"),
    pytest.param(BY_A, rec(activity(60, "A", 3, status="Failed", status_message="Failed to set desired instance "
                                    "count to 3. Reason: limit")), True,
                 expect("FAIL", "no scaling activity of policy A set 3 instances", "its activity 1m after load_start "
                        "did not scale (Failed: Failed to set desired instance count to 3. Reason: limit)"),
                 id="fail-activity-failed"),
    pytest.param(BY_A, rec(activity(-10, "A", 3), activity(601, "A", 3)), True,
                 expect("FAIL", "no scaling activity of policy A set 3 instances"), id="fail-outside-the-window"),
    pytest.param(ANY_A, rec(activity(60, "B", 3)), True,
                 expect("FAIL", "no scaling activity triggered by policy A within 10m after load_start; the window "
                        "saw activities of policy B"), id="fail-any-capacity"),
    pytest.param(ANY_A, rec(observed=630), False,
                 expect("FAIL", "no scaling activity triggered by policy A"), id="fail-decided-mid-run"),
    pytest.param({**BY_A, "to": 5}, rec(), False,
                 expect("FAIL", "impossible: cannot set 5 instances, MaxCapacity is 4 (scaling.max_capacity)"),
                 id="fail-impossible-above-max-capacity"),
    pytest.param({**BY_A, "to": 0}, rec(), False,
                 expect("FAIL", "impossible: cannot set 0 instances, MinCapacity is 1"),
                 id="fail-impossible-below-min-capacity"),
    pytest.param(BY_A, rec(observed=300), False,
                 expect("INCONCLUSIVE", "waiting for a scaling activity of policy A until 10m after load_start",
                        pending=True, until=620), id="pending-window-open"),
    pytest.param(BY_A, rec(activity(60, "A", 2), observed=610), False,
                 expect("INCONCLUSIVE", "so far it set 2 instances 1m after load_start", pending=True, until=620),
                 id="pending-until-the-activities-poll-after-the-window"),
    pytest.param(BY_A, rec(observed=300), True,
                 expect("INCONCLUSIVE", "scaling activities observed only up to 5m after load_start, before the "
                        "window end (window 10m)"), id="inconclusive-observation-ended-early"),
    pytest.param(BY_A, rec(observed=None), True,
                 expect("INCONCLUSIVE", "nothing shows the scaling activities were polled"),
                 id="inconclusive-nothing-observed"),
    pytest.param(BY_A, rec(observed=None, load_start=None, load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_start", pending=True, until=None),
                 id="pending-load-not-started"),
    pytest.param({**BY_A, "after": "stage:s"}, rec(), True,
                 expect("INCONCLUSIVE", "stage s never started"), id="inconclusive-anchor-never-came"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), SCALED_BY)
def test_scaled_by(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


def test_scaled_by_evidence() -> None:
    verdict = check(BY_A, rec(activity(60, "A", 2, activity_id="a1"), activity(90, "B", 3, activity_id="b1")),
                    True, expect("FAIL"))
    assert verdict.details["instead_activity_id"] == "b1"
    assert [(a["activity_id"], a["policy"], a["desired"]) for a in verdict.details["activities"]] == [
        ("a1", "A", 2), ("b1", "B", 3)]


@pytest.mark.parametrize(("cause", "policy"), [
    pytest.param("monitor alarm TargetTracking-endpoint/ep/variant/AllTraffic-AlarmHigh-3f6b in state ALARM "
                 "triggered policy A", "A", id="target-tracking"),
    pytest.param("monitor alarm wake-alarm in state ALARM triggered policy scale from zero", "scale from zero",
                 id="name-with-spaces"),
    pytest.param("monitor alarm x in state ALARM triggered policy A ", "A", id="trailing-space"),
    pytest.param("minimum capacity was set to 3", None, id="scheduled-action"),
    pytest.param("monitor alarm x in state OK triggered policy A", None, id="not-in-alarm"),
])
def test_policy_of(cause: str, policy: str | None) -> None:
    assert policy_of(activity(0, None, 1, cause=cause)) == policy


def test_desired_of() -> None:
    assert desired_of(activity(0, "A", 48)) == 48
    assert desired_of(activity(0, "A", None)) is None


@pytest.mark.parametrize(("exp", "text"), [
    pytest.param(BY_A, "scaled_by: policy A to 3 within 10m after load_start", id="to"),
    pytest.param({**ANY_A, "after": "load_end"}, "scaled_by: policy A within 10m after load_end", id="any"),
])
def test_source_text(exp: dict[str, Any], text: str) -> None:
    assert source_text(make_profile(exp).expectations[0]) == text
