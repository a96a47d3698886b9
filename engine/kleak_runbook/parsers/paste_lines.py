"""Recognising pasted lines: what each cleaned line of a ticket is part of.

``clean`` strips what chat clients, mail and web pages wrap around a line; ``kind_of`` says which
output a line belongs to (meminfo, slabinfo, slabtop, an OOM report, free, smem, ...), and
``key_of`` what must not repeat inside one block (a repeat starts the next paste).
"""

from __future__ import annotations

import re

from kleak_runbook.parsers.allocinfo import HEADER as _ALLOC_HEADER
from kleak_runbook.parsers.allocinfo import OOM_ROW as _ALLOC_OOM_ROW
from kleak_runbook.parsers.allocinfo import PART as _ALLOC_PART
from kleak_runbook.parsers.allocinfo import REST as _ALLOC_REST
from kleak_runbook.parsers.allocinfo import ROW as _ALLOC_ROW
from kleak_runbook.parsers.free_i18n import english
from kleak_runbook.parsers.memory_stat import ROW as _MEMSTAT_ROW
from kleak_runbook.parsers.oom import _PREFIX as _OOM_PREFIX
from kleak_runbook.parsers.smem import AREAS as _SMEM_AREAS
from kleak_runbook.parsers.spl_slab import PARTIAL_ROW as _SPL_PARTIAL
from kleak_runbook.parsers.spl_slab import ROW as _SPL_ROW

