"""AWS Signature Version 4 verification, written from the SigV4 specification.

``SigV4Verifier(credentials).verify(method, path, query, headers, body)`` recomputes the signature
of a received request (canonical request -> string to sign -> derived key -> HMAC) with the secret
configured for the access key named in its ``Authorization`` header, and returns the credential
scope as a ``SigV4Identity``. It is deliberately independent of botocore's signer, so a signing bug
on either side shows up as a mismatch instead of cancelling out.

Contract:

- ``path`` and ``query`` are exactly as received (still percent-encoded); ``headers`` maps
  lower-case names to values, repeated headers already joined with ``","``.
- ``X-Amz-Security-Token`` is just another signed header; any session token is accepted.
- The request time is never compared with a clock (the emulator's clock runs faster than wall
  time), only checked for consistency with the credential scope.
- The canonical URI is encoded twice, as for every service except S3 (``verify(..., s3=True)``
  encodes it once and does not normalise it).
- ``x-amz-content-sha256`` may be the body's hash (checked), ``UNSIGNED-PAYLOAD`` or a
  ``STREAMING-...`` value; ``decode_payload`` then decodes the aws-chunked body (S3 uploads),
  checking chunk and trailer signatures (``decode_aws_chunked``).
- Failures raise ``SignatureError`` carrying the AWS error code, message and HTTP status:
  ``MissingAuthenticationTokenException`` (no Authorization), ``IncompleteSignatureException``
  (malformed Authorization), ``UnrecognizedClientException`` (unknown access key),
  ``InvalidSignatureException`` (mismatch), ``XAmzContentSHA256Mismatch`` (body hash header lies).

Derived signing keys are cached per (secret, date, region, service), so the hot path costs two
SHA-256 digests and one HMAC.

Why hand-written: no library verifies SigV4 on the server side for every service's dialect (S3's single
URI encoding, aws-chunked streaming bodies with chunk and trailer signatures) independently of
botocore — and the independence is the point: a verifier built on botocore's signer would share its bugs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY_MESSAGE = "The security token included in the request is invalid."
DEFAULT_REGION = "us-east-1"


class SignatureError(Exception):
    """The request is not (correctly) signed: an AWS error ``code``, ``message`` and HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SigV4Identity:
    """Who signed the request and for what: the access key and the credential scope's parts."""

    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str  # the signing name, e.g. 'sagemaker', 'monitoring'
    signature: str = ""  # the request's (seed) signature; chunk signatures chain from it
    amz_date: str = ""  # the request time, ISO 8601 basic ('20240517T123015Z')


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


