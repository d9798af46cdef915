"""Injected failures, shaped as AWS answers them: deny, throttle, delay, drop.

A :class:`Faults` holds an ordered list of :class:`Rule`. The router (``Router.faults``) calls
:meth:`Faults.apply` with every authenticated, decoded call before its handler runs; the InvokeEndpoint
fast path leaves every call a rule matches (:meth:`Faults.touches`) to the router, so a rule acts on
every request path alike. ``/_emulator/...`` routes are never affected.

A rule (JSON, as ``POST /_emulator/faults`` takes it and ``GET`` shows it)::

    {"fault": "throttle", "match": "cloudwatch:GetMetricData", "rate": 0.5, "times": 10}

- ``match``: ``<service>:<Operation>`` in botocore names (``sagemaker:DescribeEndpoint``,
  ``application-autoscaling:*``, ``*``); shell wildcards on either side. A name without wildcards must
  be a service the emulator serves and an operation of its model.
- ``fault``: ``deny`` — the answer AWS gives when IAM denies the action: ``AccessDeniedException`` (HTTP
  400; CloudWatch's query code ``AccessDenied``, as botocore reports it), S3 ``AccessDenied`` 403 in XML,
  STS ``AccessDenied`` 403, with the message "User: <caller ARN> is not authorized to perform:
  <prefix>:<Action> [on resource: <ARN>] because no identity-based policy allows the <prefix>:<Action>
  action" (the caller as GetCallerIdentity names it; the resource when the action has one:
  endpoints, endpoint configs, models, alarms, S3 objects, ``scalable-target/*``). AWS never denies
  ``sts:GetCallerIdentity``, so neither does a rule. ``throttle`` — the service's throttling error:
  ``ThrottlingException`` 400 "Rate exceeded" (CloudWatch: query code ``Throttling``; Service Quotas:
  its modeled ``TooManyRequestsException``; STS ``Throttling``; S3 ``SlowDown`` 503), all of which
  botocore retries. ``delay`` — answer ``seconds`` wall seconds late (the call runs afterwards; the
  wait ends early when the emulator stops). ``drop`` — close the connection without an answer.
- ``rate`` (0 < rate <= 1, default 1): the fraction of matching calls affected, deterministically:
  the n-th matching call is affected when ``ceil(n * rate) > ceil((n - 1) * rate)`` (rate 1/k: calls 1,
  k + 1, 2k + 1, ...; the first matching call always is). ``times``: affect at most this many calls.
  ``seconds``: the delay (required by, and only for, ``delay``).

Every rule a call matches counts it (``matched``); delays add up; the first deny, throttle or drop
whose turn it is acts (``applied``) and later rules do not. ``GET`` shows each rule with both counters.
Rules are given at start (``scalecheck emulator --fault``/``--faults-json``, ``Emulator(faults=...)``,
``EmulatorProcess.start(faults=...)``) or replaced at run time (``POST``; ``{"append": true}`` adds).
"""

from __future__ import annotations

import fnmatch
import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from harness.emulator import sts
from harness.emulator.errors import AwsError
from harness.emulator.protocol import SERVICES, Call, service_model

KINDS = ("deny", "throttle", "delay", "drop")
_FIELDS = {"fault", "match", "rate", "seconds", "times"}
_IAM_PREFIX = {"sagemaker-runtime": "sagemaker", "service-quotas": "servicequotas"}
_SAGEMAKER_RESOURCES = (("EndpointName", "endpoint"), ("EndpointConfigName", "endpoint-config"),
                        ("ModelName", "model"))
_WILDCARDS = frozenset("*?[")


