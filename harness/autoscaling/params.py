"""Named, configurable parameters of the autoscaling and endpoint model.

Every value that AWS documents carries its source tag from ``docs/aws-semantics.md``; every value
AWS does not document is marked UNCONFIRMED and is a parameter here, never a constant in the code,
so that a user can calibrate it from a real run. Durations are seconds of endpoint time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelParams(BaseModel):
    """Parameters of the endpoint + Application Auto Scaling + CloudWatch model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- endpoint lifecycle (aws-semantics §7) -----------------------------------------------
    provisioning_delay_s: float = Field(
        300.0, ge=0, description="New instance until InService. UNCONFIRMED: ~7 min observed [S26], "
        "3-5 min third parties; issue default 5 min.")
    endpoint_create_delay_s: float = Field(
        300.0, ge=0, description="CreateEndpoint Creating -> InService. UNCONFIRMED; same order as provisioning.")
    deprovision_delay_s: float = Field(
        60.0, ge=0, description="Scale-in until the removed instances stop counting. UNCONFIRMED; SIGTERM "
        "then SIGKILL after 30 s [S15-code] bounds the drain.")

    # --- CloudWatch (aws-semantics §5, §1) ---------------------------------------------------
    metric_period_s: int = Field(60, description="Standard SageMaker metrics are 1-minute [S15-mon].")
    metric_publish_lag_s: float = Field(
        60.0, ge=0, description="A period's datapoint becomes visible this long after the period ends. "
        "UNCONFIRMED: users report 1-3 min.")
    alarm_statistic: Literal["Sum", "Average"] = Field(
        "Sum", description="Statistic of the managed alarms on InvocationsPerInstance. UNCONFIRMED: "
        "Sum is the only valid statistic for the metric [S15-mon].")

    # --- target tracking (aws-semantics §1) --------------------------------------------------
    alarm_high_datapoints: int = Field(3, ge=1, description="AlarmHigh: 3 of 3 one-minute datapoints [S12].")
    alarm_low_datapoints: int = Field(15, ge=1, description="AlarmLow: 15 of 15 one-minute datapoints [S12].")
    alarm_low_ratio: float = Field(0.9, gt=0, lt=1, description="AlarmLow threshold = 0.9 x target [S12, S25].")
    capacity_basis: Literal["measured", "current", "desired"] = Field(
        "measured", description="Capacity the proportional formula multiplies: the instances the alarm's "
        "datapoint was averaged over (`measured`, = Invocations / InvocationsPerInstance of that period), "
        "the InService instances now (`current`) or the count last requested (`desired`). UNCONFIRMED "
        "(the formula is not published).")
    scale_out_cooldown_blocks_scale_in: bool = Field(
        False, description="Whether a running scale-out cooldown also blocks scale-in. UNCONFIRMED.")

    # --- instance physics (aws-semantics §9) -------------------------------------------------
    instance_concurrency: int = Field(
        4, ge=1, description="Requests one instance serves at once before they queue. UNCONFIRMED "
        "(depends on container and instance type).")
    model_latency_ms: float = Field(
        50.0, ge=0, description="Model time of one request on an idle instance (endpoint time). UNCONFIRMED.")
    latency_jitter: float = Field(0.2, ge=0, le=1, description="Uniform +/- fraction applied to latency.")
    max_queue_per_instance: int = Field(
        16, ge=0, description="Queued requests per instance beyond its concurrency before SageMaker "
        "refuses with `overload_error`. UNCONFIRMED.")
    overload_error: Literal["ThrottlingException", "ModelError"] = Field(
        "ModelError", description="What an overloaded real-time endpoint answers: both are reported [S21, S22].")
    invocation_timeout_s: float = Field(
        60.0, gt=0, description="The container must answer within 60 s, else ModelError 424 [S9, S22].")
    seed: int = Field(0, description="Seed of the latency jitter, for reproducible runs.")

    # --- account quotas (aws-semantics §4, §7) -----------------------------------------------
    instance_quota: dict[str, int] = Field(
        default_factory=dict, description="The account's Service Quotas value '<instance type> for endpoint "
        "usage' (instances of that type across all endpoints), by instance type. UNCONFIRMED: AWS's defaults "
        "vary by type, region and account and are not published for every type.")
    instance_quota_default: int = Field(
        100, ge=0, description="The same quota for a type instance_quota does not list. UNCONFIRMED; generous "
        "(real accounts often start lower) so that a profile, or an emulator shared by many tests, hits it only "
        "when it asks to.")

    # --- asynchronous endpoints (aws-semantics §6) -------------------------------------------
    async_default_max_concurrent: int = Field(
        4, ge=1, le=1000, description="Concurrent requests per instance of an async endpoint whose "
        "ClientConfig.MaxConcurrentInvocationsPerInstance is unset (\"SageMaker chooses\" [S10]). UNCONFIRMED.")
    async_processing_s: float = Field(
        10.0, ge=0, description="Processing time of one async request on its instance (endpoint time), "
        "before the latency_jitter rule. UNCONFIRMED (depends on the model; up to 1 h allowed [S15-async]).")
    async_metric_sample_s: int = Field(
        10, ge=1, description="How often the EndpointName-level backlog metrics (ApproximateBacklogSize, "
        "...PerInstance, ApproximateAgeOfOldestRequest, HasBacklogWithoutCapacity) are sampled; each "
        "sampling instant adds one sample to the current period. UNCONFIRMED.")
    backlog_per_instance_at_zero: Literal["backlog", "zero", "absent"] = Field(
        "backlog", description="ApproximateBacklogSizePerInstance at 0 instances: the whole backlog as if one "
        "instance (`backlog`, makes 'scale up from zero only once the backlog exceeds the target' "
        "[S15-async-as] true), 0 (`zero`), or no sample (`absent`). UNCONFIRMED.")
    async_time_unit: Literal["Milliseconds", "Microseconds"] = Field(
        "Milliseconds", description="Unit of TimeInBacklog and TotalProcessingTime: milliseconds per the 2023 "
        "docs, microseconds per another version [S15-asyncmon]. UNCONFIRMED.")
