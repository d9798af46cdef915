"""The emulator's HTTP server: one asyncio event loop (uvloop) feeding ``Router.handle`` and the fast path.

``start_in_thread(router)`` serves on 127.0.0.1 and an ephemeral port (tests, the embedded demo)
from a daemon thread running the event loop, and returns a ``ServerHandle`` whose ``stop()`` closes
the listener and every open connection (idempotent). ``serve_forever(router)`` blocks on
127.0.0.1:4566 (LocalStack's port) until interrupted.

Contract: HTTP/1.1 with keep-alive (requests on one connection are answered in order; HTTP/1.0 and
``Connection: close`` close after the answer) and ``Expect: 100-continue`` (botocore sends it with S3
PutObject: ``100 Continue`` goes out once the headers are in and the body is not); request bodies framed
by Content-Length or chunked transfer encoding (chunk extensions and HTTP trailers ignored; S3's
aws-chunked encoding inside the body is the router's business); any method is passed through to the
router, with the header names in lower case and repeated headers joined with ``","``. Every answer
carries ``Server`` and ``Date``; its Content-Length is the body's, except for HEAD, where the router's
Content-Length header (the size a GET would return) is kept and no body is sent, and a 204 has no
Content-Length at all. Each answer is one write on a TCP_NODELAY socket (asyncio and uvloop set it), so
Nagle's algorithm never delays a keep-alive response. Malformed framing gets a 400 and the connection is
closed. Per-request logging goes to the ``harness.emulator.http`` logger at DEBUG level; a client that
disconnects mid-request is not an error.

Where requests run:

- The fast path (:mod:`harness.emulator.fastpath`, when the router has one attached: an ``Emulator``
  on its wall clock) answers the common InvokeEndpoint on the loop itself: it admits the request into
  the model and the answer is written from a ``loop.call_later`` timer once the model's latency has
  passed, so any number of held requests cost no thread.
- Everything else (control plane, S3, ``/_emulator`` routes, requests the fast path declines) runs
  ``Router.handle`` on a worker thread (:mod:`harness.emulator.workers`), so a handler that sleeps (the
  runtime models latency that way) blocks only its own request.

A request the router answers with :data:`~harness.emulator.errors.DROP` (an injected ``drop`` fault) gets
no answer: its connection is aborted.

``stop()`` closes the listener and aborts every connection; requests held by the fast path are
completed at once (freeing their model slots) and their answers dropped.

Requests are framed and parsed by :mod:`harness.emulator.framing` (bytes in, requests out); this module
holds the listener, the event loop and the per-connection protocol (ordering, 100-continue, answers).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import urlsplit

import uvloop

from harness.emulator import fastpath
from harness.emulator.errors import DROP, Response
from harness.emulator.framing import MAX_LINE, BadRequest, Request, parse_head
from harness.emulator.protocol import Router
from harness.emulator.workers import Workers

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
BACKLOG = 512  # load tests open many connections at once
SERVER_NAME = "scalecheck-emulator"
PAUSE_BUFFER = 4 << 20  # stop reading from a connection that has this much unprocessed input
# Wall seconds a connection may take to send a request's head, or stay silent (idle between requests, or
# mid-body), before it is closed: a client that drip-feeds bytes cannot hold a connection forever. A request
# being answered (the model's latency, a held fast-path request) is never timed out.
HEADER_TIMEOUT_WALL_S = 30.0
IDLE_TIMEOUT_WALL_S = 120.0
SWEEP_EVERY_WALL_S = 1.0

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class ServerHandle:
    """A running server: its ``url`` (``http://host:port``), ``port``, and ``stop()``."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.host: str = server.host
        self.port: int = server.port
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, close open connections and wait for the serving thread. Idempotent."""
        self._server.stop()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(router: Router, host: str = DEFAULT_HOST, port: int = 0) -> ServerHandle:
    """Serve ``router`` from a daemon thread; ``port=0`` picks a free port (see ``.port``)."""
    server = _Server(router, host, port)
    server.start()
    return ServerHandle(server)


def serve_forever(router: Router, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve ``router`` on ``host:port`` until KeyboardInterrupt (the loop runs on a daemon thread)."""
    server = _Server(router, host, port)
    server.start()
    logger.info("emulator listening on http://%s:%d", server.host, server.port)
    try:
        while server.thread_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


class _Server:
    def __init__(self, router: Router, host: str, port: int) -> None:
        self.router = router
        self.fast = fastpath.attached(router)
        self.workers = Workers()
        # Bound here, in the caller's thread, so a busy port fails start_in_thread itself.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.host, self.port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        self.loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        self.connections: set[_Connection] = set()
        self.pending: dict[asyncio.TimerHandle, fastpath.Pending] = {}
        self._listener: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._date_second = -1
        self._date = ""
        self._status_lines: dict[int, str] = {}

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="emulator-http", daemon=True)
        self._thread.start()
        ready.wait()
        if self._listener is None:
            self._thread.join()
            self._sock.close()
            raise RuntimeError(f"the emulator could not listen on {self.host}:{self.port}")

    def thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, ready: threading.Event) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            self._listener = loop.run_until_complete(
                loop.create_server(lambda: _Connection(self), sock=self._sock, backlog=BACKLOG))
        except Exception:
            logger.exception("emulator server failed to start")
            loop.close()
            return
        finally:
            ready.set()
        loop.call_later(SWEEP_EVERY_WALL_S, self._sweep)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self.thread_alive() and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._shutdown()))
            except RuntimeError:  # the loop closed meanwhile
                pass
            assert self._thread is not None
            self._thread.join()
        self._sock.close()

    async def _shutdown(self) -> None:
        try:
            if self._listener is not None:
                self._listener.close()
            for conn in list(self.connections):
                conn.abort()
            for timer, pending in list(self.pending.items()):
                timer.cancel()
                _complete_quietly(pending)
            self.pending.clear()
            for _ in range(3):  # let the aborted transports report connection_lost
                await asyncio.sleep(0)
        finally:
            self.loop.stop()

    def _sweep(self) -> None:
        """Close the connections past their header or idle timeout; again every SWEEP_EVERY_WALL_S."""
        now = time.monotonic()
        for connection in list(self.connections):
            connection.expire(now)
        if not self._stopped:
            self.loop.call_later(SWEEP_EVERY_WALL_S, self._sweep)

    def date(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(now, usegmt=True)
            self._status_lines = {}
        return self._date

    def status_lines(self, status: int) -> str:
        """The status line and the Server and Date headers of an answer (cached for the current second)."""
        date = self.date()
        lines = self._status_lines.get(status)
        if lines is None:
            lines = self._status_lines[status] = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                                                  f"Server: {SERVER_NAME}\r\nDate: {date}\r\n")
        return lines


