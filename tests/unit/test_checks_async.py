"""harness.checks on async endpoints: the first_request and backlog_empty anchors, scale_from_zero,
scale_to_zero and backlog_drained, as literal timelines → verdicts.

Times are endpoint seconds; the load runs 0–250 and its first request goes out at 2 unless a case
says otherwise. Samples are ``(ts, current_instances)``; backlog datapoints are ApproximateBacklogSize
Maximum values per minute from ts 0 (``None`` = a missing datapoint). Profile: MinCapacity 0,
MaxCapacity 4, max_sample_gap 60s, metrics_interval 60s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harness.checks import Evaluation, evaluate, source_text
from harness.checks.backlog import METRIC_LAG_PERIODS, publication_allowance_s
from harness.profile import Profile, parse_profile
from harness.record import MetricPoint, Recorded, Verdict
from tests.fixtures_runs import Sample, activity, every, in_memory, metric_points

UNSET: Any = object()
FROM_ZERO: dict[str, Any] = {"type": "scale_from_zero", "within": "10m"}  # after first_request=2: [2, 602]
TO_ZERO: dict[str, Any] = {"type": "scale_to_zero", "within": "10m"}  # after backlog_empty
DRAINED: dict[str, Any] = {"type": "backlog_drained", "within": "5m"}  # after load_end=250: [250, 550]
# Backlog that grows, then comes back to 0 in the period starting at 300: backlog_empty = 300.
GROWS_AND_EMPTIES = (0, 5, 12, 8, 3, 0, 0, 0)


def async_profile(*expectations: dict[str, Any], gap: str = "60s", metrics_interval: str = "60s") -> Profile:
    return parse_profile({
        "name": "a",
        "endpoint": {"name": "ep", "type": "async", "initial_instance_count": 1},
        "scaling": {"min_capacity": 0, "max_capacity": 4, "policies": [
            {"type": "target_tracking", "name": "per-instance", "target_value": 5,
             "custom_metric": {"name": "ApproximateBacklogSizePerInstance"}},
            {"type": "step", "name": "wake", "steps": [{"lower": 0, "adjustment": 1}],
             "alarm": {"name": "HasBacklogWithoutCapacity", "threshold": 1,
                       "comparison": "GreaterThanOrEqualToThreshold"}}]},
        "traffic": {"stages": [{"name": "burst", "duration": "250s", "rate_rps": 2}]},
        "expectations": list(expectations),
        "collector": {"max_sample_gap": gap, "metrics_interval": metrics_interval},
    })


def backlog(*values: float | None, stat: str = "Maximum", **kw: Any) -> list[MetricPoint]:
    return metric_points("ApproximateBacklogSize", values, stat=stat, **kw)


def rec(endpoint: Sequence[Sample] = (), metrics: Sequence[MetricPoint] = (), first_request: float | None = 2,
        **kw: Any) -> Recorded:
    return in_memory(endpoint=endpoint, metrics=metrics, first_request=first_request, **kw)


def expect(status: str, *texts: str, pending: bool = False, observed: Any = UNSET, until: Any = UNSET,
           trigger: Any = UNSET, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a case wants: the status, words of the summary, and optionally the evidence; ``profile``:
    keyword arguments of :func:`async_profile`."""
    return {"status": status, "texts": texts, "pending": pending, "observed": observed, "until": until,
            "trigger": trigger, "profile": profile or {}}


