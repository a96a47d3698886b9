"""Find /proc outputs pasted into free text (a ticket comment, an e-mail) and normalise each block.

Blocks are recognised by the shape of their lines, whatever surrounds them: prose, shell prompts
(``$ ``, ``# ``, ``[root@host ~]# ``), markdown code fences, e-mail quoting (``> ``) and
indentation. Each block comes out as the exact text its parser takes (``parse_meminfo``,
``parse_slabinfo``, ...); ``slabtop -o`` output stays as it is, marked with the form ``slabtop``
(parsed by ``parse_slabtop`` to the same ``SlabInfo``).

>>> blocks = split_pasted('''Our node is slow, see below.
... > $ grep -e MemTotal -e SUnreclaim /proc/meminfo
... > MemTotal:        981472 kB
... > SUnreclaim:      316468 kB
... > $ uname -a
... > Linux web-3 6.1.0-50-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02) x86_64 GNU/Linux
... Thanks!''')
>>> blocks.meminfo
('MemTotal:        981472 kB\\nSUnreclaim:      316468 kB\\n',)
>>> blocks.uname.split()[1], blocks.ignored_lines
('web-3', 4)
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.alloc_failure import alloc_failure_report
from kleak_runbook.parsers.allocinfo import parse_allocinfo, parse_oom_allocations
from kleak_runbook.parsers.arcstats import parse_arcstats
from kleak_runbook.parsers.bcc_memleak import memleak_as_kmemleak
from kleak_runbook.parsers.exporter import take_exported
from kleak_runbook.parsers.free import parse_free
from kleak_runbook.parsers.kmemleak import DECODED_SOURCE, WRAPPED_SOURCE
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.memory_stat import parse_memory_stat
from kleak_runbook.parsers.node_meminfo import take_node_meminfo
from kleak_runbook.parsers.oom import _PREFIX as _OOM_PREFIX
from kleak_runbook.parsers.oom import parse_oom_meminfo, parse_slub_failure, parse_unreclaimable_slab
from kleak_runbook.parsers.oom_memcg import MEMCG_OOM
from kleak_runbook.parsers.paste_clock import Clock, is_clock_line
from kleak_runbook.parsers.paste_lines import (
    _BARE_LINE_NUMBER,
    _CGROUPS_COLUMNS,
    _OLD_HEADER,
    _OOM_KERNEL,
    _OOM_RAN,
    _PROMPT,
    _RELEASE,
    _SLABINFO_OLD_ROW,
    _SLABTOP_ROW,
    _SLABTOP_SUMMARY,
    clean,
    key_of,
    kind_of,
)
from kleak_runbook.parsers.proc_vmstat import take_proc_vmstat
from kleak_runbook.parsers.prose import read_prose
from kleak_runbook.parsers.sar import take_sar
from kleak_runbook.parsers.slabinfo import parse_slabinfo, parse_slabtop
from kleak_runbook.parsers.smem import parse_smem_areas
from kleak_runbook.parsers.spl_slab import ROW as _SPL_ROW
from kleak_runbook.parsers.spl_slab import parse_spl_slab
from kleak_runbook.parsers.top import take_top
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo
from kleak_runbook.parsers.vmstat import parse_vmstat_s
from kleak_runbook.parsers.vmstat_rows import take_vmstat

SAMPLED = ("meminfo", "slabinfo", "vmallocinfo", "dentry_state", "arcstats", "spl_slab", "allocinfo")
_SLABINFO_HEADER = (
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
    " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
)
SLABTOP_NOTE = (
    "from slabtop -o: object and cache sizes are rounded as slabtop prints them (0.01K, whole K)"
    " and 4 KiB pages are assumed"
)


# smem -w: "Area  Used  Cache  Noncache" and one row per area
@dataclass(frozen=True)
class PastedBlocks:
    """The blocks found, each normalised for its parser; sampled kinds keep every paste in order."""

    meminfo: tuple[str, ...] = ()
    slabinfo: tuple[str, ...] = ()
    vmallocinfo: tuple[str, ...] = ()
    dentry_state: tuple[str, ...] = ()
    arcstats: tuple[str, ...] = ()
    spl_slab: tuple[str, ...] = ()  # ZFS's /proc/spl/kmem/slab
    allocinfo: tuple[str, ...] = ()  # /proc/allocinfo, or an OOM report's "Memory allocations:" list
    version: str | None = None  # /proc/version
    uname: str | None = None  # uname -a (or uname -r)
    os_release: str | None = None
    cgroups: str | None = None  # /proc/cgroups
    oom_report: str | None = None  # the OOM killer's first line, when the text holds its report
    oom_memcg: str | None = None  # the lines that show the OOM was a memory cgroup's own (parsers.oom_memcg)
    kmemleak: str | None = None  # kmemleak's unreferenced objects, as /sys/kernel/debug/kmemleak prints them
    ignored_lines: int = 0  # non-blank lines that belong to no block: prose, prompts, fences
    # the kernel-memory terms the words name when the text holds no output at all ("Percpu", "leak")
    described: tuple[str, ...] = ()
    # the lines that hold no output, when they speak of kernel memory (``parsers.prose.parse_words``)
    words: str | None = None
    # a warn_alloc warning and its trace ("vmalloc: allocation failure: ...", ``parsers.alloc_failure``)
    alloc_failure: str | None = None
    # "<spec>: <what was lost>" for evidence that was approximated or left out
    notes: tuple[str, ...] = ()
    # the sampled blocks in the order they were pasted: (spec, index into its tuple)
    order: tuple[tuple[str, int], ...] = ()
    # the form of each slabinfo block: "" for /proc/slabinfo text, "slabtop" for slabtop -o output,
    # "oom" for an OOM report's unreclaimable slab list
    slabinfo_forms: tuple[str, ...] = ()
    # the form of each meminfo block: "" for /proc/meminfo, "partial" for some of its lines,
    # "oom" for an OOM report's (or SysRq-m's) Mem-Info, "free" for free's output, "vmstat" for
    # vmstat -s
    meminfo_forms: tuple[str, ...] = ()
    # the form of each allocinfo block: "" for /proc/allocinfo, "oom" for an OOM report's list
    allocinfo_forms: tuple[str, ...] = ()
    # when each block of ``order`` was taken, as the paste says (uptime or date lines): (uptime s, ISO time)
    times: tuple[tuple[float | None, str | None], ...] = ()

    def form(self, spec: str, index: int) -> str:
        if spec == "slabinfo":
            return self.slabinfo_forms[index]
        if spec == "allocinfo":
            return self.allocinfo_forms[index]
        return self.meminfo_forms[index] if spec == "meminfo" else ""

    def __bool__(self) -> bool:
        return bool(
            self.order
            or self.version
            or self.uname
            or self.os_release
            or self.cgroups
            or self.oom_report
            or self.oom_memcg
            or self.kmemleak
            or self.described
            or self.alloc_failure
        )


# the fields of /proc/meminfo (2.6 to 6.x); a block of "Key: N" lines with none of them is something else
_MEMINFO_FIELDS = frozenset(
    [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SwapCached",
        "Active",
        "Inactive",
        "Active(anon)",
        "Inactive(anon)",
        "Active(file)",
        "Inactive(file)",
        "Unevictable",
        "Mlocked",
        "HighTotal",
        "HighFree",
        "LowTotal",
        "LowFree",
        "SwapTotal",
        "SwapFree",
        "Zswap",
        "Zswapped",
        "Dirty",
        "Writeback",
        "AnonPages",
        "Mapped",
        "Shmem",
        "KReclaimable",
        "Slab",
        "SReclaimable",
        "SUnreclaim",
        "KernelStack",
        "ShadowCallStack",
        "PageTables",
        "SecPageTables",
        "NFS_Unstable",
        "Bounce",
        "WritebackTmp",
        "CommitLimit",
        "Committed_AS",
        "VmallocTotal",
        "VmallocUsed",
        "VmallocChunk",
        "Percpu",
        "HardwareCorrupted",
        "AnonHugePages",
        "ShmemHugePages",
        "ShmemPmdMapped",
        "FileHugePages",
        "FilePmdMapped",
        "CmaTotal",
        "CmaFree",
        "Unaccepted",
        "HugePages_Total",
        "HugePages_Free",
        "HugePages_Rsvd",
        "HugePages_Surp",
        "Hugepagesize",
        "Hugetlb",
        "DirectMap4k",
        "DirectMap2M",
        "DirectMap1G",
        "DirectMap4M",
        "Quicklists",
        "MmapCopy",
        "GPUActive",
        "GPUReclaim",
        "Balloon",
    ]
)
# a line standing for lines the poster left out: "...", "…", "[...]", "<snip>", "(snipped)"
_ELISION = re.compile(r"^(?:\.{3,}|…|[\[(<]\s*(?:\.{3,}|…|snip\w*|cut|truncated)\s*[\])>])$", re.IGNORECASE)
# a meminfo line a web page glued to the sentence after it: "SUnreclaim: 736144 kBRunning slabtop ..."
_GLUED = re.compile(r"^(\s*[A-Z][A-Za-z0-9_()]*:\s+[0-9]+ kB)([A-Z][a-z].*)$")


# meminfo fields run together on one line (a web page or chat client that flattened the paste):
# "MemTotal: 32866052 kB MemFree: 9081332 kB MemAvailable: ..."
_RUN_FIELD = re.compile(r"(?<![\w(])[A-Z][A-Za-z0-9_()]*:\s+[0-9]+(?:\s+kB)?(?=\s|$)")


# slabtop's rows run together the same way: OBJS ACTIVE USE OBJ-SIZE SLABS OBJ/SLAB CACHE-SIZE NAME
_RUN_SLABTOP = re.compile(
    r"(?<!\S)[0-9]+\s+[0-9]+\s+[0-9]+%\s+[0-9.]+[KMG]?\s+[0-9]+\s+[0-9]+\s+[0-9.]+[KMG]?\s+[A-Za-z][\w.:-]*(?=\s|$)"
)


# a slabtop row whose cache name a mail or a terminal wrapped onto the next line ("105468 105106  99%    0.04K
# 1034      102      4136K" and then "selinux_inode_security")
_SLABTOP_NAMELESS = re.compile(
    r"^\s*[0-9]+\s+(?:[0-9]+\s+)?[0-9]+%\s+[0-9.]+[KMG]?\s+[0-9]+\s+[0-9]+\s+[0-9.]+[KMG]?\s*$"
)
_LONE_NAME = re.compile(r"^\s*[A-Za-z][\w.:/()-]{0,80}\s*$")


# the tail of a vmallocinfo row a mail wrapped onto the next line ("pages=449 vmalloc N0=449")
_VMALLOC_TAIL = re.compile(
    r"^\s*(?:pages=[0-9]+|phys=[0-9a-fA-F]+|vmalloc|vmap|vpages|ioremap|user|N[0-9]+=[0-9]+)(?:\s|$)"
)
_VMALLOC_HEAD = re.compile(r"^\s*(?:>\s*)*0x[0-9a-fA-F]+-0x[0-9a-fA-F]+\s+[0-9]+\s+\S+\s*$")


def _unglued(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and _LONE_NAME.match(line) and _SLABTOP_NAMELESS.match(out[-1]):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
            continue
        if out and _VMALLOC_TAIL.match(line) and _VMALLOC_HEAD.match(out[-1]):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
            continue
        rows = list(_RUN_SLABTOP.finditer(line))
        if len(rows) >= 3:
            head = line[: rows[0].start()].strip()
            out.extend(([head] if head else []) + [m.group(0) for m in rows])
            continue
        runs = list(_RUN_FIELD.finditer(line))
        if len(runs) >= 3 and sum(len(m.group(0)) for m in runs) >= 0.6 * len(line[runs[0].start() :].rstrip()):
            # the fields one per line, as /proc/meminfo prints them; words before the first stay a line
            head = line[: runs[0].start()].strip()
            out.extend(([head] if head else []) + [m.group(0) for m in runs])
            continue
        m = _GLUED.match(line)
        out.extend((m.group(1), m.group(2)) if m else (line,))
    return out


class _Splitter:
    def __init__(self) -> None:
        self.raw: list[tuple[str, list[str]]] = []  # (kind, lines) in text order
        self.kind: str | None = None
        self.lines: list[str] = []
        self.keys: set[str] = set()
        self.rows = False  # the block holds a slabtop row
        self.ignored = 0
        self.prose: list[str] = []  # the lines that belong to no block, for what the words state
        self.prompt: str | None = None  # the last shell prompt line: "$ free -m" says free's unit

    def close(self) -> None:
        if self.kind is not None and self.lines:
            self.raw.append((self.kind, self.lines))
        self.kind, self.lines, self.keys, self.rows = None, [], set(), False

    def add(self, kind: str, line: str) -> None:
        key = key_of(kind, line)
        restart = kind != self.kind or (key is not None and key in self.keys)
        row = kind == "slabtop" and _SLABTOP_ROW.match(line) is not None
        if kind == "slabtop" and self.kind == "slabtop" and not row:
            restart = restart or self.rows  # a new slabtop screen
        if kind in ("version", "uname", "dentry_state"):
            restart = True  # one line each
        if restart:
            self.close()
            self.kind = kind
            if kind == "free" and self.prompt and "free" in self.prompt:
                self.lines.append(self.prompt)
        self.lines.append(line)
        self.rows = self.rows or row
        if key is not None:
            self.keys.add(key)

    def feed(self, text: str) -> None:
        expect_release = False
        blank = False  # a blank line after slabtop's rows: the table goes on if a row follows
        for raw in _unglued(text.splitlines()):
            line = clean(raw)
            if not line:
                # slabtop prints a blank line between its summary and its table; a mail client double-spaces
                # its rows
                if self.kind == "slabtop" and self.rows:
                    blank = True
                elif self.kind != "slabtop":
                    self.close()
                continue
            if blank and not _SLABTOP_ROW.match(line):
                self.close()
            blank = False
            if self.kind == "meminfo" and _BARE_LINE_NUMBER.match(line):
                self.ignored += 1  # a web page's line number between two meminfo lines
                continue
            if self.kind is not None and _ELISION.match(line):
                self.ignored += 1  # "..." for lines the poster left out: the block goes on after it
                continue
            kind = kind_of(line, self.kind)
            if kind is None and is_clock_line(line):
                self.close()
                self.raw.append(("clock", [line]))  # when the outputs around it were taken
                continue
            if kind is None and expect_release and _RELEASE.match(line):
                kind = "uname"
            expect_release = False
            if kind is not None:
                self.add(kind, line)
                continue
            self.close()
            self.ignored += 1
            self.prose.append(line)
            prompt = _PROMPT.match(line)
            self.prompt = line if (prompt and prompt["cmd"]) or _BARE_FREE.match(line) else None
            if prompt and prompt["cmd"]:
                expect_release = bool(re.search(r"\buname\s+-r\b", prompt["cmd"]))


# the command typed without its prompt on the line before the output: "free -m"
_BARE_FREE = re.compile(r"^(?:sudo\s+)?free(?:\s+-{1,2}[A-Za-z][\w=-]*)+\s*$")


def _normalise(kind: str, lines: list[str]) -> tuple[str | None, str | None]:
    """(spec text, note) for one raw block; text None when the block does not parse."""
    text = "\n".join(lines) + "\n"
    try:
        if kind == "meminfo":
            parse_meminfo(text)
        elif kind == "slabinfo":
            if not lines[0].startswith("slabinfo - version:"):
                rows = [x for x in lines if not x.startswith("#")]
                old = all(_SLABINFO_OLD_ROW.match(x) for x in rows)
                text = (_OLD_HEADER if old else _SLABINFO_HEADER) + "\n".join(rows) + "\n"
            if not parse_slabinfo(text).caches:
                return None, "slabinfo: a pasted /proc/slabinfo header with no whole cache row was left out"
        elif kind == "slabtop":
            if not any(x.split()[:2] == ["OBJS", "ACTIVE"] for x in lines):
                summary = [x for x in lines if _SLABTOP_SUMMARY.match(x)]
                rows = [x for x in lines if not _SLABTOP_SUMMARY.match(x)]
                header = "OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME"
                text = "\n".join([*summary, header, *rows]) + "\n"
            info = parse_slabtop(text)
            if not info.caches and info.total_bytes is None:
                return None, "slabinfo: a pasted slabtop header with no cache row was left out"
            if not info.caches:
                return text, "slabinfo: only slabtop's summary was pasted: total slab, but no cache rows"
            return text, f"slabinfo: {SLABTOP_NOTE}"
        elif kind == "vmallocinfo":
            parse_vmallocinfo(text)
        elif kind == "arcstats":
            parse_arcstats(text)
        elif kind == "spl_slab":
            if not any(_SPL_ROW.match(x) for x in lines):
                return None, "spl_slab: a pasted /proc/spl/kmem/slab header with no whole cache row was left out"
            cut = parse_spl_slab(text).cut_rows
            if cut:
                return text, f"spl_slab: {cut} pasted row(s) of /proc/spl/kmem/slab cut short were left out"
    except ParseError as exc:
        spec = "slabinfo" if kind == "slabtop" else kind
        return None, f"{spec}: a pasted block of {len(lines)} lines was left out ({exc})"
    return text, None


# outputs that stand in for a whole spec in a form of their own: (spec, parser, what it is, what it lacks)
_WHOLE_FORMS: dict[str, tuple[str, Callable[[str], object], str, str]] = {
    "slub": (
        "slabinfo",
        parse_slub_failure,
        "SLUB allocation-failure warning",
        "the cache that could not grow, alone",
    ),
    "smem": ("meminfo", parse_smem_areas, "smem -w output", "kernel memory as one figure, not split by kind"),
    "memstat": (
        "meminfo",
        parse_memory_stat,
        "memory cgroup's memory.stat",
        "one cgroup's memory, not the host's: MemTotal stands for what the cgroup is charged (anon + file + kernel)",
    ),
    "free": (
        "meminfo",
        parse_free,
        "free output",
        "only totals (used, free, cache, available), no kernel memory fields",
    ),
    "vmstat": (
        "meminfo",
        parse_vmstat_s,
        "vmstat -s output",
        "only totals (free, buffers, cache counted with reclaimable slab, active and inactive lists),"
        " no kernel memory fields",
    ),
}


def _allocinfo(lines: list[str]) -> tuple[str, str] | None:
    """(text, form) of a pasted allocation profile: /proc/allocinfo's rows ("") or an OOM report's
    "Memory allocations:" list ("oom", sizes rounded), without dmesg's times; None when no row parses."""
    text = "\n".join(_OOM_PREFIX.sub("", x) for x in lines) + "\n"
    for form, parse in (("", parse_allocinfo), ("oom", parse_oom_allocations)):
        try:
            parse(text)
        except ParseError:
            continue
        return text, form
    return None