_SMEM_HEADER = re.compile(r"^Area\s+Used\s+Cache\s+Noncache$")
_SMEM_ROW = re.compile(r"^[a-z/ ]+?\s+[0-9.]+[KMGT]?\s+[0-9.]+[KMGT]?\s+[0-9.]+[KMGT]?$")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
# "$ cmd", "# cmd", "[root@host ~]# cmd", "root@host:~# cmd", "core@host ~ $ cmd"
_PROMPT = re.compile(r"^(?:\[[^\]]*\]\s*|[\w.-]+@[\w.-]+(?::\S*|\s+\S+)?\s*)?[$#](?:\s+(?P<cmd>.*))?$")
_FREE = re.compile(r"^(?:total\s+used\s+free\b|(?:Mem|Swap|Low|High):\s+[0-9]|-/\+ buffers/cache:)")
_OOM = re.compile(
    r"^(?:Mem-Info:|Unreclaimable slab info:|Name\s+Used\s+Total\b|[0-9]+ pages (?:RAM|reserved|HighMem)"
    r"|[0-9]+ total pagecache pages|lowmem_reserve|Node [0-9]+ (?:active_anon|DMA|Normal|HighMem|Movable)"
    r"|(?:DMA|DMA32|Normal|HighMem|Movable)(?: free:|: [0-9]+\*)|Free swap\s+=|Total swap\s+=|Swap cache stats"
    r"|[0-9]+ pages in swap cache|.*\binvoked oom-killer\b|CPU: [0-9]+ PID: [0-9]+ Comm: )"
    r"|\b(?:active_anon|inactive_file|slab_unreclaimable|slab_reclaimable|free_pcp):[0-9]"
    r"|^(?:mapped|shmem|pagetables|unevictable|isolated_file|dirty):[0-9]+ [a-z_]+:[0-9]"
)
# the kernel's own lines (not prose about them): "java invoked oom-killer: gfp_mask=...", "Out of memory: Killed process 211"
_OOM_RAN = re.compile(r"\binvoked oom-killer: gfp_mask=|\bOut of memory: Kill(?:ed)? process [0-9]+")
_OOM_SLAB_ROW = re.compile(r"^\S+\s+[0-9]+KB(?:\s+[0-9]+KB)?\s*$")
# "CPU: 1 PID: 42 Comm: java Not tainted 5.4.0-42-generic #46-Ubuntu": the kernel of the report
_OOM_KERNEL = re.compile(r"Comm: .*?(?:Not tainted|Tainted: [A-Z ]+?)\s+([0-9]+\.[0-9]+\S*)\s+(#\S+)")
_CGROUPS_HEADER = re.compile(r"^#subsys_name\s+hierarchy\s+num_cgroups\s+enabled")
_CGROUPS_ROW = re.compile(r"^[a-z_]+\s+[0-9]+\s+[0-9]+\s+[01]$")
_CGROUPS_MEMORY = re.compile(r"^memory\s+[0-9]+\s+[0-9]+\s+[01]$")  # `grep memory /proc/cgroups`
_CGROUPS_COLUMNS = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
# every /proc/meminfo field starts with a capital; "scsi_cmd_cache: 18525696" (a slab diff script's
# output) is not one
_MEMINFO = re.compile(r"^(?P<key>[A-Z][A-Za-z0-9_()]*):\s+[0-9]+(?:\s+kB)?$")
_SLABINFO_ROW = re.compile(
    r"^(?P<name>\S+)(?:\s+[0-9]+){5}\s+:\s+tunables(?:\s+[0-9]+){3}\s+:\s+slabdata(?:\s+[0-9]+){3}(?:\s+:.*)?$"
)
_SLABINFO_COLUMNS = re.compile(r"^#\s*name\s+<active_objs>")
# slabinfo 1.1 (2.4 SMP kernels): name, 6 numbers, ": limit batchcount"
_SLABINFO_OLD_ROW = re.compile(r"^(?P<name>[A-Za-z]\S*)(?:\s+[0-9]+){6}\s+:\s+[0-9]+\s+[0-9]+$")
_OLD_HEADER = "slabinfo - version: 1.1\n"
_SLABTOP_SUMMARY = re.compile(r"^(Active / Total|Minimum / Average / Maximum)\b.*:")
_SLABTOP_ROW = re.compile(
    # (ACTIVE, or CACHE SIZE, left out by some pastes)
    r"^[0-9]+\s+(?:[0-9]+\s+)?[0-9]+%\s+[0-9.]+[KMG]?\s+[0-9]+\s+[0-9]+\s+(?:[0-9.]+[KMG]?\s+)?(?P<name>[A-Za-z]\S*)$"
)
_VMALLOC_ROW = re.compile(r"^0x[0-9a-fA-F]+-0x[0-9a-fA-F]+\s+[0-9]+(?:\s|$)")
# ZFS's arcstats: its column header, and kstat rows (name, type 4 = uint64, value); a grep'd
# "size 4 N" row alone is enough
_ARC_HEADER = re.compile(r"^name\s+type\s+data$")
_ARC_ROW = re.compile(r"^[a-z][a-z0-9_]*\s+[34]\s+[0-9]+$")
_ARC_SIZE = re.compile(
    r"^(?:size|c|c_min|c_max|p|arc_meta_used|data_size|metadata_size|hits|misses|demand_data_hits)\s+4\s+[0-9]+$"
)
# vmstat -s: its memory lines, then (in the same block) its event counters
_VMSTAT_MEMORY = re.compile(
    r"^[0-9]+\s+[KkMmBb]\s+(?P<key>(?:total|used|active|inactive|free|buffer) memory|swap cache|(?:total|used|free) swap)$"
)
_VMSTAT_COUNTER = re.compile(
    r"^[0-9]+\s+(?:K\s+)?(?P<key>(?:non-nice |nice )?(?:user|guest) cpu ticks|(?:system|idle|IO-wait|IRQ|softirq|stolen)"
    r" cpu ticks|paged (?:in|out)|pages swapped (?:in|out)|pages alloc in \w+|pages free|interrupts"
    r"|CPU context switches|boot time|forks)$"
)
# ZFS's /proc/spl/kmem/slab: its two header lines and its rows (a row cut short goes with them)
_SPL_HEADER = re.compile(r"^-{5,} cache -{5,}|^name\s+flags\s+size\s+alloc\s+slabsize\s+objsize\b")
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