class SigV4Verifier:
    """Checks SigV4 ``Authorization`` headers against ``credentials`` (access key -> secret).

    With ``credentials=None`` nothing is verified: the scope is read from the header when one is
    present (else access key ``""`` and region ``us-east-1``) and every request passes.
    """

    def __init__(self, credentials: Mapping[str, str] | None) -> None:
        self._credentials = dict(credentials) if credentials is not None else None

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        s3: bool = False,
    ) -> SigV4Identity:
        """The signer's identity; raises ``SignatureError`` unless the signature checks out."""
        header = headers.get("authorization")
        if self._credentials is None:
            try:
                auth = _parse_authorization(header) if header else None
            except SignatureError:
                auth = None
            if auth is None:
                return SigV4Identity("", "", DEFAULT_REGION, "")
            return SigV4Identity(auth.access_key, auth.date, auth.region, auth.service)
        if not header:
            raise SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token")
        auth = _parse_authorization(header)
        secret = self._credentials.get(auth.access_key)
        if secret is None:
            raise SignatureError("UnrecognizedClientException", UNKNOWN_KEY_MESSAGE)
        amz_date = _request_time(headers)
        if amz_date[:8] != auth.date:
            raise SignatureError(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        if "host" not in auth.signed_headers:
            raise SignatureError(
                "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."
            )
        canonical = canonical_request(method, path, query, headers, auth.signed_headers, body, s3=s3)
        to_sign = "\n".join(
            [ALGORITHM, amz_date, auth.scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
        )
        key = signing_key(secret, auth.date, auth.region, auth.service)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth.signature):
            raise SignatureError("InvalidSignatureException", MISMATCH_MESSAGE)
        return SigV4Identity(auth.access_key, auth.date, auth.region, auth.service, auth.signature, amz_date)

    def decode_payload(self, headers: Mapping[str, str], body: bytes, identity: SigV4Identity) -> StreamingPayload:
        """The payload of a verified request, aws-chunked bodies decoded (see ``decode_aws_chunked``)."""
        claimed = headers.get("x-amz-content-sha256", "")
        if not claimed.startswith("STREAMING-"):
            return StreamingPayload(body, {})
        secret = None
        if self._credentials is not None:
            secret = self._credentials.get(identity.access_key)
        return decode_aws_chunked(claimed, headers, body, identity, secret)


@dataclass(frozen=True)
class StreamingPayload:
    """A decoded request payload and the trailing headers that came with it (lower-case names)."""

    body: bytes
    trailers: dict[str, str]


STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def decode_aws_chunked(
    claimed: str, headers: Mapping[str, str], body: bytes, identity: SigV4Identity, secret: str | None
) -> StreamingPayload:
    """Decode an ``aws-chunked`` body (S3 streaming uploads), verifying chunk signatures.

    ``claimed`` is the request's ``x-amz-content-sha256``:

    - ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (what botocore sends for PutObject over HTTPS):
      ``<hex size>\\r\\n<data>\\r\\n`` ... ``0\\r\\n`` then trailing headers
      (``x-amz-checksum-crc32:<b64>``) and an empty line;
    - ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` / ``...-PAYLOAD-TRAILER``: each size line carries
      ``;chunk-signature=<sig>``, chained from the seed (header) signature; a trailer, when sent, is
      signed by ``x-amz-trailer-signature``. Signatures are checked when ``secret`` is known.

    The decoded length must equal ``x-amz-decoded-content-length`` when that header is present.
    Malformed framing raises ``SignatureError('IncompleteBody', ..., 400)``; a wrong chunk signature
    ``InvalidSignatureException`` (403); other streaming variants (ECDSA) ``NotImplemented`` (501).
    """
    if claimed not in (STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
        raise SignatureError("NotImplemented", f"x-amz-content-sha256 {claimed} is not supported by the emulator.",
                             status=501)
    signed = claimed != STREAMING_UNSIGNED_TRAILER
    check = signed and secret is not None
    key = signing_key(secret, identity.date, identity.region, identity.service) if check and secret else b""
    scope = f"{identity.date}/{identity.region}/{identity.service}/aws4_request"
    previous = identity.signature
    chunks: list[bytes] = []
    pos = 0
    while True:
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            raise _incomplete("a chunk size line is not terminated")
        size_text, _, extension = body[pos:line_end].decode("latin-1").partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise _incomplete(f"bad chunk size {size_text[:20]!r}") from None
        data_start = line_end + 2
        data = body[data_start : data_start + size]
        if len(data) != size:
            raise _incomplete("the body ends inside a chunk")
        if signed:
            name, _, signature = extension.partition("=")
            if name.strip() != "chunk-signature" or not signature:
                raise _incomplete("a chunk has no chunk-signature")
            if check:
                to_sign = "\n".join([f"{ALGORITHM}-PAYLOAD", identity.amz_date, scope, previous, EMPTY_SHA256,
                                     hashlib.sha256(data).hexdigest()])
                expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, signature.strip()):
                    raise SignatureError("InvalidSignatureException", MISMATCH_MESSAGE)
            previous = signature.strip()
        pos = data_start + size
        if size == 0:
            break
        chunks.append(data)
        if pos >= len(body):
            raise _incomplete("the body ends before the final zero-size chunk")
        if body[pos : pos + 2] != b"\r\n":
            raise _incomplete("a chunk does not end where its size says")
        pos += 2
    trailers, trailer_lines, trailer_signature = {}, [], None
    for raw in body[pos:].decode("latin-1").split("\r\n"):
        if not raw:
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            raise _incomplete(f"bad trailing header {raw[:40]!r}")
        if name.strip().lower() == "x-amz-trailer-signature":
            trailer_signature = value.strip()
        else:
            trailers[name.strip().lower()] = value.strip()
            trailer_lines.append(f"{name.strip().lower()}:{value.strip()}\n")
    if claimed == STREAMING_SIGNED_TRAILER and trailers and check:
        to_sign = "\n".join([f"{ALGORITHM}-TRAILER", identity.amz_date, scope, previous,
                             hashlib.sha256("".join(trailer_lines).encode()).hexdigest()])
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if trailer_signature is None or not hmac.compare_digest(expected, trailer_signature):
            raise SignatureError("InvalidSignatureException", MISMATCH_MESSAGE)
    payload = b"".join(chunks)
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.strip() != str(len(payload)):
        raise _incomplete(f"x-amz-decoded-content-length is {declared} but the chunks hold {len(payload)} bytes")
    return StreamingPayload(payload, trailers)


def _incomplete(detail: str) -> SignatureError:
    return SignatureError("IncompleteBody", f"The request body is not valid aws-chunked encoding: {detail}.", 400)


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived SigV4 key: HMAC chain over date, region, service and ``aws4_request``."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
    *,
    s3: bool = False,
) -> str:
    """The SigV4 canonical request for a received request (see the module contract)."""
    header_lines = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            _canonical_uri(path, s3=s3),
            _canonical_query(query),
            header_lines,
            ";".join(signed_headers),
            _payload_hash(headers, body),
        ]
    )


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        needs = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        raise SignatureError("IncompleteSignatureException", f"{needs} Authorization={header}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise SignatureError(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region, not '{fields['Credential']}'.",
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    return _Authorization(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def _request_time(headers: Mapping[str, str]) -> str:
    amz_date = headers.get("x-amz-date")
    if amz_date:
        return amz_date
    date = headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date).strftime("%Y%m%dT%H%M%SZ")
        except (TypeError, ValueError):
            pass
    raise SignatureError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


def _canonical_uri(path: str, *, s3: bool) -> str:
    if s3:
        return quote(unquote(path or "/"), safe="/~")
    segments = [seg for seg in path.split("/") if seg and seg != "."]
    kept: list[str] = []
    for seg in segments:
        if seg == "..":
            if kept:
                kept.pop()
        else:
            kept.append(seg)
    normalized = "/" + "/".join(kept)
    if path.endswith("/") and kept:
        normalized += "/"
    # The received path is encoded once already; SigV4 encodes it again (except for S3).
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is None:
        return actual
    if claimed != UNSIGNED_PAYLOAD and not claimed.startswith("STREAMING-") and claimed != actual:
        raise SignatureError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            status=400,
        )
    return claimed
