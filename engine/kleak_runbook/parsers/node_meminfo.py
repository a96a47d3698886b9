"""Per-node meminfo (``/sys/devices/system/node/nodeN/meminfo``) pasted into a ticket.

Each line is ``Node 0 MemTotal:       32828664 kB``, often with grep's file-name prefix
(``/sys/devices/system/node/node0/meminfo:Node 0 MemFree: ...``). The nodes together are one
host: each field present on every node is summed into one /proc/meminfo block (a field a node's
cut paste lacks is left out), and ``MemUsed``, which only the per-node file has, is dropped.
"""

from __future__ import annotations

import re

_ROW = re.compile(
    r"^(?:\S*meminfo:)?\s*Node\s+(?P<node>[0-9]+)\s+(?P<key>[A-Z][A-Za-z0-9_()]*):\s+(?P<n>[0-9]+)(?:\s+kB)?$"
)
_NOT_MEMINFO = {"MemUsed"}  # the per-node file's own: MemTotal - MemFree


def take_node_meminfo(text: str) -> tuple[str, str | None, int]:
    """``text`` without its per-node meminfo lines, those nodes summed as one /proc/meminfo block
    (None when fewer than three such lines), and how many nodes were summed.

    Below: the paste in https://github.com/spdk/spdk/issues/1954 (tests/cases), abridged.

    >>> rest, block, nodes = take_node_meminfo('''/sys/devices/system/node/node0/meminfo:Node 0 MemTotal: 32828664 kB
    ... /sys/devices/system/node/node0/meminfo:Node 0 MemFree:  3562848 kB
    ... /sys/devices/system/node/node0/meminfo:Node 0 MemUsed: 29265816 kB
    ... /sys/devices/system/node/node0/meminfo:Node 0 Active:    231716 kB''')
    >>> print(block, end="")
    MemTotal: 32828664 kB
    MemFree: 3562848 kB
    Active: 231716 kB
    >>> nodes
    1
    """
    lines = text.splitlines()
    rows: dict[str, dict[str, int]] = {}  # node -> field -> kB, first seen first
    taken: list[int] = []
    for i, line in enumerate(lines):
        m = _ROW.match(line.strip())
        if m is None:
            continue
        taken.append(i)
        if m["key"] not in _NOT_MEMINFO:
            rows.setdefault(m["node"], {}).setdefault(m["key"], int(m["n"]))
    if len(taken) < 3 or not rows:
        return text, None, 0
    nodes = list(rows.values())
    fields = [k for k in nodes[0] if all(k in node for node in nodes)]
    if "MemTotal" not in fields:
        return text, None, 0
    block = "".join(f"{k}: {sum(node[k] for node in nodes)} kB\n" for k in fields)
    kept = [line for i, line in enumerate(lines) if i not in set(taken)]
    return "\n".join(kept) + "\n", block, len(nodes)
