"""Credentials for signing: the standard botocore chain, refreshed during long runs; test/test on loopback.

``resolve_credentials(region, host)`` returns a ``CredentialSource``; ``source.get()`` is called once
per signed request and returns botocore ``ReadOnlyCredentials`` (access key, secret, token).

Refresh policy: temporary credentials (SSO, assume-role, instance/container role, credential_process)
come from botocore as ``RefreshableCredentials``, which refresh themselves inside
``get_frozen_credentials()`` -- optionally from 15 minutes before expiry (a failed refresh keeps the old
credentials), mandatorily from 10 minutes before (a failure raises). Calling that for every request costs
a lock and a tz-aware clock read, so ``CredentialSource`` caches the frozen triple and asks botocore again
every ``recheck_s`` (60 s) of monotonic time: a refresh starts at most a minute into botocore's
15-minute advisory window, long before the credentials expire. Static credentials (environment,
shared file keys) are fetched once.

On a loopback host (the emulator) the credentials are the emulator's: ``test``/``test`` unless
``SCALECHECK_EMULATOR_ACCESS_KEY_ID``/``SCALECHECK_EMULATOR_SECRET_ACCESS_KEY`` say otherwise. The
environment's ``AWS_*`` credentials are never used there, so a developer's real key id and session token
never reach a local emulator (a ``run --worker`` beside a ``--local`` master signs as the master does).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import botocore.session
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

from harness.observe.endpoints import is_loopback  # one rule for "the emulator", shared with the run's clients

EMULATOR_KEY = "test"
EMULATOR_SECRET = "test"
EMULATOR_KEY_VARIABLE = "SCALECHECK_EMULATOR_ACCESS_KEY_ID"
EMULATOR_SECRET_VARIABLE = "SCALECHECK_EMULATOR_SECRET_ACCESS_KEY"
RECHECK_S = 60.0


class NoCredentialsError(RuntimeError):
    """The credential chain found nothing to sign with."""


class CredentialSource:
    """Current credentials for signing, from botocore ``Credentials`` (refreshable or not)."""

    def __init__(self, credentials: Credentials, *, recheck_s: float = RECHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = credentials
        self._recheck_s = recheck_s if isinstance(credentials, RefreshableCredentials) else math.inf
        self._clock = clock
        self._frozen = credentials.get_frozen_credentials()
        self._recheck_at = clock() + self._recheck_s

    @classmethod
    def static(cls, access_key: str, secret_key: str, token: str | None = None) -> CredentialSource:
        return cls(Credentials(access_key, secret_key, token))

    @property
    def method(self) -> str:
        """Where botocore found the credentials ('env', 'shared-credentials-file', 'sso', 'iam-role', ...)."""
        return str(getattr(self._credentials, "method", "") or "explicit")

    def get(self) -> ReadOnlyCredentials:
        if self._clock() >= self._recheck_at:
            self._frozen = self._credentials.get_frozen_credentials()  # refreshes if near expiry
            self._recheck_at = self._clock() + self._recheck_s
        return self._frozen


def emulator_credentials() -> tuple[str, str]:
    """(access key, secret) for the emulator on loopback: never the environment's AWS credentials."""
    return (os.environ.get(EMULATOR_KEY_VARIABLE, EMULATOR_KEY),
            os.environ.get(EMULATOR_SECRET_VARIABLE, EMULATOR_SECRET))


def resolve_credentials(region: str, host: str = "", *, profile: str | None = None,
                        session: botocore.session.Session | None = None) -> CredentialSource:
    """Credentials for signing requests to ``host`` in ``region`` (see the module docstring).

    The chain is botocore's: environment, shared credentials/config (``profile`` or ``AWS_PROFILE``,
    including SSO and assume-role), container and instance roles. Raises ``NoCredentialsError`` when it
    finds none.
    """
    if host and is_loopback(host):
        return CredentialSource.static(*emulator_credentials())
    if session is None:
        session = botocore.session.Session(profile=profile)
        session.set_config_variable("region", region)
    credentials = session.get_credentials()
    if credentials is None:
        raise NoCredentialsError("no AWS credentials found for signing requests (environment, profile, SSO, role)")
    return CredentialSource(credentials)
