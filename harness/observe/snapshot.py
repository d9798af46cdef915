"""Leave the account as it was found: snapshot the scaling before a run changes it, restore it after.

Contract, in the run folder (each file one :class:`~harness.observe.scalingstate.ScalingState`, JSON):

``scaling-before.json``         the target, its policies, their user alarms and scheduled actions, read
                                before anything was changed (:meth:`ScalingGuard.snapshot`);
``scaling-applied.json``        what the run set: read after setup, and again after each relative
                                ``at`` action it put (:meth:`ScalingGuard.applied`);
``scaling-after-restore.json``  what describe_* answered after the restore.

:func:`restore_state` takes the target back to a snapshot: re-registers it with its Min/Max/SuspendedState
(deregisters it when there was none), deletes the policies and scheduled actions that were not there,
puts back the missing or changed ones (same names and configurations; AWS gives them new ARNs and
managed-alarm names), puts back the user alarms that changed (their actions pointed at the policies'
new ARNs) and deletes the alarms scalecheck put that were not there. :class:`ScalingGuard` is what a
run calls; its :meth:`~ScalingGuard.restore` never raises an AWS error (it says what failed and how to
finish by hand). :func:`restore_run_folder` is ``scalecheck restore RUN_DIR``: it refuses
(:class:`~harness.errors.ConfigError`) when the target changed since the run last set it, naming what
differs. Every restore appends ``restore`` events to ``events.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions

from harness.errors import ConfigError, InfrastructureError
from harness.observe.aws import Clients
from harness.observe.scalingdiff import Change, canon, diff_states, drift
from harness.observe.scalingstate import AlarmState, ScalingState, read_state
from harness.profile import Profile, StepPolicy
from harness.record import Clock, RunEvent, RunFolder, write_json_atomic

BEFORE, APPLIED, AFTER_RESTORE = "scaling-before.json", "scaling-applied.json", "scaling-after-restore.json"

Say = Callable[[str], None]
Event = Callable[[str], None]


def write_state(folder: Path, filename: str, state: ScalingState) -> None:
    write_json_atomic(Path(folder) / filename, state.model_dump(mode="json"))


def load_state(folder: Path, filename: str) -> ScalingState | None:
    """The state in ``folder/filename``, or None when the file is not there."""
    path = Path(folder) / filename
    if not path.is_file():
        return None
    try:
        return ScalingState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ConfigError(f"{path}: not a readable scaling state ({err})") from None


def _aws_error(err: botocore.exceptions.ClientError) -> str:
    e = err.response.get("Error", {})
    return f"{e.get('Code')}: {e.get('Message')}"


def _profile_alarm_names(profile: Profile | None) -> list[str]:
    if profile is None:
        return []
    return [p.alarm_name for p in profile.scaling.policies if isinstance(p, StepPolicy)]


def _resolved(alarm: AlarmState, arns: dict[str, str]) -> dict[str, Any]:
    """``alarm``'s definition with the old ARNs of re-created policies replaced by their new ones."""
    out = dict(alarm.definition)
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        if out.get(key):
            out[key] = [arns.get(a, a) for a in out[key]]
    return out