def _oom(block: str, static: dict[str, str]) -> list[tuple[str, str]]:
    """What an OOM report (or SysRq-m) holds: (spec, form) pairs; its kernel release as uname."""
    found = []
    for spec, parse in (("meminfo", parse_oom_meminfo), ("slabinfo", parse_unreclaimable_slab)):
        try:
            parse(block)
        except ParseError:
            continue
        found.append((spec, "oom"))
    killed = next((x for x in block.splitlines() if _OOM_RAN.search(x)), None)
    if killed and "oom_report" not in static:  # the OOM killer ran: memory ran out, whatever counters say
        static["oom_report"] = _OOM_PREFIX.sub("", killed).strip() + "\n"
    kernel = _OOM_KERNEL.search(block)
    if kernel and "uname" not in static:
        static["uname"] = f"Linux unknown {kernel.group(1)} {kernel.group(2)} (from the OOM report)\n"
    return found


# a memory cgroup's own files, printed by cat: "$ cat memory.usage_in_bytes" and the number below it
_MEMCG_FILE = re.compile(
    r"\bcat\s+\S*?memory\.(?P<file>usage_in_bytes|max_usage_in_bytes|limit_in_bytes|current|max|peak)\b[^\n]*\n"
    r"\s*(?P<value>[0-9]+)\s*$",
    re.M,
)
_OOM_KILLED = re.compile(r"\bOOM[ -]?kill\w*|\boom-kill\w*|\bkilled by the OOM\b|\bOOMKilled\b", re.I)


