"""Checks: recorded run data + a profile's expectations → verdicts (PASS / FAIL / INCONCLUSIVE).

Pure: no I/O and no clock. "Now" is the data itself: a capacity check has observed the endpoint
until the ``ts`` of the latest :class:`~harness.record.EndpointSample`. All times are endpoint-time
epoch seconds (docs/architecture.md "Time"). :func:`evaluate` is called repeatedly while a run is in progress
(``final=False``) and once at the end (``final=True``); ``scalecheck check`` replays it offline.
Summaries give times as a span after the anchor ("9m12s after load_start"); ``details`` holds the
evidence (the samples, datapoints or activities that decided it). *G* is ``collector.max_sample_gap_s``.

Missing or late data is INCONCLUSIVE, never PASS. A check that is not decided yet is *pending*: its
verdict is INCONCLUSIVE with a summary saying what it waits for, and it names the endpoint time until
which the run must keep observing (``observe_until_ts``); once final, pending becomes INCONCLUSIVE.

Anchors
-------
``load_start`` / ``load_end`` = ``run.load_start_ts`` / ``run.load_end_ts``; ``first_request`` =
``run.first_request_ts`` (the load generator's first request); ``stage:<name>`` = that
:class:`~harness.record.StageSpan`'s ``start_ts``. ``backlog_empty`` = the start (``ts``) of the first
ApproximateBacklogSize datapoint equal to 0 that follows a datapoint above 0, among the datapoints
whose period ends after load start. The series is one: statistic Maximum if recorded, else Average;
EndpointName-only dimensions if recorded; the shortest period. If the datapoint before that zero is
more than period + G earlier, the backlog may have emptied in the hole: unknown for good
("cannot tell when the backlog emptied"). If no datapoint rose above 0 it is unknown ("backlog never
grew"; settled once a datapoint from load end on exists), if none came back to 0 ("backlog never
emptied") it is pending. An anchor not known yet keeps the expectation pending (until ``None``: the
run waits for the anchor); once final, or settled, it is INCONCLUSIVE with the reason ("load never
started", "stage s never started", "no request was sent", ...).

Capacity bounds
---------------
A capacity is *impossible* when it lies outside the widest bounds the profile can give the
scalable target: the lowest of ``scaling.min_capacity`` and every scheduled action's min_capacity,
the highest of ``scaling.max_capacity`` and every scheduled action's max_capacity (scheduled actions
move min/max during the run). Impossible expectations FAIL at once, naming the profile field.

Window checks (``scale_out`` / ``scale_in`` / ``scale_from_zero`` / ``scale_to_zero``)
-----------------------------------------------------------------------------------
They use DescribeEndpoint samples that carry a ``current_instances`` (samples without one are
ignored and so widen the gaps around them). The window is ``[trigger, trigger + within]``.
``scale_from_zero`` is a scale-out to 1 and ``scale_to_zero`` a scale-in to 0.

- ``scale_out``: a sample *hits* when ``current_instances >= to``.
- ``scale_in``: a sample *hits* when ``current_instances <= to`` and an earlier sample taken at or
  after load start (the trigger, when load start is unknown) showed ``current_instances > to``.
- ``scale_from_zero``: besides, the last sample at or before the trigger must show 0 instances and
  be at most G older than it; otherwise INCONCLUSIVE ("was not at zero: 2 instances at
  first_request", or no such sample, or too old), decided at once.
- The observation is the first hit at or after the trigger; the true moment lies between the
  sample before it and it. PASS iff that sample's ``ts`` is at or before the window end.
- FAIL immediately when ``to`` is impossible (above the widest MaxCapacity for a scale-out, below
  the widest MinCapacity for a scale-in), citing the bound.
- Otherwise nothing is decided until some sample at or after the window end exists (before that:
  pending until window end + G, or INCONCLUSIVE once final). Then: a scale-in that never saw
  capacity above ``to`` is INCONCLUSIVE ("nothing to scale in"); any gap wider than G between
  consecutive samples from the trigger up to that first sample at/after the window end (the trigger
  itself counts as the left edge, so time before the trigger never matters) is INCONCLUSIVE,
  because a change could hide in it; else FAIL. A first hit just after the window end, less than G
  after the sample before it, is a FAIL: the collector's declared resolution is the tolerance.

``max_instances``
-----------------
Every DescribeEndpoint sample from load start on must show CurrentInstanceCount and
DesiredInstanceCount at or below ``max``. FAIL at the first sample above it, naming which count and
when; FAIL at once when ``max`` is below the widest MinCapacity (the target never goes below it).
Otherwise pending while the run lasts (until load end + G: it never prolongs the run), and once
final: INCONCLUSIVE if the load never ended or if the samples with an instance count leave a gap
wider than G anywhere from load start to the end of observation (``run.ended_ts``, at least load
end); else PASS, citing the peaks.

``capacity_at``
---------------
The capacity at ``at + offset`` (the *moment*) is the CurrentInstanceCount of the last sample at or
before the moment; it must be at most G older than the moment, else INCONCLUSIVE. Decided once a
sample at or after the moment exists (before that pending until moment + G; once final without
one INCONCLUSIVE, "samples end before"): PASS iff ``instances`` / within ``[min, max]``, else FAIL.
FAIL at once when the wanted count is impossible under the widest bounds.

``backlog_drained``
-------------------
On the ApproximateBacklogSize datapoints (the series of ``backlog_empty``; ``ts`` = period start)
from the trigger on (``ts >= trigger``). PASS at the first datapoint equal to 0 whose ``ts`` is at
or before the window end (however sparse the data before it: the zero is the evidence). Otherwise
the *covering* datapoint is the first whose period ends after the window end. Until one exists:
pending, or INCONCLUSIVE once final ("datapoints end before the window end"). Then: a gap wider
than period + G between consecutive datapoint starts from the trigger (the left edge) up to the
covering datapoint is INCONCLUSIVE (pending while the run lasts: CloudWatch may still deliver the
missing datapoints); else FAIL, citing the covering datapoint's value. Pending checks observe until
window end + :func:`~harness.checks.backlog.publication_allowance_s` (the covering period closes,
CloudWatch publishes it up to METRIC_LAG_PERIODS periods later, the collector reads it within
``collector.metrics_interval_s``).

``scaled_by``
-------------
A scaling activity is *of* a policy when its Cause is ``monitor alarm <alarm> in state ALARM
triggered policy <policy>`` with exactly that policy name at the end; the capacity it sets is read
from its Description ``Setting desired instance count to N.``. Activities whose StatusCode is Failed
or Unfulfilled did not scale and never count. PASS at the first activity of the policy starting in
the window (``trigger <= start_ts <= window end``) that, with ``to``, sets ``to`` (if the policy's
first activity sets another capacity, later ones still count). Activities are only seen after they
happen, on the collector's describe beat: without a match the check is pending until window end +
ACTIVITY_POLL_BEATS × ``collector.describe_interval_s`` of observation (the latest DescribeEndpoint
sample), then FAIL. Once final, FAIL if the observation reached the window end, else INCONCLUSIVE.
The FAIL summary says what the policy set instead, why its activities did not scale, and, with
``to``, which other policy set that capacity ("capacity 3 was set by policy B instead") — how the
outcome of conflicting policies shows. A ``to`` outside the widest bounds FAILs at once.

``error_rate``
--------------
failures / requests over the :class:`~harness.record.LoadInterval` records (all, or those of one
stage) must be ``<= max``. Decided once ``run.load_end_ts`` is set, or when final. No requests, or a
hole wider than G in the load records (between intervals, or at the edges of the load / stage span
beyond G plus one interval), is INCONCLUSIVE; mid-run a trailing hole keeps it pending instead,
because the last intervals may still be on their way.

``within: auto`` (derived windows)
----------------------------------
Any expectation with a ``within`` (``scale_out``, ``scale_in``, ``scale_from_zero``,
``scale_to_zero``, ``backlog_drained``, ``scaled_by``) may say ``within: auto``. The run simulates
the profile (:mod:`harness.predict.simulate`, same model parameters) from its own load start and writes the
prediction into its folder (``prediction/``); for each ``auto`` expectation it runs the same check
on the prediction with an unbounded window: the predicted time *p* from the anchor to the moment the
check observes the event gives the window ``p × (1 + prediction.relative_tolerance) +
prediction.tolerance`` (defaults 0.25 and 2m), stored in ``run.json`` ``prediction.windows``; the
check then runs with that window, and its summary ends with ``[auto: predicted p + slack s]``.
Before the prediction exists the check is pending; a run without one (or whose simulation failed)
gives INCONCLUSIVE ("no prediction"); an event the prediction never shows gives INCONCLUSIVE ("no
derived window"). A prediction folder (``kind`` prediction) is its own prediction. ``scalecheck
check`` reads ``run.json`` and never simulates again.

``agrees_with_prediction``
--------------------------
The observed capacity curve against the predicted one (:func:`~harness.checks.prediction.compare_capacity`
on the DescribeEndpoint samples from load start and ``run.json`` ``prediction.changes``): each predicted
change ``a → b`` must be seen, in order, within ±``tolerance`` (default 60 s) of its predicted InService
time — between the sample before and the first sample showing ``b`` (± ``instances``); and no other
change may be seen (an *extra* change: its new count matches no predicted count around it). The count
at load start must match the predicted one. FAIL at once, naming each early, late or missing change
and each extra one. Otherwise pending until every predicted change and the load end are ``tolerance``
behind the latest sample; then INCONCLUSIVE when a gap wider than G hides a predicted change or lies
anywhere from load start to then (a change could hide in it), else PASS listing each change with its
offset from the prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness import exitcodes
from harness.checks.activities import check_scaled_by
from harness.checks.backlog import check_backlog_drained
from harness.checks.capacity import check_window
from harness.checks.common import AnyExpectation, Outcome, source_text
from harness.checks.instances import check_capacity_at, check_max_instances
from harness.checks.load import check_error_rate
from harness.checks.prediction import check_agrees_with_prediction, check_auto_window
from harness.load.stats import invalid_load_reason
from harness.profile import Profile
from harness.record import Recorded, Verdict

__all__ = ["Evaluation", "evaluate", "exit_code", "invalid_load", "source_text"]

_CHECKS: dict[str, Callable[[Any, Recorded, Profile, bool], Outcome]] = {
    "scale_out": check_window,
    "scale_in": check_window,
    "scale_from_zero": check_window,
    "scale_to_zero": check_window,
    "error_rate": check_error_rate,
    "backlog_drained": check_backlog_drained,
    "max_instances": check_max_instances,
    "capacity_at": check_capacity_at,
    "scaled_by": check_scaled_by,
    "agrees_with_prediction": check_agrees_with_prediction,
}


@dataclass(frozen=True)
class Evaluation:
    """The verdicts of one profile on the data recorded so far.

    ``verdicts``: one per profile expectation, in profile order. ``pending``: labels of the
    expectations not decided yet (their verdict is INCONCLUSIVE, its summary saying what it waits
    for); always empty when ``final``. ``observe_until_ts``: endpoint time until which the run must
    keep observing to decide every pending one whose window is known (the latest of them); ``None``
    when nothing pending has a known window (e.g. the load has not started or ended yet) — the run
    then waits for that anchor.
    """

    verdicts: list[Verdict]
    pending: frozenset[str]
    observe_until_ts: float | None


def evaluate(recorded: Recorded, profile: Profile, *, final: bool) -> Evaluation:
    """Verdicts of ``profile.expectations`` on ``recorded``; see the module docstring for the rules."""
    outcomes = [_check(exp, recorded, profile, final) for exp in profile.expectations]
    pending = frozenset(o.verdict.name for o in outcomes if o.pending)
    untils = [o.observe_until_ts for o in outcomes if o.pending and o.observe_until_ts is not None]
    return Evaluation([o.verdict for o in outcomes], pending, max(untils) if untils else None)


def exit_code(verdicts: Sequence[Verdict], *, invalid: bool = False) -> int:
    """``exitcodes.INVALID_RUN`` if the load was ``invalid`` (:func:`invalid_load`), else ``FAILED`` if any
    verdict failed, else ``INCONCLUSIVE`` if any is, else ``OK``.

    Precedence: an invalid load wins over a failed expectation. The load generator did not offer the
    profile's load, so the verdicts (still computed and written) describe another experiment than the one
    the profile asked for; a FAIL there is no evidence the endpoint failed to scale (docs/architecture.md "Load
    generation": reported as invalid, not as a scaling failure)."""
    if invalid:
        return exitcodes.INVALID_RUN
    statuses = {v.status for v in verdicts}
    if "FAIL" in statuses:
        return exitcodes.FAILED
    if "INCONCLUSIVE" in statuses:
        return exitcodes.INCONCLUSIVE
    return exitcodes.OK


def invalid_load(recorded: Recorded, profile: Profile) -> str | None:
    """Why the recorded load does not count (the achieved requests fell more than
    ``traffic.max_shortfall`` below the offered ones over the whole load, naming the stages that fell
    short), or None. The run is then *invalid* (exit 101) whatever the verdicts say."""
    return invalid_load_reason(recorded.load, profile.traffic.max_shortfall)


# Error codes that mean the endpoint refused who signed, not what was asked: the load generator's credentials.
CREDENTIAL_ERRORS = frozenset({"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
                               "IncompleteSignatureException", "MissingAuthenticationTokenException",
                               "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "AccessDenied",
                               "AccessDeniedException", "SignatureDoesNotMatch"})


def credentials_refused(recorded: Recorded) -> str | None:
    """Why the load does not show the endpoint's behaviour because the endpoint refused the load generator's
    credentials (at least half of the requests failed with a credential error), or None. Such a run is an
    infrastructure failure (exit 105), not an endpoint that failed to scale."""
    requests = sum(r.requests for r in recorded.load)
    refused: dict[str, int] = {}
    for r in recorded.load:
        for code, n in r.errors.items():
            if code in CREDENTIAL_ERRORS:
                refused[code] = refused.get(code, 0) + n
    total = sum(refused.values())
    if not requests or total * 2 < requests:
        return None
    codes = ", ".join(f"{code} x{n}" for code, n in sorted(refused.items(), key=lambda kv: -kv[1]))
    return (f"the endpoint refused the load generator's credentials ({codes} of {requests} requests): check the "
            "credentials every load generator signs with (a --worker uses its own environment's)")


def _check(exp: AnyExpectation, recorded: Recorded, profile: Profile, final: bool) -> Outcome:
    if getattr(exp, "auto_window", False):
        return check_auto_window(exp, recorded, profile, final, _CHECKS[exp.type])
    return _CHECKS[exp.type](exp, recorded, profile, final)
