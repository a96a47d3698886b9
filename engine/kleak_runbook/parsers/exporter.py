"""Parse /proc/meminfo as monitoring agents export it, pasted into a ticket.

- Prometheus' node_exporter (``curl -s host:9100/metrics | grep node_memory_``):
  ``node_memory_SUnreclaim_bytes 5.57e+08``, one line per meminfo field, in bytes (``Active(anon)``
  is ``Active_anon``; ``HugePages_Total`` and the other counts carry no ``_bytes``).
- Telegraf's ``inputs.mem`` in InfluxDB line protocol (``telegraf --once``, ``outputs.file``):
  ``mem,host=db7 total=270332604416i,sunreclaim=57691877376i,... 1721938672000000000``, in bytes,
  with the time in nanoseconds since the epoch, one line per interval.

Both become the ``/proc/meminfo`` fields they come from.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo

SPEC = "meminfo"
# node_exporter's names of the meminfo fields /proc writes with parentheses
_PARENS = {
    "Active_anon": "Active(anon)",
    "Inactive_anon": "Inactive(anon)",
    "Active_file": "Active(file)",
    "Inactive_file": "Inactive(file)",
}
_COUNTS = frozenset({"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"})
_NODE = re.compile(
    r"^node_memory_(?P<name>[A-Za-z0-9_]+?)(?P<bytes>_bytes)?(?P<labels>\{[^}]*\})?\s+(?P<value>[-+0-9.eE]+|NaN)\s*(?:[0-9]+)?$"
)
# telegraf's field names (inputs.mem, from gopsutil's VirtualMemoryStat) -> meminfo
_TELEGRAF = {
    "total": "MemTotal",
    "free": "MemFree",
    "available": "MemAvailable",
    "buffered": "Buffers",
    "cached": "Cached",
    "swap_cached": "SwapCached",
    "active": "Active",
    "inactive": "Inactive",
    "dirty": "Dirty",
    "write_back": "Writeback",
    "write_back_tmp": "WritebackTmp",
    "mapped": "Mapped",
    "shared": "Shmem",
    "slab": "Slab",
    "sreclaimable": "SReclaimable",
    "sunreclaim": "SUnreclaim",
    "page_tables": "PageTables",
    "commit_limit": "CommitLimit",
    "committed_as": "Committed_AS",
    "vmalloc_total": "VmallocTotal",
    "vmalloc_used": "VmallocUsed",
    "vmalloc_chunk": "VmallocChunk",
    "huge_pages_total": "HugePages_Total",
    "huge_pages_free": "HugePages_Free",
    "huge_page_size": "Hugepagesize",
    "swap_total": "SwapTotal",
    "swap_free": "SwapFree",
    "low_total": "LowTotal",
    "low_free": "LowFree",
    "high_total": "HighTotal",
    "high_free": "HighFree",
    "used": "Used",  # not a meminfo field: what the agent calls used
}
_LINE_PROTOCOL = re.compile(r"^mem(?:,(?P<tags>\S*))?\s+(?P<fields>\S+)(?:\s+(?P<ns>[0-9]{10,19}))?\s*$")


def _figure(text: str) -> int | None:
    """A size or count as the agent printed it (``5.57e+08``, ``57691877376``), or None for what no
    memory figure can be: negative, not finite, beyond 2**63, not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 <= value < 2**63:
        return None
    return round(value)


def is_node_memory(line: str) -> bool:
    return _NODE.match(line.strip()) is not None


def _telegraf_mem(line: str) -> re.Match[str] | None:
    """A ``mem`` line of line protocol with the total and free it must have."""
    m = _LINE_PROTOCOL.match(line.strip())
    return m if m is not None and "total=" in m["fields"] and "free=" in m["fields"] else None


def is_telegraf_mem(line: str) -> bool:
    return _telegraf_mem(line) is not None


