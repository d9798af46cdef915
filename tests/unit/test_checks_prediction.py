"""harness.checks.prediction: compare_capacity, agrees_with_prediction and `within: auto` windows.

Times are endpoint seconds; the load runs 0-250. The prediction: 1 instance at load start, 1 → 4
InService at 340, 4 → 1 at 610. Samples are ``(ts, current_instances)`` every 10 s unless a case
says otherwise.
"""

from __future__ import annotations

from typing import Any

from harness.checks import evaluate
from harness.checks.prediction import compare_capacity, derive_prediction
from harness.profile import Profile, parse_profile
from harness.record import PredictedChange, PredictionInfo, Recorded, Verdict
from tests.fixtures_runs import in_memory

CHANGES = [PredictedChange(start_ts=220, end_ts=340, from_count=1, to_count=4),
           PredictedChange(start_ts=580, end_ts=610, from_count=4, to_count=1)]
AGREE: dict[str, Any] = {"type": "agrees_with_prediction", "tolerance": "1m"}


def curve(*steps: tuple[float, int], start: float = -30, stop: float = 900, step: float = 10,
          skip: tuple[float, float] | None = None) -> list[tuple[float, int]]:
    """Samples every ``step`` s of a step curve: ``steps`` = (from ts, count) in order; ``skip``: no
    samples strictly inside that interval."""
    out, ts = [], start
    while ts <= stop:
        n = [c for t, c in steps if t <= ts][-1]
        if skip is None or not skip[0] < ts < skip[1]:
            out.append((ts, n))
        ts += step
    return out


AS_PREDICTED = curve((-30, 1), (340, 4), (610, 1))


def make_profile(*expectations: dict[str, Any], prediction: dict[str, Any] | None = None) -> Profile:
    data: dict[str, Any] = {
        "name": "t",
        "endpoint": {"name": "ep", "initial_instance_count": 1},
        "scaling": {"min_capacity": 1, "max_capacity": 4, "policies": [
            {"type": "target_tracking", "name": "p", "target_value": 10}]},
        "traffic": {"stages": [{"name": "stress", "duration": "250s", "rate_rps": 2}]},
        "expectations": list(expectations),
    }
    if prediction is not None:
        data["prediction"] = prediction
    return parse_profile(data)


def with_prediction(rec: Recorded, info: PredictionInfo | None, *, kind: str = "run",
                    status: str = "complete") -> Recorded:
    rec.run = rec.run.model_copy(update={"prediction": info, "kind": kind, "status": status})
    return rec


def info(changes: list[PredictedChange] = CHANGES, **kw: Any) -> PredictionInfo:
    return PredictionInfo(load_start_ts=0, tolerance_s=120, relative_tolerance=0.25, changes=changes,
                          initial_instances=1, **kw)


def agree(samples: list[tuple[float, int]], *, final: bool = True, prediction: PredictionInfo | None = None,
          exp: dict[str, Any] = AGREE, status: str = "complete", load_end: float | None = 250) -> tuple[Verdict, Any]:
    rec = with_prediction(in_memory(endpoint=samples, load_end=load_end), prediction or info(), status=status)
    ev = evaluate(rec, make_profile(exp), final=final)
    return ev.verdicts[0], ev


# --- compare_capacity -------------------------------------------------------------------------------

def test_compare_capacity_matches_each_change_in_order() -> None:
    cmp = compare_capacity(AS_PREDICTED, CHANGES, 60, since_ts=0, initial=1)
    assert [m.status for m in cmp.matches] == ["agrees", "agrees"]
    assert [m.delta_s for m in cmp.matches] == [0, 0]
    assert [(c.from_count, c.to_count) for c in cmp.observed] == [(1, 4), (4, 1)]
    assert cmp.agrees and not cmp.extra


