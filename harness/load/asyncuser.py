""":class:`AsyncUser`: InvokeEndpointAsync at the pace :class:`~harness.load.users.PacedUser` sets, for
profiles with ``endpoint.type: async``.

The payload is uploaded to S3 (``endpoint.async.input_path``) once per process, on first use; each
request names it as its input. For a sample of the accepted requests (``RUN.tracker``) the user records
where the output or failure object will appear (the response's locations, else the documented defaults)
and :mod:`harness.load.asyncwatch` watches for it. Each run's results go under their own sub-prefix of
the output path (``S3OutputPathExtension``: ``scalecheck-`` and the run id), so the watcher lists this
run's objects only.

Latencies are the wall-clock milliseconds of the InvokeEndpointAsync call; HTTP 202 is a success, any
other answer a failure with its AWS error code. A failed upload is reported as a failed ``S3`` request in
Locust's statistics (not as an invocation), and invocations are skipped for :data:`UPLOAD_RETRY_WALL_S`
before the next attempt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import time
import uuid
from typing import Any

import botocore.exceptions
import gevent.lock
from locust import task

from harness.load.clients import error_code, s3_client, signer
from harness.load.completions import split_s3_uri
from harness.load.invoke import invoke_async_request
from harness.load.lifecycle import first_request
from harness.load.state import RUN
from harness.load.users import PacedUser

UPLOAD_RETRY_WALL_S = 1.0  # after a failed payload upload, invocations are skipped this long before retrying
EXTENSIONS = {"text/csv": ".csv", "application/json": ".json", "text/plain": ".txt", "application/x-npy": ".npy",
              "application/jsonlines": ".jsonl", "application/x-image": ".jpg", "application/octet-stream": ".bin"}

log = logging.getLogger("scalecheck.loadgen")


def _extension(content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    return EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"


def _fire(name: str, started: float, exception: BaseException | None, environment: Any) -> None:
    """Report a side call (S3) in Locust's own statistics; it is not an invocation."""
    environment.events.request.fire(request_type="S3", name=name, response_time=(time.perf_counter() - started) * 1000,
                                    response_length=0, response=None, context={}, exception=exception)


def _input_location(body: bytes, digest: str, content_type: str, environment: Any) -> str | None:
    """The S3 URI of this payload, uploading it on first use (once per process); None if the upload failed."""
    uri = RUN.inputs.get(digest)
    if uri is not None:
        return uri
    assert RUN.profile is not None and RUN.profile.endpoint.async_ is not None
    if RUN.upload_lock is None:  # (set at init for async profiles)
        RUN.upload_lock = gevent.lock.BoundedSemaphore()
    with RUN.upload_lock:  # one upload per payload and process, however many users want it at once
        uri = RUN.inputs.get(digest)
        if uri is not None:
            return uri
        if time.monotonic() - RUN.upload_failed_wall < UPLOAD_RETRY_WALL_S:
            return None  # do not hammer S3 while it refuses
        if RUN.s3 is None:
            RUN.s3 = s3_client(RUN.profile.region, environment.host or "")
        bucket, prefix = split_s3_uri(RUN.profile.endpoint.async_.input_path)
        key = (prefix.rstrip("/") + "/" if prefix.strip("/") else "") + digest + _extension(content_type)
        started = time.perf_counter()
        try:
            RUN.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            RUN.upload_failed_wall = time.monotonic()
            _fire("PutObject (payload)", started, err, environment)
            log.warning("uploading the payload to s3://%s/%s failed: %s", bucket, key, err)
            return None
        _fire("PutObject (payload)", started, None, environment)
        uri = RUN.inputs[digest] = f"s3://{bucket}/{key}"
        return uri


def _output_extension() -> str:
    """The S3OutputPathExtension of this run: its run id, else a per-process stamp."""
    if RUN.folder is not None:
        try:
            name = RUN.folder.read_run().run_id  # "<stamp>-<profile>[/<scenario>]": unique per run
        except (OSError, ValueError):
            name = RUN.folder.path.name
    else:
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
    return "scalecheck-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


class AsyncUser(PacedUser):
    """Calls InvokeEndpointAsync at the pace the shape sets, with the payload uploaded to S3 once."""

    def on_start(self) -> None:
        assert RUN.profile is not None and RUN.profile.endpoint.async_ is not None
        profile = RUN.profile
        spec = profile.endpoint.async_
        self._signer = signer(profile.region, self.host or "")
        self._body = profile.traffic.payload.encode()
        self._digest = hashlib.sha256(self._body).hexdigest()
        self._content_type = profile.traffic.content_type
        self._output_path = spec.output_path.rstrip("/")
        self._failure_path = spec.failure_path.rstrip("/")
        self._ttl_s = round(spec.request_ttl_s) if spec.request_ttl_s is not None else None
        self._timeout_s = round(spec.invocation_timeout_s) if spec.invocation_timeout_s is not None else None
        # Each run's results go under their own sub-prefix of the output path, so the completion poll
        # lists this run's objects only, however many earlier runs left in the bucket.
        self._extension = _output_extension()
        # Upload the payload now, while the pool spawns before the load clock starts: done at the first arrival,
        # the upload delayed the first request by its latency (0.05-0.25 s of wall on a busy machine, up to 15 s
        # of endpoint time at speed 60), past the metric period the simulator puts it in.
        _input_location(self._body, self._digest, self._content_type, self.environment)
        self._start_pacing()

    @task
    def invoke(self) -> None:
        if not self._arrival() or RUN.clock is None:
            return
        location = _input_location(self._body, self._digest, self._content_type, self.environment)
        if location is None:
            return  # the upload failed (reported as an S3 failure); try again next time
        inference_id = f"scalecheck-{uuid.uuid4().hex}"
        request = invoke_async_request(RUN.profile.endpoint.name if RUN.profile else "", location,
                                       content_type=self._content_type, inference_id=inference_id,
                                       ttl_s=self._ttl_s, timeout_s=self._timeout_s,
                                       output_path_extension=self._extension)
        headers = self._signer.headers(request)
        sent_ts = RUN.clock.endpoint_ts()
        if not RUN.first_request_sent:
            first_request(sent_ts)
        started = time.perf_counter()
        with self.client.post(request.path, data=request.body, headers=headers, name="InvokeEndpointAsync",
                              catch_response=True) as response:
            latency_ms = (time.perf_counter() - started) * 1000.0
            error = None if response.status_code == 202 else error_code(response)
            if error is None:
                response.success()
            else:
                response.failure(f"{error} (HTTP {response.status_code})")
        self._done(latency_ms, error)
        if error is None and RUN.tracker is not None and RUN.tracker.should_track():
            output, failure = self._locations(response, inference_id)
            RUN.tracker.track(inference_id, output, failure, sent_ts)

    def _locations(self, response: Any, inference_id: str) -> tuple[str, str | None]:
        """Where the result will appear: the response's locations, else the documented defaults."""
        headers = response.headers or {}
        output = headers.get("X-Amzn-SageMaker-OutputLocation")
        failure = headers.get("X-Amzn-SageMaker-FailureLocation")
        if not output:
            try:
                body = json.loads(response.content or b"{}")
            except ValueError:
                body = {}
            output = body.get("OutputLocation") if isinstance(body, dict) else None
            failure = failure or (body.get("FailureLocation") if isinstance(body, dict) else None)
        return (output or f"{self._output_path}/{self._extension}/{inference_id}.out",
                failure or f"{self._failure_path}/{inference_id}-error.out")