def check(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> Verdict:
    ev: Evaluation = evaluate(recorded, async_profile(exp, **want["profile"]), final=final)
    (verdict,) = ev.verdicts
    assert verdict.status == want["status"], verdict.summary
    for text in want["texts"]:
        assert text in verdict.summary
    assert (verdict.name in ev.pending) is want["pending"], verdict.summary
    for key, attr in (("observed", verdict.observed_ts), ("until", ev.observe_until_ts),
                      ("trigger", verdict.trigger_ts)):
        if want[key] is not UNSET:
            assert attr == want[key], key
    return verdict


ZEROS = every(-30, 240, 0)  # at zero from before the first request

# --- scale_from_zero --------------------------------------------------------------------------

SCALE_FROM_ZERO = [
    pytest.param(FROM_ZERO, rec([*ZEROS, (270, 1)]), True,
                 expect("PASS", "reached 1 instance 4m28s after first_request (window 10m)", observed=270,
                        trigger=2), id="pass"),
    pytest.param(FROM_ZERO, rec([*ZEROS, (270, 1)]), False,
                 expect("PASS", "reached 1 instance"), id="pass-decided-mid-run"),
    pytest.param(FROM_ZERO, rec([(-10, 0), (400, 2)]), True,
                 expect("PASS", "reached 2 instances 6m38s after first_request"), id="pass-despite-gap"),
    pytest.param(FROM_ZERO, rec([(-10, 1), (30, 1), (60, 2)]), True,
                 expect("INCONCLUSIVE", "was not at zero: 1 instance at first_request"),
                 id="inconclusive-not-at-zero"),
    pytest.param(FROM_ZERO, rec([(-10, 1), (30, 1)]), False,
                 expect("INCONCLUSIVE", "was not at zero"), id="not-at-zero-decided-mid-run"),
    pytest.param(FROM_ZERO, rec([(2, 2), (30, 2)]), True,
                 expect("INCONCLUSIVE", "was not at zero: 2 instances at first_request"),
                 id="inconclusive-sample-at-the-trigger-counts"),
    pytest.param(FROM_ZERO, rec([(30, 0), (60, 1)]), True,
                 expect("INCONCLUSIVE", "no DescribeEndpoint sample at or before first_request"),
                 id="inconclusive-no-sample-before-the-first-request"),
    pytest.param(FROM_ZERO, rec([(-100, 0), (30, 0), (60, 1)]), True,
                 expect("INCONCLUSIVE", "the last sample before first_request was taken 1m42s before it"),
                 id="inconclusive-zero-sample-too-old"),
    pytest.param(FROM_ZERO, rec(every(-30, 700, 0)), True,
                 expect("FAIL", "did not reach 1 instance in time: 0 instances 10m28s after first_request"),
                 id="fail-deadline"),
    pytest.param(FROM_ZERO, rec([*every(-30, 600, 0), (630, 1)]), True,
                 expect("FAIL", "reached 1 instance only 10m28s after first_request, after the window"),
                 id="fail-late-within-sample-gap"),
    pytest.param(FROM_ZERO, rec([*every(-30, 60, 0), *every(300, 700, 0)]), True,
                 expect("INCONCLUSIVE", "no sample between 58s and 4m58s after first_request"),
                 id="inconclusive-gap-in-window"),
    pytest.param(FROM_ZERO, rec(every(-30, 300, 0)), False,
                 expect("INCONCLUSIVE", "waiting to reach 1 instance until 10m after first_request; last seen "
                        "0 instances", pending=True, until=662), id="pending-window-open"),
    pytest.param(FROM_ZERO, rec(every(-30, 300, 0)), True,
                 expect("INCONCLUSIVE", "samples end 4m58s after first_request with 0 instances"),
                 id="inconclusive-data-ends-early"),
    pytest.param(FROM_ZERO, rec(ZEROS, first_request=None, load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for first_request", pending=True, until=None),
                 id="pending-no-request-yet"),
    pytest.param(FROM_ZERO, rec(ZEROS, first_request=None), True,
                 expect("INCONCLUSIVE", "no request was sent"), id="inconclusive-no-request-sent"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), SCALE_FROM_ZERO)
def test_scale_from_zero(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


def test_scale_from_zero_carries_the_zero_sample() -> None:
    verdict = check(FROM_ZERO, rec([*ZEROS, (270, 1)]), True, expect("PASS"))
    assert (verdict.details["start_sample_ts"], verdict.details["start_instances"]) == (0, 0)
    assert (verdict.window_start_ts, verdict.window_end_ts) == (2, 602)


# --- backlog_empty anchor / scale_to_zero ---------------------------------------------------------

UP = [(-30, 0), (0, 0), *every(30, 570, 2)]  # two instances from 30 s on

SCALE_TO_ZERO = [
    pytest.param(TO_ZERO, rec([*UP, (600, 1), (630, 0)], backlog(*GROWS_AND_EMPTIES)), True,
                 expect("PASS", "scaled in to 0 instances 5m30s after backlog_empty (window 10m)", observed=630,
                        trigger=300), id="pass"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], backlog(*GROWS_AND_EMPTIES, stat="Average")), True,
                 expect("PASS", "after backlog_empty", trigger=300), id="pass-on-average-without-maximum"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], [*backlog(*GROWS_AND_EMPTIES),
                                                *backlog(0, 5, 0, stat="Average")]), True,
                 expect("PASS", "5m30s after backlog_empty", trigger=300), id="maximum-preferred-over-average"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], [*backlog(*GROWS_AND_EMPTIES),
                                                *backlog(0, 5, 0, dims={"EndpointName": "ep",
                                                                        "VariantName": "AllTraffic"})]), True,
                 expect("PASS", trigger=300), id="endpoint-only-dims-preferred"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], [*backlog(*GROWS_AND_EMPTIES),
                                                *backlog(0, 5, 0, dims={"EndpointName": "other"})]), True,
                 expect("PASS", trigger=300), id="other-endpoints-ignored"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], backlog(5, 0, 12, 3, 0)), True,
                 expect("PASS", trigger=60), id="first-zero-after-growth"),
    pytest.param(TO_ZERO, rec([*UP, (630, 0)], backlog(0, 5, 12, 8, None, 0)), True,
                 expect("PASS", trigger=300), id="one-missing-datapoint-tolerated"),
    pytest.param(TO_ZERO, rec(every(-30, 1000, 2), backlog(*GROWS_AND_EMPTIES)), True,
                 expect("FAIL", "did not scale in to 0 instances in time: 2 instances 10m after backlog_empty"),
                 id="fail-deadline"),
    pytest.param(TO_ZERO, rec(every(-30, 1000, 0), backlog(*GROWS_AND_EMPTIES)), True,
                 expect("INCONCLUSIVE", "never scaled above 0 instances by the window end, nothing to scale in"),
                 id="inconclusive-never-above-zero"),
    pytest.param(TO_ZERO, rec(every(-30, 600, 2), backlog(*GROWS_AND_EMPTIES)), False,
                 expect("INCONCLUSIVE", "waiting to scale in to 0 instances until 10m after backlog_empty",
                        pending=True, until=960), id="pending-window-open"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(0, 5, 12)), False,
                 expect("INCONCLUSIVE", "waiting for backlog_empty (backlog 12)", pending=True, until=None),
                 id="pending-backlog-not-empty-yet"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(0, 5, 12, 8, 3)), True,
                 expect("INCONCLUSIVE", "backlog never emptied: ApproximateBacklogSize 3 in the period from "
                        "4m after load_start"), id="inconclusive-backlog-never-emptied"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(0, 0, 0)), False,
                 expect("INCONCLUSIVE", "waiting for backlog_empty (backlog never grew yet)", pending=True),
                 id="pending-backlog-not-grown-yet"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(0, 0, 0, 0, 0, 0)), False,
                 expect("INCONCLUSIVE", "backlog never grew: ApproximateBacklogSize stayed 0 up to 5m after "
                        "load_start"), id="never-grew-settled-after-load-end"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(0, 0, 0)), True,
                 expect("INCONCLUSIVE", "backlog never grew"), id="inconclusive-backlog-never-grew"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2), backlog(5, 0, 0, 0, start=-120)), True,
                 expect("INCONCLUSIVE", "backlog never grew"), id="growth-before-load-start-does-not-count"),
    pytest.param(TO_ZERO, rec(every(-30, 1000, 2), backlog(0, 5, 12, None, None, 0)), False,
                 expect("INCONCLUSIVE", "cannot tell when the backlog emptied: no ApproximateBacklogSize datapoint "
                        "between 2m and 5m after load_start (3m > period 1m + max_sample_gap 1m)"),
                 id="inconclusive-gap-before-the-zero"),
    pytest.param(TO_ZERO, rec(every(-30, 300, 2)), True,
                 expect("INCONCLUSIVE", "no ApproximateBacklogSize datapoints since load_start"),
                 id="inconclusive-no-backlog-data"),
    pytest.param(TO_ZERO, rec([], load_start=None, load_end=None, first_request=None), False,
                 expect("INCONCLUSIVE", "waiting for backlog_empty (the load has not started)", pending=True),
                 id="pending-load-not-started"),
    pytest.param(TO_ZERO, rec([], load_start=None, load_end=None, first_request=None), True,
                 expect("INCONCLUSIVE", "load never started"), id="inconclusive-load-never-started"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), SCALE_TO_ZERO)
