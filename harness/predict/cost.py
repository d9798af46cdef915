"""The expected cost of a profile, before any traffic: simulate it and integrate the predicted instances.

Contract: :func:`expected_cost` runs the simulator (:func:`harness.predict.simulate.simulate`, with the
profile's ``local.params``; about a second, nothing is written and nothing is contacted) and returns the
instance-seconds of its DescribeEndpoint samples — from the settle period before the load to the end of
the prediction's observation horizon — priced like the observed cost (:mod:`harness.checks.cost`, the
same convention). A real run may stop observing sooner (once every expectation is decided), so this is
what the whole predicted observation would cost. :func:`announce_expected` is what ``scalecheck run``
prints before the load: the figures, or why there are none, and a warning when they exceed the cap.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.checks.cost import CostFigures, cost_of
from harness.predict.simulate import simulate
from harness.profile import Profile
from harness.profile.pricing import CostPlan, format_usd
from harness.record import EndpointSample

EXPECTED_RUN_ID = "expected-cost"


def expected_cost(profile: Profile, plan: CostPlan) -> CostFigures:
    """Instance-seconds and cost of the simulated profile (raises what the simulator raises)."""
    pred = simulate(profile, profile.local.params, run_id=EXPECTED_RUN_ID)
    samples = [EndpointSample.model_validate(s) for s in pred.streams.get("endpoint", [])]
    return cost_of(samples, plan.instance_type, plan.price)


def announce_expected(profile: Profile, plan: CostPlan,
                      say: Callable[[str], None]) -> tuple[CostFigures | None, str | None]:
    """Say the expected cost (or why it is unknown) and the cap; ``(figures, error)``."""
    try:
        figures = expected_cost(profile, plan)
    except Exception as err:  # the run goes on; its cost.json says why there is no expectation
        error = f"simulation failed: {type(err).__name__}: {err}"
        say(f"expected cost: unknown ({error}); price: {plan.price_text()}")
        return None, error
    say(figures.summary("expected"))
    if plan.max_usd is not None:
        usd = figures.usd
        over = usd is not None and usd > plan.max_usd
        say(f"cost cap {format_usd(plan.max_usd)}" + (": the expected cost is above it, so the run will stop when "
                                                      "the observed cost reaches it" if over else ""))
    return figures, None
