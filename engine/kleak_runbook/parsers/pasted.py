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

import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.free import parse_free
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.oom import _PREFIX as _OOM_PREFIX
from kleak_runbook.parsers.oom import parse_oom_meminfo, parse_unreclaimable_slab
from kleak_runbook.parsers.slabinfo import parse_slabinfo, parse_slabtop
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo

SAMPLED = ("meminfo", "slabinfo", "vmallocinfo", "dentry_state")
_SLABINFO_HEADER = (
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
    " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
)
SLABTOP_NOTE = (
    "from slabtop -o: object and cache sizes are rounded as slabtop prints them (0.01K, whole K)"
    " and 4 KiB pages are assumed"
)

_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_FENCE = re.compile(r"^(```|~~~)")
# "$ cmd", "# cmd", "[root@host ~]# cmd", "root@host:~# cmd", "core@host ~ $ cmd"
_PROMPT = re.compile(r"^(?:\[[^\]]*\]\s*|[\w.-]+@[\w.-]+(?::\S*|\s+\S+)?\s*)?[$#](?:\s+(?P<cmd>.*))?$")
_FREE = re.compile(r"^(?:total\s+used\s+free\b|(?:Mem|Swap|Low|High):\s+[0-9]|-/\+ buffers/cache:)")
_OOM = re.compile(
    r"^(?:Mem-Info:|Unreclaimable slab info:|Name\s+Used\s+Total\b|[0-9]+ pages (?:RAM|reserved|HighMem)"
    r"|[0-9]+ total pagecache pages|lowmem_reserve|Node [0-9]+ (?:active_anon|DMA|Normal|HighMem|Movable)"
    r"|(?:DMA|DMA32|Normal|HighMem|Movable)(?: free:|: [0-9]+\*)|Free swap\s+=|Total swap\s+=|Swap cache stats"
    r"|[0-9]+ pages in swap cache|.*\binvoked oom-killer\b|CPU: [0-9]+ PID: [0-9]+ Comm: )"
    r"|\b(?:active_anon|inactive_file|slab_unreclaimable|slab_reclaimable|free_pcp):[0-9]"
)
_OOM_SLAB_ROW = re.compile(r"^\S+\s+[0-9]+KB(?:\s+[0-9]+KB)?\s*$")
# "CPU: 1 PID: 42 Comm: java Not tainted 5.4.0-42-generic #46-Ubuntu": the kernel of the report
_OOM_KERNEL = re.compile(r"Comm: .*?(?:Not tainted|Tainted: [A-Z ]+?)\s+([0-9]+\.[0-9]+\S*)\s+(#\S+)")
_CGROUPS_HEADER = re.compile(r"^#subsys_name\s+hierarchy\s+num_cgroups\s+enabled")
_CGROUPS_ROW = re.compile(r"^[a-z_]+\s+[0-9]+\s+[0-9]+\s+[01]$")
_CGROUPS_MEMORY = re.compile(r"^memory\s+[0-9]+\s+[0-9]+\s+[01]$")  # `grep memory /proc/cgroups`
_CGROUPS_COLUMNS = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
_MEMINFO = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_()]*):\s+[0-9]+(?:\s+kB)?$")
_SLABINFO_ROW = re.compile(
    r"^(?P<name>\S+)(?:\s+[0-9]+){5}\s+:\s+tunables(?:\s+[0-9]+){3}\s+:\s+slabdata(?:\s+[0-9]+){3}(?:\s+:.*)?$"
)
_SLABINFO_COLUMNS = re.compile(r"^#\s*name\s+<active_objs>")
_SLABTOP_SUMMARY = re.compile(r"^(Active / Total|Minimum / Average / Maximum)\b.*:")
_SLABTOP_ROW = re.compile(
    r"^[0-9]+\s+[0-9]+\s+[0-9]+%\s+[0-9.]+[KMG]?\s+[0-9]+\s+[0-9]+\s+[0-9.]+[KMG]?\s+(?P<name>\S+)$"
)
_VMALLOC_ROW = re.compile(r"^0x[0-9a-fA-F]+-0x[0-9a-fA-F]+\s+[0-9]+(?:\s|$)")
_DENTRY_STATE = re.compile(r"^[0-9]+(?:\s+[0-9]+){5}$")
_UNAME = re.compile(r"^Linux\s+\S+\s+[0-9]+\.[0-9]+\S*\s+#")
_RELEASE = re.compile(r"^[0-9]+\.[0-9]+\S*$")
_PROC_VERSION = re.compile(r"^Linux version [0-9]+\.[0-9]+")
_OS_RELEASE = re.compile(
    r"^(NAME|VERSION|ID|ID_LIKE|PRETTY_NAME|VERSION_ID|VERSION_CODENAME|BUILD_ID|VARIANT|VARIANT_ID"
    r"|HOME_URL|SUPPORT_URL|BUG_REPORT_URL|PRIVACY_POLICY_URL|DOCUMENTATION_URL|ANSI_COLOR|CPE_NAME"
    r"|LOGO|PLATFORM_ID|UBUNTU_CODENAME|SUPPORT_END|IMAGE_ID|IMAGE_VERSION|[A-Z]+_SUPPORT_PRODUCT\w*"
    r"|REDHAT_\w+|DEBIAN_\w+)=\S"
)


