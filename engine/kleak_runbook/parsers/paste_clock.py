"""Times in pasted text: the ``uptime`` and ``date`` lines people print between two outputs.

A ticket that shows ``/proc/meminfo`` three times an hour apart is a growth measurement, if the
paste says when each output was taken. Two kinds of line say it:

- ``uptime`` output: `` 11:28:15 up 10 min,  1 user,  load average: ...`` (the host's own
  clock since boot; minutes are its resolution, enough for outputs minutes or hours apart);
- ``date`` output: ``Mon Nov 30 11:28:15 UTC 2026`` (C locale), ``Mon 30 Nov 2026 11:28:15 AM UTC``
  or an ISO 8601 time.

>>> uptime_seconds("11:28:15 up 10 min,  1 user,  load average: 0,28, 0,40, 0,27")
600.0
>>> uptime_seconds(" 13:54:04 up  2:36,  1 user,  load average: 1,15, 0,51, 0,52")
9360.0
>>> uptime_seconds("up 3 days, 4:05,  2 users")
273900.0
>>> uptime_seconds("up 1 min,")
60.0
>>> wall_time("Mon Nov 30 11:28:15 UTC 2026")
'2026-11-30T11:28:15Z'
>>> wall_time("Mon 30 Nov 2026 11:28:15 PM UTC")
'2026-11-30T23:28:15Z'
>>> wall_time("zzz ***Wed Jun 29 10:24:15 CEST 2022")  # OSWatcher's marker
'2022-06-29T10:24:15+02:00'
>>> print(wall_time("Mon Nov 30 11:28:15 CST 2026"))  # a zone whose offset is not certain is not guessed
None
>>> print(uptime_seconds("the host was up 10 min before it fell over"))
None
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UPTIME = re.compile(
    r"^(?:[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\s+)?up\s+"
    r"(?:(?P<days>[0-9]+)\s+days?,\s*)?"
    r"(?:(?P<hours>[0-9]{1,2}):(?P<minutes>[0-9]{2})|(?P<mins>[0-9]+)\s+min(?:ute)?s?|(?P<secs>[0-9]+)\s+sec(?:ond)?s?)?"
    r"\s*,?(?:\s+[0-9]+\s+users?,?.*|\s+load average:.*)?$"
)
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_TIME = r"(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\s*(?P<ampm>AM|PM))?"
# "Mon Nov 30 11:28:15 UTC 2026" (C locale) and "Mon 30 Nov 2026 11:28:15 AM UTC" (en_GB/en_US)
_DATE_C = re.compile(
    rf"^{_DAY}\s+(?P<mon>[A-Z][a-z]{{2}})\s+(?P<d>[0-9]{{1,2}})\s+{_TIME}\s+(?P<zone>[A-Z]{{2,5}})\s+(?P<y>[0-9]{{4}})$"
)
_DATE_LOCALE = re.compile(
    rf"^{_DAY},?\s+(?P<d>[0-9]{{1,2}})\s+(?P<mon>[A-Z][a-z]{{2}})\s+(?P<y>[0-9]{{4}})\s+{_TIME}\s+(?P<zone>[A-Z]{{2,5}})$"
)
_ISO = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
)
# zones whose offset is certain; any other name (CST, IST, BST: more than one zone) leaves the time
# out rather than guess it
_ZONES = {
    "UTC": "Z",
    "GMT": "Z",
    "Z": "Z",
    "WET": "+00:00",
    "WEST": "+01:00",
    "CET": "+01:00",
    "CEST": "+02:00",
    "EET": "+02:00",
    "EEST": "+03:00",
    "MSK": "+03:00",
    "JST": "+09:00",
    "KST": "+09:00",
    "HKT": "+08:00",
    "SGT": "+08:00",
    "AEST": "+10:00",
    "AEDT": "+11:00",
    "NZST": "+12:00",
    "NZDT": "+13:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
}
# OSWatcher's sample marker ("zzz ***Wed Jun 29 10:24:15 CEST 2022") before a date
_OSWATCHER = re.compile(r"^zzz\s*\*+\s*")


def _bare(line: str) -> str:
    return _OSWATCHER.sub("", line.replace("**", "").replace("__", "").strip())


def uptime_seconds(line: str) -> float | None:
    """Seconds since boot from an ``uptime`` line, or None when the line is not one."""
    m = _UPTIME.match(_bare(line))
    if m is None or not any(m.group(g) for g in ("days", "hours", "mins", "secs")):
        return None
    days = int(m["days"] or 0)
    if m["hours"] is not None:
        seconds = int(m["hours"]) * 3600 + int(m["minutes"]) * 60
    elif m["mins"] is not None:
        seconds = int(m["mins"]) * 60
    else:
        seconds = int(m["secs"] or 0)
    return float(days * 86400 + seconds)


def wall_time(line: str) -> str | None:
    """An ISO 8601 time from a ``date`` line, or None when the line is not one (or its zone is unknown)."""
    text = _bare(line)
    if _ISO.match(text):
        return text
    m = _DATE_C.match(text) or _DATE_LOCALE.match(text)
    if m is None or m["mon"] not in _MONTHS or m["zone"] not in _ZONES:
        return None
    hour = int(m["h"])
    if m["ampm"]:
        hour = hour % 12 + (12 if m["ampm"] == "PM" else 0)
    return f"{m['y']}-{_MONTHS[m['mon']]:02d}-{int(m['d']):02d}T{hour:02d}:{m['mi']}:{m['s']}{_ZONES[m['zone']]}"


def is_clock_line(line: str) -> bool:
    return uptime_seconds(line) is not None or wall_time(line) is not None


@dataclass
class _Stamp:
    uptime: float | None = None
    wall: str | None = None

    @property
    def empty(self) -> bool:
        return self.uptime is None and self.wall is None


class Clock:
    """Gives each sampled block the time the paste shows for it.

    An ``uptime`` or ``date`` line belongs to the block after it (``$ date; uptime; cat
    /proc/meminfo``), unless another line of the same sort comes first: then it was printed
    after the block before it (``cat /proc/meminfo; uptime``)."""

    def __init__(self) -> None:
        self.times: list[_Stamp] = []  # one per block, in order
        self.pending = _Stamp()  # seen since the last block

    def mark(self, line: str) -> None:
        up, wall = uptime_seconds(line), wall_time(line)
        if (self.pending.uptime if up is not None else self.pending.wall) is not None:
            self._settle()  # a second line of the same sort: the first was the block before's
        if up is not None:
            self.pending.uptime = up
        else:
            self.pending.wall = wall

    def stamp(self, wall: str | None) -> None:
        """The next block's time, known from the block itself (a sar row's time of day)."""
        self._settle()
        self.pending = _Stamp(wall=wall)

    def block(self) -> None:
        self.times.append(self.pending)
        self.pending = _Stamp()

    def done(self) -> tuple[tuple[float | None, str | None], ...]:
        self._settle()
        return tuple((t.uptime, t.wall) for t in self.times)

    def _settle(self) -> None:
        """What is pending belongs to the block before, when that block has no time of its own."""
        if not self.pending.empty and self.times and self.times[-1].empty:
            self.times[-1] = self.pending
        self.pending = _Stamp()
