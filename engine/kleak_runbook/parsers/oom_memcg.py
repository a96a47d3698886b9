"""An OOM killer that ran inside a memory cgroup: the cgroup reached its own limit.

When a cgroup's ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1) is what ran out, the kernel's
report says so: ``mem_cgroup_print_oom_meminfo`` prints the cgroup's ``memory: usage NkB, limit
NkB, failcnt N`` (and its memory.stat) instead of the machine's Mem-Info, the kill line reads
"Memory cgroup out of memory: Killed process …", and since 4.19 ``oom-kill:constraint=CONSTRAINT_MEMCG``.
The machine's memory did not run out, so this is not evidence of a kernel leak (mm/memcontrol.c,
mm/oom_kill.c).

>>> oom = parse_oom_memcg("memory: usage 40964kB, limit 40960kB, failcnt 172\\n")
>>> oom.usage_bytes, oom.limit_bytes, oom.failcnt
(41947136, 41943040, 172)
>>> parse_oom_memcg("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/\\n").limit_bytes is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError

_USAGE = re.compile(r"\bmemory: usage ([0-9]{1,20})kB, limit ([0-9]{1,20})kB, failcnt ([0-9]{1,20})")
# what marks a report as a cgroup's own, with or without the usage line
MEMCG_OOM = re.compile(
    r"\bmemory: usage [0-9]+kB, limit [0-9]+kB, failcnt [0-9]+|\bMemory cgroup out of memory: Kill|constraint=CONSTRAINT_MEMCG\b"
    # the OOM killer entered from the memory controller (the call trace), and older kernels' own words
    r"|\bmem_cgroup_out_of_memory\+0x|\bkilled as a result of limit of\b"
    # a charge that failed at the cgroup's limit (2.6-4.x: the fault path's synchronize, the charge itself)
    r"|\bmem_cgroup_oom_synchronize\+0x|\b__mem_cgroup_try_charge\+0x|\btry_charge(?:_memcg)?\+0x"
)
_NO_LIMIT_KB = 1 << 50  # "limit 9007199254740988kB": the page counter's maximum, i.e. no limit


@dataclass(frozen=True)
class MemcgOom:
    usage_bytes: int | None
    limit_bytes: int | None  # None: the report does not give it, or the cgroup has none
    failcnt: int | None

    def summary(self) -> str:
        if self.usage_bytes is None or self.limit_bytes is None:
            return "the OOM killer ran inside a memory cgroup (its limit is not in the report)"
        return f"a memory cgroup at {self.usage_bytes // 1024} kB of its {self.limit_bytes // 1024} kB limit"


def parse_oom_memcg(text: str) -> MemcgOom:
    if not MEMCG_OOM.search(text):
        raise ParseError("oom_memcg", "no memory cgroup OOM in the text (memory: usage ..., limit ...)", line=1)
    m = _USAGE.search(text)
    if m is None:
        return MemcgOom(None, None, None)
    usage, limit, failcnt = (int(g) for g in m.groups())
    return MemcgOom(usage * 1024, limit * 1024 if limit < _NO_LIMIT_KB else None, failcnt)
