"""Parse a memory cgroup's ``memory.stat`` (cgroup v2): what a container ticket shows when
someone asked the cgroup where its memory went.

cgroup v2 splits a cgroup's charged memory much as ``/proc/meminfo`` splits the host's: ``anon``,
``file`` (page cache), ``shmem``, and the kernel's own memory charged to the cgroup (``kernel``,
and inside it ``slab_reclaimable``, ``slab_unreclaimable``, ``kernel_stack``, ``pagetables``,
``percpu``, ``vmalloc``, ``sock``), in bytes. They become the ``/proc/meminfo`` fields they stand
for, and ``MemTotal`` stands for everything the cgroup is charged (``anon + file + kernel``, or
the kernel parts summed on kernels before 5.18 that have no ``kernel`` line): shares are of the
cgroup's memory, not of the host's RAM, and ``MemFree`` is 0. ``MemcgStat`` (not a meminfo field)
marks the source. cgroup v1's ``memory.stat`` (``cache``, ``rss``, no kernel memory at all) is
not read: it cannot say anything about the kernel.

Below: the lines a cAdvisor issue quoted (tests/cases/gh-cadvisor-3081-memcg-slab-reclaimable).

>>> mi = parse_memory_stat('''anon 663552
... file 10313728
... kernel_stack 49152
... inactive_anon 573440
... active_anon 32768
... inactive_file 5066752
... active_file 5246976
... unevictable 0
... slab_reclaimable 1232589368
... slab_unreclaimable 128408
... slab 1232717776''')
>>> mi["SReclaimable"] // 1024**2, mi["MemTotal"] // 1024**2, mi["Cached"] // 1024**2
(1175, 1186, 9)
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo
from kleak_runbook.parsers.oom import _PREFIX

SPEC = "memory_stat"
# the keys of cgroup v2's memory.stat (5.x-6.x); a block of these lines is one memory.stat
KEYS = (
    "anon|file|kernel|kernel_stack|pagetables|sec_pagetables|percpu|sock|vmalloc|shmem|zswap|zswapped"
    "|file_mapped|file_dirty|file_writeback|swapcached|anon_thp|file_thp|shmem_thp|inactive_anon|active_anon"
    "|inactive_file|active_file|unevictable|slab_reclaimable|slab_unreclaimable|slab|hugetlb"
    r"|workingset_\w+|pg\w+|thp_\w+|numa_\w+|zswpin|zswpout|zswpwb|ksm\w*"
)
ROW = re.compile(rf"^(?P<key>{KEYS})\s+(?P<value>[0-9]+)$")
_FIELDS = {
    "anon": "AnonPages",
    "file": "Cached",
    "shmem": "Shmem",
    "slab_reclaimable": "SReclaimable",
    "slab_unreclaimable": "SUnreclaim",
    "kernel_stack": "KernelStack",
    "pagetables": "PageTables",
    "percpu": "Percpu",
    "vmalloc": "VmallocUsed",
    "unevictable": "Unevictable",
    "active_anon": "Active(anon)",
    "inactive_anon": "Inactive(anon)",
    "active_file": "Active(file)",
    "inactive_file": "Inactive(file)",
}
_KERNEL_PARTS = ("slab_reclaimable", "slab_unreclaimable", "kernel_stack", "pagetables", "percpu", "vmalloc", "sock")


def parse_memory_stat(text: str) -> MemInfo:
    rows: dict[str, int] = {}
    for line in text.splitlines():
        m = ROW.match(_PREFIX.sub("", line.strip()).strip())  # as the journal or dmesg printed it
        if m:
            rows.setdefault(m["key"], int(m["value"]))
    if "anon" not in rows or "file" not in rows:
        raise ParseError(SPEC, "expected cgroup v2 memory.stat lines 'anon N' and 'file N'")
    fields = {meminfo: rows[key] for key, meminfo in _FIELDS.items() if key in rows}
    if "slab_reclaimable" in rows or "slab_unreclaimable" in rows:
        fields["Slab"] = rows.get("slab", rows.get("slab_reclaimable", 0) + rows.get("slab_unreclaimable", 0))
    lists = [rows.get(k) for k in ("active_anon", "inactive_anon", "active_file", "inactive_file")]
    if all(v is not None for v in lists):
        fields["Active"] = rows["active_anon"] + rows["active_file"]
        fields["Inactive"] = rows["inactive_anon"] + rows["inactive_file"]
    kernel = rows.get("kernel", sum(rows.get(k, 0) for k in _KERNEL_PARTS))
    fields["MemTotal"] = rows["anon"] + rows["file"] + kernel
    fields["MemFree"] = 0
    fields["MemcgStat"] = 1  # not a meminfo field: the source
    return MemInfo(MappingProxyType(fields))
