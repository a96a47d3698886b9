"""``/proc/vmstat`` pasted into a ticket: its page counters, as the /proc/meminfo fields they are.

``nr_free_pages 10427``, ``nr_active_anon 65920``, ``nr_slab_unreclaimable 12199``, ... count pages
(``nr_kernel_stack`` counts kB); the rest of the file (``pgpgin``, ``workingset_*``) counts events
and is left out. The file gives no memory size; 4 KiB pages are assumed, as on x86 and most ARM.
"""

from __future__ import annotations

import re

_ROW = re.compile(r"^\s*(?P<key>[a-z][a-z0-9_]*)\s+(?P<n>[0-9]+)\s*$")
_PAGE = 4096
# counter -> /proc/meminfo field (pages, unless noted)
_FIELDS = {
    "nr_free_pages": "MemFree",
    "nr_active_anon": "Active(anon)",
    "nr_inactive_anon": "Inactive(anon)",
    "nr_active_file": "Active(file)",
    "nr_inactive_file": "Inactive(file)",
    "nr_unevictable": "Unevictable",
    "nr_slab_reclaimable": "SReclaimable",
    "nr_slab_unreclaimable": "SUnreclaim",
    "nr_anon_pages": "AnonPages",
    "nr_mapped": "Mapped",
    "nr_shmem": "Shmem",
    "nr_page_table_pages": "PageTables",
    "nr_swapcached": "SwapCached",
}


def take_proc_vmstat(text: str) -> tuple[str, str | None]:
    """``text`` without the lines of a pasted /proc/vmstat, and its counters as a meminfo block (None
    when the text holds no such file: nr_free_pages among eight or more counter lines)."""
    lines = text.splitlines()
    rows: dict[str, int] = {}
    taken: list[int] = []
    for i, line in enumerate(lines):
        m = _ROW.match(line)
        if m is not None and m["key"].startswith(("nr_", "pg", "pswp", "workingset_", "numa_", "compact_", "thp_")):
            rows.setdefault(m["key"], int(m["n"]))
            taken.append(i)
    if len(taken) < 8 or "nr_free_pages" not in rows:
        return text, None
    fields = {f: rows[k] * _PAGE // 1024 for k, f in _FIELDS.items() if k in rows}
    if "nr_kernel_stack" in rows:
        fields["KernelStack"] = rows["nr_kernel_stack"]  # already kB
    for lru in ("Active", "Inactive"):
        if f"{lru}(anon)" in fields and f"{lru}(file)" in fields:
            fields[lru] = fields[f"{lru}(anon)"] + fields[f"{lru}(file)"]
    if "SReclaimable" in fields and "SUnreclaim" in fields:
        fields["Slab"] = fields["SReclaimable"] + fields["SUnreclaim"]
    gone = set(taken)
    kept = [line for i, line in enumerate(lines) if i not in gone]
    return "\n".join(kept) + "\n", "".join(f"{k}: {v} kB\n" for k, v in fields.items())
