"""The observe stage: everything that talks to AWS (or the emulator) through boto3, apart from the load.

:mod:`~harness.observe.aws` is the one place boto3 clients are built (region, endpoint URLs resolved once by
:mod:`~harness.observe.endpoints`, credentials, timeouts); :mod:`~harness.observe.failures` words botocore's
failures in one line; :mod:`~harness.observe.preflight` (with :mod:`~harness.observe.quota`) checks in seconds
what a run needs from the account; :mod:`~harness.observe.setup` brings an endpoint and its scaling to what a
profile declares; :mod:`~harness.observe.collector` samples CloudWatch, DescribeEndpoint, scaling activities and
alarms into the run folder; :mod:`~harness.observe.livepolicy` reads an endpoint's scaling as it is now. The
requests themselves are pure functions of the profile (:mod:`harness.profile.aws_requests`).
"""
