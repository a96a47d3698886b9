"""``vmstat [delay [count]]`` pasted into a ticket: its memory columns, one sample per row.

::

    procs -----------memory---------- ---swap-- -----io---- -system-- -------cpu-------
     r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st gu
     0  0      0 7469468  17592 332276    0    0    20     3  480    0  0  1 99  0  0  0

Each row becomes the /proc/meminfo fields its columns are: free (MemFree), buff (Buffers), cache
(Cached), and with ``-a`` inact and active (Inactive, Active). The figures are
KiB, or MiB after ``-S M`` (``-S m``: 1000 kB), as the command line above them says. vmstat
gives no memory size: the rows show how free memory and the caches moved, nothing of the kernel's
own memory.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*r\s+b\s+swpd\s+free\s+(?:buff\s+cache|inact\s+active)\b")
_ROW = re.compile(r"^\s*[0-9]+(?:\s+[0-9]+){10,}\s*$")
_COMMAND = re.compile(r"\bvmstat\b(?P<args>[^\n]*)")
_FIELDS = {"free": "MemFree", "buff": "Buffers", "cache": "Cached", "inact": "Inactive", "active": "Active"}


def _scale(command: str | None) -> int:
    """Bytes per unit of the rows, from the vmstat command line that printed them."""
    m = re.search(r"-S\s*([kKmM])\b|--unit[= ]([kKmM])\b", command or "")
    unit = (m.group(1) or m.group(2)) if m else "K"
    return {"k": 1000, "K": 1024, "m": 1000 * 1000, "M": 1024 * 1024}[unit]


def take_vmstat(text: str) -> tuple[str, list[str]]:
    """``text`` with every vmstat table blanked out, and each of its rows as a meminfo sample's text."""
    lines = text.splitlines()
    kept = list(lines)
    blocks: list[str] = []
    command: str | None = None
    columns: list[str] | None = None
    scale = 1024
    for i, raw in enumerate(lines):
        line = raw.strip()
        c = _COMMAND.search(line)
        if c is not None and not line.startswith("procs"):
            command = c.group("args")
            continue
        if _HEADER.match(line):
            columns, scale = line.split(), _scale(command)
            kept[i] = ""
            if i > 0 and lines[i - 1].strip().startswith("procs"):
                kept[i - 1] = ""
            continue
        if columns is not None and _ROW.match(line):
            values = line.split()
            if len(values) != len(columns):
                columns = None  # not this table's row: the table ended
                continue
            row = dict(zip(columns, values, strict=True))
            blocks.append("".join(f"{_FIELDS[k]}: {int(row[k]) * scale // 1024} kB\n" for k in _FIELDS if k in row))
            kept[i] = ""
        elif line:
            columns = None
    return ("\n".join(kept) + "\n", blocks) if blocks else (text, [])
