"""The emulator application: one :class:`World` on a sped-up clock, behind the AWS protocol router.

Services: SageMaker, SageMaker Runtime (InvokeEndpoint, InvokeEndpointAsync), Application Auto
Scaling, CloudWatch, S3 (an in-memory :class:`~harness.emulator.s3.ObjectStore`, where
asynchronous inputs are read and results written), STS (GetCallerIdentity: :mod:`harness.emulator.sts`)
and Service Quotas (the endpoint instance quotas the model enforces: :mod:`harness.emulator.quotas`).

Endpoint time starts at the wall time the emulator starts and runs ``speed`` times faster
(docs/architecture.md "Time"); every timestamp it returns is endpoint time. A background ticker advances the
model so alarms fire and instances come InService without traffic; every request also advances it
first. All model access goes through one lock: the model is single-threaded. After each advance the
asynchronous requests the model finished are taken from it (under the lock) and their result objects
written to S3 (outside it; ``runtime.write_async_results``).

Non-AWS routes (``/_emulator/...``, unsigned, plain JSON): ``GET /_emulator/health``, ``GET
/_emulator/clock`` (the wall/endpoint time mapping), ``GET /_emulator/truth`` (the ground-truth log) and
``/_emulator/faults``: ``GET`` lists the fault rules with their counters, ``POST {"rules": [...]}``
replaces them (``"append": true`` adds), ``DELETE`` clears them; a bad rule is a 400 naming it.

Faults (:mod:`harness.emulator.faults`): AWS-shaped failures injected into matching calls on every
request path — ``deny`` (IAM's AccessDenied), ``throttle`` (the service's throttling error) at a
deterministic ``rate``, ``delay`` (N wall seconds) and ``drop`` (the connection closes unanswered) —
given at start with ``faults=`` (rules or their JSON) or at run time through the route above.

With its own (wall) clock the emulator attaches an InvokeEndpoint fast path to its router
(:mod:`harness.emulator.fastpath`): the HTTP server answers the common InvokeEndpoint from its event
loop, the model's latency a timer rather than a sleeping thread. An emulator on a caller's clock (the
simulator's virtual clock) has none; its handlers are called directly.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import World
from harness.emulator import aas, aas_scheduled, cloudwatch, quotas, runtime, s3, sagemaker, sts
from harness.emulator.fastpath import FastInvoke, attach
from harness.emulator.faults import Faults, Rule, parse_rules
from harness.emulator.protocol import Call, Router

DEFAULT_PORT = 4566
DEFAULT_CREDENTIALS = {"test": "test"}


class Clock(Protocol):
    """What the emulator needs of a clock: endpoint time now, and a sleep in endpoint seconds."""

    speed: float

    def now(self) -> float: ...

    def sleep(self, endpoint_s: float) -> None: ...


class EmulatorClock:
    """Endpoint time = wall time at start + elapsed wall time x ``speed`` (monotonic underneath)."""

    def __init__(self, speed: float, start_wall_ts: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.wall0 = time.time() if start_wall_ts is None else start_wall_ts
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self.wall0 + (time.monotonic() - self._mono0) * self.speed

    def sleep(self, endpoint_s: float) -> None:
        """Sleep for ``endpoint_s`` seconds of endpoint time."""
        if endpoint_s > 0:
            time.sleep(endpoint_s / self.speed)


class Emulator:
    """SageMaker + SageMaker Runtime + Application Auto Scaling + CloudWatch + S3, emulated."""

    def __init__(self, params: ModelParams | None = None, *, speed: float = 1.0,
                 credentials: dict[str, str] | None = None, region: str = "us-east-1",
                 tick_s: float = 0.02, clock: Clock | None = None, faults: Any = None) -> None:
        self.params = params or ModelParams()
        # ``clock``: any object with now()/sleep()/speed — the simulator passes a virtual clock it advances
        self.clock: Clock = clock if clock is not None else EmulatorClock(speed)
        self.world = World(self.params, start_ts=self.clock.now(), region=region)
        self.lock = threading.Lock()
        self.router = Router(DEFAULT_CREDENTIALS if credentials is None else credentials)
        self.models: dict[str, dict[str, Any]] = {}
        self.endpoint_configs: dict[str, dict[str, Any]] = {}
        self.s3 = s3.ObjectStore()
        # InvokeEndpointAsync details the model does not keep (Accept), by inference id, until written
        self.async_requests: dict[str, dict[str, Any]] = {}
        # Results that could not be written (missing bucket...): (inference id, S3 URI, reason)
        self.async_write_failures: list[tuple[str, str, str]] = []
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        # ``faults``: Rule objects, or their JSON ({"rules": [...]} or a list; ValueError when invalid)
        rules = faults if faults is None or all(isinstance(r, Rule) for r in faults) else parse_rules(faults)
        self.faults = Faults(self.world.account, rules or (), stop=self._stop)
        self.router.faults = self.faults
        for module in (sagemaker, runtime, aas, aas_scheduled, cloudwatch, s3, sts, quotas):
            module.register(self)
        self.router.register_raw("GET", "/_emulator/health", lambda _params: (200, {"ok": True}))
        self.router.register_raw("GET", "/_emulator/clock", self._clock_route)
        self.router.register_raw("GET", "/_emulator/truth", self._truth_route)
        self.router.register_raw("GET", "/_emulator/faults", lambda _params: (200, {"rules": self.faults.describe()}))
        self.router.register_raw("POST", "/_emulator/faults", self._set_faults_route)
        self.router.register_raw("DELETE", "/_emulator/faults", self._clear_faults_route)
        if clock is None:  # wall-clock time: the HTTP server may answer InvokeEndpoint from a timer
            attach(self.router, FastInvoke(self))

    def register_ops(self, service: str, ops: dict[str, Callable[[Emulator, Call], dict[str, Any]]]) -> None:
        """Register handlers written as ``fn(emulator, call)`` for ``service``'s operations."""
        for op, fn in ops.items():
            self.router.register(service, op, functools.partial(fn, self))

    @property
    def speed(self) -> float:
        return self.clock.speed

    def now(self) -> float:
        return self.clock.now()

    def advance(self) -> float:
        """Advance the model to now and write the asynchronous results it produced; returns now."""
        now = self.clock.now()
        with self.lock:
            self.world.advance(now)
            results = self.world.drain_async_results()
        if results:
            runtime.write_async_results(self, results)
        return now

    def start_ticker(self) -> None:
        """Advance the model in the background every ``tick_s`` wall seconds until :meth:`stop`."""
        if self._ticker is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self._tick_s):
                self.advance()

        self._ticker = threading.Thread(target=loop, name="emulator-ticker", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None

    def _clock_route(self, _params: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"endpoint_ts": self.clock.now(), "wall_ts": time.time(), "speed": self.clock.speed,
                     "endpoint0_ts": getattr(self.clock, "wall0", self.clock.now())}

    def _set_faults_route(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            rules = parse_rules(params)
        except ValueError as err:
            return 400, {"error": str(err)}
        self.faults.set(rules, append=params.get("append") is True)
        return 200, {"rules": self.faults.describe()}

    def _clear_faults_route(self, _params: dict[str, Any]) -> tuple[int, Any]:
        self.faults.clear()
        return 200, {"rules": []}

    def _truth_route(self, _params: dict[str, Any]) -> tuple[int, Any]:
        self.advance()
        with self.lock:
            events = [{"ts": e.ts, "kind": e.kind, **e.detail} for e in self.world.truth]
        return 200, {"events": events}