def parse_node_memory(text: str) -> MemInfo:
    """node_exporter's ``node_memory_*`` lines as meminfo fields (the first series of each, when the
    paste holds several hosts' lines: those of the first host seen).

    Below: synthetic lines in node_exporter 1.x's format (an edge case of the test suite).

    >>> mi = parse_node_memory('''node_memory_MemTotal_bytes{instance="db7:9100"} 1.7179869184e+10
    ... node_memory_SUnreclaim_bytes{instance="db7:9100"} 5.57e+08
    ... node_memory_Active_anon_bytes{instance="db7:9100"} 1.2e+09
    ... node_memory_HugePages_Total{instance="db7:9100"} 0''')
    >>> mi["MemTotal"] // 1024**2, mi["SUnreclaim"], mi["Active(anon)"] // 10**6, mi["HugePages_Total"]
    (16384, 557000000, 1200, 0)
    """
    fields: dict[str, int] = {}
    host: str | None = None
    for raw in text.splitlines():
        m = _NODE.match(raw.strip())
        if m is None or m["value"] == "NaN":
            continue
        labels = m["labels"] or ""
        instance = re.search(r'instance="([^"]*)"', labels)
        who = instance.group(1) if instance else ""
        if host is None:
            host = who
        if who != host:
            continue  # another host's lines
        name = _PARENS.get(m["name"], m["name"])
        if not m["bytes"] and name not in _COUNTS:
            continue  # node_memory_numa_* and other series that are not meminfo fields
        value = _figure(m["value"])
        if value is not None:
            fields.setdefault(name, value)
    if "MemTotal" not in fields and not fields:
        raise ParseError(SPEC, "no node_memory_<field>_bytes line")
    return MemInfo(MappingProxyType(fields))


def parse_telegraf_mem(text: str) -> MemInfo:
    """The last ``mem`` line of InfluxDB line protocol as meminfo fields.

    Below: https://github.com/influxdata/telegraf/issues/15663 (tests/cases), some of its fields.

    >>> mi = parse_telegraf_mem('mem,host=example free=21401366528i,sunreclaim=57691877376i,total=270332604416i,'
    ...     'slab=61457825792i,vmalloc_used=12186030080i 1721938672000000000')
    >>> mi["MemTotal"] // 1024**3, mi["SUnreclaim"] // 1024**3, mi["VmallocUsed"] // 1024**3
    (251, 53, 11)
    """
    samples = telegraf_samples(text)
    if not samples:
        raise ParseError(SPEC, "no telegraf 'mem,... total=...i,free=...i' line")
    return samples[-1][1]


def telegraf_samples(text: str) -> list[tuple[str | None, MemInfo]]:
    """Each ``mem`` line: its time (ISO 8601, UTC) and its fields."""
    out: list[tuple[str | None, MemInfo]] = []
    for raw in text.splitlines():
        m = _telegraf_mem(raw)
        if m is None:
            continue
        fields: dict[str, int] = {}
        for pair in m["fields"].split(","):
            key, _, value = pair.partition("=")
            name = _TELEGRAF.get(key)
            figure = _figure(value.rstrip("iu"))
            if name is None or figure is None:
                continue
            fields[name] = figure
        wall = None
        if m["ns"]:
            seconds = int(m["ns"]) / 1e9
            if 0 < seconds < 7258118400:  # before 2200
                wall = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append((wall, MemInfo(MappingProxyType(fields))))
    return out


def take_exported(text: str) -> tuple[str, list[tuple[str | None, str, str]]]:
    """``text`` with node_exporter's ``node_memory_*`` lines (and their ``# HELP``/``# TYPE``) and
    telegraf's ``mem`` lines blanked out, and the samples they make: (time, text, form), node_exporter's
    lines as one sample (form "node_exporter"), each telegraf line as one (form "telegraf")."""
    lines = text.splitlines()
    node = [i for i, x in enumerate(lines) if is_node_memory(x)]
    telegraf = [i for i, x in enumerate(lines) if is_telegraf_mem(x)]
    if len(node) < 2 and not telegraf:  # one stray metric line is no meminfo
        return text, []
    samples: list[tuple[str | None, str, str]] = []
    kept = list(lines)
    if len(node) >= 2:
        try:
            parse_node_memory("\n".join(lines[i] for i in node))
        except ParseError:
            pass  # no figure a memory can have: left as text
        else:
            samples.append((None, "\n".join(lines[i].strip() for i in node) + "\n", "node_exporter"))
            for i in node:
                kept[i] = ""
            for i, x in enumerate(lines):
                if re.match(r"^\s*#\s*(?:HELP|TYPE)\s+node_memory_", x):
                    kept[i] = ""
    walls = telegraf_samples("\n".join(lines[i] for i in telegraf))
    for i, (wall, _) in zip(telegraf, walls):
        samples.append((wall, lines[i].strip() + "\n", "telegraf"))
        kept[i] = ""
    return "\n".join(kept) + "\n", samples