def _memcg_files(text: str, notes: list[str]) -> str | None:
    """A cgroup's usage at its limit, from its files as cat printed them, when the ticket says the
    OOM killer killed in it: the line an OOM report prints for it ("memory: usage NkB, limit NkB")."""
    seen: dict[str, int] = {}
    for m in _MEMCG_FILE.finditer(text):
        seen.setdefault(m["file"], int(m["value"]))
    limit = seen.get("limit_in_bytes", seen.get("max"))
    used = max(
        (seen[k] for k in ("usage_in_bytes", "max_usage_in_bytes", "current", "peak") if k in seen), default=None
    )
    if limit is None or used is None or used < 0.95 * limit or not _OOM_KILLED.search(text):
        return None
    notes.append(
        "oom_memcg: the cgroup's usage and limit as its memory.* files printed them, with the OOM kill the ticket"
        f" tells of: {used} of {limit} bytes"
    )
    return f"memory: usage {used // 1024}kB, limit {limit // 1024}kB, failcnt 0\n"


_MEMCG_USAGE = re.compile(r"\bmemory: usage ([0-9]+)kB, limit ([0-9]+)kB")


def _memcg_at_limit(text: str) -> str | None:
    """The OOM report's "memory: usage NkB, limit NkB" lines pasted without the rest of it: the
    cgroup at its limit, when the ticket says something was killed."""
    full = [m for m in _MEMCG_USAGE.finditer(text) if int(m.group(1)) >= 0.95 * int(m.group(2))]
    if not full or not re.search(r"\bkill(?:ed|s|ing)?\b|\bOOM\b", text, re.I):
        return None
    return _memcg_lines(text)


