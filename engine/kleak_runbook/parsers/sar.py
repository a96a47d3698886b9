"""Parse ``sar -r`` (sysstat's memory report): one timed sample of memory per row.

sysstat keeps the host's memory every ten minutes for a month, so a ticket often pastes it:
the columns are ``/proc/meminfo`` fields in kB (``kbmemfree`` MemFree, ``kbavail`` MemAvailable,
``kbbuffers`` Buffers, ``kbcached`` Cached, ``kbcommit`` Committed_AS, ``kbactive`` Active,
``kbinact`` Inactive, ``kbdirty`` Dirty; ``sar -r ALL`` adds ``kbanonpg`` AnonPages, ``kbslab``
Slab, ``kbkstack`` KernelStack, ``kbpgtbl`` PageTables, ``kbvmused`` VmallocUsed). MemTotal is not
printed: before sysstat 11.6 ``kbmemused`` is MemTotal - MemFree, later it leaves out buffers,
cache and slab too; ``%memused`` is ``kbmemused`` of MemTotal in both, which gives MemTotal.

Rows carry the host's local time of day (``16:10:01``, or ``04:10:01 PM``); the date is the
report header's (``Linux 3.10.0 (host) 25/05/21 _x86_64_ (1 CPU)``), in the order the locale
printed it. Rows after the last ``LINUX RESTART`` are the current boot's; ``Average:`` rows are not
samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo

SPEC = "sar"
_COLUMNS = {
    "kbmemfree": "MemFree",
    "kbavail": "MemAvailable",
    "kbbuffers": "Buffers",
    "kbcached": "Cached",
    "kbcommit": "Committed_AS",
    "kbactive": "Active",
    "kbinact": "Inactive",
    "kbdirty": "Dirty",
    "kbanonpg": "AnonPages",
    "kbslab": "Slab",
    "kbkstack": "KernelStack",
    "kbpgtbl": "PageTables",
    "kbvmused": "VmallocUsed",
}
_TIME = re.compile(r"^(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\s*(?P<ampm>AM|PM))?\s+")
_NUMBER = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")
# the report's first line: "Linux 3.10.0-1160.25.1.el7.x86_64 (server) 	25/05/21 	_x86_64_	(1 CPU)"
_HEADER = re.compile(
    r"^Linux\s+(?P<release>\S+)\s+\((?P<host>\S*)\)\s+(?P<date>[0-9]{1,4}[/.-][0-9]{1,2}[/.-][0-9]{1,4})\b"
)


@dataclass(frozen=True)
class SarSample:
    clock: str  # the row's local time, "HH:MM:SS" on a 24-hour clock
    day: int  # days after the first row (the clock passed midnight)
    meminfo: MemInfo


@dataclass(frozen=True)
class SarMemory:
    samples: tuple[SarSample, ...]
    date: str | None  # the header's date as YYYY-MM-DD, when its order is certain
    date_note: str | None  # how an uncertain date was read
    restarted: bool  # a LINUX RESTART was in the report: only the rows after it are kept
    header: str | None = None  # the report's first line, as pasted
    # that line as ``uname -a`` would start it ("Linux <host> <release>"), for the kernel it names
    uname: str | None = None

    def wall(self, sample: SarSample) -> str | None:
        """The sample's time as ISO 8601 without a zone (sar prints the host's local time)."""
        if self.date is None:
            return None
        y, mo, d = (int(x) for x in self.date.split("-"))
        day = date(y, mo, d) + timedelta(days=sample.day)
        return f"{day.isoformat()}T{sample.clock}"


def is_sar_header(line: str) -> bool:
    words = line.split()
    return "kbmemfree" in words and "kbmemused" in words


def _clock(m: re.Match[str]) -> int:
    hour = int(m["h"])
    if m["ampm"]:
        hour = hour % 12 + (12 if m["ampm"] == "PM" else 0)
    return hour * 3600 + int(m["m"]) * 60 + int(m["s"])


def _header_date(written: str) -> tuple[str | None, str | None]:
    """The report's date as YYYY-MM-DD, and a note when the day and month could be either way round."""
    parts = [int(x) for x in re.split(r"[/.-]", written)]
    if parts[0] > 31:  # 2021-05-25
        y, mo, d = parts
        note = None
    else:
        a, b, y = parts
        y += 2000 if y < 100 else 0
        if a > 12:
            d, mo, note = a, b, None
        elif b > 12:
            mo, d, note = a, b, None
        else:  # 05/06/21: sysstat prints the locale's order; taken as month first (the C and en_US locales)
            mo, d = a, b
            note = f"sar's date {written} read month first; only the times of day matter for rates"
    if 1 <= mo <= 12 and 1 <= d <= 31 and 1970 <= y <= 2200:
        return f"{y:04d}-{mo:02d}-{d:02d}", note
    return None, None


@dataclass(frozen=True)
class _Row:
    index: int  # the line's place in the text
    columns: str  # the column line above it
    line: str
    seconds: int  # its time of day
    values: dict[str, float]


