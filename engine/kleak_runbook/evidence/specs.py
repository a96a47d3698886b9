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

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.errors import ParseError

Parser = Callable[[str], Any]


class _Lazy:
    """A parser imported when first called: a run imports the parsers of what it reads, not all of
    them (each parser module compiles its patterns and classes when imported)."""

    __slots__ = ("_fn", "target")

    def __init__(self, target: str) -> None:
        self.target = target
        self._fn: Callable[[str], Any] | None = None

    def resolve(self) -> Callable[[str], Any]:
        fn = self._fn
        if fn is None:
            module, _, name = self.target.partition(":")
            fn = self._fn = getattr(importlib.import_module(f"kleak_runbook.parsers.{module}"), name)
        return fn

    def __call__(self, text: str) -> Any:
        return (self._fn or self.resolve())(text)

    def __repr__(self) -> str:
        return f"<parser {self.target}>"


def _lazy(target: str) -> Callable[[str], Any]:
    return _Lazy(target)


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
    # "history": fetched by the engine (Prometheus, earlier runs); "ticket": found in pasted text
    # only (an OOM report's header, the ticket's own words); neither is ever asked of a host
    origin: str = "host"

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
        _lazy("meminfo:parse_meminfo"),
        context="meminfo",
        forms={
            "partial": _lazy("meminfo:parse_meminfo_lines"),
            "oom": _lazy("oom:parse_oom_meminfo"),
            "free": _lazy("free:parse_free"),
            "smem": _lazy("smem:parse_smem_areas"),
            "vmstat": _lazy("vmstat:parse_vmstat_s"),
            "memstat": _lazy("memory_stat:parse_memory_stat"),
            "sar": _lazy("sar:parse_sar_row"),
            "top": _lazy("top:parse_top_summary"),
            "node_exporter": _lazy("exporter:parse_node_memory"),
            "telegraf": _lazy("exporter:parse_telegraf_mem"),
        },
    ),
    Spec(
        "zoneinfo",
        "proc/zoneinfo",
        True,
        "per-zone free pages; free pages on per-CPU lists, not in MemFree",
        _lazy("zoneinfo:parse_zoneinfo"),
    ),
    Spec(
        "slabinfo",
        "proc/slabinfo",
        True,
        "slab caches (root only on most kernels)",
        _lazy("slabinfo:parse_slabinfo"),
        context="slab",
        forms={
            "slabtop": _lazy("slabinfo:parse_slabtop"),
            "oom": _lazy("oom:parse_unreclaimable_slab"),
            "slub": _lazy("oom:parse_slub_failure"),
        },
        sources=(("sos_commands/memory/slabtop_-o", "slabtop"),),
    ),
    Spec(
        "vmallocinfo",
        "proc/vmallocinfo",
        True,
        "vmalloc areas and their callers (root only)",
        _lazy("vmallocinfo:parse_vmallocinfo"),
        max_bytes=256 * MiB,
        context="vmalloc",
    ),
    Spec(
        "dentry_state",
        "proc/sys/fs/dentry-state",
        True,
        "dentry cache counters",
        _lazy("dentry_state:parse_dentry_state"),
        context="dentry",
    ),
    Spec(
        "inode_state",
        "proc/sys/fs/inode-state",
        True,
        "inode cache counters",
        _lazy("inode_state:parse_inode_state"),
        context="inodes",
    ),
    Spec(
        "arcstats",
        "proc/spl/kstat/zfs/arcstats",
        True,
        "ZFS ARC size: memory no meminfo field shows (ZFS hosts only)",
        _lazy("arcstats:parse_arcstats"),
        optional=True,
        context="zfs_arc",
    ),
    Spec(
        "spl_slab",
        "proc/spl/kmem/slab",
        True,
        "ZFS's SPL slab caches: memory outside Slab and every meminfo field (ZFS hosts only)",
        _lazy("spl_slab:parse_spl_slab"),
        optional=True,
        context="zfs_spl",
    ),
    Spec(
        "allocinfo",
        "proc/allocinfo",
        True,
        "bytes held by each place in the kernel's code that allocates (memory allocation profiling,"
        " 6.10 and later; root only)",
        _lazy("allocinfo:parse_allocinfo"),
        max_bytes=16 * MiB,
        optional=True,
        context="allocinfo",
        forms={"oom": _lazy("allocinfo:parse_oom_allocations")},
    ),
    Spec("uptime", "proc/uptime", True, "monotonic clock for growth rates", _uptime),
    Spec("version", "proc/version", False, "kernel build string", _lazy("version:parse_proc_version")),
    Spec("version_signature", "proc/version_signature", False, "Ubuntu upstream version", optional=True),
    Spec("os_release", "etc/os-release", False, "distribution", _lazy("version:parse_os_release")),
    Spec("cmdline", "proc/cmdline", False, "kernel boot parameters", _lazy("cmdline:parse_cmdline"), context="cmdline"),
    Spec("tainted", "proc/sys/kernel/tainted", False, "taint flags", _lazy("tainted:parse_tainted"), context="tainted"),
    Spec("modules", "proc/modules", False, "loaded modules", _lazy("modules:parse_modules"), context="modules"),
    Spec(
        "cgroups",
        "proc/cgroups",
        False,
        "cgroup controllers and counts",
        _lazy("cgroups:parse_cgroups"),
        context="cgroups",
    ),
    Spec(
        "cgroup_stat",
        "sys/fs/cgroup/cgroup.stat",
        False,
        "cgroup v2 live and dying descendants",
        _lazy("cgroups:parse_cgroup_stat"),
        optional=True,
        context="cgroup_stat",
    ),
    Spec(
        "uname",
        "commands/uname",
        False,
        "uname -a",
        _lazy("version:parse_uname"),
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
        origin="ticket",
    ),
    Spec(
        "oom_memcg",
        "commands/oom-memcg",
        False,
        "an OOM report's lines that show a memory cgroup reached its own limit",
        _lazy("oom_memcg:parse_oom_memcg"),
        optional=True,
        context="oom_memcg",
        origin="ticket",
    ),
    Spec(
        "words",
        "commands/ticket-words",
        False,
        "what a ticket's own words state about memory (pasted text only)",
        _lazy("prose:parse_words"),
        optional=True,
        context="words",
        origin="ticket",
    ),
    Spec(
        "alloc_failure",
        "commands/alloc-failure",
        False,
        "a warn_alloc allocation-failure warning and its trace",
        _lazy("alloc_failure:parse_alloc_failure"),
        optional=True,
        context="alloc_failure",
        origin="ticket",
    ),
    Spec(
        "boot_id", "proc/sys/kernel/random/boot_id", False, "this boot's id (baselines)", _lazy("history:parse_boot_id")
    ),
    # history is evidence too, but the engine fetches it; it sits in the bundle as history/<name>
    Spec(
        "prometheus_history",
        "history/prometheus.json",
        False,
        "node_exporter history from Prometheus",
        _lazy("history:parse_prometheus_history"),
        max_bytes=256 * MiB,
        origin="history",
    ),
    Spec(
        "baseline_runs",
        "history/runs.json",
        False,
        "earlier runs of the host",
        _lazy("history:parse_baseline_runs"),
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
