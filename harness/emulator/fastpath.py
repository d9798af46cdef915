"""The HTTP server's fast path for the one request a load test sends by the thousand: InvokeEndpoint.

``FastInvoke(emulator)`` answers the happy path of ``POST /endpoints/{name}/invocations``
without the general ``Router.handle`` machinery (route resolution, botocore-model decoding and
``ParamValidator``, generic serialization) and without holding a thread while the model's latency
passes. The server (:mod:`harness.emulator.http`) finds it with :func:`attached` (the emulator
:func:`attach`-es it to its router) and calls :meth:`FastInvoke.start` for every complete request it
parses; ``None`` means "not mine" and the request goes to ``Router.handle`` as before.

Taken (anything else returns ``None`` before touching the model, so every error is worded by the
general path exactly as before):

- ``POST`` to exactly ``/endpoints/<name>/invocations``, no query, ``<name>`` of the API's pattern
  (letters, digits, inner hyphens; at most 63 characters), a non-empty Content-Length-framed body;
- no header the general path would read differently: none of ``X-Amzn-SageMaker-*`` other than
  ``-Custom-Attributes`` and ``-Target-Variant``, no ``X-Amz-Target`` / ``smithy-protocol`` (they change
  the route), no ``Transfer-Encoding``; ``Accept``, ``Content-Type`` and the custom attributes ASCII and at
  most 1024 characters;
- a SigV4 signature that checks out (the router's own :class:`~harness.emulator.sigv4.SigV4Verifier`;
  any :class:`~harness.emulator.sigv4.SignatureError` leaves the request, and the wording of its error, to
  the general path) with a credential scope for ``sagemaker``. A request identical to one screened
  and verified before (same head as received, so the same target, headers and signature, and the same
  body: load generators send such repeats within the second their signatures share) is neither screened
  nor verified again: up to ``SCREENED_CACHE`` requests with bodies of at most ``SCREENED_MAX_BODY``
  bytes are remembered;
- no fault rule matches ``sagemaker-runtime:InvokeEndpoint`` (:meth:`~harness.emulator.faults.Faults.touches`):
  the router applies faults, so with such a rule every InvokeEndpoint takes the general path;
- ``World.invoke`` (under ``emulator.lock``, as ``runtime.invoke_endpoint`` calls it) does not refuse the
  request (unknown or not-InService endpoint, asynchronous endpoint, unknown TargetVariant: those raise
  before the model changes, so the general path repeats the call and answers the error).

Once the model has admitted (or refused, on overload or timeout) the request, the fast path owns the
answer: the :class:`Pending` it returns says after how many wall seconds (``latency / speed``) to call
:meth:`Pending.complete`, which frees the slot (``World.finish``) and returns the response the general
path would have produced: ``Content-Type`` (the request's Accept, else ``text/csv; charset=utf-8``),
``x-Amzn-Invoked-Production-Variant``, ``X-Amzn-SageMaker-Custom-Attributes`` when sent, the body
:func:`~harness.emulator.runtime.fake_prediction`, and ``x-amzn-RequestId`` (UUID-shaped like the
router's, but a random per-process prefix and a counter: :func:`request_id`); a refusal is
:func:`~harness.emulator.runtime.admission_error` serialized by the router's own error encoder.
(Handing a refused request to the general path would admit it a second time.)

``served`` and ``fallbacks`` count requests taken and declined (tests use them).
"""

from __future__ import annotations

import itertools
import re
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from harness.autoscaling.entities import WorldError
from harness.emulator.errors import AwsError, Response
from harness.emulator.protocol import Router
from harness.emulator.routing import Route
from harness.emulator.runtime import DEFAULT_ACCEPT, admission_error, fake_prediction
from harness.emulator.sigv4 import SignatureError

if TYPE_CHECKING:
    from harness.autoscaling.physics import Admission
    from harness.emulator.app import Emulator

SERVICE = "sagemaker-runtime"
SIGNING_NAME = "sagemaker"
PATH = re.compile(r"/endpoints/([a-zA-Z0-9](?:-*[a-zA-Z0-9])*)/invocations")
MAX_NAME = 63
MAX_HEADER_VALUE = 1024
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
TARGET_VARIANT = "x-amzn-sagemaker-target-variant"
SCREENED_CACHE = 4096  # requests remembered as screened and verified (cleared when full)
SCREENED_MAX_BODY = 16384  # larger requests are not remembered
_READ_HEADERS = frozenset({CUSTOM_ATTRIBUTES, TARGET_VARIANT})
_ROUTE_HEADERS = frozenset({"x-amz-target", "smithy-protocol", "transfer-encoding"})

# x-amzn-RequestId: UUID-shaped (version 4), a random per-process prefix and a counter: unique, and far
# cheaper than uuid.uuid4() per request.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count(int.from_bytes(uuid.uuid4().bytes[:5], "big"))


