"""``make bench``: slow measurements, printed as ``bench <name> <value> <unit>`` lines.

Not run by ``make test``; nothing here is a timed assertion.
"""

from __future__ import annotations

import time

from harness.autoscaling.entities import DIMENSION, Variant
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import World
from harness.profile import Profile, parse_profile


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


def diurnal_week_profile() -> Profile:
    """7 days of one-minute stages: a daily sine around 400 rps (100 to 700) with +/-10 % noise, on one
    variant with target tracking (InvocationsPerInstance 3000), a step policy and a daily schedule."""
    import math
    import random

    rng = random.Random(7)
    stages = []
    for minute in range(7 * 24 * 60):
        base = 400 + 300 * math.sin(2 * math.pi * minute / 1440)
        stages.append({"name": f"m{minute}", "kind": "hold", "duration": "60s",
                       "rate_rps": round(base * (1 + rng.uniform(-0.1, 0.1)), 2)})
    return parse_profile({
        "name": "diurnal-week", "region": "us-east-1",
        "endpoint": {"name": "diurnal", "variant": "AllTraffic", "instance_type": "ml.m5.large",
                     "initial_instance_count": 4},
        "scaling": {"min_capacity": 2, "max_capacity": 20, "policies": [
            {"type": "target_tracking", "name": "ipi-3000", "metric": "SageMakerVariantInvocationsPerInstance",
             "target_value": 3000, "scale_out_cooldown": "60s", "scale_in_cooldown": "300s"},
            {"type": "step", "name": "errors-step", "adjustment_type": "ChangeInCapacity", "cooldown": "5m",
             "steps": [{"lower": 0, "adjustment": 2}],
             "alarm": {"name": "Invocation5XXErrors", "statistic": "Sum", "period": "60s", "evaluation_periods": 2,
                       "threshold": 100, "comparison": "GreaterThanOrEqualToThreshold"}}],
            "scheduled_actions": [{"name": "morning", "schedule": "cron(0 6 * * ? *)", "min_capacity": 6},
                                  {"name": "night", "schedule": "cron(0 22 * * ? *)", "min_capacity": 2}]},
        "traffic": {"payload": "x", "content_type": "text/csv", "stages": stages},
        "expectations": [{"type": "max_instances", "max": 20}],
    }, "<bench>")


def simulate_week() -> tuple[float, float, int]:
    """Wall seconds of :func:`harness.predict.simulate.simulate` over :func:`diurnal_week_profile` (the model and the
    recording, in memory), then of writing its run folder with verdicts and report; and its capacity changes."""
    import tempfile
    from pathlib import Path

    from harness.predict.simulate import simulate, write_prediction

    profile = diurnal_week_profile()
    started = time.perf_counter()
    prediction = simulate(profile, load_start_ts=1_700_000_000.0 - 1_700_000_000.0 % 86400)
    simulated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        write_prediction(prediction, Path(root), finish=False)
        written = time.perf_counter() - started
    return simulated, written, len(prediction.changes)


def main() -> None:
    seconds, requests = model_day_of_walkthrough_traffic()
    print(f"bench model_24h_walkthrough_seconds {seconds:.3f} s")
    simulated, written, changes = simulate_week()
    print(f"bench simulate_7d_seconds {simulated:.3f} s")
    print(f"bench simulate_7d_write_folder_seconds {written:.3f} s")
    print(f"bench simulate_7d_capacity_changes {changes} changes")
    print(f"bench model_requests_per_second {requests / seconds:.0f} req/s")
    from harness.bench.signer import signer_us_per_request

    ours, botocore = signer_us_per_request()
    print(f"bench signer_us_per_request {ours:.1f} us")
    print(f"bench signer_botocore_us_per_request {botocore:.1f} us")
    print(f"bench signer_vs_botocore {botocore / ours:.1f} x")
    from harness.bench import loadgen as bench_loadgen

    bench_loadgen.main()


if __name__ == "__main__":
    main()