def test_scale_to_zero(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


def test_backlog_empty_evidence() -> None:
    verdict = check(TO_ZERO, rec([*UP, (630, 0)], backlog(*GROWS_AND_EMPTIES)), True, expect("PASS"))
    assert verdict.details | {"backlog_stat": "Maximum", "backlog_period_s": 60, "backlog_empty_ts": 300,
                              "backlog_before_ts": 240, "backlog_before": 3} == verdict.details


# --- backlog_drained ----------------------------------------------------------------------------

UNTIL = 550 + 4 * 60 + 60  # window end + publication allowance at period 60, metrics_interval 60
SLOW = (3, 8, 12, 10, 9, 8, 7, 6, 5, 4, 3, 0)  # zero only in the period from 660
GAPPY = (3, 8, 12, 10, 9, 7, None, None, None, 5, 4)  # nothing from 360 to 480

BACKLOG_DRAINED = [
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 6, 2, 0)), True,
                 expect("PASS", "backlog drained: ApproximateBacklogSize Maximum 0 in the period from 1m50s after "
                        "load_end (window 5m)", observed=360, trigger=250), id="pass"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 6, 2, 0)), False,
                 expect("PASS", "backlog drained"), id="pass-decided-mid-run"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 6, None, None, None, None, 0)), True,
                 expect("PASS", "0 in the period from 4m50s after load_end"), id="pass-despite-gap"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 6, 2, 0, stat="Average")), True,
                 expect("PASS", "ApproximateBacklogSize Average 0"), id="pass-on-average"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 0, 4, 4, 4, 4, 4)), True,
                 expect("FAIL", "ApproximateBacklogSize Maximum 4 in the period from 4m50s"),
                 id="zero-before-the-trigger-does-not-count"),
    pytest.param(DRAINED, rec(metrics=backlog(*SLOW)), True,
                 expect("FAIL", "backlog not drained in time: ApproximateBacklogSize Maximum 4 in the period from "
                        "4m50s after load_end (window 5m); 0 only in the period from 6m50s after load_end",
                        observed=660), id="fail-drained-later"),
    pytest.param(DRAINED, rec(metrics=backlog(*SLOW[:10])), False,
                 expect("FAIL", "backlog not drained in time", "not 0 up to the period from 4m50s"),
                 id="fail-decided-once-a-datapoint-covers-the-window-end"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 9, None, 7, 6, 5, 4)), True,
                 expect("FAIL", "Maximum 4"), id="fail-one-missing-datapoint-tolerated"),
    pytest.param(DRAINED, rec(metrics=backlog(*GAPPY)), True,
                 expect("INCONCLUSIVE", "no ApproximateBacklogSize datapoint between 50s and 4m50s after load_end "
                        "(4m > period 1m + max_sample_gap 1m)"), id="inconclusive-gap-in-window"),
    pytest.param(DRAINED, rec(metrics=backlog(9, 9, 9, 9, 9, None, None, None, 5, 4)), True,
                 expect("INCONCLUSIVE", "between 0s and 3m50s after load_end"),
                 id="inconclusive-the-trigger-is-the-left-edge"),
    pytest.param(DRAINED, rec(metrics=backlog(*GAPPY)), False,
                 expect("INCONCLUSIVE", "cannot tell whether the backlog drained", pending=True, until=UNTIL),
                 id="pending-gap-late-datapoints-may-fill-it"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 9, 7, 5, 4)), False,
                 expect("INCONCLUSIVE", "waiting for the backlog to drain until 5m after load_end; last "
                        "ApproximateBacklogSize 4 in the period from 2m50s after load_end", pending=True, until=UNTIL),
                 id="pending-window-open"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 9, 7, 5, 4)), False,
                 expect("INCONCLUSIVE", pending=True, until=550 + 4 * 60 + 120,
                        profile={"metrics_interval": "120s"}), id="allowance-includes-the-metrics-interval"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 9, 7, 5, 4)), True,
                 expect("INCONCLUSIVE", "ApproximateBacklogSize datapoints end before the window end (window 5m)"),
                 id="inconclusive-data-ends-early"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8, 12, 10, 9)), True,
                 expect("INCONCLUSIVE", "no ApproximateBacklogSize datapoints from load_end on"),
                 id="inconclusive-no-datapoints-after-the-trigger"),
    pytest.param(DRAINED, rec(metrics=backlog(3, 8), load_end=None), False,
                 expect("INCONCLUSIVE", "waiting for load_end", pending=True, until=None),
                 id="pending-load-not-ended"),
    pytest.param({**DRAINED, "after": "backlog_empty"}, rec(metrics=backlog(*GROWS_AND_EMPTIES)), True,
                 expect("PASS", "0 in the period from 0s after backlog_empty"), id="after-backlog-empty"),
]


