"""The load stage: Locust users and shape that send a profile's traffic, and the statistics of what they sent.

Only the modules that Locust's ``-f`` entry (:mod:`harness.load.locustfile`) wires import Locust (and so
gevent's monkey-patching); :mod:`~harness.load.stats`, :mod:`~harness.load.arrivals` and
:mod:`~harness.load.completions` are pure and are read by the checks and the report. :mod:`~harness.load.invoke`
is the fast SigV4 client; :mod:`~harness.load.launch` is how a run starts and stops Locust (its whole process
group); :mod:`~harness.load.interrupts` is how SIGINT/SIGTERM stop a run, and how its children die with it.
"""