def _complete_quietly(pending: fastpath.Pending) -> Response | None:
    try:
        return pending.complete()
    except Exception:
        logger.exception("emulator fast path failed to complete a request")
        return None


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order and answers each before starting the next."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.request: Request | None = None  # headers parsed, body (maybe) incomplete
        self.busy = False  # a request is being answered
        self.closed = False
        self.paused = False
        self.processing = False  # inside _process: an answer written synchronously must not recurse
        self.last_data = time.monotonic()  # when bytes last came in (or an answer went out)
        self.head_since: float | None = None  # when the first byte of a head not yet complete came in

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        if self.request is None and self.head_since is None:
            self.head_since = self.last_data
        self.buf += data
        if not self.busy:
            self._process()
        elif len(self.buf) > PAUSE_BUFFER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def expire(self, now: float) -> None:
        """Close this connection if it is past HEADER_TIMEOUT_WALL_S sending a head, or IDLE_TIMEOUT_WALL_S
        silent while not being answered."""
        if self.busy or self.closed:
            return
        if self.head_since is not None and self.request is None and now - self.head_since > HEADER_TIMEOUT_WALL_S:
            logger.debug("closing a connection: no complete request head in %.0f s", HEADER_TIMEOUT_WALL_S)
            self.abort()
        elif now - self.last_data > IDLE_TIMEOUT_WALL_S:
            self.abort()

    # -- parsing
    def _process(self) -> None:
        if self.processing:
            return
        self.processing = True
        try:
            while not self.busy and not self.closed:
                try:
                    done = self._next_request()
                except BadRequest as exc:
                    self._bad_request(str(exc))
                    return
                if not done:
                    break
        finally:
            self.processing = False
        if self.paused and not self.busy and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def _next_request(self) -> bool:
        """Parse and dispatch one request from the buffer; False when more input is needed."""
        buf = self.buf
        request = self.request
        if request is None:
            while buf[:2] == b"\r\n":  # tolerated before a request line (RFC 9112 2.2)
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_LINE:
                    raise BadRequest("request headers too long")
                return False
            if end > MAX_LINE:
                raise BadRequest("request headers too long")
            request = self.request = parse_head(bytes(buf[:end]))
            self.head_since = None
            del buf[: end + 4]
        if request.decoder is not None:
            decoded = request.decoder.feed(buf)  # consumes the body from the buffer as it arrives
            if decoded is None:
                self._maybe_continue(request)
                return False
            body, used = decoded, 0
        else:
            if len(buf) < request.length:
                self._maybe_continue(request)
                return False
            used = request.length
            body = bytes(buf[:used])
        del buf[:used]
        self.request = None
        self._dispatch(request, body)
        return True

    def _maybe_continue(self, request: Request) -> None:
        if (not request.continued and request.version != "HTTP/1.0"
                and request.headers.get("expect", "").lower() == "100-continue" and self.transport is not None):
            request.continued = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _bad_request(self, message: str) -> None:
        """Answer a request that could not be framed with the AWS error of the service it addressed (when its
        head was read), then close the connection."""
        logger.debug("bad request: %s", message)
        request = self.request
        target = None
        if request is not None:
            path, _, query = request.target.partition("?")
            target = (request.method, path, query, request.headers)
        status, headers, body = self.server.router.framing_error(message, target)
        lines = [f"HTTP/1.1 {status} Bad Request", f"Server: {SERVER_NAME}", f"Date: {self.server.date()}",
                 *(f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "connection")),
                 "Connection: close", f"Content-Length: {len(body)}"]
        self.busy = True
        if self.transport is not None and not self.closed:
            self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            self.transport.close()
        self.closed = True

    # -- answering
    def _dispatch(self, request: Request, body: bytes) -> None:
        self.busy = True
        server = self.server
        fast = server.fast
        if fast is not None and not request.chunked:
            try:
                pending = fast.start(request.method, request.target, request.headers, body, head=request.head)
            except Exception:
                logger.exception("emulator fast path failed on %s %s", request.method, request.target)
                pending = None
            if pending is not None:
                if pending.delay_s <= 0:
                    response = _complete_quietly(pending)
                    self._respond(request, response if response is not None else _INTERNAL)
                else:
                    self._hold(request, pending)
                return
        loop = server.loop
        router = server.router

        def job() -> None:
            parts = urlsplit(request.target)
            try:
                response = router.handle(request.method, parts.path or "/", parts.query, request.headers, body)
            except Exception:  # Router.handle promises not to raise; never drop the connection silently
                logger.exception("router failed on %s %s", request.method, request.target)
                response = _INTERNAL
            try:
                if response is DROP:
                    loop.call_soon_threadsafe(self.abort)
                else:
                    loop.call_soon_threadsafe(self._respond, request, response)
            except RuntimeError:  # the server stopped meanwhile
                pass

        server.workers.submit(job)

    def _hold(self, request: Request, pending: fastpath.Pending) -> None:
        server = self.server
        timer: asyncio.TimerHandle | None = None

        def fire() -> None:
            server.pending.pop(timer, None)  # type: ignore[arg-type]
            response = _complete_quietly(pending)
            self._respond(request, response if response is not None else _INTERNAL)

        timer = server.loop.call_later(pending.delay_s, fire)
        server.pending[timer] = pending

    def _respond(self, request: Request, response: Response) -> None:
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return
        status, out_headers, out_body = response
        head = request.method == "HEAD"
        # The body's length, except that a HEAD answer may state the length a GET would have (S3's
        # HeadObject does); a 204 has no Content-Length at all.
        length = str(len(out_body))
        lines = [self.server.status_lines(status)]
        for name, value in out_headers:
            if name.lower() == "content-length":
                if head:
                    length = value
                continue
            lines.append(f"{name}: {value}\r\n")
        if status != 204:
            lines.append(f"Content-Length: {length}\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1", "replace")
        transport.write(data if head else data + out_body)
        logger.debug('"%s %s %s" %d %d', request.method, request.target, request.version, status, len(out_body))
        if not request.keep_alive:
            transport.close()
            self.closed = True
            return
        self.busy = False
        self.last_data = time.monotonic()
        self.head_since = time.monotonic() if self.buf else None  # a pipelined next head started already
        if (self.buf or self.paused) and not self.processing:
            self._process()


_INTERNAL: Response = (500, [("Content-Type", "text/plain")], b"internal error")


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerHandle", "serve_forever", "start_in_thread"]