@dataclass
class Rule:
    """One fault rule (module docstring) and its counters."""

    fault: str
    match: str
    rate: float = 1.0
    seconds: float = 0.0
    times: int | None = None
    matched: int = 0
    applied: int = 0
    _rate: Fraction = field(default=Fraction(1), repr=False)

    def __post_init__(self) -> None:
        if self.fault not in KINDS:
            raise ValueError(f"fault must be one of {', '.join(KINDS)}, not {self.fault!r}")
        service, sep, operation = self.match.partition(":")
        if self.match != "*" and (not sep or not service or not operation):
            raise ValueError(f"match must be <service>:<Operation> (wildcards allowed), not {self.match!r}")
        if self.match == "*":
            service, operation = "*", "*"
        if not _WILDCARDS & set(service):
            if service not in SERVICES:
                raise ValueError(f"unknown service {service!r} in {self.match!r}; served: {', '.join(SERVICES)}")
            if not _WILDCARDS & set(operation) and operation not in service_model(service).operation_names:
                raise ValueError(f"{service} has no operation {operation!r}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float) or not 0 < self.rate <= 1:
            raise ValueError(f"rate must be a number in (0, 1], not {self.rate!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float) or self.seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, not {self.seconds!r}")
        if (self.fault == "delay") != (self.seconds > 0):
            raise ValueError("seconds (> 0) is required by delay and means nothing to the other faults")
        if self.times is not None and (isinstance(self.times, bool) or not isinstance(self.times, int)
                                       or self.times < 1):
            raise ValueError(f"times must be a positive integer, not {self.times!r}")
        self._service, self._operation = service, operation
        self._rate = Fraction(str(self.rate))

    def matches(self, service: str, operation: str) -> bool:
        return fnmatch.fnmatchcase(service, self._service) and fnmatch.fnmatchcase(operation, self._operation)

    def count(self) -> bool:
        """Count one matching call; whether it is this rule's turn to act on it."""
        self.matched += 1
        n = self.matched
        turn = math.ceil(n * self._rate) > math.ceil((n - 1) * self._rate)
        return turn and (self.times is None or self.applied < self.times)

    def spec(self) -> str:
        """The rule in the command line's form (:func:`parse_flag`)."""
        options = [f"rate={self.rate:g}"] if self.rate != 1 else []
        options += [f"seconds={self.seconds:g}"] if self.seconds else []
        options += [f"times={self.times}"] if self.times is not None else []
        return ",".join([f"{self.fault}:{self.match}", *options])

    def as_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "match": self.match, "rate": self.rate, "seconds": self.seconds,
                "times": self.times, "matched": self.matched, "applied": self.applied}


def parse_rule(data: Any) -> Rule:
    """A rule from its JSON object; ValueError saying what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a rule is a JSON object, not {data!r}")
    unknown = set(data) - _FIELDS - {"matched", "applied"}  # a GET's output may be posted back
    if unknown:
        raise ValueError(f"unknown rule field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}")
    if not isinstance(data.get("fault"), str) or not isinstance(data.get("match"), str):
        raise ValueError("a rule needs fault and match (strings)")
    kwargs = {name: data[name] for name in ("rate", "seconds", "times") if data.get(name) is not None}
    return Rule(data["fault"], data["match"], **kwargs)


def parse_rules(data: Any) -> list[Rule]:
    """Rules from ``{"rules": [...]}`` or a bare list (a JSON string is parsed first)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as err:
            raise ValueError(f"faults are not JSON: {err}") from None
    if isinstance(data, Mapping):
        data = data.get("rules")
    if not isinstance(data, list):
        raise ValueError('faults are {"rules": [...]} or a list of rules')
    rules = []
    for i, item in enumerate(data):
        try:
            rules.append(parse_rule(item))
        except ValueError as err:
            raise ValueError(f"rule {i}: {err}") from None
    return rules


def parse_flag(text: str) -> Rule:
    """A rule from the command line: ``KIND:SERVICE:OPERATION[,rate=R][,seconds=S][,times=N]``,
    e.g. ``throttle:cloudwatch:GetMetricData,rate=0.5`` or ``delay:application-autoscaling:*,seconds=5``."""
    head, *options = text.split(",")
    kind, sep, match = head.partition(":")
    if not sep:
        raise ValueError(f"expected KIND:SERVICE:OPERATION[,rate=R][,seconds=S][,times=N], not {text!r}")
    data: dict[str, Any] = {"fault": kind.strip(), "match": match.strip()}
    for option in options:
        name, eq, value = option.partition("=")
        name = name.strip()
        if not eq or name not in ("rate", "seconds", "times"):
            raise ValueError(f"unknown option {option!r} in {text!r}: rate=, seconds= or times=")
        try:
            data[name] = int(value) if name == "times" else float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number in {text!r}") from None
    return parse_rule(data)


