"""The event-loop HTTP server's contract (``harness.emulator.http``), against a stand-in router.

The server only calls ``router.handle(method, path, query, headers, body)`` (and ``router.framing_error``
for a request it cannot frame), so a small object that
echoes what it got stands in for ``Router``; raw sockets and ``http.client`` check the framing.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.emulator.http import ServerHandle, start_in_thread

PARTIES = 50


class EchoRouter:
    """``/echo`` answers what it got; ``/head`` states a GET's length; ``/empty`` is 204; ``/together``
    waits until ``PARTIES`` requests are inside ``handle`` at once (a barrier: serialised handling fails)."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(PARTIES, timeout=20)

    def framing_error(self, message: str, request: object) -> tuple[int, list[tuple[str, str]], bytes]:
        return 400, [("Content-Type", "text/plain")], message.encode()

    def handle(self, method: str, path: str, query: str, headers: dict[str, str],
               body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/head":
            return 200, [("Content-Type", "text/plain"), ("Content-Length", "1234")], b""
        if path == "/empty":
            return 204, [("x-amzn-RequestId", "r")], b""
        if path == "/together":
            self.barrier.wait()
            return 200, [("Content-Type", "text/plain")], b"together"
        if path == "/boom":
            raise RuntimeError("router bug")
        if path == "/slow":
            time.sleep(1.5)  # longer than the shortened timeouts of the timeout test
            return 200, [("Content-Type", "text/plain")], b"slow"
        got = {"method": method, "path": path, "query": query, "headers": headers, "body": body.decode("latin-1")}
        return 200, [("Content-Type", "application/json"), ("Content-Length", "999")], json.dumps(got).encode()


@pytest.fixture()
def server() -> Iterator[ServerHandle]:
    handle = start_in_thread(EchoRouter())  # type: ignore[arg-type]
    try:
        yield handle
    finally:
        handle.stop()


def _connect(handle: ServerHandle) -> socket.socket:
    sock = socket.create_connection((handle.host, handle.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket, buf: bytearray, *,
                   head_request: bool = False) -> tuple[str, dict[str, str], bytes]:
    """One response from ``sock`` (``buf`` keeps what was read past it): status line, headers, body."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before the response headers")
        buf += data
    end = buf.index(b"\r\n\r\n")
    lines = buf[:end].decode("latin-1").split("\r\n")
    del buf[: end + 4]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_request or lines[0].split()[1] in ("100", "204") else int(headers["content-length"])
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed inside the body")
        buf += data
    body = bytes(buf[:length])
    del buf[:length]
    return lines[0], headers, body


def test_keep_alive_serves_several_requests_on_one_connection_in_order(server: ServerHandle) -> None:
    with _connect(server) as sock:
        buf = bytearray()
        for i in range(3):
            sock.sendall(f"POST /echo?n={i} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".encode())
            status, headers, body = _read_response(sock, buf)
            assert status == "HTTP/1.1 200 OK"
            got = json.loads(body)
            assert (got["query"], got["body"], got["method"]) == (f"n={i}", "hello", "POST")
            assert headers["content-length"] == str(len(body))  # the body's, not the router's 999
            assert headers["server"] == "scalecheck-emulator" and headers["date"].endswith("GMT")
        # pipelined: two requests in one write, answered in order
        sock.sendall(b"GET /echo?a HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert json.loads(_read_response(sock, buf)[2])["query"] == "a"
        assert json.loads(_read_response(sock, buf)[2])["query"] == "b"


def test_headers_reach_the_router_lower_cased_and_repeated_ones_joined(server: ServerHandle) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Thing: a\r\nx-thing: b\r\nX-Other:  spaced  \r\n\r\n")
        got = json.loads(_read_response(sock, bytearray())[2])
    assert got["headers"]["x-thing"] == "a,b"
    assert got["headers"]["x-other"] == "spaced"
    assert got["headers"]["host"] == "x"


def test_chunked_request_body_is_decoded(server: ServerHandle) -> None:
    with _connect(server) as sock:
        buf = bytearray()
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
        sock.sendall(b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        got = json.loads(_read_response(sock, buf)[2])
        assert got["body"] == "hello world"
        # the connection stays usable after a chunked body
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert json.loads(_read_response(sock, buf)[2])["method"] == "GET"


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: ServerHandle) -> None:
    with _connect(server) as sock:
        buf = bytearray()
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        status, _, _ = _read_response(sock, buf)
        assert status == "HTTP/1.1 100 Continue"
        sock.sendall(b"data")
        status, _, body = _read_response(sock, buf)
        assert status == "HTTP/1.1 200 OK" and json.loads(body)["body"] == "data"


def test_head_keeps_the_routers_content_length_and_sends_no_body(server: ServerHandle) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("HEAD", "/head")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Length") == "1234"
        assert response.read() == b""
        conn.request("GET", "/echo")  # the connection is still in step: nothing was sent after the head
        assert json.loads(conn.getresponse().read())["method"] == "GET"
    finally:
        conn.close()


def test_204_has_no_content_length(server: ServerHandle) -> None:
    with _connect(server) as sock:
        sock.sendall(b"DELETE /empty HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = _read_response(sock, bytearray())
    assert status == "HTTP/1.1 204 No Content" and "content-length" not in headers and body == b""
    assert headers["x-amzn-requestid"] == "r"


def test_connection_close_and_http_1_0_close_after_the_answer(server: ServerHandle) -> None:
    for request in (b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET /echo HTTP/1.0\r\n\r\n"):
        with _connect(server) as sock:
            sock.sendall(request)
            buf = bytearray()
            assert _read_response(sock, buf)[0].endswith("200 OK")
            assert sock.recv(100) == b""


def test_malformed_framing_gets_400_and_a_closed_connection(server: ServerHandle) -> None:
    for request in (b"POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
                    b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    b"nonsense\r\n\r\n"):
        with _connect(server) as sock:
            sock.sendall(request)
            status, headers, _ = _read_response(sock, bytearray())
            assert status.startswith("HTTP/1.1 400") and headers["connection"] == "close"
            assert sock.recv(100) == b""


def test_a_router_that_raises_gets_a_500_not_a_dropped_connection(server: ServerHandle) -> None:
    with _connect(server) as sock:
        buf = bytearray()
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock, buf)[0].startswith("HTTP/1.1 500")
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock, buf)[0].endswith("200 OK")


def test_slow_general_requests_run_concurrently(server: ServerHandle) -> None:
    """PARTIES requests block in handle until all of them are there: a capped pool would break the barrier."""
    socks = [_connect(server) for _ in range(PARTIES)]
    try:
        for sock in socks:
            sock.sendall(b"GET /together HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in socks:
            status, _, body = _read_response(sock, bytearray())
            assert (status, body) == ("HTTP/1.1 200 OK", b"together")
    finally:
        for sock in socks:
            sock.close()


def test_stop_closes_listener_and_open_connections_and_is_idempotent() -> None:
    handle = start_in_thread(EchoRouter())  # type: ignore[arg-type]
    assert handle.host == "127.0.0.1" and handle.url == f"http://127.0.0.1:{handle.port}"
    idle = _connect(handle)
    waiting = _connect(handle)
    waiting.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")  # body never completes
    buf = bytearray()
    idle.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _read_response(idle, buf)[0].endswith("200 OK")
    handle.stop()
    handle.stop()
    for sock in (idle, waiting):
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
        sock.close()
    with pytest.raises(OSError):
        socket.create_connection((handle.host, handle.port), timeout=2).close()


def test_context_manager_stops() -> None:
    with start_in_thread(EchoRouter()) as handle:  # type: ignore[arg-type]
        port = handle.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/echo")
        assert conn.getresponse().status == 200
        conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _closed_within(sock: socket.socket, bound_s: float) -> bool:
    """Whether the server closes ``sock`` (EOF) within ``bound_s`` wall seconds (a generous bound)."""
    sock.settimeout(bound_s)
    try:
        return sock.recv(100) == b""
    except (TimeoutError, ConnectionResetError):
        return False


def test_drip_fed_and_idle_connections_are_closed_but_slow_answers_are_not(
        server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.emulator import http as http_module

    monkeypatch.setattr(http_module, "HEADER_TIMEOUT_WALL_S", 0.3)
    monkeypatch.setattr(http_module, "IDLE_TIMEOUT_WALL_S", 0.6)
    drip, idle, slow = _connect(server), _connect(server), _connect(server)
    try:
        drip.sendall(b"GET /echo HTTP/1.1\r\nHost:")  # a head that never completes
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")  # answered after 1.5 s: never cut
        assert _closed_within(drip, 10)
        assert _closed_within(idle, 10)
        assert _read_response(slow, bytearray())[0].endswith("200 OK")
    finally:
        for sock in (drip, idle, slow):
            sock.close()
