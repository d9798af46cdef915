"""Cost of signing one InvokeEndpoint request: ours vs botocore (for ``make bench``; not a test).

``signer_us_per_request()`` -> ``(ours_us, botocore_us)``: microseconds per request, best of
``repeats`` runs of ``n`` signs each. Ours is ``Signer.headers`` on a request built once (as a Locust
user does); botocore's is what the load generator's signer did per request before ``harness.load.invoke``: build an
``AWSRequest``, ``SigV4Auth(...).add_auth`` it, copy the headers.
"""

from __future__ import annotations

import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness.load.invoke.credentials import CredentialSource
from harness.load.invoke.requests import Signer, invoke_request

HOST = "https://runtime.sagemaker.us-east-1.amazonaws.com"
REGION = "us-east-1"


def _best_us(fn, n: int, repeats: int) -> float:  # noqa: ANN001 -- any zero-argument callable
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def signer_us_per_request(n: int = 5000, repeats: int = 5, body_bytes: int = 1024) -> tuple[float, float]:
    """(ours, botocore) microseconds to sign one InvokeEndpoint of ``body_bytes`` with a session token."""
    body = bytes(range(256)) * (body_bytes // 256) + b"x" * (body_bytes % 256)
    source = CredentialSource.static("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    signer = Signer(REGION, HOST, source)
    request = invoke_request("my-endpoint", body, "application/json", accept="*/*")
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    url = HOST + request.path

    def ours() -> None:
        signer.headers(request)

    def botocore() -> None:
        aws = AWSRequest(method="POST", url=url, data=body, headers=dict(request.headers))
        SigV4Auth(creds.get_frozen_credentials(), "sagemaker", REGION).add_auth(aws)
        dict(aws.headers.items())

    return _best_us(ours, n, repeats), _best_us(botocore, n, repeats)


if __name__ == "__main__":
    mine, theirs = signer_us_per_request()
    print(f"SigV4 per InvokeEndpoint: ours {mine:.1f} us, botocore {theirs:.1f} us ({theirs / mine:.0f}x)")