def _bare(line: str) -> str:
    return line.strip().lstrip(">").strip()


def _rows(lines: list[str]) -> tuple[list[_Row], list[int], bool]:
    """The report's rows after its last LINUX RESTART, every line that is the report's (column
    lines, rows, Average: rows, restarts), and whether it restarted."""
    columns: str | None = None
    rows: list[_Row] = []
    own: list[int] = []
    restarted = False
    for i, raw in enumerate(lines):
        line = _bare(raw)
        if is_sar_header(line):
            columns = line
            own.append(i)
            continue
        if columns is None:
            continue
        if "LINUX RESTART" in line or line.startswith("Average:"):
            own.append(i)
            if "LINUX RESTART" in line:
                rows, restarted = [], True  # the rows before it are another boot's
            continue
        m = _TIME.match(line)
        if m is None:
            continue
        names = columns.split()
        names = names[names.index("kbmemfree") :]
        values = line[m.end() :].split()
        if len(values) != len(names) or not all(_NUMBER.match(v) for v in values):
            continue  # a header repeated, a cut row
        own.append(i)
        rows.append(_Row(i, columns, line, _clock(m), {c: float(v.replace(",", ".")) for c, v in zip(names, values)}))
    return rows, own, restarted


def _total(row: dict[str, float]) -> float | None:
    """MemTotal in kB: free + used before sysstat 11.6 (used is total - free there), else used over
    %memused (later sysstat leaves buffers, cache and slab out of used)."""
    used, pct, free = row.get("kbmemused"), row.get("%memused"), row["kbmemfree"]
    if used is None:
        return None
    if "kbavail" not in row and (not pct or abs((free + used) * pct / 100 - used) <= 0.01 * (free + used)):
        return free + used
    return used * 100 / pct if pct else None


def parse_sar_memory(text: str) -> SarMemory:
    """Every ``sar -r`` row of ``text`` as meminfo fields in bytes, with its time.

    Below: https://www.catalyst2.com/knowledgebase/server-management/investigating-memory-usage-with-sar/
    (tests/cases), two rows.

    >>> sar = parse_sar_memory('''Linux 3.10.0-1160.25.1.el7.x86_64 (server.example.com) 	25/05/21 	_x86_64_	(1 CPU)
    ... 16:00:01    kbmemfree kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty
    ... 16:10:01       212980    801800     79.01         0    293512   1247884    122.97    530056    109360         0
    ... 16:20:01       214984    799796     78.81         0    293556   1248208    123.00    528032    109352         4''')
    >>> [(s.clock, s.meminfo["MemTotal"] // 1024, s.meminfo["Cached"] // 1024) for s in sar.samples]
    [('16:10:01', 1014780, 293512), ('16:20:01', 1014780, 293556)]
    >>> sar.wall(sar.samples[1])
    '2021-05-25T16:20:01'
    """
    lines = text.splitlines()
    rows, _, restarted = _rows(lines)
    if not rows:
        raise ParseError(SPEC, "no sar -r row (a time and a value under each of kbmemfree, kbmemused, ...)")
    totals = [_total(row.values) for row in rows]
    known = sorted(t for t in totals if t is not None)
    # one size for every row: %memused is rounded to 0.01, so later sysstat's rows differ by a little
    total = known[len(known) // 2] if known else None
    samples: list[SarSample] = []
    day, last = 0, -1
    for row in rows:
        seconds = row.seconds
        if seconds <= last:
            day += 1  # past midnight
        last = seconds
        fields = {name: round(row.values[col]) * 1024 for col, name in _COLUMNS.items() if col in row.values}
        if total is not None:
            fields["MemTotal"] = round(total) * 1024
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        samples.append(SarSample(clock, day, MemInfo(MappingProxyType(fields))))
    head = next((m for m in (_HEADER.match(_bare(x)) for x in lines) if m is not None), None)
    when, note = _header_date(head["date"]) if head else (None, None)
    uname = f"Linux {head['host'] or 'unknown'} {head['release']} (from the sar report)\n" if head else None
    return SarMemory(tuple(samples), when, note, restarted, head.group(0) if head else None, uname)


def parse_sar_row(text: str) -> MemInfo:
    """One sample as a paste keeps it (the report's header line, the column line and its row)."""
    return parse_sar_memory(text).samples[-1].meminfo


def take_sar(text: str) -> tuple[str, list[tuple[str | None, str]], SarMemory | None]:
    """``text`` with its ``sar -r`` columns and rows blanked out (the report's header line stays: it
    names the kernel), each row as a sample's text (the header line, the column line and the row)
    with the row's time, and the report."""
    lines = text.splitlines()
    rows, own, _ = _rows(lines)
    if not rows:
        return text, [], None
    report = parse_sar_memory(text)
    blank = set(own)
    kept = ["" if i in blank else x for i, x in enumerate(lines)]
    samples = [
        (report.wall(s), "\n".join(x for x in (report.header, row.columns, row.line) if x) + "\n")
        for s, row in zip(report.samples, rows)
    ]
    return "\n".join(kept) + "\n", samples, report
