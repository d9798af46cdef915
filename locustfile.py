"""scalecheck's Locust entry point: real-time users and the profile-driven load shape.

Plain Locust works too, against the emulator or AWS:

    locust -f locustfile.py --scalecheck-profile profiles/realtime-target-tracking.yaml --host http://127.0.0.1:4566
    locust -f locustfile.py --scalecheck-profile my.yaml --host https://runtime.sagemaker.us-east-1.amazonaws.com

`scalecheck run` starts it for you and records the load into the run folder.
"""

from harness.loadgen import ProfileShape, RealtimeUser

__all__ = ["ProfileShape", "RealtimeUser"]
