"""The endpoint under test (``endpoint:``): :class:`EndpointSpec` and, for ``type: async``, :class:`AsyncSpec`.

Contract: an ``async`` endpoint always has an :class:`AsyncSpec` after validation (the defaults when the
profile gives none); a ``realtime`` endpoint giving one is an error. :class:`AsyncSpec` holds the S3
locations and the AsyncInferenceConfig limits (aws-semantics §6). Nothing here knows about scaling or traffic.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.profile.base import Duration, _Spec

S3Uri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")]


class AsyncSpec(_Spec):
    """An asynchronous endpoint (aws-semantics §6): where requests and results live in S3.

    ``input_path`` is where the load generator uploads each distinct payload once; the endpoint config
    gets ``output_path`` / ``failure_path`` (AsyncInferenceConfig.OutputConfig) and
    ``max_concurrent_invocations_per_instance`` (ClientConfig; unset lets SageMaker choose).
    ``completion_sample`` is the fraction of requests whose output location the load generator
    watches to measure end-to-end completion, every ``poll_interval`` (endpoint time).
    """

    input_path: S3Uri = "s3://scalecheck-async/input"
    output_path: S3Uri = "s3://scalecheck-async/output"
    failure_path: S3Uri = "s3://scalecheck-async/failure"
    max_concurrent_invocations_per_instance: int | None = Field(None, ge=1, le=1000)
    request_ttl_s: Duration | None = Field(None, alias="request_ttl", ge=60, le=21600)
    invocation_timeout_s: Duration | None = Field(None, alias="invocation_timeout", ge=1, le=3600)
    completion_sample: float = Field(1.0, ge=0, le=1)
    poll_interval_s: Duration = Field(5.0, alias="poll_interval", gt=0)


# What a profile gets when it names no image or role: enough for the emulator, refused against AWS.
EMULATOR_IMAGE = "scalecheck/echo:latest"
EMULATOR_ROLE = "arn:aws:iam::000000000000:role/scalecheck-emulator"
EMULATOR_ACCOUNT = "000000000000"


class EndpointSpec(_Spec):
    """The endpoint under test. ``create``: whether a run may create it when it does not exist —
    unset (the default) means yes with ``--local`` and only with ``--allow-create`` against AWS; ``true``
    written in the profile is that consent, ``false`` never creates."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    variant: str = Field("AllTraffic", min_length=1, max_length=63)
    type: Literal["realtime", "async"] = "realtime"
    async_: AsyncSpec | None = Field(None, alias="async")
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = Field(1, ge=1)
    create: bool | None = None
    model_name: str | None = None
    image: str = EMULATOR_IMAGE
    model_data_url: str | None = None
    execution_role_arn: str = EMULATOR_ROLE

    @model_validator(mode="after")
    def _async(self) -> EndpointSpec:
        if self.type == "async" and self.async_ is None:
            object.__setattr__(self, "async_", AsyncSpec())
        if self.type == "realtime" and self.async_ is not None:
            raise ValueError("endpoint.async is only for type: async")
        return self

    @property
    def is_async(self) -> bool:
        return self.type == "async"

    def emulator_placeholders(self) -> list[str]:
        """The fields that still hold the emulator's stand-ins (its echo image, a role in account
        000000000000): a real model cannot be created from them."""
        out = []
        if self.image == EMULATOR_IMAGE:
            out.append("endpoint.image")
        if f":{EMULATOR_ACCOUNT}:" in self.execution_role_arn:
            out.append("endpoint.execution_role_arn")
        return out