@dataclass(frozen=True)
class PastedBlocks:
    """The blocks found, each normalised for its parser; sampled kinds keep every paste in order."""

    meminfo: tuple[str, ...] = ()
    slabinfo: tuple[str, ...] = ()
    vmallocinfo: tuple[str, ...] = ()
    dentry_state: tuple[str, ...] = ()
    version: str | None = None  # /proc/version
    uname: str | None = None  # uname -a (or uname -r)
    os_release: str | None = None
    cgroups: str | None = None  # /proc/cgroups
    ignored_lines: int = 0  # non-blank lines that belong to no block: prose, prompts, fences
    # "<spec>: <what was lost>" for evidence that was approximated or left out
    notes: tuple[str, ...] = ()
    # the sampled blocks in the order they were pasted: (spec, index into its tuple)
    order: tuple[tuple[str, int], ...] = ()
    # the form of each slabinfo block: "" for /proc/slabinfo text, "slabtop" for slabtop -o output,
    # "oom" for an OOM report's unreclaimable slab list
    slabinfo_forms: tuple[str, ...] = ()
    # the form of each meminfo block: "" for /proc/meminfo, "partial" for some of its lines,
    # "oom" for an OOM report's (or SysRq-m's) Mem-Info, "free" for free's output
    meminfo_forms: tuple[str, ...] = ()

    def form(self, spec: str, index: int) -> str:
        if spec == "slabinfo":
            return self.slabinfo_forms[index]
        return self.meminfo_forms[index] if spec == "meminfo" else ""

    def __bool__(self) -> bool:
        return bool(self.order or self.version or self.uname or self.os_release or self.cgroups)


_EMPHASIS = re.compile(r"^(?:\*\*|__|`)+|(?:\*\*|__|`)+$")


def _clean(line: str) -> str:
    """The line without e-mail quoting, indentation, and markdown emphasis wrapped around it."""
    bare = _QUOTE.sub("", line).strip()
    return _EMPHASIS.sub("", bare).strip() or bare  # a fence line stays a (non-evidence) line


def _kind(line: str, current: str | None = None) -> str | None:
    """What a cleaned, non-blank line is part of; None for anything else."""
    bare = _OOM_PREFIX.sub("", line)
    if _OOM.search(bare) or (current == "oom" and _OOM_SLAB_ROW.match(bare)):
        return "oom"
    if _FREE.match(line):
        return "free"
    if (
        _CGROUPS_HEADER.match(line)
        or _CGROUPS_MEMORY.match(line)
        or (current == "cgroups" and _CGROUPS_ROW.match(line))
    ):
        return "cgroups"
    if line.startswith("slabinfo - version:") or _SLABINFO_COLUMNS.match(line) or _SLABINFO_ROW.match(line):
        return "slabinfo"
    if _SLABTOP_SUMMARY.match(line) or line.split()[:2] == ["OBJS", "ACTIVE"] or _SLABTOP_ROW.match(line):
        return "slabtop"
    if _MEMINFO.match(line):
        return "meminfo"
    if _VMALLOC_ROW.match(line):
        return "vmallocinfo"
    if _DENTRY_STATE.match(line):
        return "dentry_state"
    if _PROC_VERSION.match(line):
        return "version"
    if _UNAME.match(line):
        return "uname"
    if _OS_RELEASE.match(line):
        return "os_release"
    return None


def _key(kind: str, line: str) -> str | None:
    """What must not repeat inside one block (a repeat starts the next paste)."""
    if kind == "meminfo":
        m = _MEMINFO.match(line)
        return m["key"] if m else None
    if kind == "slabinfo":
        m = _SLABINFO_ROW.match(line)
        return m["name"] if m else ("header" if line.startswith("slabinfo") else None)
    if kind == "slabtop":
        m = _SLABTOP_ROW.match(line)
        return m["name"] if m else None
    if kind == "free":
        return line.split()[0] if not line.startswith("total") else "header"
    return None


