"""Timestamps on the emulator's wire: endpoint epoch seconds to and from what AWS answers and accepts.

AWS timestamps have millisecond precision; a client may send a returned timestamp back as a bound, so
answers are rounded to the millisecond (:func:`to_datetime`). Requests may carry a datetime or epoch
seconds (:func:`to_epoch`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def to_millis(ts: float) -> int:
    """Endpoint time in whole milliseconds: the precision AWS timestamps have on the wire."""
    return round(ts * 1000)


def to_datetime(ts: float) -> datetime:
    """A response timestamp, at AWS's millisecond precision (so a client can send it back as a bound)."""
    return datetime.fromtimestamp(to_millis(ts) / 1000, tz=UTC)


def to_epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)
