"""Profiles: one scenario per YAML file — endpoint, scaling policy, traffic and expectations.

:func:`load_profile` parses and validates a file *before any request is sent*; every problem is
reported as ``<file>: <field path>: <message>`` quoting the value the user wrote, all at once.
Durations are written like ``250s``, ``5m``, ``1h30m`` and are held as float seconds
(``*_s``) of endpoint time.

The schema is split by section: :mod:`~harness.profile.endpoint` (``endpoint:``),
:mod:`~harness.profile.scaling` (``scaling:``), :mod:`~harness.profile.stages` (``traffic:``),
:mod:`~harness.profile.expectations` (``expectations:``), :mod:`~harness.profile.settings`
(``local:``, ``collector:``, ``prediction:``), :mod:`~harness.profile.cost` (``cost:``, ``stop:``; prices
in :mod:`~harness.profile.pricing`), :mod:`~harness.profile.model` (the whole
:class:`Profile` and its checks across sections) and :mod:`~harness.profile.loading` (reading a
file). The names below are the package's interface; import them from here. The traffic arithmetic
over a profile's stages is :mod:`harness.profile.traffic`, imported by its users directly.
"""

from __future__ import annotations

from harness.profile.cost import CostSpec, ErrorRateStop, InstancesStop, LatencyStop, StopCondition
from harness.profile.endpoint import AsyncSpec, EndpointSpec
from harness.profile.expectations import (
    AgreesWithPredictionExpectation,
    BacklogDrainedExpectation,
    CapacityAtExpectation,
    ErrorRateExpectation,
    MaxInstancesExpectation,
    ScaledByExpectation,
    ScaleFromZeroExpectation,
    ScaleInExpectation,
    ScaleOutExpectation,
    ScaleToZeroExpectation,
)
from harness.profile.loading import ProfileError, load_profile, parse_profile
from harness.profile.model import Profile, ScenarioSpec
from harness.profile.scaling import (
    AlarmSpec,
    MetricSpec,
    ScalingSpec,
    ScheduledActionSpec,
    StepPolicy,
    StepSpec,
    TargetTrackingPolicy,
)
from harness.profile.settings import CollectorSpec, LocalSpec, PredictionSpec
from harness.profile.stages import Stage, TrafficSpec

__all__ = [
    "AgreesWithPredictionExpectation",
    "AlarmSpec",
    "AsyncSpec",
    "BacklogDrainedExpectation",
    "CapacityAtExpectation",
    "CollectorSpec",
    "CostSpec",
    "EndpointSpec",
    "ErrorRateExpectation",
    "ErrorRateStop",
    "InstancesStop",
    "LatencyStop",
    "LocalSpec",
    "MaxInstancesExpectation",
    "MetricSpec",
    "PredictionSpec",
    "Profile",
    "ProfileError",
    "ScaleFromZeroExpectation",
    "ScaleInExpectation",
    "ScaleOutExpectation",
    "ScaleToZeroExpectation",
    "ScaledByExpectation",
    "ScalingSpec",
    "ScenarioSpec",
    "ScheduledActionSpec",
    "Stage",
    "StepPolicy",
    "StepSpec",
    "StopCondition",
    "TargetTrackingPolicy",
    "TrafficSpec",
    "load_profile",
    "parse_profile",
]