# the kill line of a cgroup's own OOM, pasted without the report's first line
_MEMCG_KILL = re.compile(r"\bMemory cgroup out of memory: Kill|\bconstraint=CONSTRAINT_MEMCG\b")


def _memcg_lines(text: str) -> str | None:
    """The lines of a text holding an OOM report that show the OOM was a memory cgroup's own
    (wherever the report's lines were cut into blocks: dmesg and journal prefixes differ)."""
    lines = [_OOM_PREFIX.sub("", x).strip() for x in text.splitlines() if MEMCG_OOM.search(x)]
    return "\n".join(lines) + "\n" if lines else None


_KMEMLEAK_HEADER = re.compile(r"unreferenced object (?:\(\w+\) )?0x[0-9a-fA-F]+ \(size [0-9]+\):")
_KMEMLEAK_PART = re.compile(r"^(?:comm \"|hex dump|backtrace)")
_KMEMLEAK_LINE = re.compile(
    r"^(?:\[<?[0-9a-fA-F]+>?\]|[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+|[0-9a-f]{2}(?: [0-9a-f]{2})+|\.\.\."
    # a frame as decode_stacktrace.sh prints it: "alloc_cpumask_var_node (lib/cpumask.c:71)"
    r"|[A-Za-z_][\w.$]{0,200} " + DECODED_SOURCE + ")"
)


