"""Schedule expressions of Application Auto Scaling scheduled actions (aws-semantics §3, S4, S8).

Pure functions of their arguments (no clock). Three forms are accepted, in the user's ``Timezone``
(an IANA name, default UTC; it applies to ``at`` and ``cron``, and daylight saving time is followed):

- ``at(yyyy-mm-ddThh:mm:ss)`` — once, at that local wall time.
- ``rate(value unit)`` — every ``value`` minute(s)/hour(s)/day(s); ``value`` ≥ 1, the unit singular
  exactly when ``value`` is 1. Fires at ``anchor + k x period`` (k ≥ 1), the anchor being StartTime
  or else the creation time. UNCONFIRMED: AWS does not publish the anchor of a rate.
- ``cron(Min Hour DoM Month DoW Year)`` — six fields; ``*``, ``?``, lists ``,``, ranges ``-`` and steps
  ``/``; DoW 1-7 = SUN-SAT (or SUN..SAT), months 1-12 (or JAN..DEC); exactly one of DoM/DoW is ``?``.
  ``L``, ``W`` and ``#`` are refused as unsupported. A local time skipped by a DST jump does not
  fire; one repeated by a DST fall-back fires once, at its first occurrence (UNCONFIRMED).

StartTime/EndTime (UTC epoch seconds) bound the fire times: ``start_ts ≤ t ≤ end_ts``. Malformed input
raises :class:`ValueError` naming the bad part and quoting the user's text.

Why hand-written: cron libraries (croniter and the like) speak the Unix five-field dialect (DoW 0-6 from
Sunday, no Year field, no ``?``), not AWS's six-field one with its DoM/DoW ``?`` rule, and none knows
``at()``/``rate()`` or AWS's StartTime anchoring; translating would hide exactly the differences a
scheduled-scaling check depends on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RATE_UNITS_S = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, low, high, names-for-low..) of the six cron fields
CRON_FIELDS = (("minutes", 0, 59, ()), ("hours", 0, 23, ()), ("day-of-month", 1, 31, ()),
               ("month", 1, 12, MONTHS), ("day-of-week", 1, 7, DAYS), ("year", 1970, 2199, ()))


@dataclass(frozen=True)
class Cron:
    """The value sets of a parsed cron expression; ``None`` for a ``?`` day field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday … 7 = Saturday
    years: frozenset[int]


@dataclass(frozen=True)
class Schedule:
    """A parsed ``Schedule``; ``source`` is the user's text, for messages."""

    kind: Literal["at", "rate", "cron"]
    source: str
    at: datetime | None = None  # naive local wall time
    rate_s: int | None = None
    cron: Cron | None = None


def zone(timezone: str | None) -> ZoneInfo:
    """The IANA zone named ``timezone`` (UTC when empty); ValueError when unknown."""
    name = timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Timezone {name!r} is not a valid IANA time zone name") from None


def parse_schedule(text: str) -> Schedule:
    """Parse ``at(...)``, ``rate(...)`` or ``cron(...)``; ValueError naming the bad part."""
    match = re.fullmatch(r"\s*(at|rate|cron)\((.*)\)\s*", text or "")
    if match is None:
        raise ValueError(f"Schedule {text!r}: expected at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)")
    kind, body = match.group(1), match.group(2).strip()
    if kind == "at":
        try:
            when = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ValueError(f"Schedule {text!r}: at() needs a date and time yyyy-mm-ddThh:mm:ss") from None
        return Schedule("at", text, at=when)
    if kind == "rate":
        return Schedule("rate", text, rate_s=_parse_rate(text, body))
    return Schedule("cron", text, cron=_parse_cron(text, body))


