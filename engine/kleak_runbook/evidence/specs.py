"""The evidence registry: abstract evidence names and where each lives on a host.

A spec name (``meminfo``) is what runbooks and rules talk about; ``relpath`` is where its
text sits inside a snapshot directory that mirrors the host (``proc/meminfo``), which is the
same for a live host, a saved bundle and an unpacked sosreport.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    name: str
    relpath: str
    sampled: bool
    description: str
    command: str | None = None  # shell command instead of reading /<relpath>
    max_bytes: int = 64 * 1024 * 1024
    optional: bool = False  # absent on most hosts by design: not an evidence gap when missing

    @property
    def host_path(self) -> str:
        return "/" + self.relpath


_SPECS = (
    Spec("meminfo", "proc/meminfo", True, "memory counters"),
    Spec("zoneinfo", "proc/zoneinfo", True, "per-zone free pages; free pages on per-CPU lists, not in MemFree"),
    Spec("slabinfo", "proc/slabinfo", True, "slab caches (root only on most kernels)"),
    Spec("vmallocinfo", "proc/vmallocinfo", True, "vmalloc areas and their callers (root only)"),
    Spec("dentry_state", "proc/sys/fs/dentry-state", True, "dentry cache counters"),
    Spec("uptime", "proc/uptime", True, "monotonic clock for growth rates"),
    Spec("version", "proc/version", False, "kernel build string"),
    Spec("version_signature", "proc/version_signature", False, "Ubuntu upstream version", optional=True),
    Spec("os_release", "etc/os-release", False, "distribution"),
    Spec("cmdline", "proc/cmdline", False, "kernel boot parameters"),
    Spec("tainted", "proc/sys/kernel/tainted", False, "taint flags"),
    Spec("modules", "proc/modules", False, "loaded modules"),
    Spec("cgroups", "proc/cgroups", False, "cgroup controllers and counts"),
    Spec("cgroup_stat", "sys/fs/cgroup/cgroup.stat", False, "cgroup v2 live and dying descendants", optional=True),
    Spec("uname", "commands/uname", False, "uname -a", command="uname -a"),
    Spec("pagesize", "commands/pagesize", False, "page size", command="getconf PAGESIZE"),
    Spec(
        "slab_reclaim_account",
        "commands/slab_reclaim_account",
        False,
        "which slab caches are reclaimable (SLUB sysfs)",
        command="grep -H . /sys/kernel/slab/*/reclaim_account",
    ),
)

SPECS: dict[str, Spec] = {s.name: s for s in _SPECS}
SAMPLED = tuple(s.name for s in _SPECS if s.sampled)
STATIC = tuple(s.name for s in _SPECS if not s.sampled)
BY_RELPATH: dict[str, Spec] = {s.relpath: s for s in _SPECS}