_EMPHASIS = re.compile(r"^(?:\*\*|__|`)+|(?:\*\*|__|`)+$")
# a figure made bold inside a row ("Mem:  8192  5491  **366**"): the figure
_BOLD_FIGURE = re.compile(r"\*\*([0-9][0-9.,]*[A-Za-z]{0,3})\*\*")


# a code block copied from a web page with its line numbers: "8Percpu:   21614240 kB"
_BARE_LINE_NUMBER = re.compile(r"^[0-9]{1,3}$")
_LINE_NUMBER = re.compile(r"^[0-9]{1,3}(?=[A-Z][A-Za-z0-9_()]*:\s+[0-9]+(?:\s+kB)?$)")


# arc_summary's sizes (old and new layouts): "ARC size (current):  98.1 %  39.7 GiB", "Max Size (High
# Water): 16:1 40.50 GiB", as the arcstats rows they come from
_ARC_SUMMARY = re.compile(
    r"^(?P<what>ARC [Ss]ize(?: \(current\))?|Target [Ss]ize:? \([Aa]daptive\)|Min [Ss]ize \([Hh]ard [Ll]imit\)"
    r"|Max [Ss]ize \([Hh]igh [Ww]ater\)):?\s+(?:[0-9.:]+\s*%?\s+)?(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[KMGT])i?B$"
)
_LIST_NUMBER = re.compile(r"^[0-9]{1,3}\.\s+")
_ARC_NAMES = {"arc": "size", "tar": "c", "min": "c_min", "max": "c_max"}
_SCALE = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _arc_row(m: re.Match[str]) -> str:
    name = _ARC_NAMES[m["what"][:3].lower()]
    return f"{name} 4 {round(float(m['n']) * _SCALE[m['unit']])}"


# a meminfo line with the poster's mark or remark after its value: "Slab:  1362624 kB <--------",
# "GPUReclaim:  24407784 kB     # ~23 GiB reclaimable", "MemTotal: 4046348 kB (4 GB)"
_ANNOTATED = re.compile(r"^([A-Z][A-Za-z0-9_()]*:\s+[0-9]+(?:\s+kB)?)\s+(?:<[-=]+|[-=]+>|#|//|←|\(|\*+|\[).*$")


_SPLIT_SLABDATA = re.compile(r": sla\s+bdata\b")


def clean(line: str) -> str:
    """The line without e-mail quoting, indentation, markdown emphasis wrapped around it, a line
    number glued to a meminfo line, or the "# " a blog puts before output it shows; arc_summary's
    size lines become the arcstats rows they summarise."""
    bare = _QUOTE.sub("", line).strip()
    bare = _EMPHASIS.sub("", bare).strip() or bare  # a fence line stays a (non-evidence) line
    if "**" in bare:
        bare = _BOLD_FIGURE.sub(r"\1", bare)
    bare = _LINE_NUMBER.sub("", bare)
    bare = _ANNOTATED.sub(r"\1", bare)  # "SUnreclaim:  1290420 kB <--------": the poster's mark
    if ": sla " in bare:  # a slabinfo row a terminal wrapped inside its own word: ": sla       bdata"
        bare = _SPLIT_SLABDATA.sub(": slabdata", bare)
    bare = english(bare)  # free run in another language
    numbered = _LIST_NUMBER.match(bare)  # "  3. Mem: 132256952 ...": a web page's numbered code lines
    if numbered and (_FREE.match(bare[numbered.end() :]) or _MEMINFO.match(bare[numbered.end() :])):
        bare = bare[numbered.end() :]
    if bare.startswith("# "):
        rest = bare[2:].strip()
        if _FREE.match(rest) or _MEMINFO.match(rest) or _SLABTOP_SUMMARY.match(rest) or _ARC_SUMMARY.match(rest):
            bare = rest
    arc = _ARC_SUMMARY.match(bare)
    return _arc_row(arc) if arc else bare


# SLUB's allocation-failure warning (slab_out_of_memory)
_SLUB_FAIL = re.compile(
    r"^(?:SLUB: Unable to allocate memory on node|cache: \S+, object size: \d+|node \d+: slabs: \d+)"
)


