"""Alarm evaluation and alarm actions: every policy on a target votes, one decision is applied.

A mixin of :class:`harness.autoscaling.world.World`. At each evaluation tick (once per store period):

- an alarm whose Period has passed since its last evaluation is evaluated (Period a multiple of 60,
  evaluated once per Period) over its last EvaluationPeriods datapoints (:mod:`.alarms`);
- every alarm in ALARM runs its actions — Auto Scaling actions repeat once per minute while the alarm
  stays in ALARM (aws-semantics §1, S19). An action naming an unknown policy ARN does nothing.

Several policies on one target (aws-semantics §1 "Multiple policies", S1, S24) — rules M1-M3:

- M1 scale out if any policy wants to; the largest capacity wins (10, +3 vs +200 % → 30).
- M2 a target-tracking scale-in happens only if every target-tracking policy with scale-in enabled
  wants to: one without DisableScaleIn whose AlarmLow is not in ALARM (or not scaling in) vetoes it.
  A step policy's scale-in is never vetoed — neither by target tracking nor by another step policy
  ("If the step scaling policy initiates a scale-in activity before the target tracking policy is ready
  to scale in, the scale-in activity will not be blocked", aws-semantics §1, corrected 2026-12 [S1, S24]).
  Of the scale-ins that may happen, the largest capacity wins.
- M3 only the winning policy starts its cooldown (the others did not change the capacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.autoscaling.alarms import Alarm, Comparison, TreatMissing, evaluate
from harness.autoscaling.entities import (
    ScalableTarget,
    TargetTrackingPolicy,
    Variant,
    WorldError,
    resource_names,
)
from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.policy import Decision, on_alarm_high, on_alarm_low, start_cooldown
from harness.autoscaling.step import StepPolicy, decide_step, parse_step_config, start_step_cooldown

if TYPE_CHECKING:
    from harness.autoscaling.world import World

Policy = TargetTrackingPolicy | StepPolicy
# per-instance metric -> (its total over the instances, statistic of the total; None = the alarm's)
MEASURED_TOTALS: dict[str, tuple[str, str | None]] = {
    "InvocationsPerInstance": ("Invocations", "Sum"),
    "ApproximateBacklogSizePerInstance": ("ApproximateBacklogSize", None),
}


@dataclass(frozen=True)
class Vote:
    """What one policy wants after one of its alarms acted."""

    policy_arn: str
    alarm_name: str
    decision: Decision
    basis: int = 0  # target tracking: the capacity the formula multiplied
    step: bool = False  # a step policy's vote (its scale-in is never vetoed: M2)


def combine(votes: list[Vote], tracking_scale_in: set[str]) -> Vote | None:
    """M1, M2: the vote to apply, or None. ``tracking_scale_in``: ARNs of the target-tracking policies that
    can scale in (DisableScaleIn false); each of them must vote scale-in for a target-tracking scale-in."""
    outs = [v for v in votes if v.decision.action == "scale_out"]
    if outs:
        return max(outs, key=lambda v: v.decision.new_capacity)
    ins = [v for v in votes if v.decision.action == "scale_in"]
    allowed = [v for v in ins if v.step]
    tracking = [v for v in ins if not v.step]
    if tracking and tracking_scale_in <= {v.policy_arn for v in tracking}:
        allowed += tracking
    return max(allowed, key=lambda v: v.decision.new_capacity) if allowed else None


class ActionsMixin:
    """Alarm evaluation, policy votes, user alarms and step policies (methods of World)."""

    def _evaluate_alarms(self: World, t: float) -> None:
        votes: dict[str, list[Vote]] = {}
        for alarm in list(self.alarms.values()):
            if alarm.last_eval_ts is None or t - alarm.last_eval_ts >= alarm.period_s - 1e-6:
                self._evaluate_alarm(alarm, t)
            if alarm.state == "ALARM":
                for action in alarm.actions:
                    vote = self._vote(action, alarm, t)
                    if vote is not None:
                        votes.setdefault(self.policies[action].resource_id, []).append(vote)
        for resource_id, target_votes in votes.items():
            self._apply_votes(resource_id, target_votes, t)

    def _evaluate_alarm(self: World, alarm: Alarm, t: float) -> None:
        alarm.last_eval_ts = t
        points = self.metrics.latest(alarm.metric, alarm.statistic, t, alarm.evaluation_periods, alarm.period_s)
        alarm.last_points = [v for _, v in points]
        if points:
            alarm.last_value_ts, alarm.last_value = points[-1]
        state, why = evaluate(alarm, points)
        if state != alarm.state:
            reason = why()
            self.log(t, "alarm_state", alarm=alarm.name, previous=alarm.state, state=state, reason=reason)
            alarm.state, alarm.state_reason, alarm.state_updated_ts = state, reason, t

    def _vote(self: World, policy_arn: str, alarm: Alarm, t: float) -> Vote | None:
        policy = self.policies.get(policy_arn)
        target = self.targets.get(policy.resource_id) if policy else None
        if policy is None or target is None or alarm.last_value is None:
            return None
        ep_name, v_name = resource_names(policy.resource_id)
        ep = self.endpoints.get(ep_name)
        if ep is None or v_name not in ep.variants:
            return None
        limits = dict(now=t, desired=target.desired, min_c=target.min_capacity, max_c=target.max_capacity)
        if isinstance(policy, StepPolicy):
            decision = decide_step(config=policy.config, cooldown=policy.cooldown, values=alarm.last_points,
                                   threshold=alarm.threshold,
                                   in_suspended=target.suspended["DynamicScalingInSuspended"],
                                   out_suspended=target.suspended["DynamicScalingOutSuspended"], **limits)
            return Vote(policy.arn, alarm.name, decision, step=True)
        basis = self._basis(alarm, ep.variants[v_name], target)
        common: dict[str, Any] = dict(basis=basis, metric=alarm.last_value, target=policy.target_value,
                                      cooldown=policy.cooldown, **limits)
        if alarm.name == policy.alarm_high:
            decision = on_alarm_high(out_suspended=target.suspended["DynamicScalingOutSuspended"], **common)
        elif alarm.name == policy.alarm_low:
            decision = on_alarm_low(disable_scale_in=policy.disable_scale_in,
                                    in_suspended=target.suspended["DynamicScalingInSuspended"],
                                    scale_out_cooldown_blocks=self.params.scale_out_cooldown_blocks_scale_in,
                                    **common)
        else:
            return None  # a user alarm naming a target-tracking policy: AWS runs only its own alarms
        return Vote(policy.arn, alarm.name, decision, basis)

    def _apply_votes(self: World, resource_id: str, votes: list[Vote], t: float) -> None:
        target = self.targets[resource_id]
        enabled = {p.arn for p in self.policies.values() if p.resource_id == resource_id
                   and isinstance(p, TargetTrackingPolicy) and not p.disable_scale_in}
        vote = combine(votes, enabled)
        if vote is None:
            return
        policy = self.policies[vote.policy_arn]
        if isinstance(policy, StepPolicy):
            start_step_cooldown(policy.cooldown, vote.decision, now=t, desired_before=target.desired,
                                cooldown_s=policy.config.cooldown_s)
        else:
            start_cooldown(policy.cooldown, vote.decision, now=t, basis=vote.basis,
                           scale_out_cooldown_s=policy.scale_out_cooldown_s,
                           scale_in_cooldown_s=policy.scale_in_cooldown_s)
        self.set_desired(target, vote.decision.new_capacity, t,
                         cause=f"monitor alarm {vote.alarm_name} in state ALARM triggered policy {policy.name}")

    def _basis(self: World, alarm: Alarm, variant: Variant, target: ScalableTarget) -> int:
        """The capacity the proportional formula multiplies (``ModelParams.capacity_basis``).

        ``measured``: the instances the alarm's last datapoint was averaged over, = total / per-instance
        of that period — Invocations (Sum) / InvocationsPerInstance, or ApproximateBacklogSize /
        ApproximateBacklogSizePerInstance with the alarm's statistic (at 0 instances the per-instance
        value is the whole backlog, so the ratio is 1: R7). Falls back to the InService instances.
        """
        if self.params.capacity_basis == "desired":
            return target.desired
        total = MEASURED_TOTALS.get(alarm.metric.name)
        if self.params.capacity_basis == "measured" and alarm.last_value_ts is not None and total is not None:
            total_name, total_statistic = total
            total_key = alarm.metric._replace(name=total_name)
            ts = alarm.last_value_ts
            totals = self.metrics.datapoints(total_key, total_statistic or alarm.statistic, alarm.period_s, ts,
                                             ts + 1, self.now)
            per_instance = alarm.last_value or 0.0
            if totals and per_instance > 0:
                return max(1, round(totals[0][1] / per_instance))
        return variant.current

    # ------------------------------------------------------------------------ user alarms
    def put_metric_alarm(self: World, *, name: str, metric: MetricKey, statistic: str, period_s: int,
                         evaluation_periods: int, threshold: float, comparison: Comparison, now: float,
                         datapoints_to_alarm: int | None = None, treat_missing: TreatMissing = "missing",
                         actions: list[str] | None = None, description: str = "",
                         unit: str | None = None) -> Alarm:
        """PutMetricAlarm: create, or overwrite the definition of an existing alarm (its state is kept)."""
        self.advance(now)
        alarm = Alarm(name=name, arn=self.arn("cloudwatch", f"alarm:{name}"), metric=metric, statistic=statistic,
                      period_s=period_s, evaluation_periods=evaluation_periods,
                      datapoints_to_alarm=datapoints_to_alarm or evaluation_periods, threshold=threshold,
                      comparison=comparison, treat_missing=treat_missing, actions=list(actions or []),
                      description=description, unit=unit, state_updated_ts=now, created_ts=now)
        old = self.alarms.get(name)
        if old is not None:
            alarm.state, alarm.state_reason, alarm.state_updated_ts = old.state, old.state_reason, old.state_updated_ts
            alarm.managed = old.managed
        self.alarms[name] = alarm
        return alarm

    def delete_alarms(self: World, names: list[str], now: float) -> None:
        """DeleteAlarms: all or nothing — an unknown name is ResourceNotFound and deletes none."""
        self.advance(now)
        unknown = [n for n in names if n not in self.alarms]
        if unknown:
            raise WorldError("ResourceNotFound", f"{len(unknown)} of the alarms could not be found: "
                             f"{', '.join(unknown)}")
        for n in names:
            del self.alarms[n]

    # ---------------------------------------------------------------------- step policies
    def put_step_scaling(self: World, *, name: str, namespace: str, resource_id: str, dimension: str,
                         configuration: dict[str, Any], now: float) -> StepPolicy:
        """PutScalingPolicy (StepScaling): create or replace; the policy ARN is kept on replace."""
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        config = parse_step_config(configuration)
        existing = next((p for p in self.policies.values()
                         if p.name == name and p.resource_id == resource_id), None)
        if isinstance(existing, StepPolicy):
            existing.config, existing.configuration = config, dict(configuration)
            return existing
        if existing is not None:
            self._drop_policy(existing.arn)
        arn = (f"arn:aws:autoscaling:{self.region}:{self.account}:scalingPolicy:{self._uuid()}:resource/"
               f"{namespace}/{resource_id}:policyName/{name}")
        policy = StepPolicy(arn=arn, name=name, namespace=namespace, resource_id=resource_id,
                            dimension=dimension, config=config, configuration=dict(configuration), created_ts=now)
        self.policies[arn] = policy
        return policy
