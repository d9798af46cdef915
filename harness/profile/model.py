"""The whole profile: :class:`Profile` (one scenario), its :class:`ScenarioSpec` arms, and the checks across sections.

Contract: a validated :class:`Profile` is consistent as a whole, beyond what each section checks on
its own: the initial instance count lies within the scaling bounds; every ``stage:<name>`` anchor, a
scheduled action's ``at`` and an expectation's ``stage`` name a traffic stage; ``backlog_empty``,
``backlog_drained`` and ``scale_to_zero`` need an async endpoint, ``scale_from_zero`` / ``scale_to_zero``
a min_capacity of 0; ``scaled_by`` names a policy (when ``scaling.apply``); expectation labels and
scenario names are unique; a scenario drops only policies that exist; an async endpoint does not track
SageMakerVariantInvocationsPerInstance; an ``instances`` stop condition is not below the starting instance
count. :meth:`Profile.for_scenario` re-validates the profile as one
scenario runs it. Reading a file is :mod:`harness.profile.loading`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from harness.profile.base import _Spec
from harness.profile.cost import CostSpec, InstancesStop, StopCondition
from harness.profile.endpoint import EndpointSpec
from harness.profile.expectations import Expectation
from harness.profile.scaling import ScalingSpec, TargetTrackingPolicy
from harness.profile.settings import CollectorSpec, LocalSpec, PredictionSpec
from harness.profile.stages import TrafficSpec


class ScenarioSpec(_Spec):
    """One arm of a comparison: the profile run again without some policies (and, optionally, with
    its own expectations). ``scalecheck run`` runs every scenario in turn and compares them."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    without_policies: list[str] = Field(default_factory=list)
    expectations: list[Expectation] | None = None


class Profile(_Spec):
    """One scenario."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    region: str = "us-east-1"
    endpoint: EndpointSpec
    scaling: ScalingSpec
    traffic: TrafficSpec
    expectations: list[Expectation] = Field(default_factory=list)
    local: LocalSpec = Field(default_factory=LocalSpec)
    collector: CollectorSpec = Field(default_factory=CollectorSpec)
    prediction: PredictionSpec = Field(default_factory=PredictionSpec)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    cost: CostSpec = Field(default_factory=CostSpec)
    stop: list[StopCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checks(self) -> Profile:
        ep = self.endpoint
        s = self.scaling
        if not s.min_capacity <= ep.initial_instance_count <= s.max_capacity:
            raise ValueError(
                f"endpoint.initial_instance_count {ep.initial_instance_count} is outside "
                f"scaling [{s.min_capacity}, {s.max_capacity}]")
        stages = {st.name for st in self.traffic.stages}
        for i, cond in enumerate(self.stop):
            floor = max(s.min_capacity, ep.initial_instance_count)
            if isinstance(cond, InstancesStop) and cond.above < floor:
                raise ValueError(f"stop[{i}].above: {cond.above} instances is below what the endpoint starts with "
                                 f"({floor}: scaling.min_capacity / endpoint.initial_instance_count); it would stop "
                                 "every run at once")
        self._check_expectations(self.expectations, "expectations", stages)
        policies = {p.name for p in s.policies}
        for i, sc in enumerate(self.scenarios):
            for name in sc.without_policies:
                if name not in policies:
                    raise ValueError(f"scenarios[{i}].without_policies: no policy named {name!r} "
                                     f"(policies: {', '.join(sorted(policies)) or 'none'})")
            if sc.expectations is not None:
                self._check_expectations(sc.expectations, f"scenarios[{i}].expectations", stages)
        names = [sc.name for sc in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"scenario names must be unique; repeated: {', '.join(dupes)}")
        for i, a in enumerate(s.scheduled_actions):
            if a.at is not None and a.anchor.startswith("stage:") and a.anchor[6:] not in stages:
                raise ValueError(f"scaling.scheduled_actions[{i}].at: no stage named {a.anchor[6:]!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
        if ep.is_async and any(p.metric == "SageMakerVariantInvocationsPerInstance" for p in s.policies
                               if isinstance(p, TargetTrackingPolicy)):
            raise ValueError("scaling.policies: SageMakerVariantInvocationsPerInstance is not published for "
                             "async endpoints; track custom_metric ApproximateBacklogSizePerInstance instead")
        return self

    def _check_expectations(self, expectations: list[Any], where: str, stages: set[str]) -> None:
        s = self.scaling
        for i, exp in enumerate(expectations):
            for field_name in ("after", "at"):
                anchor = getattr(exp, field_name, None)
                if isinstance(anchor, str) and anchor.startswith("stage:") and anchor[6:] not in stages:
                    raise ValueError(f"{where}[{i}].{field_name}: no stage named {anchor[6:]!r} "
                                     f"(stages: {', '.join(sorted(stages))})")
                if anchor == "backlog_empty" and not self.endpoint.is_async:
                    raise ValueError(f"{where}[{i}].{field_name}: backlog_empty needs an async endpoint "
                                     "(endpoint.type: async)")
            stage = getattr(exp, "stage", None)
            if stage and stage not in stages:
                raise ValueError(f"{where}[{i}].stage: no stage named {stage!r} "
                                 f"(stages: {', '.join(sorted(stages))})")
            if exp.type in ("backlog_drained", "scale_to_zero") and not self.endpoint.is_async:
                raise ValueError(f"{where}[{i}]: {exp.type} needs an async endpoint (endpoint.type: async)")
            if exp.type in ("scale_from_zero", "scale_to_zero") and s.min_capacity != 0:
                raise ValueError(f"{where}[{i}]: {exp.type} needs scaling.min_capacity 0 "
                                 f"(got {s.min_capacity})")
            if exp.type == "scaled_by" and s.applies and s.policy(exp.policy) is None:
                raise ValueError(f"{where}[{i}].policy: no policy named {exp.policy!r} "
                                 f"(policies: {', '.join(p.name for p in s.policies) or 'none'})")
        labels = [e.label for e in expectations]
        dupes = sorted({n for n in labels if labels.count(n) > 1})
        if dupes:
            raise ValueError(f"expectation names must be unique (give each a name:); repeated: {', '.join(dupes)}")

    def for_scenario(self, name: str) -> Profile:
        """This profile as one scenario runs it: without its dropped policies, with its expectations."""
        sc = next((x for x in self.scenarios if x.name == name), None)
        if sc is None:
            raise KeyError(name)
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["name"] = f"{self.name}-{sc.name}"
        data["scenarios"] = []
        data["scaling"]["policies"] = [p for p in data["scaling"]["policies"] if p["name"] not in sc.without_policies]
        if sc.expectations is not None:
            data["expectations"] = [e.model_dump(mode="json", by_alias=True, exclude_none=True)
                                    for e in sc.expectations]
        if sc.description:
            data["description"] = sc.description
        return Profile.model_validate(data)

    @property
    def needs_prediction(self) -> bool:
        """Whether a run must simulate the profile: an ``auto`` window or an ``agrees_with_prediction``
        expectation."""
        return any(e.type == "agrees_with_prediction" or getattr(e, "auto_window", False)
                   for e in self.expectations)

    @property
    def resource_id(self) -> str:
        """Application Auto Scaling ResourceId of the variant."""
        return f"endpoint/{self.endpoint.name}/variant/{self.endpoint.variant}"
