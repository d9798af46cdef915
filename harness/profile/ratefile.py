"""Per-period request counts from a CSV, for a ``replay`` traffic stage.

Two shapes are read:

* a simple CSV, with or without a header: ``timestamp,value`` (or a single column of values, one row per
  period, in order);
* a CloudWatch console export (Metrics → Actions → Download as CSV, or a dashboard widget's CSV): one or
  more header rows (label, metric details) before the data, the timestamp in the first column and the metric
  in the second.

Each ``value`` is the number of requests in one period (CloudWatch ``Invocations``, statistic Sum, period
1 minute: requests per minute). Timestamps are ISO 8601 (``2024-05-01T10:00:00Z``, ``2024-05-01 10:00:00``),
``YYYY/MM/DD HH:MM[:SS]`` or epoch seconds (or milliseconds). Rows may come in any order (CloudWatch often
exports newest first); the period is the most common gap between two rows unless given, and a period without a
row counts as zero requests (CloudWatch publishes no ``Invocations`` datapoint for a minute without any).

Every problem raises :class:`RateFileError` naming the file and the 1-based row.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


class RateFileError(ValueError):
    """A replay CSV that cannot be used."""


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _timestamp(text: str) -> float | None:
    text = text.strip()
    number = _number(text)
    if number is not None:
        return number / 1000.0 if number > 1e11 else number  # epoch ms
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    for parse in (datetime.fromisoformat, *(lambda s, f=f: datetime.strptime(s, f) for f in _FORMATS)):
        try:
            when = parse(iso)
        except ValueError:
            continue
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return None


def read_rate_csv(path: Path, period_s: float | None = None) -> tuple[list[float], float]:
    """``(counts, period_s)``: requests in each period from the first row's, gaps filled with 0."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise RateFileError(f"replay file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise RateFileError(f"replay file {str(path)!r} is a directory") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RateFileError(f"replay file {str(path)!r} cannot be read: {err}") from None
    data: list[tuple[int, list[str]]] = [(n, [c.strip() for c in row]) for n, row in enumerate(rows, 1)
                                         if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    where = f"replay file {str(path)!r}"
    # header rows: everything before the first row whose value column is a number
    first = next((i for i, (_n, row) in enumerate(data) if _number(row[min(1, len(row) - 1)]) is not None), None)
    if first is None:
        raise RateFileError(f"{where} has no data rows (expected timestamp,value with value a number of "
                            "requests per period)")
    data = data[first:]
    if all(len(row) == 1 for _n, row in data):  # one column: the values, one per period, in order
        counts = []
        for n, row in data:
            value = _number(row[0])
            if value is None or value < 0:
                raise RateFileError(f"{where} row {n}: value {row[0]!r} is not a non-negative number")
            counts.append(value)
        return counts, period_s or 60.0
    points: list[tuple[float, float, int]] = []
    for n, row in data:
        if len(row) < 2:
            raise RateFileError(f"{where} row {n}: expected timestamp,value (got {','.join(row)!r})")
        ts = _timestamp(row[0])
        if ts is None:
            raise RateFileError(f"{where} row {n}: timestamp {row[0]!r} is not a date and time (write ISO 8601 "
                                "like 2024-05-01T10:00:00Z, or epoch seconds)")
        value = _number(row[1])
        if value is None or value < 0:
            raise RateFileError(f"{where} row {n}: value {row[1]!r} is not a non-negative number")
        points.append((ts, value, n))
    points.sort()
    for (a, _va, na), (b, _vb, nb) in zip(points, points[1:], strict=False):
        if b == a:
            raise RateFileError(f"{where} rows {na} and {nb}: the same timestamp twice")
    if period_s is None:
        gaps = [b[0] - a[0] for a, b in zip(points, points[1:], strict=False)]
        common = Counter(gaps)
        period_s = min(common, key=lambda g: (-common[g], g)) if gaps else 60.0  # the most common gap
    t0 = points[0][0]
    counts = [0.0] * (int(round((points[-1][0] - t0) / period_s)) + 1)
    for ts, value, n in points:
        slot = (ts - t0) / period_s
        if abs(slot - round(slot)) > 1e-6:
            raise RateFileError(f"{where} row {n}: timestamp {ts - t0:g} s after the first row is not on the "
                                f"{period_s:g} s period grid")
        counts[int(round(slot))] += value
    return counts, period_s
