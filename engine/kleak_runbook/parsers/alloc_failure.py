"""Parse the kernel's allocation-failure warning (``warn_alloc``) from dmesg or syslog text.

``warn_alloc`` prints who failed to get memory and how much ("vmalloc: allocation failure: 12288
bytes" or "page allocation failure: order:3"), then the call trace. For a vmalloc failure the
caller is the first frame above the allocator's own (``__vmalloc*``, ``module_alloc``, ...): a
small vmalloc that fails names the code whose area is exhausted, however much RAM is free.

Below: https://github.com/concourse/concourse/issues/8739 (tests/cases), abridged.

>>> f = parse_alloc_failure('''May  3 04:11:11 ip-172-21-69-230 kernel: runc:[2:INIT]: vmalloc: allocation failure: 12288 bytes, mode:0xcc0(GFP_KERNEL), nodemask=(null)
... May  3 04:11:11 ip-172-21-69-230 kernel: Call Trace:
... May  3 04:11:11 ip-172-21-69-230 kernel: dump_stack+0x57/0x70
... May  3 04:11:11 ip-172-21-69-230 kernel: warn_alloc+0x138/0x160
... May  3 04:11:11 ip-172-21-69-230 kernel: __vmalloc_node_range+0x98/0xb0
... May  3 04:11:11 ip-172-21-69-230 kernel: ? bpf_jit_binary_alloc+0x5b/0xe0
... May  3 04:11:11 ip-172-21-69-230 kernel: module_alloc+0x7e/0xe0
... May  3 04:11:11 ip-172-21-69-230 kernel: bpf_jit_binary_alloc+0x5b/0xe0
... May  3 04:11:11 ip-172-21-69-230 kernel: bpf_int_jit_compile+0x28e/0x3b3''')
>>> f.kind, f.bytes, f.caller, f.comm
('vmalloc', 12288, 'bpf_jit_binary_alloc', 'runc:[2:INIT]')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.oom import _PREFIX

SPEC = "alloc_failure"
_VMALLOC = re.compile(r"^(?P<comm>.+?): vmalloc: allocation failure: (?P<bytes>[0-9]+) bytes")
_PAGES = re.compile(r"^(?P<comm>.+?): page allocation failure: order:(?P<order>[0-9]+)")
# "bpf_jit_binary_alloc+0x5b/0xe0", "? foo+0x1/0x2" (a guess the unwinder is not sure of), "[<c0123>] foo+..."
_FRAME = re.compile(r"^(?:\[<[0-9a-f]+>\]\s*)?(?P<unsure>\?\s+)?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
# the warning's own frames and the allocators': the caller is the first frame after them
_INTERNAL = re.compile(
    r"^(?:dump_stack\w*|show_stack|warn_alloc\w*|__?vmalloc\w*|vmalloc\w*|__vmalloc_area_node|__get_vm_area\w*"
    r"|module_alloc|execmem_alloc\w*|__alloc_pages\w*|alloc_pages\w*|__alloc_pages_slowpath\w*|get_order"
    r"|kvmalloc\w*|__kvmalloc\w*)$"
)


_STAMP = re.compile(r"^\s*(?:<\d+>)?\[\s*([0-9]+\.[0-9]+)\]")  # dmesg's "[   14.006613]"


@dataclass(frozen=True)
class AllocFailure:
    kind: str  # "vmalloc" | "pages"
    comm: str  # the task that asked
    bytes: int  # what it asked for (pages: 4 KiB << order)
    caller: str | None  # the first frame above the allocator, when the trace is there
    stack: tuple[str, ...]  # the trace's sure frames, innermost first
    uptime: float | None = None  # seconds since boot, from the warning's dmesg timestamp


def parse_alloc_failure(text: str) -> AllocFailure:
    """The first allocation-failure warning in ``text`` and the call trace that follows it."""
    raw = text.splitlines()
    lines = [_PREFIX.sub("", line).strip() for line in raw]
    for at, line in enumerate(lines):
        v, p = _VMALLOC.match(line), _PAGES.match(line)
        if v is None and p is None:
            continue
        stack: list[str] = []
        for later in lines[at + 1 :]:
            if _VMALLOC.match(later) or _PAGES.match(later) or later.startswith(("Mem-Info:", "RIP:")):
                break
            frame = _FRAME.match(later)
            if frame is not None and not frame["unsure"]:
                stack.append(frame["fn"].split(".")[0])  # without .constprop.0, .isra.1, .cold
        caller = next((fn for fn in stack if not _INTERNAL.match(fn)), None)
        stamp = _STAMP.match(raw[at])
        uptime = float(stamp.group(1)) if stamp else None
        if v is not None:
            return AllocFailure("vmalloc", v["comm"], int(v["bytes"]), caller, tuple(stack), uptime)
        assert p is not None
        return AllocFailure("pages", p["comm"], 4096 << min(int(p["order"]), 20), caller, tuple(stack), uptime)
    raise ParseError(SPEC, "no 'vmalloc: allocation failure' or 'page allocation failure' line")


def alloc_failure_report(text: str) -> str | None:
    """The warning and its trace as the text holds them, for ``parse_alloc_failure``; None without one."""
    lines = text.splitlines()
    for at, line in enumerate(lines):
        bare = _PREFIX.sub("", line.lstrip("> ")).strip()
        if _VMALLOC.match(bare) or _PAGES.match(bare):
            return "\n".join(x.lstrip("> ") for x in lines[at : at + 60]) + "\n"
    return None
