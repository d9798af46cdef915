"""``make bench``: slow measurements, printed as ``bench <name> <value> <unit>`` lines.

Not run by ``make test``; nothing here is a timed assertion.
"""

from __future__ import annotations

import time

from harness.autoscaling.entities import DIMENSION, Variant
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import World


def model_day_of_walkthrough_traffic() -> tuple[float, int]:
    """Wall seconds for the model to run 24 h of endpoint time with the walkthrough's policy, and the
    number of requests it admitted (2 rps for 250 s every hour, idle otherwise)."""
    t0 = 1_700_000_000.0
    world = World(ModelParams(endpoint_create_delay_s=0), start_ts=t0)
    world.create_endpoint("ep", "cfg", [Variant("AllTraffic", "ml.m5.large", 0, 1)], t0)
    world.advance(t0)
    rid = "endpoint/ep/variant/AllTraffic"
    world.register_target(namespace="sagemaker", resource_id=rid, dimension=DIMENSION, min_capacity=1,
                          max_capacity=4, now=t0)
    world.put_target_tracking(name="p", namespace="sagemaker", resource_id=rid, dimension=DIMENSION, now=t0,
                              configuration={"TargetValue": 10.0, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
                                             "PredefinedMetricSpecification": {
                                                 "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    started = time.perf_counter()
    requests = 0
    for hour in range(24):
        t = t0 + hour * 3600
        while t < t0 + hour * 3600 + 250:
            admission, variant = world.invoke("ep", t)
            if admission.error is None:
                world.finish("ep", variant)
            requests += 1
            t += 0.5
    world.advance(t0 + 24 * 3600)
    return time.perf_counter() - started, requests


def main() -> None:
    seconds, requests = model_day_of_walkthrough_traffic()
    print(f"bench model_24h_walkthrough_seconds {seconds:.3f} s")
    print(f"bench model_requests_per_second {requests / seconds:.0f} req/s")


if __name__ == "__main__":
    main()
