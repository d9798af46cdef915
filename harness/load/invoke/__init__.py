"""Fast SigV4-signed SageMaker Runtime requests for Locust's FastHttpUser.

    from harness.load.invoke import Signer, invoke_request, resolve_credentials
    signer = Signer(region, host, resolve_credentials(region, host))      # once per process
    request = invoke_request("my-endpoint", body, "application/json")    # once per payload
    self.client.post(request.path, data=request.body, headers=signer.headers(request))  # per send

Signatures are byte-identical to botocore's ``SigV4Auth`` for the same request, credentials and time
(tests/unit/test_invoke_signer.py); ``harness.bench.signer.signer_us_per_request()`` compares the cost.
"""

from harness.load.invoke.credentials import CredentialSource, NoCredentialsError, is_loopback, resolve_credentials
from harness.load.invoke.requests import InvokeRequest, Signer, invoke_async_request, invoke_request, sign

__all__ = ["CredentialSource", "InvokeRequest", "NoCredentialsError", "Signer", "invoke_async_request",
           "invoke_request", "is_loopback", "resolve_credentials", "sign"]
