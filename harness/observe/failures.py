"""What went wrong talking to AWS, in one line with what to do: botocore's exceptions mapped in one place.

:func:`translate` turns a botocore exception (or a ``ClientError`` AWS answered) into the harness's own error,
whose message is the one line a command prints — or returns None for anything that is not botocore's:

======================================================  ======================  =====
botocore                                                 what the line says      exit
======================================================  ======================  =====
``ProfileNotFound``                                      the profile name, where to look     104
``NoCredentialsError``, ``PartialCredentialsError``      where credentials come from         105
``TokenRetrievalError``, ``UnauthorizedSSOTokenError``,  ``aws sso login --profile X``       105
``SSOTokenLoadError`` (any ``SSOError``)
``CredentialRetrievalError``                             the provider's own message          105
``EndpointConnectionError``, ``ConnectTimeoutError``,    the URL; network, region, endpoint   105
``ReadTimeoutError`` (any botocore connection error)     URL settings (emulator: is it up?)
``UnrecognizedClientException``, ``InvalidClientTokenId``, credentials refused: which, why,    105
``ExpiredToken``, ``InvalidSignatureException``, …       and how to refresh them
``AccessDenied``, ``AccessDeniedException``, …           the action; docs/iam-policy.json    105
any other ``ClientError`` / ``BotoCoreError``            AWS's code and message              105
======================================================  ======================  =====

A profile name that does not exist is a configuration error (104: nothing was contacted, and only the
arguments or ``AWS_PROFILE`` can fix it); everything else about credentials and reachability is 105, as
``docs/architecture.md`` "Exit codes" says. The helpers (:func:`error_code`, :func:`is_denied`,
:func:`is_unreachable`, :func:`is_fatal`, :func:`is_not_served`) let :mod:`harness.observe.preflight`
classify each check with the same rules.
"""

from __future__ import annotations

import botocore.exceptions as bx
from botocore.parsers import ResponseParserError

from harness.errors import ConfigError, InfrastructureError, ScalecheckError
from harness.observe.endpoints import is_loopback

POLICY_FILE = "docs/iam-policy.json"

DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "UnauthorizedAccess", "Forbidden"})
"""AWS's ways of saying "this identity may not call this action"."""

_KEY_UNKNOWN = "the access key id is not known (deleted, mistyped, or from another account's partition)"
_BAD_SECRET = ("the secret access key does not match the access key id (or this machine's clock is more than "
               "5 minutes off)")
_EXPIRED = "the session token has expired"
REFUSED_CODES: dict[str, str] = {
    "UnrecognizedClientException": _KEY_UNKNOWN, "InvalidClientTokenId": _KEY_UNKNOWN,
    "InvalidAccessKeyId": _KEY_UNKNOWN, "AuthFailure": _KEY_UNKNOWN,
    "InvalidSignatureException": _BAD_SECRET, "SignatureDoesNotMatch": _BAD_SECRET,
    "ExpiredToken": _EXPIRED, "ExpiredTokenException": _EXPIRED, "TokenRefreshRequired": _EXPIRED,
    "RequestExpired": "the request is too old (is this machine's clock right?)",
    "InvalidToken": "the session token is malformed or not valid",
    "MissingAuthenticationToken": "the request was not signed", "IncompleteSignature": "the signature is malformed",
    "MissingAuthenticationTokenException": "the request was not signed",
    "IncompleteSignatureException": "the signature is malformed",
}
"""Codes that mean the credentials themselves were refused, with what each means."""

NOT_SERVED_CODES = frozenset({"UnknownOperationException", "UnknownOperation", "InvalidAction",
                              "NotImplemented"})

_UNREACHABLE = (bx.ConnectionError, bx.HTTPClientError)
_SSO = (bx.TokenRetrievalError, bx.SSOError)
_CREDENTIALS = (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError, *_SSO)


