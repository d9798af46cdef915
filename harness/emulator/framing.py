"""HTTP/1.1 request framing for the emulator's server: pure functions from received bytes to requests.

:func:`parse_head` takes a request's head (the request line and header lines, without the blank line
that ends them) and gives a :class:`Request`: method, target and version as sent, header names in lower
case and repeated headers joined with ``","``, obsolete folded lines ignored; the body's framing from
``Transfer-Encoding: chunked`` (which wins) or ``Content-Length`` (absent: no body); keep-alive from the
version and ``Connection``. A chunked body is decoded by the request's :class:`ChunkedDecoder` as it
arrives: each :meth:`~ChunkedDecoder.feed` consumes the complete chunks at the front of the receive buffer
and returns the body once the last chunk and the trailers are in (chunk extensions and trailers are
ignored), so a body costs time linear in its size however it is split. Lengths are bytes: a request
head, a chunk-size line or a trailer line longer than ``MAX_LINE``, or a body (Content-Length or the sum
of its chunks) over ``MAX_BODY``, is malformed.

Malformed input raises :class:`BadRequest` with a short message (the server answers 400 and closes the
connection); nothing else is raised. No I/O and no state beyond a cache of parsed heads (at most
``HEAD_CACHE`` entries of at most ``HEAD_CACHE_ENTRY_BYTES`` each, cleared when full, so its memory is
bounded), which may be shared between threads: entries are never mutated.
"""

from __future__ import annotations

MAX_LINE = 65536  # longest request line, header block or chunk-size line accepted
MAX_BODY = 1 << 30


class BadRequest(Exception):
    """Malformed request framing; the message says what was wrong."""


class Request:
    """A request whose headers have been parsed; the body may still be arriving."""

    __slots__ = ("method", "target", "version", "headers", "chunked", "length", "keep_alive", "continued", "head",
                 "decoder")

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
                    raise BadRequest(f"bad Content-Length {text!r}") from None
                if length < 0 or length > MAX_BODY:
                    raise BadRequest(f"bad Content-Length {text!r}")
        self.length = max(length, 0)
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection
        else:
            self.keep_alive = "close" not in connection
        self.continued = False
        self.head = b""  # the request line and headers as received
        self.decoder = ChunkedDecoder() if self.chunked else None


# Parsed request heads by their bytes: a load generator sends the same head (same signature, within a
# second) many times over, so parsing it once saves most of the per-request parsing. Cleared when full.
# Only heads up to HEAD_CACHE_ENTRY_BYTES are kept (a signed InvokeEndpoint head is about 1 KB), so the cache
# holds at most HEAD_CACHE x that: a stream of distinct 64 KB heads cannot grow it.
HEAD_CACHE = 1024
HEAD_CACHE_ENTRY_BYTES = 4096
_heads: dict[bytes, tuple[str, str, str, dict[str, str]]] = {}


def parse_head(head: bytes) -> Request:
    """The request line and headers (names lower-cased, repeated headers joined with ``","``)."""
    parsed = _heads.get(head)
    if parsed is None:
        parsed = _parse_head_text(head)
        if len(head) <= HEAD_CACHE_ENTRY_BYTES:
            if len(_heads) >= HEAD_CACHE:
                _heads.clear()
            _heads[head] = parsed
    method, target, version, headers = parsed
    request = Request(method, target, version, dict(headers))  # a copy: handlers may add to their headers
    request.head = head
    return request


def _parse_head_text(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    request_line, _, rest = head.decode("latin-1").partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(f"bad request line {request_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n") if rest else ():
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            if line[:1] in (" ", "\t"):
                continue  # obsolete line folding: ignored
            raise BadRequest(f"bad header line {line[:80]!r}")
        name = name.lower()
        if name in headers:
            headers[name] = f"{headers[name]},{value.strip()}"
        else:
            headers[name] = value.strip()
    return parts[0], parts[1], parts[2], headers


class ChunkedDecoder:
    """A chunked body decoded as it arrives (RFC 9112 7.1): :meth:`feed` consumes what it can from the front of
    the buffer and keeps its place, so no byte is looked at twice."""

    __slots__ = ("chunks", "size", "remaining", "trailers")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0  # body bytes so far
        self.remaining = -1  # bytes of the current chunk still to read (+2 for its CRLF); -1: a size line next
        self.trailers = False  # after the last chunk: trailer lines until an empty one

    def feed(self, buf: bytearray) -> bytes | None:
        """Consume complete parts of the body from the front of ``buf``; the body once it is complete (the
        buffer then starts after it), else None."""
        while True:
            if self.remaining > 0:
                if len(buf) < self.remaining:
                    return None
                end = self.remaining - 2
                if buf[end:self.remaining] != b"\r\n":
                    raise BadRequest("chunk does not end where its size says")
                self.chunks.append(bytes(buf[:end]))
                del buf[:self.remaining]
                self.remaining = -1
                continue
            line_end = buf.find(b"\r\n", 0, MAX_LINE + 2)
            if line_end < 0:
                if len(buf) > MAX_LINE:
                    raise BadRequest("trailer line too long" if self.trailers else "chunk size line too long")
                return None
            line = bytes(buf[:line_end])
            del buf[:line_end + 2]
            if self.trailers:
                if not line:
                    return b"".join(self.chunks)
                continue  # trailers carry nothing the emulator needs
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(f"bad chunk size line {line[:40]!r}") from None
            if size < 0:
                raise BadRequest(f"bad chunk size line {line[:40]!r}")
            self.size += size
            if self.size > MAX_BODY:
                raise BadRequest(f"chunked body over {MAX_BODY} bytes")
            if size == 0:
                self.trailers = True
            else:
                self.remaining = size + 2


__all__ = ["HEAD_CACHE", "MAX_BODY", "MAX_LINE", "BadRequest", "ChunkedDecoder", "Request", "parse_head"]
