"""Predict a profile's run: the autoscaling model over the profile's traffic in virtual time.

No server, no Locust, no boto3: :func:`simulate` builds an :class:`~harness.emulator.app.Emulator`
on a :class:`VirtualClock` (its ticker and HTTP server are never started), applies the profile
through the emulator's own handlers with the parameters :mod:`harness.profile.aws_requests`'s pure request builders
produce — so a prediction and an emulator run cannot disagree about what the profile means — then
plays the traffic against the model (``World.invoke`` / ``invoke_bulk`` / ``invoke_async``) and
records what a run would have recorded, in the same run-folder data model (:mod:`harness.record`),
with ``RunInfo.kind = "prediction"``, ``mode = "local"`` and ``speed = 0`` (virtual time: no wall
clock relation). ``scalecheck report`` and ``scalecheck check`` treat the folder like any run.

Assumptions of a prediction (also written to ``RunInfo.status_reason``):

- the endpoint is created (CreateModel, CreateEndpointConfig, CreateEndpoint) so that it is InService
  with ``initial_instance_count`` instances — or ``scaling.start_capacity`` once reached — and the
  scaling applied :data:`SETTLE_S` seconds before the load starts; the load starts at a whole hour
  of UTC (``start_ts`` overrides it);
- traffic is deterministic: arrivals follow each stage's rate exactly (a running sum of the rate per
  second emits a request each time it crosses a whole number; the first request is at load start);
  real-time requests finish after the model's admission latency, or, from
  :data:`BULK_MIN_PER_TICK` arrivals per :data:`TICK_S`-second tick on (``LONG_TICK_S`` for a load longer
  than ``LONG_LOAD_S``, a day: week-long predictions record one-minute load intervals), go through the aggregated
  ``World.invoke_bulk``; async requests are queued one by one and every completion is observed
  (``completion_sample`` is treated as 1);
- the collector is perfect: DescribeEndpoint every ``collector.describe_interval``, every scaling
  activity and alarm transition at the moment it happens, and every datapoint of the series the
  collector reads (:func:`harness.profile.series.metric_queries`) as visible at the end, stamped
  ``observed_ts`` when it became visible;
- the observation lasts :func:`harness.profile.budget.observation_budget_s` after the load start (a real run may
  stop earlier, once every expectation is decided).

A profile with scenarios gives one prediction per scenario under one parent folder, with
``scenarios.json`` and ``comparison.html``, as ``scalecheck run`` does.
"""

from harness.predict.simulate.engine import (
    BULK_MIN_PER_TICK,
    SETTLE_S,
    TICK_S,
    CapacityChange,
    Prediction,
    VirtualClock,
    simulate,
    simulate_profile,
    write_prediction,
)

__all__ = ["BULK_MIN_PER_TICK", "SETTLE_S", "TICK_S", "CapacityChange", "Prediction", "VirtualClock",
           "simulate", "simulate_profile", "write_prediction"]