def restore_state(clients: Clients, before: ScalingState, event: Event, *,
                  extra_alarm_names: list[str] | tuple[str, ...] = ()) -> tuple[list[Change], ScalingState]:
    """Take the target back to ``before`` (see the module docstring): the changes made, in order, and the
    state read afterwards (``kind`` after-restore). ``event`` gets one line per change.
    ``extra_alarm_names``: alarms the run may have put (its profile's), to delete when they were not there."""
    names = list(dict.fromkeys(before.alarm_names() + list(extra_alarm_names)))
    current = read_state(clients, before.region, before.resource_id, extra_alarm_names=names)
    aas, cw, ids = clients.autoscaling, clients.cloudwatch, before.ids
    done: list[Change] = []

    def did(change: Change) -> None:
        done.append(change)
        event(str(change))

    steps = diff_states(current, before)
    try:
        if before.target is None:
            if current.target is not None:
                aas.deregister_scalable_target(**ids)
                did(next(c for c in steps if c.kind == "target"))
        else:
            target = next((c for c in steps if c.kind == "target"), None)
            if target is not None:
                t = before.target
                aas.register_scalable_target(**ids, MinCapacity=t.min_capacity, MaxCapacity=t.max_capacity,
                                             SuspendedState=dict(t.suspended_state))
                did(target)
            for change in (c for c in steps if c.kind == "policy"):
                was, now = before.policy(change.name), current.policy(change.name)
                if now is not None and (was is None or was.policy_type != now.policy_type):
                    aas.delete_scaling_policy(PolicyName=change.name, **ids)
                if was is not None:
                    aas.put_scaling_policy(**was.put_request(ids))
                did(change)
            for change in (c for c in steps if c.kind == "scheduled action"):
                was = before.action(change.name)
                if current.action(change.name) is not None:  # delete first: a put would keep unset fields
                    aas.delete_scheduled_action(ScheduledActionName=change.name, **ids)
                if was is not None:
                    aas.put_scheduled_action(**was.put_request(ids))
                did(change)
        now_policies = read_state(clients, before.region, before.resource_id).policies
        new_arns = {p.arn: q.arn for p in before.policies for q in now_policies
                    if p.name == q.name and p.arn and q.arn and p.arn != q.arn}
        for alarm in before.alarms:
            wanted = _resolved(alarm, new_arns)
            live = current.alarm(alarm.name)
            if live is None or canon(live.definition, refs=False) != canon(wanted, refs=False):
                cw.put_metric_alarm(**wanted)
                did(Change("alarm", alarm.name, "create" if live is None else "change",
                           "put back as it was" + (", its actions on the re-created policies" if new_arns else "")))
        stray = [a.name for a in current.alarms if a.own and before.alarm(a.name) is None]
        if stray:
            cw.delete_alarms(AlarmNames=stray)
            for name in stray:
                did(Change("alarm", name, "remove", "put by scalecheck for the run"))
    except botocore.exceptions.ClientError as err:
        raise InfrastructureError(f"restoring the scaling of {before.resource_id}: {_aws_error(err)}") from None
    except botocore.exceptions.BotoCoreError as err:
        raise InfrastructureError(f"restoring the scaling of {before.resource_id}: {err}") from None
    after = read_state(clients, before.region, before.resource_id, extra_alarm_names=names, kind="after-restore")
    return done, after


def _report(before: ScalingState, done: list[Change], after: ScalingState, say: Say, event: Event) -> None:
    """Say and record how the restore ended: complete, or what still differs from ``before``."""
    left = diff_states(after, before)
    if left:
        event(f"incomplete: {'; '.join(map(str, left))}")
        say(f"restore left differences from {BEFORE}: {'; '.join(map(str, left))}")
        return
    event(f"complete: {len(done)} change(s); {AFTER_RESTORE}")
    say(f"scaling of {before.resource_id} restored as it was before the run ({len(done)} change(s))")


