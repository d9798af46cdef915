"""Durations as people write them in profiles (``250s``, ``5m``, ``1h30m``, ``90`` seconds), and back to text."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_S = 366 * 86400.0  # a year: longer is a typo (a 400-digit number is infinite as a float)


def parse_duration_s(value: object) -> float:
    """Seconds in ``value``; raises ``ValueError`` naming the value when it is not a duration.

    >>> parse_duration_s("1h30m")
    5400.0
    """
    if isinstance(value, bool):
        raise ValueError(f"{short_repr(value)} is not a duration (write e.g. 250s, 5m, 1h30m)")
    if isinstance(value, int | float):
        seconds = float(value) if abs(value) < 1e300 else math.inf  # a 400-digit int is past any float
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(f"{short_repr(value)} is not a duration (write e.g. 250s, 5m, 1h30m)")
    else:
        raise ValueError(f"{short_repr(value)} is not a duration (write e.g. 250s, 5m, 1h30m)")
    if seconds < 0:
        raise ValueError(f"{short_repr(value)}: a duration cannot be negative")
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise ValueError(f"{short_repr(value)}: longer than a year (at most {MAX_DURATION_S / 86400:.0f}d)")
    return seconds


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters with its full length said: error messages quote what the
    user wrote without echoing a 10 MB value back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def format_duration(seconds: float) -> str:
    """Short human form: ``65`` → ``1m05s``, ``3600`` → ``1h00m``, ``12.5`` → ``12.5s``."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    total = int(round(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def format_span(seconds: float) -> str:
    """Compact signed duration: ``720`` → ``12m``, ``552`` → ``9m12s``, ``12.5`` → ``12.5s``."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60 and seconds != int(seconds):
        return f"{sign}{seconds:.3g}s"
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return sign + (text or "0s")