def error_code(err: BaseException) -> str:
    """AWS's error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(err, bx.ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def _message(err: bx.ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")).strip()


def is_denied(err: BaseException) -> bool:
    """AWS refused this one action to this identity (IAM): the other actions may still be allowed."""
    return error_code(err) in DENIED_CODES


def is_unreachable(err: BaseException) -> bool:
    return isinstance(err, _UNREACHABLE)


def is_fatal(err: BaseException) -> bool:
    """No other call can do better: the target is unreachable, or the credentials are missing or refused."""
    return (is_unreachable(err) or isinstance(err, (*_CREDENTIALS, bx.ProfileNotFound))
            or error_code(err) in REFUSED_CODES)


def is_not_served(err: BaseException, url: str) -> bool:
    """The emulator at ``url`` (loopback only) does not serve this operation — never said of AWS, where every
    service exists: an unknown operation, a 404/501 for a service it has no route for, or an answer not in the
    service's protocol at all (an emulator without STS answers STS's XML protocol in JSON)."""
    if not is_loopback(url):
        return False
    if isinstance(err, ResponseParserError):
        return True
    if not isinstance(err, bx.ClientError):
        return False
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(err) in NOT_SERVED_CODES or (status in (404, 501) and error_code(err) in ("404", "501"))


def _profile_hint(profile_name: str | None) -> str:
    return f" --profile {profile_name}" if profile_name else ""


def _refresh_hint(profile_name: str | None) -> str:
    return (f"refresh them (`aws sso login{_profile_hint(profile_name)}`, a new assume-role session, or new keys) "
            f"and check with `aws sts get-caller-identity{_profile_hint(profile_name)}`")


def translate(err: BaseException, *, profile_name: str | None = None, url: str | None = None) -> ScalecheckError | None:
    """The harness error (one line, what to do) for a botocore failure; None when ``err`` is not botocore's.

    ``profile_name``: the ``--aws-profile`` (or ``AWS_PROFILE``) in use, named in the advice; ``url``: where the
    request went, when the exception does not say (a ``ClientError``)."""
    if isinstance(err, ScalecheckError):
        return err
    if isinstance(err, bx.ProfileNotFound):
        name = err.kwargs.get("profile", profile_name)
        return ConfigError(f"AWS profile {name!r} does not exist in the shared config or credentials file "
                           "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE): "
                           "`aws configure list-profiles` lists them; fix --aws-profile or AWS_PROFILE")
    if isinstance(err, _SSO):
        return InfrastructureError(f"the AWS SSO session{' of profile ' + repr(profile_name) if profile_name else ''} "
                                   f"has expired or was never started ({err}): run `aws sso login"
                                   f"{_profile_hint(profile_name or 'NAME')}`")
    if isinstance(err, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        found = f" ({err})" if isinstance(err, bx.PartialCredentialsError) else ""
        return InfrastructureError(
            f"no usable AWS credentials{' for profile ' + repr(profile_name) if profile_name else ''}{found}: "
            "looked in the environment, the shared config and credentials files, SSO, container and instance roles; "
            "run `aws configure` (or `aws sso login --profile NAME` and pass --aws-profile NAME), "
            "or use --local for the embedded emulator")
    if isinstance(err, bx.CredentialRetrievalError):
        return InfrastructureError(f"could not get AWS credentials: {err}; check the profile's credential_process / "
                                   f"role settings (`aws sts get-caller-identity{_profile_hint(profile_name)}`)")
    if is_unreachable(err):
        where = str(getattr(err, "kwargs", {}).get("endpoint_url") or url or "AWS")
        advice = ("is the emulator running (scalecheck emulator, or run with --local)?" if is_loopback(where) else
                  "check the network (proxy, VPN), the region and any --endpoint-url / AWS_ENDPOINT_URL* setting")
        return InfrastructureError(f"cannot reach {where}: {type(err).__name__}: {err}; {advice}")
    if isinstance(err, bx.ClientError):
        code, operation = error_code(err), getattr(err, "operation_name", "the request")
        where = f" by {url}" if url else ""
        if code in REFUSED_CODES:
            advice = ("the emulator accepts only the access key `test` with the secret `test`"
                      if url and is_loopback(url) else _refresh_hint(profile_name))
            return InfrastructureError(f"credentials refused{where} ({code} on {operation}): {REFUSED_CODES[code]}; "
                                       f"{advice}")
        if code in DENIED_CODES:
            return InfrastructureError(f"{operation}: access denied ({code}: {_message(err)}); grant the action to "
                                       f"this identity ({POLICY_FILE} lists every action a run needs)")
        return InfrastructureError(f"{operation} refused{where}: {code}: {_message(err)}")
    if isinstance(err, ResponseParserError):
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return InfrastructureError(f"{url or 'the endpoint'} did not answer in AWS's protocol: {first}")
    if isinstance(err, bx.BotoCoreError):
        return InfrastructureError(f"{type(err).__name__}: {err}")
    return None
