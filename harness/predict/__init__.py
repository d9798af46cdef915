"""The predict stage: what a profile's run will do, before paying for it — never imports the orchestrator,
Locust or boto3 clients.

:mod:`~harness.predict.simulate` plays the profile through the emulator's own model on a virtual clock
into a run folder marked *prediction*; :mod:`~harness.predict.plan` gives analytic earliest..latest windows
from named delays; :mod:`~harness.predict.calibrate` estimates the model's undocumented parameters from a
recorded run folder.
"""