def kmemleak_report(text: str) -> str | None:
    """kmemleak's objects in the text (a debugfs report, a syzbot "BUG: memory leak"), indented as
    kmemleak prints them, so ``parse_kmemleak`` reads them whatever quoting or dmesg prefix they had;
    else bcc memleak's outstanding allocations as such objects (``parsers.bcc_memleak``)."""
    found = _kmemleak_objects(text)
    return found if found is not None else memleak_as_kmemleak(text)


# kmemleak's backtrace pasted without its object's header ("unreferenced object 0x... (size N):")
_KMEMLEAK_BACKTRACE = re.compile(r"^backtrace(?: \(crc [0-9a-f]+\))?:\s*$")


def _kmemleak_objects(text: str) -> str | None:
    found = _kmemleak_scan(text, headerless=False)
    if found is not None or not re.search(r"\bkmemleak\b", text, re.I):
        return found
    # a ticket about kmemleak that quotes only an object's backtrace: one object, of a size not given
    return _kmemleak_scan(text, headerless=True)


def _kmemleak_scan(text: str, headerless: bool) -> str | None:
    """The objects, each from its "unreferenced object" header, or (``headerless``) from its
    "backtrace:" line under a header made up for it; None without one (or without a frame, headerless)."""
    out: list[str] = []
    inside = False
    for raw in text.splitlines():
        bare = _OOM_PREFIX.sub("", clean(raw)).strip()
        header = None if headerless else _KMEMLEAK_HEADER.search(bare)
        if header is not None:
            out.append(bare[header.start() :])
            inside = True
        elif headerless and _KMEMLEAK_BACKTRACE.match(bare):
            out += ["unreferenced object 0x0 (size 0):", "  " + bare]
            inside = True
        elif inside and not headerless and _KMEMLEAK_PART.match(bare):
            out.append("  " + bare)
        elif inside and _KMEMLEAK_LINE.match(bare):
            out.append("    " + bare)
        elif inside and WRAPPED_SOURCE.match(bare):
            continue  # a frame's "include/linux/kmemleak.h:42 [inline]" a mail wrapped onto the next line
        else:
            inside = False
    if not out or (headerless and not any(x.startswith("    ") for x in out)):
        return None
    return "\n".join(out) + "\n"


