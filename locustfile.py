"""scalecheck's Locust entry point: the users and the profile-driven load shape.

RealtimeUser (InvokeEndpoint) or AsyncUser (InvokeEndpointAsync via S3), whichever the profile's
``endpoint.type`` needs: the other is dropped at start. Plain Locust works too, against the emulator or AWS:

    locust -f locustfile.py --scalecheck-profile profiles/realtime-target-tracking.yaml --host http://127.0.0.1:4566
    locust -f locustfile.py --scalecheck-profile my.yaml --host https://runtime.sagemaker.us-east-1.amazonaws.com

The code is in harness/load/ (this file re-exports its entry module, harness/load/locustfile.py); `scalecheck run`
starts Locust on that module for you and records the load into the run folder.
"""

from harness.load.locustfile import AsyncUser, ProfileShape, RealtimeUser

__all__ = ["AsyncUser", "ProfileShape", "RealtimeUser"]