def test_compare_capacity_accepts_samples_and_changes_in_any_shape() -> None:
    from harness.predict.simulate import CapacityChange
    from tests.fixtures_runs import endpoint_samples

    samples = [s.model_dump() for s in endpoint_samples(*AS_PREDICTED)]
    changes = [CapacityChange(220, 340, 1, 4), {"start_ts": 580, "end_ts": 610, "from_count": 4, "to_count": 1}]
    assert compare_capacity(samples, changes, 60).agrees
    assert compare_capacity(endpoint_samples(*AS_PREDICTED), changes, 60).agrees


def test_compare_capacity_within_tolerance_either_side() -> None:
    early = compare_capacity(curve((-30, 1), (290, 4), (650, 1)), CHANGES, 60, since_ts=0)
    assert [m.status for m in early.matches] == ["agrees", "agrees"]
    assert [m.delta_s for m in early.matches] == [-50, 40]


def test_compare_capacity_late_early_missing_extra() -> None:
    late = compare_capacity(curve((-30, 1), (430, 4), (610, 1)), CHANGES, 60, since_ts=0)
    assert late.matches[0].status == "late" and late.matches[0].delta_s == 90
    early = compare_capacity(curve((-30, 1), (200, 4), (610, 1)), CHANGES, 60, since_ts=0)
    assert early.matches[0].status == "early"
    missing = compare_capacity(curve((-30, 1), (340, 4)), CHANGES, 60, since_ts=0)
    assert [m.status for m in missing.matches] == ["agrees", "missing"]
    extra = compare_capacity(curve((-30, 1), (340, 4), (450, 3), (470, 4), (610, 1)), CHANGES, 60, since_ts=0)
    assert [m.status for m in extra.matches] == ["agrees", "agrees"]
    assert [(c.from_count, c.to_count, c.ts) for c in extra.extra] == [(4, 3, 450)]
    # an intermediate step the prediction does not have: 1 → 2 is extra, 2 → 4 is the match
    step = compare_capacity(curve((-30, 1), (320, 2), (350, 4), (610, 1)), CHANGES, 60, since_ts=0)
    assert [m.status for m in step.matches] == ["agrees", "agrees"]
    assert [(c.from_count, c.to_count) for c in step.extra] == [(1, 2)]


def test_compare_capacity_instance_tolerance() -> None:
    wobble = curve((-30, 1), (340, 4), (450, 3), (470, 4), (610, 1))
    assert compare_capacity(wobble, CHANGES, 60, instances=1, since_ts=0).agrees
    # reaching 3 of a predicted 4 agrees within one instance
    short = compare_capacity(curve((-30, 1), (340, 3), (610, 1)), CHANGES, 60, instances=1, since_ts=0)
    assert [m.status for m in short.matches] == ["agrees", "agrees"] and short.agrees
    assert not compare_capacity(curve((-30, 1), (340, 3), (610, 1)), CHANGES, 60, since_ts=0).agrees


def test_compare_capacity_gaps_and_unfinished_samples() -> None:
    hole = compare_capacity(curve((-30, 1), (340, 4), (610, 1), skip=(300, 420)), CHANGES, 60,
                            max_gap_s=60, since_ts=0)
    assert hole.matches[0].status == "gap" and hole.matches[0].gap == (300, 420)
    # a hole no wider than max_sample_gap is the collector's resolution: it agrees
    assert compare_capacity(curve((-30, 1), (340, 4), (610, 1), skip=(300, 350)), CHANGES, 60,
                            max_gap_s=60, since_ts=0).matches[0].status == "agrees"
    unfinished = compare_capacity(curve((-30, 1), (340, 4), stop=600), CHANGES, 60, since_ts=0)
    assert [m.status for m in unfinished.matches] == ["agrees", "not_yet"]


def test_compare_capacity_ignores_changes_before_since_and_checks_the_start() -> None:
    setup = curve((-300, 2), (-100, 1), (340, 4), (610, 1), start=-300)
    assert compare_capacity(setup, CHANGES, 60, since_ts=0, initial=1).agrees
    wrong_start = compare_capacity(curve((-30, 2), (340, 4), (610, 1)), CHANGES, 60, since_ts=0, initial=1)
    assert wrong_start.initial_mismatch and not wrong_start.agrees