@pytest.mark.parametrize(("exp", "recorded", "final", "want"), BACKLOG_DRAINED)
def test_backlog_drained(exp: dict[str, Any], recorded: Recorded, final: bool, want: dict[str, Any]) -> None:
    check(exp, recorded, final, want)


def test_publication_allowance() -> None:
    assert METRIC_LAG_PERIODS >= 3
    assert publication_allowance_s(60, 60) == 300
    assert publication_allowance_s(300, 60) == 1260


@pytest.mark.parametrize(("exp", "text"), [
    pytest.param(FROM_ZERO, "scale_from_zero: within 10m after first_request", id="scale_from_zero"),
    pytest.param(TO_ZERO, "scale_to_zero: within 10m after backlog_empty", id="scale_to_zero"),
    pytest.param(DRAINED, "backlog_drained: within 5m after load_end", id="backlog_drained"),
])
def test_source_text(exp: dict[str, Any], text: str) -> None:
    assert source_text(async_profile(exp).expectations[0]) == text


def test_a_whole_async_run() -> None:
    """Every new kind at once: mid-run the run observes until the latest pending window; final all PASS."""
    profile = async_profile(FROM_ZERO, TO_ZERO, DRAINED, {"type": "max_instances", "max": 2},
                            {"type": "capacity_at", "at": "load_start", "offset": "5m", "instances": 2},
                            {"type": "scaled_by", "policy": "wake", "to": 1, "within": "5m", "after": "first_request"})
    endpoint = [*every(-30, 150, 0), *every(180, 210, 1), *every(240, 510, 2), *every(540, 1000, 0)]
    metrics = backlog(0, 5, 12, 8, 3, 0, 0, 0, 0, 0)
    activities = [activity(100, "wake", 1), activity(200, "per-instance", 2), activity(500, "per-instance", 0)]
    mid = evaluate(rec([s for s in endpoint if s[0] <= 400], metrics, activities=activities), profile, final=False)
    assert {v.kind: v.status for v in mid.verdicts} == {
        "scale_from_zero": "PASS", "scale_to_zero": "INCONCLUSIVE", "backlog_drained": "PASS",
        "max_instances": "INCONCLUSIVE", "capacity_at": "PASS", "scaled_by": "PASS"}
    assert mid.pending == {"scale_to_zero", "max_instances <= 2"}
    assert mid.observe_until_ts == 300 + 600 + 60  # scale_to_zero's window end + G, not max_instances'
    final = evaluate(rec(endpoint, metrics, activities=activities, ended=1000), profile, final=True)
    assert [v.status for v in final.verdicts] == ["PASS"] * 6, [v.summary for v in final.verdicts]
    assert final.pending == frozenset()
