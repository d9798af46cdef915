"""What a command may change in the account: the consent rules, decided before anything is contacted.

Contract: :func:`resolve_consent` is pure (a profile and flags in, a :class:`Consent` or a
:class:`~harness.errors.ConfigError` out). "AWS mode" is anything but ``--local``: an emulator reached on
an explicit ``--endpoint-url`` is treated as AWS, so that what a user's account gets can be tested
against it. In AWS mode

- the profile's scaling (scalable target, policies, alarms, scheduled actions, start capacity) is put
  only with ``--apply-scaling`` or ``scaling.apply: true`` written in the profile; otherwise the run
  verifies the endpoint's live setup and changes nothing (``scaling.apply: false`` always does that);
- an endpoint is created only with ``--allow-create`` or ``endpoint.create: true`` written in the
  profile, and never from the emulator's stand-ins (its echo image, a role in account 000000000000):
  that is refused naming the fields;
- a profile with scenarios needs the scaling consent (each scenario puts its own policies).

With ``--local`` (a fresh embedded emulator) both are given unless the profile says ``false``.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError
from harness.profile import Profile


@dataclass(frozen=True)
class Consent:
    """What a run or ``setup`` may do: put the profile's scaling, create the endpoint."""

    apply_scaling: bool
    create_endpoint: bool
    aws_mode: bool  # anything but --local: the account is someone's, leave it as it was found

    def applied_to(self, profile: Profile) -> Profile:
        """``profile`` with ``scaling.apply`` and ``endpoint.create`` set to what was consented: what the
        preflight checks against (the profile's scaling, or the live one; may the endpoint be created)."""
        return profile.model_copy(update={
            "scaling": profile.scaling.model_copy(update={"apply": self.apply_scaling}),
            "endpoint": profile.endpoint.model_copy(update={"create": self.create_endpoint})})


def resolve_consent(profile: Profile, *, local: bool, apply_flag: bool = False, create_flag: bool = False,
                    check_image: bool = True, scenarios: bool = True) -> Consent:
    """The consent of a command on ``profile`` (see the module docstring). ``check_image``: refuse the
    emulator's stand-ins when creation is allowed against AWS (``setup --dry-run`` only reports them);
    ``scenarios``: whether the profile's scenarios will run (``setup`` runs none)."""
    s, ep = profile.scaling, profile.endpoint
    if apply_flag and s.apply is False:
        raise ConfigError("--apply-scaling: the profile says scaling.apply: false (remove one of them)")
    if create_flag and ep.create is False:
        raise ConfigError("--allow-create: the profile says endpoint.create: false (remove one of them)")
    apply = s.apply is not False and (local or apply_flag or s.apply is True)
    create = ep.create is not False and (local or create_flag or ep.create is True)
    if create and not local and check_image and (fields := ep.emulator_placeholders()):
        raise ConfigError(f"{', '.join(fields)}: creating an endpoint on AWS needs your model's image and an "
                          f"execution role in your account; the profile has the emulator's stand-ins "
                          f"({ep.image}, {ep.execution_role_arn})")
    if scenarios and profile.scenarios and not apply and not local:
        raise ConfigError("scenarios: each scenario puts the profile's own policies (some left out) on the "
                          "endpoint; pass --apply-scaling (the endpoint's setup is restored after each one)")
    return Consent(apply_scaling=apply, create_endpoint=create, aws_mode=not local)