# --- agrees_with_prediction ---------------------------------------------------------------------------

def test_agrees_with_prediction_passes_listing_each_change() -> None:
    v, ev = agree(AS_PREDICTED)
    assert v.status == "PASS", v.summary
    assert "1 → 4 predicted at T+5m40s seen at T+5m40s" in v.summary and "4 → 1" in v.summary
    assert v.source == "agrees_with_prediction: tolerance 1m"
    assert [m["status"] for m in v.details["matches"]] == ["agrees", "agrees"]
    assert not ev.pending


def test_agrees_with_prediction_fails_on_late_missing_and_extra_changes() -> None:
    v, _ = agree(curve((-30, 1), (430, 4), (610, 1)))
    assert v.status == "FAIL" and "1 → 4 predicted at T+5m40s seen only at T+7m10s (+1m30s" in v.summary
    v, _ = agree(curve((-30, 1), (340, 4)))
    assert v.status == "FAIL" and "4 → 1 predicted at T+10m10s not seen within ±1m" in v.summary
    v, _ = agree(curve((-30, 1), (340, 4), (450, 3), (470, 4), (610, 1)))
    assert v.status == "FAIL" and "observed change 4 → 3 at T+7m30s" in v.summary and "not in the prediction" \
        in v.summary
    v, _ = agree(curve((-30, 2), (340, 4), (610, 1)))
    assert v.status == "FAIL" and "started at 2 instances at load_start, predicted 1 instance" in v.summary


def test_agrees_with_prediction_fails_at_once_mid_run() -> None:
    v, ev = agree(curve((-30, 1), (430, 4), stop=500), final=False, status="running")
    assert v.status == "FAIL" and not ev.pending


def test_agrees_with_prediction_inconclusive_on_gaps() -> None:
    v, _ = agree(curve((-30, 1), (340, 4), (610, 1), skip=(300, 420)))
    assert v.status == "INCONCLUSIVE" and "cannot tell, no sample between T+5m and T+7m" in v.summary
    # a hole away from the predicted changes could hide an unpredicted one
    v, _ = agree(curve((-30, 1), (340, 4), (610, 1), skip=(440, 540)))
    assert v.status == "INCONCLUSIVE" and "no sample between T+7m20s and T+9m" in v.summary


def test_agrees_with_prediction_pending_until_the_last_change_is_behind() -> None:
    v, ev = agree(curve((-30, 1), (340, 4), stop=600), final=False, status="running")
    assert v.status == "INCONCLUSIVE" and "waiting" in v.summary
    assert ev.pending == {"agrees_with_prediction"} and ev.observe_until_ts == 610 + 60 + 60
    v, _ = agree(curve((-30, 1), (340, 4), stop=600))  # final
    assert v.status == "INCONCLUSIVE" and "samples end before T+11m10s" in v.summary


def test_agrees_with_prediction_without_a_prediction() -> None:
    rec = in_memory(endpoint=AS_PREDICTED)
    prof = make_profile(AGREE)
    running = with_prediction(in_memory(endpoint=AS_PREDICTED), None, status="running")
    ev = evaluate(running, prof, final=False)
    assert ev.pending == {"agrees_with_prediction"} and "waiting for the prediction" in ev.verdicts[0].summary
    v = evaluate(rec, prof, final=True).verdicts[0]
    assert v.status == "INCONCLUSIVE" and v.summary.startswith("no prediction")
    v, _ = agree(AS_PREDICTED, prediction=PredictionInfo(folder=None, error="SimulationError: boom"))
    assert v.status == "INCONCLUSIVE" and "boom" in v.summary