_QP_ESCAPE = re.compile(r"=(?:3D|[89A-F][0-9A-F])")  # "=", or a byte of a UTF-8 character


def _unquoted_printable(text: str) -> str:
    """``text`` decoded from quoted-printable, when it is so encoded (a mail archive's raw text: a few
    "=3D" or "=E2=80=99" and lines broken with a trailing "="): the kernel's lines come back whole. Other
    text is returned as it is."""
    if len(_QP_ESCAPE.findall(text)) < 2 or len(re.findall(r"=\r?\n", text)) < 2:
        return text
    return quopri.decodestring(text.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")


def split_pasted(text: str) -> PastedBlocks:
    """Find and normalise every recognisable block in ``text``; see the module docstring."""
    text = _unquoted_printable(text)
    text, sar_rows, sar = take_sar(text)  # a sar -r report: a timed sample per row
    text, exported = take_exported(text)  # node_exporter's or telegraf's meminfo
    text, tops = take_top(text)  # top's Mem and Swap lines
    text, per_node, nodes = take_node_meminfo(text)  # /sys/devices/system/node/node*/meminfo
    text, vm_rows = take_vmstat(text)  # vmstat's memory columns, a sample per row
    text, counters = take_proc_vmstat(text)  # /proc/vmstat's page counters
    splitter = _Splitter()
    splitter.feed(text)
    splitter.close()
    sampled: dict[str, list[str]] = {name: [] for name in SAMPLED}
    static: dict[str, str] = {}
    order: list[tuple[str, int]] = []
    forms: list[str] = []
    notes: list[str] = []
    ignored = splitter.ignored
    forms_of: dict[str, list[str]] = {"slabinfo": forms, "meminfo": [], "allocinfo": []}
    clock = Clock()

    def add(spec: str, text: str, form: str) -> None:
        if spec in forms_of:
            forms_of[spec].append(form)
        order.append((spec, len(sampled[spec])))
        sampled[spec].append(text)
        clock.block()

    for wall, row in sar_rows:
        clock.stamp(wall)
        add("meminfo", row, "sar")
    for block in tops:
        add("meminfo", block, "top")
    if counters is not None:
        add("meminfo", counters, "partial")
        notes.append(
            "meminfo: from /proc/vmstat's page counters (4 KiB pages assumed): no memory size, no vmalloc or per-CPU"
            " figure"
        )
    for block in vm_rows:
        add("meminfo", block, "partial")
    if vm_rows:
        notes.append(
            f"meminfo: from vmstat's memory columns ({len(vm_rows)} rows): free, buffers and cache only, no memory"
            " size and no kernel memory fields"
        )
    if per_node is not None:
        add("meminfo", per_node, "partial")
        notes.append(
            f"meminfo: from the per-node meminfo of {nodes} node{'s' if nodes > 1 else ''}"
            + (", summed" if nodes > 1 else "")
            + ", not /proc/meminfo itself"
        )
    if tops:
        notes.append(
            "meminfo: from top's summary lines: only totals (used, free, cache, available), no kernel memory fields"
        )
    for wall, block, form in exported:
        clock.stamp(wall)
        add("meminfo", block, form)
    if exported:
        agent = "node_exporter" if exported[0][2] == "node_exporter" else "telegraf's inputs.mem"
        notes.append(f"meminfo: from {agent}'s figures, not /proc/meminfo itself: the fields it exports")
    if sar_rows:
        notes.append(
            f"meminfo: from sar -r ({len(sar_rows)} rows): only its columns (free, buffers, cache, active and"
            " inactive, committed; slab, kernel stacks, page tables and vmalloc with sar -r ALL), no SUnreclaim"
            " or SReclaimable; times are the host's local time of day"
            + (f"; {sar.date_note}" if sar and sar.date_note else "")
        )
    stray: list[str] = []  # "Key: N" lines that are no meminfo
    raw: list[tuple[str, list[str]]] = []
    for kind, lines in splitter.raw:  # an OOM report is cut up by call traces and task tables
        if kind == "oom" and raw and raw[-1][0] == "oom":
            raw[-1][1].extend(lines)
        else:
            raw.append((kind, list(lines)))
    for kind, lines in raw:
        if kind == "clock":
            clock.mark(lines[0])
            continue
        if kind == "cgroups" and not lines[0].startswith("#subsys_name"):
            lines = [_CGROUPS_COLUMNS.strip(), *lines]  # grep'd rows: the header parse_cgroups wants
        if kind in ("version", "uname", "os_release", "cgroups"):
            static.setdefault(kind, "\n".join(lines) + "\n")
            continue
        block = "\n".join(lines) + "\n"
        if kind == "oom":
            found = _oom(block, static)
            for spec, form in found:
                add(spec, block, form)
            if not found:
                ignored += len(lines)
            continue
        if kind in _WHOLE_FORMS:
            spec, parse, what, lost = _WHOLE_FORMS[kind]
            try:
                parse(block)
            except ParseError as exc:
                notes.append(f"{spec}: a pasted {what} was left out ({exc})")
                # a free block starts with its prompt line, which was counted already
                ignored += sum(1 for x in lines if kind != "free" or not _PROMPT.match(x))
                continue
            add(spec, block, kind)
            notes.append(f"{spec}: from {what}: {lost}")
            continue
        if kind == "allocinfo":
            taken = _allocinfo(lines)
            if taken is None:
                ignored += len(lines)
                notes.append(
                    f"allocinfo: a pasted block of {len(lines)} lines with no whole allocation tag row was left out"
                )
            else:
                add("allocinfo", *taken)
            continue
        if kind == "meminfo" and not any(x.split(":", 1)[0] in _MEMINFO_FIELDS for x in lines):
            # "Containers: 59" (docker info), "VmRSS: 74748 kB" (a process's status): no meminfo field;
            # the ticket's words may still use them
            stray.extend(lines)
            continue
        if kind == "meminfo" and not any(x.startswith("MemTotal:") for x in lines):
            # e.g. the output of "grep -i slab /proc/meminfo": read, but nothing to compare with
            notes.append(f"meminfo: a partial /proc/meminfo of {len(lines)} lines, without MemTotal")
            add("meminfo", block, "partial")
            continue
        normalised, note = _normalise(kind, lines)
        if note:
            notes.append(note)
        if normalised is None:
            ignored += len(lines)
            continue
        spec = "slabinfo" if kind == "slabtop" else kind
        add(spec, normalised, "slabtop" if kind == "slabtop" else "")
    if sar is not None and sar.uname:
        static.setdefault("uname", sar.uname)  # after any uname pasted, which says more
    facts = read_prose("\n".join([*splitter.prose, *stray]))
    described: tuple[str, ...] = ()
    if not sampled["meminfo"] and facts.fields and (facts.counters or order):
        # no memory counters pasted, but the reporter stated them: "SUnreclaim is 2.3 GB", "4 gb system"
        add("meminfo", facts.meminfo(), "partial")
        said = "; ".join(repr(x) for x in facts.said)
        notes.append(f"meminfo: figures stated in the ticket's words (rounded as written), not /proc/meminfo: {said}")
    elif (
        sampled["meminfo"]
        and "MemTotal" in facts.fields
        and all(f in ("oom", "partial") for f in forms_of.get("meminfo", ()))
        and not any("MemTotal:" in t or re.search(r"[0-9] pages RAM", t) for t in sampled["meminfo"])
    ):
        # counters without the memory size (an OOM report cut before "pages RAM", grep'd lines) and
        # the size stated in words ("in a VM with 4GB RAM"): the size, as a part of the same moment
        add("meminfo", f"MemTotal: {facts.fields['MemTotal'] // 1024} kB\n", "partial")
        notes.append(
            "meminfo: MemTotal stated in the ticket's words (rounded as written), not in the output:"
            f" {facts.fields['MemTotal'] // 1024**2} MiB"
        )
    if "cgroups" not in static and facts.memory_cgroups is not None:
        # "65535 as num_cgroups for memory": /proc/cgroups' one figure that matters, as a grep'd row
        count, words = facts.memory_cgroups
        static["cgroups"] = f"{_CGROUPS_COLUMNS}memory\t0\t{count}\t1\n"
        notes.append(f"cgroups: the memory cgroup count stated in the ticket's words, not /proc/cgroups: {words!r}")
    elif not order and facts.about_memory:
        # a cache named, a program said to hold GiBs, the ARC: a memory ticket too
        described = facts.topics()
        notes.append(
            f"meminfo: the text tells of the problem in words only (it names {', '.join(described[:6])}) and"
            " holds no output to judge; /proc/meminfo (with MemTotal), /proc/slabinfo and /proc/vmallocinfo,"
            " pasted or read by kleak-runbook run, would tell which kind of kernel memory holds it and who"
        )
    return PastedBlocks(
        meminfo=tuple(sampled["meminfo"]),
        slabinfo=tuple(sampled["slabinfo"]),
        vmallocinfo=tuple(sampled["vmallocinfo"]),
        dentry_state=tuple(sampled["dentry_state"]),
        arcstats=tuple(sampled["arcstats"]),
        spl_slab=tuple(sampled["spl_slab"]),
        allocinfo=tuple(sampled["allocinfo"]),
        version=static.get("version"),
        uname=static.get("uname"),
        os_release=static.get("os_release"),
        cgroups=static.get("cgroups"),
        oom_report=static.get("oom_report"),
        oom_memcg=(
            _memcg_lines(text) if static.get("oom_report") or _MEMCG_KILL.search(text) else _memcg_at_limit(text)
        )
        or _memcg_files(text, notes),
        kmemleak=kmemleak_report(text),
        ignored_lines=ignored,
        described=described,
        alloc_failure=alloc_failure_report(text),
        # (words that name ZFS beside outputs: its caches are memory the outputs show as the kernel's)
        words="\n".join([*splitter.prose, *stray]) + "\n" if facts.about_memory or (order and facts.zfs) else None,
        notes=tuple(dict.fromkeys(notes)),
        order=tuple(order),
        slabinfo_forms=tuple(forms),
        meminfo_forms=tuple(forms_of["meminfo"]),
        allocinfo_forms=tuple(forms_of["allocinfo"]),
        times=clock.done(),
    )
