"""Worker threads for the emulator's server: run blocking jobs (``Router.handle``) off the event loop.

``Workers().submit(job)`` runs ``job()`` on a daemon thread and returns at once: on an idle worker if
there is one, else on a new thread; there is no cap (as with the thread-per-connection server this
replaced), so a job that sleeps never delays another. A worker that has had no job for ``idle_s``
seconds (``WORKER_IDLE_S``) ends. Jobs handle their own errors; an exception that escapes one is logged
(``logger.exception``) and the worker carries on. No order between jobs is promised.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

WORKER_IDLE_S = 30.0


class Workers:
    """Daemon threads for ``Router.handle``: a new one whenever none is idle; idle ones end after a while."""

    def __init__(self, idle_s: float = WORKER_IDLE_S) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job minus jobs queued for them
        self._idle_s = idle_s

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="emulator-worker", daemon=True).start()

    def _work(self, job: Callable[[], None]) -> None:
        while True:
            try:
                job()
            except Exception:  # jobs handle their own errors; never lose the worker silently
                logger.exception("emulator worker job failed")
            job = None  # type: ignore[assignment]  # drop references while idle
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody counted on this worker: end it
                        self._idle -= 1
                        return
                job = self._jobs.get()  # a job was queued for it just now


__all__ = ["WORKER_IDLE_S", "Workers"]