class _Splitter:
    def __init__(self) -> None:
        self.raw: list[tuple[str, list[str]]] = []  # (kind, lines) in text order
        self.kind: str | None = None
        self.lines: list[str] = []
        self.keys: set[str] = set()
        self.ignored = 0
        self.prompt: str | None = None  # the last shell prompt line: "$ free -m" says free's unit

    def close(self) -> None:
        if self.kind is not None and self.lines:
            self.raw.append((self.kind, self.lines))
        self.kind, self.lines, self.keys = None, [], set()

    def add(self, kind: str, line: str) -> None:
        key = _key(kind, line)
        restart = kind != self.kind or (key is not None and key in self.keys)
        if kind == "slabtop" and self.kind == "slabtop" and not _SLABTOP_ROW.match(line):
            restart = restart or any(_SLABTOP_ROW.match(x) for x in self.lines)  # a new slabtop screen
        if kind in ("version", "uname", "dentry_state"):
            restart = True  # one line each
        if restart:
            self.close()
            self.kind = kind
            if kind == "free" and self.prompt and "free" in self.prompt:
                self.lines.append(self.prompt)
        self.lines.append(line)
        if key is not None:
            self.keys.add(key)

    def feed(self, text: str) -> None:
        expect_release = False
        for raw in text.splitlines():
            line = _clean(raw)
            if not line:
                # slabtop prints a blank line between its summary and its table
                if not (self.kind == "slabtop" and not any(_SLABTOP_ROW.match(x) for x in self.lines)):
                    self.close()
                continue
            kind = _kind(line, self.kind)
            if kind is None and expect_release and _RELEASE.match(line):
                kind = "uname"
            expect_release = False
            if kind is not None:
                self.add(kind, line)
                continue
            self.close()
            self.ignored += 1
            prompt = _PROMPT.match(line)
            self.prompt = line if prompt and prompt["cmd"] else None
            if prompt and prompt["cmd"]:
                expect_release = bool(re.search(r"\buname\s+-r\b", prompt["cmd"]))


def _normalise(kind: str, lines: list[str]) -> tuple[str | None, str | None]:
    """(spec text, note) for one raw block; text None when the block does not parse."""
    text = "\n".join(lines) + "\n"
    try:
        if kind == "meminfo":
            parse_meminfo(text)
        elif kind == "slabinfo":
            if not lines[0].startswith("slabinfo - version:"):
                text = _SLABINFO_HEADER + "\n".join(x for x in lines if not x.startswith("#")) + "\n"
            if not parse_slabinfo(text).caches:
                return None, "slabinfo: a pasted /proc/slabinfo header with no whole cache row was left out"
        elif kind == "slabtop":
            if not any(x.split()[:2] == ["OBJS", "ACTIVE"] for x in lines):
                text = "OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n" + text
            if not parse_slabtop(text).caches:
                return None, "slabinfo: a pasted slabtop header with no cache row was left out"
            return text, f"slabinfo: {SLABTOP_NOTE}"
        elif kind == "vmallocinfo":
            parse_vmallocinfo(text)
    except ParseError as exc:
        spec = "slabinfo" if kind == "slabtop" else kind
        return None, f"{spec}: a pasted block of {len(lines)} lines was left out ({exc})"
    return text, None


def _oom(block: str, static: dict[str, str]) -> list[tuple[str, str]]:
    """What an OOM report (or SysRq-m) holds: (spec, form) pairs; its kernel release as uname."""
    found = []
    for spec, parse in (("meminfo", parse_oom_meminfo), ("slabinfo", parse_unreclaimable_slab)):
        try:
            parse(block)
        except ParseError:
            continue
        found.append((spec, "oom"))
    kernel = _OOM_KERNEL.search(block)
    if kernel and "uname" not in static:
        static["uname"] = f"Linux unknown {kernel.group(1)} {kernel.group(2)} (from the OOM report)\n"
    return found


def split_pasted(text: str) -> PastedBlocks:
    """Find and normalise every recognisable block in ``text``; see the module docstring."""
    splitter = _Splitter()
    splitter.feed(text)
    splitter.close()
    sampled: dict[str, list[str]] = {name: [] for name in SAMPLED}
    static: dict[str, str] = {}
    order: list[tuple[str, int]] = []
    forms: list[str] = []
    notes: list[str] = []
    ignored = splitter.ignored
    forms_of: dict[str, list[str]] = {"slabinfo": forms, "meminfo": []}

    def add(spec: str, text: str, form: str) -> None:
        if spec in forms_of:
            forms_of[spec].append(form)
        order.append((spec, len(sampled[spec])))
        sampled[spec].append(text)

    raw: list[tuple[str, list[str]]] = []
    for kind, lines in splitter.raw:  # an OOM report is cut up by call traces and task tables
        if kind == "oom" and raw and raw[-1][0] == "oom":
            raw[-1][1].extend(lines)
        else:
            raw.append((kind, list(lines)))
    for kind, lines in raw:
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
        if kind == "free":
            try:
                parse_free(block)
            except ParseError as exc:
                notes.append(f"meminfo: a pasted free output was left out ({exc})")
                ignored += sum(1 for x in lines if not _PROMPT.match(x))  # its prompt was counted already
                continue
            add("meminfo", block, "free")
            notes.append("meminfo: from free: only totals (used, free, cache, available), no kernel memory fields")
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
    return PastedBlocks(
        meminfo=tuple(sampled["meminfo"]),
        slabinfo=tuple(sampled["slabinfo"]),
        vmallocinfo=tuple(sampled["vmallocinfo"]),
        dentry_state=tuple(sampled["dentry_state"]),
        version=static.get("version"),
        uname=static.get("uname"),
        os_release=static.get("os_release"),
        cgroups=static.get("cgroups"),
        ignored_lines=ignored,
        notes=tuple(dict.fromkeys(notes)),
        order=tuple(order),
        slabinfo_forms=tuple(forms),
        meminfo_forms=tuple(forms_of["meminfo"]),
    )