class ScalingGuard:
    """A run's promise to leave the scaling as it found it: :meth:`snapshot` before setup, :meth:`applied`
    after it (and after each relative action), :meth:`restore` at the end, whatever the end was."""

    def __init__(self, clients: Clients, profile: Profile, folder: RunFolder, clock: Clock, say: Say) -> None:
        self.clients, self.profile, self.folder, self.clock, self.say = clients, profile, folder, clock, say
        self.before: ScalingState | None = None
        self.restored = False

    def _event(self, detail: str, kind: str = "restore") -> None:
        self.folder.append("events", RunEvent(ts=self.clock.endpoint_ts(), kind=kind, detail=detail))

    def snapshot(self) -> None:
        """Read the target as it is and keep it as ``scaling-before.json`` (before anything changes)."""
        state = read_state(self.clients, self.profile.region, self.profile.resource_id,
                           extra_alarm_names=_profile_alarm_names(self.profile), kind="before")
        write_state(self.folder.path, BEFORE, state)
        self.before = state
        target = "no scalable target" if state.target is None else (
            f"min {state.target.min_capacity} max {state.target.max_capacity}")
        summary = (f"{target}, {len(state.policies)} policy(ies), {len(state.alarms)} alarm(s), "
                   f"{len(state.scheduled_actions)} scheduled action(s)")
        self._event(f"{self.profile.resource_id}: {summary} ({BEFORE})", kind="scaling_snapshot")
        self.say(f"scaling snapshot of {self.profile.resource_id}: {summary} ({BEFORE}); restored after the run")

    def applied(self) -> None:
        """Record what the run has set (``scaling-applied.json``): what ``scalecheck restore`` compares with."""
        if self.before is None or self.restored:
            return
        self._record_applied()

    def _record_applied(self) -> None:
        assert self.before is not None
        state = read_state(self.clients, self.profile.region, self.profile.resource_id,
                           extra_alarm_names=self.before.alarm_names() + _profile_alarm_names(self.profile),
                           kind="applied")
        write_state(self.folder.path, APPLIED, state)

    def restore(self) -> None:
        """Put back ``scaling-before.json`` once; an AWS error is said and recorded, not raised."""
        if self.before is None or self.restored:
            return
        self.restored = True
        where = self.folder.path
        try:
            done, after = restore_state(self.clients, self.before, self._event,
                                        extra_alarm_names=_profile_alarm_names(self.profile))
        except InfrastructureError as err:
            self._event(f"failed: {err}")
            try:  # what the run last set is now the half-restored state: `scalecheck restore` compares with it
                self._record_applied()
                again = f"scalecheck restore {where}"
            except InfrastructureError:
                again = f"scalecheck restore {where} --force"
            self.say(f"restore failed: {err}; finish it with: {again}")
            return
        except BaseException:
            self._event("interrupted")
            self.say(f"restore interrupted half way; finish it with: scalecheck restore {where} --force")
            raise
        write_state(where, AFTER_RESTORE, after)
        _report(self.before, done, after, self.say, self._event)


def snapshot_of(run_dir: Path) -> ScalingState | None:
    """The run's ``scaling-before.json`` (None: the run never changed the scaling)."""
    RunFolder(run_dir).read_run()  # FileNotFoundError when it is not a run folder
    return load_state(run_dir, BEFORE)


def restore_run_folder(run_dir: Path, clients: Clients, say: Say, *, force: bool = False) -> list[Change]:
    """``scalecheck restore RUN_DIR``: put back the run's ``scaling-before.json`` after a run that could
    not (killed). Refuses (ConfigError) when the target changed since the run last set it
    (``scaling-after-restore.json``, else ``scaling-applied.json``), unless ``force``."""
    folder = RunFolder(run_dir)
    run = folder.read_run()
    before = load_state(run_dir, BEFORE)
    if before is None:
        say(f"nothing to restore: {run_dir} has no {BEFORE} (the run did not change the scaling)")
        return []
    last = load_state(run_dir, AFTER_RESTORE) or load_state(run_dir, APPLIED)
    names = before.alarm_names() + (last.alarm_names() if last else [])
    current = read_state(clients, before.region, before.resource_id, extra_alarm_names=names)
    if not force:
        if last is None:
            raise ConfigError(f"restore refused: {run_dir} has no {APPLIED} (the run stopped while it set the "
                              f"scaling up), so what it changed is unknown; --force restores {BEFORE} anyway")
        changed = drift(last, current)
        if changed:
            raise ConfigError(f"restore refused: {before.resource_id} changed since the run set it "
                              f"({'; '.join(map(str, changed))}); restoring would overwrite that. "
                              f"--force restores {BEFORE} anyway")
    clock = run.clock or Clock.identity()

    def event(detail: str) -> None:
        folder.append("events", RunEvent(ts=clock.endpoint_ts(), kind="restore", detail=detail))

    try:
        event(f"by hand (scalecheck restore{' --force' if force else ''})")
        done, after = restore_state(clients, before, event, extra_alarm_names=names)
        write_state(run_dir, AFTER_RESTORE, after)
        _report(before, done, after, say, event)
    finally:
        folder.close()
    return done
