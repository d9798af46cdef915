"""Scheduled actions of the model (aws-semantics §3, §4): PutScheduledAction and their firing.

A mixin of :class:`harness.autoscaling.world.World`. Each action keeps its next fire time
(:func:`harness.autoscaling.schedule.next_fire_ts`); ``World.advance`` runs the due ones in time
order with its other events. At fire time the target's MinCapacity and/or MaxCapacity are set; a
desired capacity below the new min scales out to it, above the new max scales in to it, otherwise
capacity is unchanged (§3, S4, S8). Cooldowns do not apply. While ``ScheduledScalingSuspended`` is set
the actions that come due are skipped, so on resume only actions not yet due run (§4, S6). Actions
of one target run in fire-time order, ties in creation order (§3, S4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.autoscaling.entities import WorldError
from harness.autoscaling.schedule import Schedule, next_fire_ts, parse_schedule, zone

if TYPE_CHECKING:
    from harness.autoscaling.world import World

MAX_SCHEDULED_ACTIONS_PER_TARGET = 200  # §3 [S7]


@dataclass
class ScheduledAction:
    """One scheduled action; ``next_ts`` is its next fire time (None: it will not fire again)."""

    name: str
    arn: str
    namespace: str
    resource_id: str
    dimension: str
    schedule: Schedule
    timezone: str | None
    start_ts: float | None
    end_ts: float | None
    min_capacity: int | None
    max_capacity: int | None
    created_ts: float
    next_ts: float | None = None


class ScheduledMixin:
    """PutScheduledAction / DeleteScheduledAction / firing (methods of World)."""

    def put_scheduled_action(self: World, *, name: str, namespace: str, resource_id: str, dimension: str,
                             now: float, schedule: str | None = None, timezone: str | None = None,
                             start_ts: float | None = None, end_ts: float | None = None,
                             min_capacity: int | None = None, max_capacity: int | None = None) -> ScheduledAction:
        """PutScheduledAction: create, or update (unspecified fields keep their values)."""
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        key = (resource_id, name)
        old = self.scheduled.get(key)
        if old is None and schedule is None:
            raise WorldError("ValidationException", "Schedule is required to create a scheduled action.")
        if old is None and sum(1 for rid, _ in self.scheduled if rid == resource_id) \
                >= MAX_SCHEDULED_ACTIONS_PER_TARGET:
            raise WorldError("LimitExceededException", f"A scalable target can have at most "
                             f"{MAX_SCHEDULED_ACTIONS_PER_TARGET} scheduled actions; {resource_id} has reached it.")
        try:
            parsed = parse_schedule(schedule) if schedule is not None else old.schedule  # type: ignore[union-attr]
            tz = timezone if timezone is not None else (old.timezone if old else None)
            zone(tz)
        except ValueError as exc:
            raise WorldError("ValidationException", str(exc)) from None
        low = min_capacity if min_capacity is not None else (old.min_capacity if old else None)
        high = max_capacity if max_capacity is not None else (old.max_capacity if old else None)
        if low is not None and high is not None and low > high:
            raise WorldError("ValidationException",
                             f"Minimum capacity {low} cannot be greater than maximum capacity {high}")
        start = start_ts if start_ts is not None else (old.start_ts if old else None)
        end = end_ts if end_ts is not None else (old.end_ts if old else None)
        if start is not None and end is not None and start > end:
            raise WorldError("ValidationException", "StartTime must be before EndTime.")
        arn = old.arn if old else (f"arn:aws:autoscaling:{self.region}:{self.account}:scheduledAction:"
                                   f"{self._uuid()}:resource/{namespace}/{resource_id}:scheduledActionName/{name}")
        action = ScheduledAction(
            name=name, arn=arn, namespace=namespace, resource_id=resource_id, dimension=dimension,
            schedule=parsed, timezone=tz, start_ts=start, end_ts=end, min_capacity=low, max_capacity=high,
            created_ts=old.created_ts if old else now)
        action.next_ts = self._next_fire(action, now)
        self.scheduled[key] = action
        return action

    def delete_scheduled_action(self: World, name: str, namespace: str, resource_id: str, dimension: str,
                                now: float) -> None:
        self.advance(now)
        self.target(namespace, resource_id, dimension)
        if self.scheduled.pop((resource_id, name), None) is None:
            raise WorldError("ObjectNotFoundException",
                             f"No scheduled action found for service namespace: {namespace}, resource ID: "
                             f"{resource_id}, scalable dimension: {dimension}, scheduled action name: {name}")

    def _drop_scheduled_actions(self: World, resource_id: str) -> None:
        for key in [k for k in self.scheduled if k[0] == resource_id]:
            del self.scheduled[key]

    def _next_fire(self: World, action: ScheduledAction, after_ts: float) -> float | None:
        return next_fire_ts(action.schedule, after_ts, action.start_ts, action.end_ts, action.timezone,
                            anchor_ts=action.created_ts)

    def _next_scheduled_ts(self: World) -> float:
        out = math.inf
        for a in self.scheduled.values():
            ts = a.next_ts
            if ts is not None and ts < out:
                out = ts
        return out

    def _run_scheduled(self: World, t: float) -> None:
        """Fire every action due by ``t`` in fire-time then creation order, and schedule its next time."""
        due = sorted((a for a in self.scheduled.values() if a.next_ts is not None and a.next_ts <= t),
                     key=lambda a: (a.next_ts, a.created_ts))  # stable: then put order
        for action in due:
            action.next_ts = self._next_fire(action, t)
            target = self.targets.get(action.resource_id)
            if target is None:
                continue
            if target.suspended["ScheduledScalingSuspended"]:
                self.log(t, "scheduled_action", action=action.name, resource_id=action.resource_id,
                         status="skipped", reason="ScheduledScalingSuspended")
                continue
            self._apply_scheduled(action, t)

    def _apply_scheduled(self: World, action: ScheduledAction, t: float) -> None:
        target = self.targets[action.resource_id]
        low = target.min_capacity if action.min_capacity is None else action.min_capacity
        high = target.max_capacity if action.max_capacity is None else action.max_capacity
        if low > high:  # UNCONFIRMED: a one-sided action crossing the other bound fails, nothing changes
            self.log(t, "scheduled_action", action=action.name, resource_id=action.resource_id,
                     status="failed", reason=f"Minimum capacity {low} cannot be greater than maximum {high}")
            return
        target.min_capacity, target.max_capacity = low, high
        self.log(t, "scheduled_action", action=action.name, resource_id=action.resource_id, status="fired",
                 min_capacity=low, max_capacity=high)
        cause = f"scheduled action name {action.name} was triggered"
        if target.desired < low:
            self.set_desired(target, low, t, cause=cause)
        elif target.desired > high:
            self.set_desired(target, high, t, cause=cause)