def request_id() -> str:
    """A fresh request id for a fast-path answer."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


_attached: weakref.WeakKeyDictionary[Router, FastInvoke] = weakref.WeakKeyDictionary()


def attach(router: Router, fast: FastInvoke) -> None:
    """Let servers of ``router`` started from now on answer InvokeEndpoint through ``fast``."""
    _attached[router] = fast


def detach(router: Router) -> None:
    """Servers of ``router`` started from now on use only ``Router.handle``."""
    _attached.pop(router, None)


def attached(router: Router) -> FastInvoke | None:
    """The fast path attached to ``router``, if any (the HTTP server asks once, when it starts)."""
    return _attached.get(router)


class Pending:
    """An admitted (or refused) InvokeEndpoint: answer with :meth:`complete` after ``delay_s`` wall seconds."""

    __slots__ = ("delay_s", "complete")

    def __init__(self, delay_s: float, complete: Callable[[], Response]) -> None:
        self.delay_s = delay_s
        # Frees the request's slot (when it holds one) and returns (status, headers, body). Call it once,
        # also when the client has gone away (the server then drops the answer).
        self.complete = complete


class FastInvoke:
    """The InvokeEndpoint fast path of one emulator (see the module docstring)."""

    def __init__(self, emu: Emulator) -> None:
        self._emu = emu
        self._verifier = emu.router.verifier
        self._faults = emu.faults
        self._route = Route("rest-json", SERVICE, "InvokeEndpoint")
        # (head, body) of requests screened and verified before -> what _screen returned: a byte-for-byte repeat
        # carries a valid signature too (load generators send identical requests within the second their
        # signatures share)
        self._screened: dict[tuple[bytes, bytes], tuple[str, str | None, str | None, str | None, bytes]] = {}
        self.served = 0
        self.fallbacks = 0

    def start(self, method: str, target: str, headers: Mapping[str, str], body: bytes, *,
              head: bytes = b"") -> Pending | None:
        """Admit the request and say when to answer it, or ``None`` to leave it to ``Router.handle``.

        ``target`` is the request-target as received; ``headers`` have lower-case names (repeated
        headers joined with ``","``); ``body`` was framed by Content-Length. ``head``: the request line and
        headers as received, when the caller has them; a request whose head and body were screened and
        verified before skips both.
        """
        pending = self._start(method, target, headers, body, head) if method == "POST" else None
        if pending is None:
            self.fallbacks += 1
        else:
            self.served += 1
        return pending

    def _start(self, method: str, target: str, headers: Mapping[str, str], body: bytes, head: bytes) -> Pending | None:
        if self._faults.touches(SERVICE, "InvokeEndpoint"):
            return None
        key = (head, body) if head and len(body) <= SCREENED_MAX_BODY else None
        screened = self._screened.get(key) if key is not None else None
        if screened is None:
            screened = self._screen(method, target, headers, body)
            if screened is None:
                return None
            if key is not None:
                if len(self._screened) >= SCREENED_CACHE:
                    self._screened.clear()
                self._screened[key] = screened
        name, accept, custom, variant_header, prediction = screened
        emu = self._emu
        now = emu.clock.now()
        with emu.lock:
            try:
                admission, variant = emu.world.invoke(name, now, variant_header)
            except WorldError:
                return None
        delay_s = admission.latency_s / emu.clock.speed if admission.latency_s > 0 else 0.0
        if admission.error is not None:
            return Pending(delay_s, lambda: self._refused(name, admission))

        def complete() -> Response:
            with emu.lock:
                emu.world.finish(name, variant)
            out = [("Content-Type", accept or DEFAULT_ACCEPT), ("x-Amzn-Invoked-Production-Variant", variant)]
            if custom:
                out.append(("X-Amzn-SageMaker-Custom-Attributes", custom))
            out.append(("x-amzn-RequestId", request_id()))
            return 200, out, prediction

        return Pending(delay_s, complete)

    def _screen(self, method: str, target: str, headers: Mapping[str, str],
                body: bytes) -> tuple[str, str | None, str | None, str | None, bytes] | None:
        """(endpoint name, Accept, CustomAttributes, TargetVariant, response body) of a request the fast path
        may answer (its shape is the common case and its signature checks out), else None."""
        match = PATH.fullmatch(target)
        if match is None or not body:
            return None
        name = match.group(1)
        if len(name) > MAX_NAME:
            return None
        if not _ROUTE_HEADERS.isdisjoint(headers):
            return None
        for header in headers:
            if header[:17] == "x-amzn-sagemaker-" and header not in _READ_HEADERS:
                return None
        accept = headers.get("accept")
        custom = headers.get(CUSTOM_ATTRIBUTES)
        for value in (accept, custom, headers.get("content-type")):
            if value is not None and (len(value) > MAX_HEADER_VALUE or not value.isascii()):
                return None
        try:
            identity = self._verifier.verify(method, target, "", headers, body)
        except SignatureError:
            return None
        if identity.service != SIGNING_NAME:
            return None
        return name, accept, custom, headers.get(TARGET_VARIANT), fake_prediction(body)

    def _refused(self, name: str, admission: Admission) -> Response:
        rid = request_id()
        error: AwsError = admission_error(self._emu, name, admission)
        # The router's own encoder, so the error is byte for byte what Router.handle would answer.
        status, out, payload = self._emu.router._error_or_internal(self._route, error, rid)
        out.append(("x-amzn-RequestId", rid))
        return status, out, payload
