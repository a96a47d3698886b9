"""Parse a sample's wall-clock timestamp (``samples/NNN/timestamp``, ``date -u +%Y-%m-%dT%H:%M:%S.%NZ``).

Only an ISO 8601 time in ASCII digits between 1970 and 2200 is a time: a year 1 or 9999 clock
(an unset RTC, a hand-edited file) would give a growth rate over centuries, so it is refused
like any other garbage. A time without a zone is taken as UTC (the collector always writes Z).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from kleak_runbook.errors import ParseError

SPEC = "timestamp"
FIRST_YEAR, LAST_YEAR = 1970, 2200
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]{1,12})|\.%?N)?"  # nanoseconds; busybox date may print %N or N literally
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch.

    >>> parse_timestamp("2026-11-24T16:53:05.268978220Z")
    1795539185.268978
    >>> parse_timestamp("2026-11-24T17:53:05+01:00") == parse_timestamp("2026-11-24T16:53:05Z")
    True
    >>> parse_timestamp("0001-01-01T00:00:00Z")
    Traceback (most recent call last):
    ...
    kleak_runbook.errors.ParseError: timestamp:1: year 1 is not a plausible clock (1970 to 2200)
    """
    line = text.strip()
    m = _ISO.fullmatch(line)
    if m is None:
        raise ParseError(SPEC, f"expected a time like 2026-11-24T16:53:05Z, got {line[:40]!r}", line=1)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ParseError(SPEC, f"year {year} is not a plausible clock ({FIRST_YEAR} to {LAST_YEAR})", line=1)
    zone = m[8]
    tz = timezone.utc
    if zone and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        if hours > 23 or minutes > 59:
            raise ParseError(SPEC, f"no such time zone offset {zone!r}", line=1)
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except (ValueError, OverflowError, OSError) as exc:  # month 13, second 61, ...
        raise ParseError(SPEC, f"not a valid time {line[:40]!r} ({exc})", line=1) from None
    fraction = m[7]
    return stamp + (int(fraction[:9]) / 10 ** len(fraction[:9]) if fraction else 0.0)
