"""One run, end to end: validate, set up, load with Locust, observe, decide, report.

Order matters for the promises the tool makes:
1. the profile is validated before anything is contacted (ConfigError → 104);
2. every service's endpoint is resolved once (harness/observe/aws.py ``Target``) and a preflight checks AWS/the
   emulator before any traffic (harness/observe/preflight.py; InfrastructureError → 105);
3. the run folder exists before the load starts, and every stream is appended as data arrives;
4. after the load, observation continues until every expectation is decided or its window (plus
   the collector's sample gap) has passed; a crash still finalises the folder (``aborted``, the reason);
5. SIGINT/SIGTERM (:mod:`harness.load.interrupts`), at any moment, finalises it as ``aborted`` ("interrupted
   by SIGTERM"; the CLI exits 128 + signal) in this order: Locust (SIGINT, then SIGKILL to its process group
   after :data:`~harness.load.launch.INTERRUPT_GRACE_WALL_S`), the collector (no last poll), run.json, verdicts and
   JUnit, the report, the emulator last. A second signal waits for nothing: the load is killed at once and
   the report skipped, run.json still ends ``aborted``. Children die with scalecheck even on SIGKILL.

Prediction: when the profile needs one (a ``within: auto`` window, an ``agrees_with_prediction``
expectation) or with ``--predict``, the run simulates the profile (:mod:`harness.predict.simulate`, with
``local.params`` as ``--params`` left them) from its own load start, as soon as that is known, into
``<run folder>/prediction/`` (a run folder of ``kind`` prediction, with its own verdicts and report),
and stores in ``run.json`` ``prediction`` what the checks take from it: the derived windows and the
predicted capacity changes (:class:`~harness.record.PredictionInfo`). A simulation that fails leaves
``prediction.error`` (those checks are INCONCLUSIVE) and the run goes on. ``scalecheck check``
reads ``run.json`` and never simulates again.

Against AWS (anything but ``--local``) the run changes the endpoint's scaling only with consent
(:mod:`harness.observe.consent`), snapshots it first and puts it back however the run ends
(:mod:`harness.observe.snapshot`); without consent it verifies the live policies (:func:`verify_live`).

Cost (:mod:`harness.profile.pricing`, :mod:`harness.checks.cost`): before anything is contacted the run
simulates the profile and says the expected instance-hours and cost (:mod:`harness.predict.cost`); while it
observes, the profile's ``stop`` conditions and the cost cap are evaluated on the folder
(:func:`harness.checks.stop.should_stop`) and the first that trips stops the load: the run finalises as
``stopped`` with the reason (exit 103). Every run ends with ``cost.json`` (:mod:`harness.report.cost`).

Scheduled actions with a relative ``at`` (``load_start+3m``) are put as ``at(...)`` as soon as the
load has started (a ``scheduled_action_put`` event each); one already in the past aborts the run.

A profile with ``scenarios`` runs each in turn (:func:`run_scenarios`): one full run folder per
scenario under ``<reports>/<stamp>-<profile>/``, with the derived profile in its ``profile.yaml``
(what the load generator reads) and, with ``--local``, a fresh emulator each, so that every
scenario starts from the same state; then ``scenarios.json`` and ``comparison.html`` in the parent.
"""

from harness.run.runner import Runner, RunOptions, RunResult, run_profile, write_profile_yaml
from harness.run.scenarios import ScenarioRun, ScenariosResult, run_scenarios

__all__ = ["RunOptions", "RunResult", "Runner", "ScenarioRun", "ScenariosResult", "run_profile", "run_scenarios",
           "write_profile_yaml"]
