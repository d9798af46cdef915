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
  ``Router.handle`` on a worker thread, so a handler that sleeps (the runtime models latency that way)
  blocks only its own request. Workers are daemon threads, started whenever none is idle (there is
  no cap, as with the thread-per-connection server this replaced) and ended after
  ``WORKER_IDLE_S`` without work.

``stop()`` closes the listener and aborts every connection; requests held by the fast path are
completed at once (freeing their model slots) and their answers dropped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import urlsplit

import uvloop

from harness.emulator import fastpath
from harness.emulator.protocol import Response, Router

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
MAX_LINE = 65536  # longest request line, header block or chunk-size line accepted
MAX_BODY = 1 << 30
BACKLOG = 512  # load tests open many connections at once
WORKER_IDLE_S = 30.0
SERVER_NAME = "scalecheck-emulator"
PAUSE_BUFFER = 4 << 20  # stop reading from a connection that has this much unprocessed input

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


class _Workers:
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


class _Server:
    def __init__(self, router: Router, host: str, port: int) -> None:
        self.router = router
        self.fast = fastpath.attached(router)
        self.workers = _Workers()
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


class _BadRequest(Exception):
    pass


class _Request:
    """A request whose headers have been parsed; the body may still be arriving."""

    __slots__ = ("method", "target", "version", "headers", "chunked", "length", "keep_alive", "continued", "head")

    def __init__(self, method: str, target: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = -1
        if not self.chunked:
            text = headers.get("content-length")
            if text:
                try:
                    length = int(text)
                except ValueError:
                    raise _BadRequest(f"bad Content-Length {text!r}") from None
                if length < 0 or length > MAX_BODY:
                    raise _BadRequest(f"bad Content-Length {text!r}")
        self.length = max(length, 0)
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection
        else:
            self.keep_alive = "close" not in connection
        self.continued = False
        self.head = b""  # the request line and headers as received


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order and answers each before starting the next."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.request: _Request | None = None  # headers parsed, body (maybe) incomplete
        self.busy = False  # a request is being answered
        self.closed = False
        self.paused = False
        self.processing = False  # inside _process: an answer written synchronously must not recurse

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
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

    # -- parsing
    def _process(self) -> None:
        if self.processing:
            return
        self.processing = True
        try:
            while not self.busy and not self.closed:
                try:
                    done = self._next_request()
                except _BadRequest as exc:
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
                    raise _BadRequest("request headers too long")
                return False
            if end > MAX_LINE:
                raise _BadRequest("request headers too long")
            request = self.request = _parse_head(bytes(buf[:end]))
            del buf[: end + 4]
        if request.chunked:
            decoded = _decode_chunked(buf)
            if decoded is None:
                self._maybe_continue(request)
                return False
            body, used = decoded
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

    def _maybe_continue(self, request: _Request) -> None:
        if (not request.continued and request.version != "HTTP/1.0"
                and request.headers.get("expect", "").lower() == "100-continue" and self.transport is not None):
            request.continued = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _bad_request(self, message: str) -> None:
        logger.debug("bad request: %s", message)
        body = message.encode("utf-8", "replace")
        head = (f"HTTP/1.1 400 Bad Request\r\nServer: {SERVER_NAME}\r\nDate: {self.server.date()}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        self.busy = True
        if self.transport is not None and not self.closed:
            self.transport.write(head.encode("latin-1") + body)
            self.transport.close()
        self.closed = True

    # -- answering
    def _dispatch(self, request: _Request, body: bytes) -> None:
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
                loop.call_soon_threadsafe(self._respond, request, response)
            except RuntimeError:  # the server stopped meanwhile
                pass

        server.workers.submit(job)

    def _hold(self, request: _Request, pending: fastpath.Pending) -> None:
        server = self.server
        timer: asyncio.TimerHandle | None = None

        def fire() -> None:
            server.pending.pop(timer, None)  # type: ignore[arg-type]
            response = _complete_quietly(pending)
            self._respond(request, response if response is not None else _INTERNAL)

        timer = server.loop.call_later(pending.delay_s, fire)
        server.pending[timer] = pending

    def _respond(self, request: _Request, response: Response) -> None:
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
        if (self.buf or self.paused) and not self.processing:
            self._process()


_INTERNAL: Response = (500, [("Content-Type", "text/plain")], b"internal error")


# Parsed request heads by their bytes: a load generator sends the same head (same signature, within a
# second) many times over, so parsing it once saves most of the per-request parsing. Cleared when full.
HEAD_CACHE = 1024
_heads: dict[bytes, tuple[str, str, str, dict[str, str]]] = {}


def _parse_head(head: bytes) -> _Request:
    """The request line and headers (names lower-cased, repeated headers joined with ``","``)."""
    parsed = _heads.get(head)
    if parsed is None:
        parsed = _parse_head_text(head)
        if len(_heads) >= HEAD_CACHE:
            _heads.clear()
        _heads[head] = parsed
    method, target, version, headers = parsed
    request = _Request(method, target, version, dict(headers))  # a copy: handlers may add to their headers
    request.head = head
    return request


def _parse_head_text(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    request_line, _, rest = head.decode("latin-1").partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"bad request line {request_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n") if rest else ():
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            if line[:1] in (" ", "\t"):
                continue  # obsolete line folding: ignored
            raise _BadRequest(f"bad header line {line[:80]!r}")
        name = name.lower()
        if name in headers:
            headers[name] = f"{headers[name]},{value.strip()}"
        else:
            headers[name] = value.strip()
    return parts[0], parts[1], parts[2], headers


def _decode_chunked(buf: bytearray) -> tuple[bytes, int] | None:
    """(body, bytes used) of a complete chunked body at the start of ``buf``; None while incomplete."""
    chunks = []
    pos = 0
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            if len(buf) - pos > MAX_LINE:
                raise _BadRequest("chunk size line too long")
            return None
        line = bytes(buf[pos:line_end])
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest(f"bad chunk size line {line[:40]!r}") from None
        if size < 0:
            raise _BadRequest(f"bad chunk size line {line[:40]!r}")
        pos = line_end + 2
        if size == 0:
            while True:  # trailers carry nothing the emulator needs; an empty line ends them
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    if len(buf) - pos > MAX_LINE:
                        raise _BadRequest("trailer line too long")
                    return None
                empty = line_end == pos
                pos = line_end + 2
                if empty:
                    return b"".join(chunks), pos
        if len(buf) < pos + size + 2:
            return None
        chunks.append(bytes(buf[pos : pos + size]))
        pos += size
        if buf[pos : pos + 2] != b"\r\n":
            raise _BadRequest("chunk does not end where its size says")
        pos += 2


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerHandle", "serve_forever", "start_in_thread"]