def test_agrees_with_prediction_without_predicted_changes() -> None:
    v, _ = agree(curve((-30, 1)), prediction=info(changes=[]))
    assert v.status == "PASS" and "no capacity change predicted" in v.summary
    v, _ = agree(curve((-30, 1), (340, 2)), prediction=info(changes=[]))
    assert v.status == "FAIL" and "observed change 1 → 2" in v.summary


# --- within: auto -------------------------------------------------------------------------------------

AUTO_OUT: dict[str, Any] = {"type": "scale_out", "to": 4, "within": "auto"}
AUTO_IN: dict[str, Any] = {"type": "scale_in", "to": 1, "within": "auto"}


def test_derive_prediction_windows_from_the_predicted_times() -> None:
    prof = make_profile(AUTO_OUT, AUTO_IN, {"type": "scale_out", "name": "fixed", "to": 4, "within": "12m"},
                        prediction={"tolerance": "2m", "relative_tolerance": 0.25})
    pred = in_memory(endpoint=AS_PREDICTED)
    got = derive_prediction(pred, prof, CHANGES)
    assert got.predicted_s == {"scale_out to 4": 340, "scale_in to 1": 610 - 250}
    assert got.windows == {"scale_out to 4": 340 * 1.25 + 120, "scale_in to 1": 360 * 1.25 + 120}
    assert got.initial_instances == 1 and got.changes == CHANGES and got.unknown == {}
    # the prediction never shows it: no window, the reason kept
    never = derive_prediction(in_memory(endpoint=curve((-30, 1))), prof)
    assert never.windows == {} and set(never.unknown) == {"scale_out to 4", "scale_in to 1"}
    assert never.changes == []


def test_auto_window_uses_the_derived_window() -> None:
    prof = make_profile(AUTO_OUT)
    got = derive_prediction(in_memory(endpoint=AS_PREDICTED), prof, CHANGES)
    within = got.windows["scale_out to 4"]  # 545 s
    ok = evaluate(with_prediction(in_memory(endpoint=curve((-30, 1), (500, 4))), got), prof, final=True).verdicts[0]
    assert ok.status == "PASS" and ok.window_end_ts == within
    assert ok.summary.endswith("[auto: predicted 5m40s + slack 3m25s]")
    assert ok.source == "scale_out: to 4 within auto after load_start"
    assert ok.details["window"] == "auto" and ok.details["predicted_s"] == 340
    late = evaluate(with_prediction(in_memory(endpoint=curve((-30, 1), (600, 4))), got), prof,
                    final=True).verdicts[0]
    assert late.status == "FAIL"


def test_auto_window_without_a_prediction() -> None:
    prof = make_profile(AUTO_OUT)
    running = with_prediction(in_memory(endpoint=AS_PREDICTED), None, status="running")
    ev = evaluate(running, prof, final=False)
    assert ev.pending == {"scale_out to 4"} and ev.observe_until_ts is None
    v = evaluate(in_memory(endpoint=AS_PREDICTED), prof, final=True).verdicts[0]
    assert v.status == "INCONCLUSIVE" and v.summary.startswith("no prediction")
    unknown = info(unknown={"scale_out to 4": "the prediction does not show it (x)"})
    v = evaluate(with_prediction(in_memory(endpoint=AS_PREDICTED), unknown), prof, final=True).verdicts[0]
    assert v.status == "INCONCLUSIVE" and v.summary == "no derived window: the prediction does not show it (x)"


def test_a_prediction_folder_is_its_own_prediction() -> None:
    prof = make_profile(AUTO_OUT, AUTO_IN, AGREE)
    rec = with_prediction(in_memory(endpoint=AS_PREDICTED), None, kind="prediction")
    assert [v.status for v in evaluate(rec, prof, final=True).verdicts] == ["PASS", "PASS", "PASS"]


def test_needs_prediction() -> None:
    assert make_profile(AUTO_OUT).needs_prediction and make_profile(AUTO_IN).needs_prediction
    assert make_profile(AGREE).needs_prediction
    assert not make_profile({"type": "scale_out", "to": 4, "within": "5m"}).needs_prediction
