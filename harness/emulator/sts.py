"""AWS STS (awsQuery): ``GetCallerIdentity``, and who the emulator's credentials are.

Contract: the caller of an access key is the IAM user named after it in the emulator's account
(``arn:aws:iam::<account>:user/<access key>``: ``user/test`` for the test credentials), with a stable
``AIDA…`` user id derived from the key. :func:`caller_arn` is also the principal of the messages of
injected ``deny`` faults (:mod:`harness.emulator.faults`). GetCallerIdentity needs no permission on AWS.
The wire (form-encoded request, XML answer) is :mod:`harness.emulator.query`'s.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from harness.emulator.protocol import Call

if TYPE_CHECKING:
    from harness.emulator.app import Emulator


def register(emu: Emulator) -> None:
    emu.register_ops("sts", {"GetCallerIdentity": get_caller_identity})


def caller_arn(account: str, access_key: str) -> str:
    """The IAM identity of ``access_key`` in ``account``."""
    return f"arn:aws:iam::{account}:user/{access_key}"


def user_id(access_key: str) -> str:
    """A stable IAM user id (``AIDA`` + 17 characters, as AWS's unique ids look) for ``access_key``."""
    digest = base64.b32encode(hashlib.sha256(access_key.encode()).digest()).decode("ascii")
    return "AIDA" + digest[:17]


def get_caller_identity(emu: Emulator, call: Call) -> dict[str, Any]:
    account = emu.world.account
    return {"UserId": user_id(call.access_key), "Account": account, "Arn": caller_arn(account, call.access_key)}