class Faults:
    """The emulator's fault rules (module docstring); thread-safe. ``stop`` ends pending delays early."""

    def __init__(self, account: str, rules: Iterable[Rule] = (), stop: threading.Event | None = None) -> None:
        self.account = account
        self._rules: list[Rule] = list(rules)
        self._lock = threading.Lock()
        self._stop = stop or threading.Event()

    def set(self, rules: Iterable[Rule], *, append: bool = False) -> None:
        """Replace the rules (their counters start at zero), or add to them."""
        rules = list(rules)
        with self._lock:
            self._rules = [*self._rules, *rules] if append else rules

    def clear(self) -> None:
        self.set([])

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def touches(self, service: str, operation: str) -> bool:
        """Whether any rule matches ``service``/``operation`` (nothing is counted)."""
        rules = self._rules
        return bool(rules) and any(rule.matches(service, operation) for rule in rules)

    def apply(self, call: Call) -> bool:
        """Act on one call: wait out delays, raise the AwsError of a deny or throttle, True for a drop."""
        if not self._rules:
            return False
        delay_s, acting = 0.0, None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(call.service, call.operation) or not rule.count():
                    continue
                if rule.fault == "delay":
                    rule.applied += 1
                    delay_s += rule.seconds
                elif acting is None and not (rule.fault == "deny" and _never_denied(call)):
                    rule.applied += 1
                    acting = rule
        if delay_s > 0:
            self._stop.wait(delay_s)
        if acting is None:
            return False
        if acting.fault == "drop":
            return True
        raise deny_error(call, self.account) if acting.fault == "deny" else throttle_error(call.service)


def _never_denied(call: Call) -> bool:
    return call.service == "sts" and call.operation == "GetCallerIdentity"


def deny_error(call: Call, account: str) -> AwsError:
    """What AWS answers when IAM denies ``call`` to the caller of its access key."""
    action = f"{_IAM_PREFIX.get(call.service, call.service)}:{call.operation}"
    resource = resource_arn(call, account)
    if resource is not None and call.service == "s3":
        resource = f'"{resource}"'
    message = (f"User: {sts.caller_arn(account, call.access_key)} is not authorized to perform: {action}"
               + (f" on resource: {resource}" if resource else "")
               + f" because no identity-based policy allows the {action} action")
    if call.service in ("s3", "sts"):
        return AwsError("AccessDenied", message, 403)
    return AwsError("AccessDeniedException", message, 400, query_code="AccessDenied")


def throttle_error(service: str) -> AwsError:
    """The error ``service`` answers when it throttles a call."""
    if service == "s3":
        return AwsError("SlowDown", "Please reduce your request rate.", 503)
    if service == "sts":
        return AwsError("Throttling", "Rate exceeded")
    if service == "service-quotas":
        return AwsError("TooManyRequestsException", "Rate exceeded")
    return AwsError("ThrottlingException", "Rate exceeded", query_code="Throttling")


def resource_arn(call: Call, account: str) -> str | None:
    """The resource IAM evaluates ``call`` against, when its action has one the emulator knows."""
    params, region = call.params, call.region
    if call.service in ("sagemaker", "sagemaker-runtime"):
        for member, kind in _SAGEMAKER_RESOURCES:
            if isinstance(params.get(member), str):
                return f"arn:aws:sagemaker:{region}:{account}:{kind}/{params[member].lower()}"
        return None
    if call.service == "application-autoscaling":
        if call.operation.startswith("Describe"):
            return None
        return f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/*"
    if call.service == "cloudwatch":
        names = [params["AlarmName"]] if "AlarmName" in params else []
        if call.operation == "DeleteAlarms":
            names = list(params.get("AlarmNames") or [])
        return f"arn:aws:cloudwatch:{region}:{account}:alarm:{names[0]}" if names else None
    if call.service == "s3" and params.get("Bucket"):
        key = params.get("Key")
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else "")
    return None


__all__ = ["KINDS", "Faults", "Rule", "deny_error", "parse_flag", "parse_rule", "parse_rules", "resource_arn",
           "throttle_error"]