def _parse_rate(text: str, body: str) -> int:
    match = re.fullmatch(r"(\d+)\s+(minute|minutes|hour|hours|day|days)", body)
    if match is None:
        raise ValueError(f"Schedule {text!r}: rate() needs 'value unit' with unit minute(s), hour(s) or day(s)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ValueError(f"Schedule {text!r}: rate value must be at least 1; got {value}")
    if (value == 1) != (not unit.endswith("s")):
        want = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
        raise ValueError(f"Schedule {text!r}: rate unit must be {want!r} for a value of {value}")
    return value * RATE_UNITS_S[unit.rstrip("s")]


def _parse_cron(text: str, body: str) -> Cron:
    parts = body.split()
    if len(parts) != 6:
        raise ValueError(f"Schedule {text!r}: cron() needs 6 fields (Min Hour DoM Month DoW Year); "
                         f"got {len(parts)}")
    sets: list[frozenset[int] | None] = []
    for part, (name, low, high, names) in zip(parts, CRON_FIELDS, strict=True):
        if part == "?":
            if name not in ("day-of-month", "day-of-week"):
                raise ValueError(f"Schedule {text!r}: '?' is only allowed in day-of-month or day-of-week; "
                                 f"{name} field is {part!r}")
            sets.append(None)
            continue
        sets.append(_parse_field(text, name, part, low, high, names))
    if (sets[2] is None) == (sets[4] is None):
        raise ValueError(f"Schedule {text!r}: exactly one of day-of-month and day-of-week must be '?'")
    minutes, hours, days, months, weekdays, years = sets
    assert minutes is not None and hours is not None and months is not None and years is not None
    return Cron(minutes, hours, days, months, weekdays, years)


def _parse_field(text: str, name: str, part: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    for token in re.split(r"[,/-]", part.upper()):
        if token not in names and any(c in token for c in "LW#"):
            raise ValueError(f"Schedule {text!r}: {name} field {part!r}: L, W and # are unsupported "
                             "by this emulator")
    values: set[int] = set()
    for item in part.split(","):
        base, _, step_text = item.partition("/")
        step = _number(text, name, step_text, 1, 10_000, ()) if step_text else 1
        if step < 1:
            raise ValueError(f"Schedule {text!r}: {name} field {part!r}: step must be at least 1")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = (_number(text, name, a, low, high, names), _number(text, name, b, low, high, names))
            if first > last:
                raise ValueError(f"Schedule {text!r}: {name} field {part!r}: range {base!r} runs backwards")
        else:
            first = _number(text, name, base, low, high, names)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, name: str, token: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.upper() in names:
        return names.index(token.upper()) + low
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"Schedule {text!r}: {name} field has {token!r}; expected {low}-{high}"
                         + (f" or {names[0]}..{names[-1]}" if names else ""))
    return int(token)


def next_fire_ts(schedule: str | Schedule, after_ts: float, start_ts: float | None = None,
                 end_ts: float | None = None, timezone: str | None = "UTC", *,
                 anchor_ts: float | None = None) -> float | None:
    """The first fire time ``t > after_ts`` with ``start_ts ≤ t ≤ end_ts`` (UTC epoch s), else None.

    ``anchor_ts`` anchors a rate when there is no ``start_ts`` (the action's creation time); it
    defaults to ``after_ts``.
    """
    sched = schedule if isinstance(schedule, Schedule) else parse_schedule(schedule)
    tz = zone(timezone)
    floor = after_ts if start_ts is None else max(after_ts, start_ts - 1e-6)
    t: float | None
    if sched.kind == "at":
        assert sched.at is not None
        t = _local_ts(sched.at, tz)
        t = t if t is not None and t > floor else None
    elif sched.kind == "rate":
        assert sched.rate_s is not None
        anchor = start_ts if start_ts is not None else (after_ts if anchor_ts is None else anchor_ts)
        k = max(1, int((floor - anchor) // sched.rate_s) + 1)
        t = anchor + k * sched.rate_s
        while t <= floor:
            t += sched.rate_s
    else:
        assert sched.cron is not None
        t = _next_cron(sched.cron, floor, tz)
    if t is None or (end_ts is not None and t > end_ts):
        return None
    return t


def _local_ts(wall: datetime, tz: ZoneInfo) -> float | None:
    """Epoch seconds of local ``wall`` time in ``tz``; None when a DST jump skips it."""
    aware = wall.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return aware.timestamp()


def _day_matches(cron: Cron, day: date) -> bool:
    if cron.days is not None:
        return day.day in cron.days
    assert cron.weekdays is not None
    return (day.isoweekday() % 7) + 1 in cron.weekdays  # isoweekday: Mon=1..Sun=7 -> Sun=1..Sat=7


def _next_cron(cron: Cron, floor: float, tz: ZoneInfo) -> float | None:
    start = datetime.fromtimestamp(floor, tz=tz).replace(tzinfo=None)
    day = start.date()
    last_year = max(cron.years)
    while day.year <= last_year:
        if day.year not in cron.years:
            day = date(day.year + 1, 1, 1)
            continue
        if day.month not in cron.months:
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            continue
        if _day_matches(cron, day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    t = _local_ts(datetime(day.year, day.month, day.day, hour, minute), tz)
                    if t is not None and t > floor:
                        return t
        day += timedelta(days=1)
    return None
