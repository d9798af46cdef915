"""How a profile is run, observed and predicted: ``local:``, ``collector:`` and ``prediction:``.

Contract: every field here has a default, so a profile may leave each section out. :class:`LocalSpec`
is the embedded emulator's speed and model parameters (``--local``); :class:`CollectorSpec` the polling
intervals (endpoint time); :class:`PredictionSpec` the slack of a window derived from the prediction
(``within: auto``, :meth:`PredictionSpec.window_s`).
"""

from __future__ import annotations

from pydantic import Field

from harness.autoscaling.params import ModelParams
from harness.profile.base import Duration, _Spec


class LocalSpec(_Spec):
    """How ``--local`` runs this profile: the emulator's speed and model parameters."""

    speed: float = Field(30.0, gt=0, le=1000)
    params: ModelParams = Field(default_factory=ModelParams)


class CollectorSpec(_Spec):
    """Polling intervals (endpoint time) and how long to keep observing after the load."""

    describe_interval_s: Duration = Field(10.0, alias="describe_interval", gt=0)
    metrics_interval_s: Duration = Field(60.0, alias="metrics_interval", gt=0)
    max_sample_gap_s: Duration = Field(
        60.0, alias="max_sample_gap", gt=0,
        description="A gap between DescribeEndpoint samples wider than this makes a verdict that "
        "depends on it INCONCLUSIVE.")


class PredictionSpec(_Spec):
    """Named tolerances of the windows derived from the prediction (``within: auto``).

    The run simulates the profile (:mod:`harness.predict.simulate`, with ``local.params`` and ``--params``)
    from its own load start; an ``auto`` window is the predicted time from the anchor to the event
    (the moment the same check, run on the prediction, observes it) plus slack:
    ``window = predicted × (1 + relative_tolerance) + tolerance``. Defaults: ``tolerance`` 2m,
    ``relative_tolerance`` 0.25 — a predicted scale-out 6 min after load start gets a 9m30s window.
    """

    tolerance_s: Duration = Field(120.0, alias="tolerance", ge=0)
    relative_tolerance: float = Field(0.25, ge=0, le=10)

    def window_s(self, predicted_s: float) -> float:
        """The derived window for an event predicted ``predicted_s`` after its anchor."""
        return max(0.0, predicted_s) * (1 + self.relative_tolerance) + self.tolerance_s
