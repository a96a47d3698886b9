"""The evidence registry: each abstract evidence name, where it lives, and how it is parsed.

A spec name (``meminfo``) is what runbooks and rules talk about. ``relpath`` is where its text
sits inside a snapshot directory that mirrors the host (``proc/meminfo``): the same for a live
host, a saved bundle and an unpacked sosreport. ``sources`` are other places a snapshot may
hold it (a sosreport's ``sos_commands/...``), each with the *form* its text has there; ``forms``
maps each form to its parser, so ``slabtop -o`` output parses straight to the same ``SlabInfo``
as ``/proc/slabinfo``. ``context`` is the name under which rules read the parsed value.

Adding a /proc file: a ``Spec`` here and its parser in ``parsers/`` (README, "Where things go").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.arcstats import parse_arcstats
from kleak_runbook.parsers.cgroups import parse_cgroup_stat, parse_cgroups
from kleak_runbook.parsers.cmdline import parse_cmdline
from kleak_runbook.parsers.dentry_state import parse_dentry_state
from kleak_runbook.parsers.free import parse_free
from kleak_runbook.parsers.history import parse_baseline_runs, parse_boot_id, parse_prometheus_history
from kleak_runbook.parsers.inode_state import parse_inode_state
from kleak_runbook.parsers.meminfo import parse_meminfo, parse_meminfo_lines
from kleak_runbook.parsers.modules import parse_modules
from kleak_runbook.parsers.oom import parse_oom_meminfo, parse_slub_failure, parse_unreclaimable_slab
from kleak_runbook.parsers.slabinfo import parse_slabinfo, parse_slabtop
from kleak_runbook.parsers.smem import parse_smem_areas
from kleak_runbook.parsers.tainted import parse_tainted
from kleak_runbook.parsers.version import parse_os_release, parse_proc_version, parse_uname
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo
from kleak_runbook.parsers.zoneinfo import parse_zoneinfo

Parser = Callable[[str], Any]
MiB = 1024 * 1024


def _text(text: str) -> str:
    return text.strip()


def _uptime(text: str) -> float:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        raise ParseError("uptime", f"expected seconds, got {text.strip()[:40]!r}", line=1) from None


def _page_size(text: str) -> int:
    try:
        return int(text.split()[0])
    except (IndexError, ValueError):
        raise ParseError("pagesize", f"expected a number, got {text.strip()[:40]!r}", line=1) from None


def _reclaim_account(text: str) -> dict[str, bool]:
    """``grep -H . /sys/kernel/slab/*/reclaim_account`` output → cache name → reclaimable."""
    out: dict[str, bool] = {}
    for line in text.splitlines():
        path, _, value = line.rpartition(":")
        parts = path.split("/")
        if len(parts) >= 2 and value.strip() in ("0", "1"):
            out[parts[-2]] = value.strip() == "1"
    return out


@dataclass(frozen=True)
class Spec:
    name: str
    relpath: str
    sampled: bool
    description: str
    parse: Parser = _text
    command: str | None = None  # shell command instead of reading /<relpath>
    max_bytes: int = 64 * MiB  # enforced on the host: a larger file is a 'toolarge' gap, not evidence
    timeout_s: int = 60  # for commands
    optional: bool = False  # absent on most hosts by design: not an evidence gap when missing
    context: str | None = None  # the rule-context name of the parsed value (None: not read by rules directly)
    forms: Mapping[str, Parser] = field(default_factory=dict)  # other text forms and their parsers
    sources: tuple[tuple[str, str], ...] = ()  # (relpath in a snapshot/sosreport, form)
    origin: str = "host"  # "history": fetched by the engine (Prometheus, earlier runs), never from the host

    @property
    def host_path(self) -> str:
        return "/" + self.relpath

    def parser(self, form: str | None = None) -> Parser:
        return self.forms[form] if form else self.parse


_SPECS = (
    Spec(
        "meminfo",
        "proc/meminfo",
        True,
        "memory counters",
        parse_meminfo,
        context="meminfo",
        forms={
            "partial": parse_meminfo_lines,
            "oom": parse_oom_meminfo,
            "free": parse_free,
            "smem": parse_smem_areas,
        },
    ),
    Spec(
        "zoneinfo",
        "proc/zoneinfo",
        True,
        "per-zone free pages; free pages on per-CPU lists, not in MemFree",
        parse_zoneinfo,
    ),
    Spec(
        "slabinfo",
        "proc/slabinfo",
        True,
        "slab caches (root only on most kernels)",
        parse_slabinfo,
        context="slab",
        forms={"slabtop": parse_slabtop, "oom": parse_unreclaimable_slab, "slub": parse_slub_failure},
        sources=(("sos_commands/memory/slabtop_-o", "slabtop"),),
    ),
    Spec(
        "vmallocinfo",
        "proc/vmallocinfo",
        True,
        "vmalloc areas and their callers (root only)",
        parse_vmallocinfo,
        max_bytes=256 * MiB,
        context="vmalloc",
    ),
    Spec(
        "dentry_state",
        "proc/sys/fs/dentry-state",
        True,
        "dentry cache counters",
        parse_dentry_state,
        context="dentry",
    ),
    Spec("inode_state", "proc/sys/fs/inode-state", True, "inode cache counters", parse_inode_state, context="inodes"),
    Spec(
        "arcstats",
        "proc/spl/kstat/zfs/arcstats",
        True,
        "ZFS ARC size: memory no meminfo field shows (ZFS hosts only)",
        parse_arcstats,
        optional=True,
        context="zfs_arc",
    ),
    Spec("uptime", "proc/uptime", True, "monotonic clock for growth rates", _uptime),
    Spec("version", "proc/version", False, "kernel build string", parse_proc_version),
    Spec("version_signature", "proc/version_signature", False, "Ubuntu upstream version", optional=True),
    Spec("os_release", "etc/os-release", False, "distribution", parse_os_release),
    Spec("cmdline", "proc/cmdline", False, "kernel boot parameters", parse_cmdline, context="cmdline"),
    Spec("tainted", "proc/sys/kernel/tainted", False, "taint flags", parse_tainted, context="tainted"),
    Spec("modules", "proc/modules", False, "loaded modules", parse_modules, context="modules"),
    Spec("cgroups", "proc/cgroups", False, "cgroup controllers and counts", parse_cgroups, context="cgroups"),
    Spec(
        "cgroup_stat",
        "sys/fs/cgroup/cgroup.stat",
        False,
        "cgroup v2 live and dying descendants",
        parse_cgroup_stat,
        optional=True,
        context="cgroup_stat",
    ),
    Spec(
        "uname",
        "commands/uname",
        False,
        "uname -a",
        parse_uname,
        command="uname -a",
        sources=(("sos_commands/kernel/uname_-a", ""), ("uname", "")),
    ),
    Spec(
        "oom_report",
        "commands/oom-report",
        False,
        "the OOM killer's first line, from a ticket or log that holds its report",
        optional=True,
        context="oom_report",
    ),
    Spec("boot_id", "proc/sys/kernel/random/boot_id", False, "this boot's id (baselines)", parse_boot_id),
    # history is evidence too, but the engine fetches it; it sits in the bundle as history/<name>
    Spec(
        "prometheus_history",
        "history/prometheus.json",
        False,
        "node_exporter history from Prometheus",
        parse_prometheus_history,
        max_bytes=256 * MiB,
        origin="history",
    ),
    Spec(
        "baseline_runs",
        "history/runs.json",
        False,
        "earlier runs of the host",
        parse_baseline_runs,
        max_bytes=64 * MiB,
        origin="history",
    ),
    Spec("pagesize", "commands/pagesize", False, "page size", _page_size, command="getconf PAGESIZE"),
    Spec(
        "slab_reclaim_account",
        "commands/slab_reclaim_account",
        False,
        "which slab caches are reclaimable (SLUB sysfs)",
        _reclaim_account,
        command="grep -H . /sys/kernel/slab/*/reclaim_account",
    ),
)

SPECS: dict[str, Spec] = {s.name: s for s in _SPECS}
SAMPLED = tuple(s.name for s in _SPECS if s.sampled)
STATIC = tuple(s.name for s in _SPECS if not s.sampled and s.origin == "host")
HISTORY = tuple(s.name for s in _SPECS if s.origin == "history")
BY_RELPATH: dict[str, Spec] = {s.relpath: s for s in _SPECS}
