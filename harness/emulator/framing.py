"""HTTP/1.1 request framing for the emulator's server: pure functions from received bytes to requests.

:func:`parse_head` takes a request's head (the request line and header lines, without the blank line
that ends them) and gives a :class:`Request`: method, target and version as sent, header names in lower
case and repeated headers joined with ``","``, obsolete folded lines ignored; the body's framing from
``Transfer-Encoding: chunked`` (which wins) or ``Content-Length`` (absent: no body); keep-alive from the
version and ``Connection``. :func:`decode_chunked` takes a buffer that starts with a chunked body and
gives ``(body, bytes used)`` once the whole body (last chunk and trailers) is in, else ``None`` (chunk
extensions and trailers are ignored). Lengths are bytes: a request head, a chunk-size line or a trailer
line longer than ``MAX_LINE``, or a Content-Length over ``MAX_BODY``, is malformed.

Malformed input raises :class:`BadRequest` with a short message (the server answers 400 and closes the
connection); nothing else is raised. No I/O and no state beyond a cache of parsed heads (``HEAD_CACHE``
entries, cleared when full), which may be shared between threads: entries are never mutated.
"""

from __future__ import annotations

MAX_LINE = 65536  # longest request line, header block or chunk-size line accepted
MAX_BODY = 1 << 30


class BadRequest(Exception):
    """Malformed request framing; the message says what was wrong."""


class Request:
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


# Parsed request heads by their bytes: a load generator sends the same head (same signature, within a
# second) many times over, so parsing it once saves most of the per-request parsing. Cleared when full.
HEAD_CACHE = 1024
_heads: dict[bytes, tuple[str, str, str, dict[str, str]]] = {}


def parse_head(head: bytes) -> Request:
    """The request line and headers (names lower-cased, repeated headers joined with ``","``)."""
    parsed = _heads.get(head)
    if parsed is None:
        parsed = _parse_head_text(head)
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


def decode_chunked(buf: bytearray) -> tuple[bytes, int] | None:
    """(body, bytes used) of a complete chunked body at the start of ``buf``; None while incomplete."""
    chunks = []
    pos = 0
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            if len(buf) - pos > MAX_LINE:
                raise BadRequest("chunk size line too long")
            return None
        line = bytes(buf[pos:line_end])
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest(f"bad chunk size line {line[:40]!r}") from None
        if size < 0:
            raise BadRequest(f"bad chunk size line {line[:40]!r}")
        pos = line_end + 2
        if size == 0:
            while True:  # trailers carry nothing the emulator needs; an empty line ends them
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    if len(buf) - pos > MAX_LINE:
                        raise BadRequest("trailer line too long")
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
            raise BadRequest("chunk does not end where its size says")
        pos += 2


__all__ = ["HEAD_CACHE", "MAX_BODY", "MAX_LINE", "BadRequest", "Request", "decode_chunked", "parse_head"]
