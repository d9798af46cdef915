"""The emulator's HTTP server: a thread per connection feeding ``Router.handle``.

``start_in_thread(router)`` serves on 127.0.0.1 and an ephemeral port (tests, the embedded demo)
and returns a ``ServerHandle`` whose ``stop()`` closes the listener and every open connection.
``serve_forever(router)`` blocks on 127.0.0.1:4566 (LocalStack's port) until interrupted.

Contract: HTTP/1.1 with keep-alive and ``Expect: 100-continue`` (botocore sends it with S3
PutObject); request bodies framed by Content-Length or chunked transfer encoding (HTTP trailers
ignored; S3's aws-chunked encoding inside the body is the router's business); any method is passed
through to the router. The response's Content-Length is the body's, except for HEAD, where the
router's Content-Length header (the size a GET would return) is kept. Each connection has its
own daemon thread, so a handler that sleeps (the runtime models latency that way) blocks only its
own request. Per-request logging goes to the ``harness.emulator.http`` logger at DEBUG level;
a client that disconnects mid-response is not an error.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from harness.emulator.protocol import Router

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
MAX_LINE = 65536


class ServerHandle:
    """A running server: its ``url`` (``http://host:port``), ``port``, and ``stop()``."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, close open connections and wait for the serving thread. Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(router: Router, host: str = DEFAULT_HOST, port: int = 0) -> ServerHandle:
    """Serve ``router`` from a daemon thread; ``port=0`` picks a free port (see ``.port``)."""
    server = _Server((host, port), router)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator-http", daemon=True
    )
    thread.start()
    return ServerHandle(server, thread)


def serve_forever(router: Router, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve ``router`` on ``host:port`` in this thread until KeyboardInterrupt."""
    server = _Server((host, port), router)
    logger.info("emulator listening on http://%s:%d", *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close_connections()
        server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # load tests open many connections at once

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        self.router = router
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock every connection thread waiting for the next keep-alive request."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "scalecheck-emulator"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self.send_error(400, str(exc))
            return
        parts = urlsplit(self.path)
        headers = {name: ",".join(self.headers.get_all(name) or []) for name in set(self.headers.keys())}
        try:
            status, out_headers, out_body = self.server.router.handle(
                self.command, parts.path or "/", parts.query, headers, body
            )
        except Exception:  # Router.handle promises not to raise; never drop the connection silently
            logger.exception("router failed on %s %s", self.command, self.path)
            status, out_headers, out_body = 500, [("Content-Type", "text/plain")], b"internal error"
        # The body's length, except that a HEAD answer may state the length a GET would have (S3's
        # HeadObject does); a 204 has no Content-Length at all.
        length = str(len(out_body))
        for name, value in out_headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value
        try:
            self.send_response(status)
            for name, value in out_headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise ValueError(f"bad Content-Length {length_text!r}") from None
        if length < 0:
            raise ValueError(f"bad Content-Length {length_text!r}")
        body = self.rfile.read(length)
        if len(body) != length:
            raise ValueError("request body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            line = self.rfile.readline(MAX_LINE)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the emulator needs
                return b"".join(chunks)
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise ValueError("chunked body ended early")
            chunks.append(chunk)
            self.rfile.readline(MAX_LINE)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base-class signature)
        logger.debug("%s " + format, self.address_string(), *args)
