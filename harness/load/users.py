"""When a user sends (:class:`PacedUser`, both traffic modes), and :class:`RealtimeUser`, which calls
InvokeEndpoint.

Open loop, a user sends when the arrival scheduler (:mod:`harness.load.openloop`) hands it an arrival.
Closed loop (``traffic.mode: closed``): ``rate / user_rps`` users each pacing at ``users / rate``,
rereading the rate while they wait (:meth:`PacedUser._arrival`). When the load stops, users finish the
request they are sending (Locust's stop timeout), so every request the endpoint received is counted; a
user that is stopping sends nothing more and returns to Locust.

Time: pacing and sleeps are wall time (the rate is read through the clock, per wall second). Each
finished request goes to ``RUN.recorder`` with its wall-clock latency in milliseconds and its AWS error
code (None on success: HTTP 200 for InvokeEndpoint) and to the latency EWMA the open-loop pool is sized by.
"""

from __future__ import annotations

import random
import time

import gevent
import gevent.queue
from locust import FastHttpUser, task
from locust.user.users import LOCUST_STATE_STOPPING

from harness.load.clients import error_code, signer
from harness.load.invoke import invoke_request
from harness.load.lifecycle import first_request
from harness.load.openloop import ARRIVAL_WAIT_WALL_S, note_latency
from harness.load.state import RUN, rate_wall

IDLE_POLL_WALL_S = 0.05  # how often an idle user looks at the rate again
# Closed loop: the longest a pacing user sleeps before rereading the rate and the user count.
PACING_RECHECK_WALL_S = 0.25


def _pacing_s(rate_wall: float) -> float:
    """Closed loop: ``users / rate`` wall seconds between one user's starts (``rate_wall`` > 0). ``users`` is the
    larger of the shape's count and the users running and not stopping: while Locust spawns users the shape's
    count keeps the ones already running from rushing; while it stops them one by one, the users still sending
    keep theirs (pacing by the new, smaller count would overshoot the rate until the rest stopped)."""
    return max(RUN.users, RUN.live, 1) / rate_wall


class PacedUser(FastHttpUser):
    """What decides when the users send: open loop, an arrival handed over by the scheduler; closed loop,
    pacing at ``users / rate`` wall seconds between request starts."""

    abstract = True
    _last_start = 0.0
    _phase = 0.0
    _idle = True
    _live = False  # counted in RUN.live

    def stop(self, force: bool = False) -> bool:
        """Locust's stop, except that asking a user that is already stopping to stop again is a no-op. With a
        stop timeout, the ramp-down to 0 users at the end of the load and the final stop can both ask the same
        user (Locust checks the state before its stop call runs) and Locust would raise."""
        if not force and self._state == LOCUST_STATE_STOPPING:
            return False
        self._leave()
        return bool(super().stop(force))

    def on_stop(self) -> None:
        self._leave()

    def _leave(self) -> None:
        """This user sends no more (it is stopping): the others' closed-loop pacing stops counting it."""
        if self._live:
            self._live = False
            RUN.live -= 1

    def _start_pacing(self) -> None:
        RUN.live += 1
        self._live = True
        self._last_start = time.monotonic()
        # Closed loop: where in the pacing interval this user sends. Whenever sending (re)starts, at the first
        # moment with a positive rate, the user waits that fraction of one interval, so users that were idle
        # together (spawned before the load clock, or through a stage at rate 0) do not send in lockstep.
        self._phase = random.random()
        self._idle = True

    def _arrival(self) -> bool:
        """Whether to send a request now (False: return to Locust, which may be stopping this user).

        Open loop: an arrival handed over by the scheduler. Closed loop: wait until ``users / rate`` wall seconds
        after this user's previous start, rereading the rate and the user count at least every
        :data:`PACING_RECHECK_WALL_S`: a wait computed before a rate step-up would otherwise run at the old,
        longer pacing and the load would fall short after every increase."""
        if RUN.open_loop:
            while True:  # stay a waiting getter (leaving the channel even briefly would drop arrivals)
                try:
                    RUN.channel.get(timeout=ARRIVAL_WAIT_WALL_S)
                except gevent.queue.Empty:
                    if self._stopping():
                        return False
                    continue
                return True
        waited = False
        while True:
            if self._stopping():
                return False
            rate = rate_wall()
            now = time.monotonic()
            if rate <= 0:  # between stages at rate 0, or past the end: send nothing
                self._idle = True
                gevent.sleep(IDLE_POLL_WALL_S)
                continue
            pacing = _pacing_s(rate)
            if self._idle:
                self._idle = False
                self._last_start = now - pacing * (1.0 - self._phase)
            due = self._last_start + pacing
            if now >= due:
                if now - due < pacing:  # on time, or a little late (sleep overshoot): keep the cadence
                    self._last_start = due
                    return True
                if not waited:  # its own request took longer than the pacing: send at once, as closed loops do
                    self._last_start = now
                    return True
                # The pacing shrank while this user waited (a rate step-up): every waiting user is overdue at
                # once. Take up this user's phase of the new interval instead of all sending together.
                self._last_start = now - pacing * (1.0 - self._phase)
                continue
            waited = True
            gevent.sleep(min(due - now, PACING_RECHECK_WALL_S))

    def _stopping(self) -> bool:
        return RUN.stopped or getattr(self, "_state", None) == LOCUST_STATE_STOPPING

    def _done(self, latency_ms: float, error: str | None) -> None:
        if RUN.recorder is not None:
            RUN.recorder.record(latency_ms, error)
        note_latency(latency_ms)

    def wait_time(self) -> float:
        return 0.0  # both modes wait in _arrival, inside the task


class RealtimeUser(PacedUser):
    """Calls InvokeEndpoint at the pace the shape sets (``users / rate`` seconds between requests)."""

    def on_start(self) -> None:
        assert RUN.profile is not None
        self._signer = signer(RUN.profile.region, self.host or "")
        self._request = invoke_request(RUN.profile.endpoint.name, RUN.profile.traffic.payload.encode(),
                                       RUN.profile.traffic.content_type, accept="*/*")
        self._start_pacing()

    @task
    def invoke(self) -> None:
        if not self._arrival():
            return
        request = self._request
        headers = self._signer.headers(request)
        if not RUN.first_request_sent and RUN.clock is not None:
            first_request(RUN.clock.endpoint_ts())
        started = time.perf_counter()
        with self.client.post(request.path, data=request.body, headers=headers, name="InvokeEndpoint",
                              catch_response=True) as response:
            latency_ms = (time.perf_counter() - started) * 1000.0
            error = None if response.status_code == 200 else error_code(response)
            if error is None:
                response.success()
            else:
                response.failure(f"{error} (HTTP {response.status_code})")
        self._done(latency_ms, error)