def kind_of(line: str, current: str | None = None) -> str | None:
    """What a cleaned, non-blank line is part of; None for anything else."""
    bare = _OOM_PREFIX.sub("", line)
    if _SLUB_FAIL.match(bare.strip()):
        return "slub"
    if _OOM.search(bare) or (current == "oom" and _OOM_SLAB_ROW.match(bare)):
        return "oom"
    if (
        _ALLOC_ROW.match(bare)
        or _ALLOC_OOM_ROW.match(bare)
        or _ALLOC_PART.match(bare)
        or _ALLOC_HEADER.match(bare.strip())
        or (current == "allocinfo" and _ALLOC_REST.match(bare))
    ):
        return "allocinfo"  # memory allocation profiling: /proc/allocinfo, or an OOM report's list
    if _FREE.match(line):
        return "free"
    if _SMEM_HEADER.match(line) or (line.startswith(_SMEM_AREAS) and _SMEM_ROW.match(line)):
        return "smem"
    if (
        _CGROUPS_HEADER.match(line)
        or _CGROUPS_MEMORY.match(line)
        or (current == "cgroups" and _CGROUPS_ROW.match(line))
    ):
        return "cgroups"
    if line.startswith("slabinfo - version:") or _SLABINFO_COLUMNS.match(line) or _SLABINFO_ROW.match(line):
        return "slabinfo"
    if _SLABINFO_OLD_ROW.match(line):
        return "slabinfo"
    if _SLABTOP_SUMMARY.match(line) or line.split()[:2] == ["OBJS", "ACTIVE"] or _SLABTOP_ROW.match(line):
        return "slabtop"
    if _ARC_HEADER.match(line) or _ARC_SIZE.match(line) or (current == "arcstats" and _ARC_ROW.match(line)):
        return "arcstats"
    if _VMSTAT_MEMORY.match(line) or (current == "vmstat" and _VMSTAT_COUNTER.match(line)):
        return "vmstat"
    if _SPL_HEADER.match(line) or _SPL_ROW.match(line) or (current == "spl_slab" and _SPL_PARTIAL.match(line)):
        return "spl_slab"
    if _MEMINFO.match(line):
        return "meminfo"
    if _MEMSTAT_ROW.match(bare.strip()):  # also inside an OOM report's "Memory cgroup stats for" lines
        return "memstat"
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


def key_of(kind: str, line: str) -> str | None:
    """What must not repeat inside one block (a repeat starts the next paste)."""
    if kind == "meminfo":
        m = _MEMINFO.match(line)
        return m["key"] if m else None
    if kind == "slabinfo":
        m = _SLABINFO_ROW.match(line) or _SLABINFO_OLD_ROW.match(line)
        return m["name"] if m else ("header" if line.startswith("slabinfo") else None)
    if kind == "slabtop":
        m = _SLABTOP_ROW.match(line)
        return m["name"] if m else None
    if kind == "free":
        return line.split()[0] if not line.startswith("total") else "header"
    if kind == "slub" and "SLUB: Unable" in line:
        return "header"
    if kind == "arcstats":
        return line.split()[0]
    if kind == "vmstat":
        m = _VMSTAT_MEMORY.match(line) or _VMSTAT_COUNTER.match(line)
        return m["key"] if m else None
    if kind == "memstat":
        m = _MEMSTAT_ROW.match(_OOM_PREFIX.sub("", line).strip())
        return m["key"] if m else None
    if kind == "allocinfo":
        bare = _OOM_PREFIX.sub("", line)
        m = _ALLOC_ROW.match(bare) or _ALLOC_OOM_ROW.match(bare) or _ALLOC_PART.match(bare)
        if m is not None:
            return f"{m['file']}:{m['line']}"  # a tag listed again starts the next output
        return "header" if bare.strip().startswith("allocinfo - version") else None
    if kind == "spl_slab":
        m = _SPL_ROW.match(line)
        # the column header is printed once per output; a second one starts the next output
        return m["name"] if m else ("columns" if line.startswith("name") else None)
    return None
