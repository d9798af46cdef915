"""harness.autoscaling.schedule: Schedule expressions and their next fire times.

Rules are cited as in ``docs/aws-semantics.md`` §3 [S4, S8]. Times are written as ISO strings (UTC
unless a zone is named) so each case reads as a literal example.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.autoscaling.schedule import next_fire_ts, parse_schedule, zone


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_system_time_zone_database_is_available() -> None:
    # §3 [S4, S8]: Timezone is an IANA name; the model needs the tz database (zoneinfo).
    assert zone("Europe/Paris").key == "Europe/Paris"
    assert zone(None).key == "UTC"


# fmt: off
@pytest.mark.parametrize("schedule,after,timezone,want", [
    # at(): once, at the local wall time
    pytest.param("at(2024-06-01T10:00:00)", "2024-05-01T00:00:00", "UTC", "2024-06-01T10:00:00",
                 id="§3-S8-at-utc"),
    pytest.param("at(2024-06-01T10:00:00)", "2024-05-01T00:00:00", "Europe/Paris", "2024-06-01T08:00:00",
                 id="§3-S8-at-in-timezone-CEST"),
    pytest.param("at(2024-06-01T10:00:00)", "2024-06-01T10:00:00", "UTC", None, id="§3-S8-at-already-past"),
    # rate(): anchored at the creation time (anchor_ts below), every period
    pytest.param("rate(5 minutes)", "2024-03-29T12:00:00", "UTC", "2024-03-29T12:03:00",
                 id="§3-S8-rate-5-minutes-from-anchor"),
    pytest.param("rate(1 hour)", "2024-03-29T12:00:00", "UTC", "2024-03-29T12:58:00", id="§3-S8-rate-1-hour"),
    pytest.param("rate(2 days)", "2024-03-29T12:00:00", "UTC", "2024-03-31T11:58:00", id="§3-S8-rate-2-days"),
    # cron(Min Hour DoM Month DoW Year)
    pytest.param("cron(0 9 * * ? *)", "2024-03-29T12:00:00", "UTC", "2024-03-30T09:00:00",
                 id="§3-S8-cron-daily-next-day"),
    pytest.param("cron(*/15 * * * ? *)", "2024-03-29T12:07:00", "UTC", "2024-03-29T12:15:00",
                 id="§3-S8-cron-step"),
    pytest.param("cron(0 9 ? * MON-FRI *)", "2024-03-29T12:00:00", "UTC", "2024-04-01T09:00:00",
                 id="§3-S8-cron-weekdays-skip-weekend"),
    pytest.param("cron(0 9 ? * 2 *)", "2024-03-29T12:00:00", "UTC", "2024-04-01T09:00:00",
                 id="§3-S8-cron-dow-2-is-monday"),
    pytest.param("cron(0 0 1 JAN,JUL ? 2025)", "2024-03-29T12:00:00", "UTC", "2025-01-01T00:00:00",
                 id="§3-S8-cron-month-names-and-year"),
    pytest.param("cron(0 0 1 1 ? 2023)", "2024-03-29T12:00:00", "UTC", None, id="§3-S8-cron-year-over"),
    # Timezone and daylight saving time
    pytest.param("cron(0 9 * * ? *)", "2024-03-29T12:00:00", "America/New_York", "2024-03-29T13:00:00",
                 id="§3-S4-cron-new-york-EDT"),
    pytest.param("cron(0 9 * * ? *)", "2024-03-30T12:00:00", "Europe/Paris", "2024-03-31T07:00:00",
                 id="§3-S4-cron-paris-after-spring-forward-UTC+2"),
    pytest.param("cron(0 9 * * ? *)", "2024-03-29T12:00:00", "Europe/Paris", "2024-03-30T08:00:00",
                 id="§3-S4-cron-paris-before-spring-forward-UTC+1"),
    pytest.param("cron(30 2 * * ? *)", "2024-03-30T12:00:00", "Europe/Paris", "2024-04-01T00:30:00",
                 id="§3-S4-cron-paris-skipped-local-time-does-not-fire-UNCONFIRMED"),
    pytest.param("cron(30 2 * * ? *)", "2024-10-26T12:00:00", "Europe/Paris", "2024-10-27T00:30:00",
                 id="§3-S4-cron-paris-repeated-local-time-fires-first-UNCONFIRMED"),
    pytest.param("cron(30 2 * * ? *)", "2024-10-27T00:30:00", "Europe/Paris", "2024-10-28T01:30:00",
                 id="§3-S4-cron-paris-repeated-local-time-fires-once-UNCONFIRMED"),
])
# fmt: on
def test_next_fire_time(schedule: str, after: str, timezone: str, want: str | None) -> None:
    got = next_fire_ts(schedule, utc(after), timezone=timezone, anchor_ts=utc("2024-03-29T11:58:00"))
    assert iso(got) == want


# fmt: off
@pytest.mark.parametrize("schedule,after,start,end,want", [
    pytest.param("cron(0 * * * ? *)", "2024-03-29T12:00:00", "2024-03-29T15:30:00", None, "2024-03-29T16:00:00",
                 id="§3-S4-start-time-delays-first-fire"),
    pytest.param("cron(0 * * * ? *)", "2024-03-29T12:00:00", "2024-03-29T15:00:00", None, "2024-03-29T15:00:00",
                 id="§3-S4-fires-at-start-time-itself"),
    pytest.param("cron(0 * * * ? *)", "2024-03-29T12:00:00", None, "2024-03-29T12:30:00", None,
                 id="§3-S4-nothing-after-end-time"),
    pytest.param("cron(0 * * * ? *)", "2024-03-29T12:00:00", None, "2024-03-29T13:00:00", "2024-03-29T13:00:00",
                 id="§3-S4-fires-at-end-time-itself"),
    pytest.param("rate(10 minutes)", "2024-03-29T12:00:00", "2024-03-29T12:05:00", None, "2024-03-29T12:15:00",
                 id="§3-S4-rate-anchored-at-start-time-UNCONFIRMED"),
    pytest.param("at(2024-03-29T13:00:00)", "2024-03-29T12:00:00", None, "2024-03-29T12:30:00", None,
                 id="§3-S4-at-after-end-time"),
])
# fmt: on
def test_start_and_end_time_bound_fire_times(schedule: str, after: str, start: str | None, end: str | None,
                                             want: str | None) -> None:
    got = next_fire_ts(schedule, utc(after), None if start is None else utc(start),
                       None if end is None else utc(end), "UTC")
    assert iso(got) == want


# fmt: off
@pytest.mark.parametrize("schedule,message", [
    pytest.param("every 5 minutes", "expected at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)",
                 id="§3-S8-unknown-form"),
    pytest.param("at(2024-13-01T00:00:00)", "at() needs a date and time", id="§3-S8-at-bad-month"),
    pytest.param("at(2024-06-01 10:00)", "at() needs a date and time", id="§3-S8-at-bad-format"),
    pytest.param("rate(0 minutes)", "rate value must be at least 1", id="§3-S8-rate-zero"),
    pytest.param("rate(1 minutes)", "rate unit must be 'minute' for a value of 1", id="§3-S8-rate-plural-with-1"),
    pytest.param("rate(5 hour)", "rate unit must be 'hours' for a value of 5", id="§3-S8-rate-singular-with-5"),
    pytest.param("rate(5 weeks)", "rate() needs 'value unit'", id="§3-S8-rate-bad-unit"),
    pytest.param("cron(0 9 * * ?)", "cron() needs 6 fields", id="§3-S8-cron-5-fields"),
    pytest.param("cron(0 9 * * * *)", "exactly one of day-of-month and day-of-week must be '?'",
                 id="§3-S8-cron-no-question-mark"),
    pytest.param("cron(0 25 * * ? *)", "hours field has '25'; expected 0-23", id="§3-S8-cron-hour-range"),
    pytest.param("cron(0 9 ? * FUNDAY *)", "day-of-week field has 'FUNDAY'", id="§3-S8-cron-bad-day-name"),
    pytest.param("cron(0 9 L * ? *)", "L, W and # are unsupported", id="§3-S8-cron-L-unsupported"),
    pytest.param("cron(0 9 ? * 6#3 *)", "L, W and # are unsupported", id="§3-S8-cron-hash-unsupported"),
    pytest.param("cron(0 9 15W * ? *)", "L, W and # are unsupported", id="§3-S8-cron-W-unsupported"),
    pytest.param("cron(0 9 ? * FRI-MON *)", "range 'FRI-MON' runs backwards", id="§3-S8-cron-backwards-range"),
    pytest.param("cron(0 ? * * ? *)", "'?' is only allowed in day-of-month or day-of-week",
                 id="§3-S8-cron-question-mark-in-hours"),
])
# fmt: on
def test_bad_schedules_are_refused_naming_the_part(schedule: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_schedule(schedule)
    assert message in str(info.value)
    assert repr(schedule) in str(info.value)  # the user's text is quoted


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Timezone 'Mars/Olympus' is not a valid IANA time zone name"):
        next_fire_ts("cron(0 9 * * ? *)", utc("2024-03-29T12:00:00"), timezone="Mars/Olympus")
