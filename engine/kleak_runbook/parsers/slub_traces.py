"""Parse SLUB allocation traces: debugfs ``slab/<cache>/alloc_traces`` (5.14+) or sysfs ``slab/<cache>/alloc_calls``.

Both list one line per allocation site of the objects currently allocated (count, caller,
age/pid/cpu/node summaries); alloc_traces adds the allocation stack under each line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.kmemleak import first_site, is_allocator, parse_frame
from kleak_runbook.parsers.numbers import sint

SPEC = "slub_traces"

# "%7ld %pS[ waste=%lu/%lu] age=%ld[/%ld/%ld] pid=%ld[-%ld][ cpus=%*pbl][ nodes=%*pbl]" (mm/slub.c)
_HEAD = re.compile(r"^\s*([0-9]{1,20}) (\S+)((?:\s+\[[^\]\s]+\])?)((?:\s+[a-z]+=\S+)*)\s*$")


@dataclass(frozen=True)
class SlubTrace:
    count: int
    caller: str  # as printed: "func+0x2c/0xa0 [mod]", "<not-available>" or a bare address
    function: str | None
    module: str | None
    age_min: int | None  # jiffies since allocation
    age_avg: int | None
    age_max: int | None
    pids: str | None  # "1" or "12-34"
    stack: tuple[str, ...]  # alloc_traces only, innermost frame first
    cpus: str | None = None  # cpu list, "0-1,5"; only printed on SMP
    nodes: str | None = None  # only printed with more than one NUMA node
    waste: int | None = None  # bytes lost to kmalloc rounding for all these objects (6.2+)

    @property
    def key(self) -> str:
        """The caller as ``function [module]``."""
        if self.function is None:
            return self.caller
        return f"{self.function} [{self.module}]" if self.module else self.function

    @property
    def site(self) -> str:
        """Who allocated: the caller, or when it is an allocator wrapper (``kmalloc_trace``) the
        first non-allocator frame of the stack."""
        if not is_allocator(self.function):
            return self.key
        frames = [f for f in (parse_frame(s) for s in self.stack) if f is not None]
        site = first_site(frames)
        if site is None or is_allocator(site.function):
            return self.key
        return site.key


def _number(token: str) -> int | None:
    try:
        return sint(token)
    except ValueError:  # a field mangled in a paste: unknown, the trace still counts
        return None


def _head(m: re.Match[str]) -> SlubTrace:
    count, caller, module_part, fields = int(m[1]), m[2], m[3].strip(), m[4].split()
    function = None
    if caller != "<not-available>" and not caller.startswith("0x"):
        function = caller.partition("+")[0]
    module = module_part[1:-1] if module_part else None
    ages: list[int | None] = [None, None, None]
    pids = cpus = nodes = None
    waste = None
    for field in fields:
        name, _, value = field.partition("=")
        if name == "age":
            parts = [_number(v) for v in value.split("/")]
            if len(parts) == 1:
                ages = [parts[0], parts[0], parts[0]]
            elif len(parts) == 3:
                ages = parts
        elif name == "pid":
            pids = value
        elif name == "cpus":
            cpus = value
        elif name == "nodes":
            nodes = value
        elif name == "waste":
            waste = _number(value.partition("/")[0])
    caller_text = f"{caller} {module_part}" if module_part else caller
    return SlubTrace(count, caller_text, function, module, ages[0], ages[1], ages[2], pids, (), cpus, nodes, waste)


def parse_alloc_traces(text: str) -> tuple[SlubTrace, ...]:
    """Parse ``alloc_traces`` (with stacks) or ``alloc_calls`` (without), biggest count first.

    >>> traces = parse_alloc_traces('''    338 pci_alloc_dev+0x2c/0xa0 waste=521872/1544 age=290837/291891/293509 pid=1 cpus=106 nodes=0-1
    ...         __kmem_cache_alloc_node+0x11f/0x4e0
    ...         kmalloc_trace+0x26/0xa0
    ...         pci_alloc_dev+0x2c/0xa0
    ...         pci_scan_single_device+0xd2/0x150
    ...
    ... ''')
    >>> t = traces[0]
    >>> t.count, t.key, t.age_min, t.age_avg, t.pids, t.waste, len(t.stack)
    (338, 'pci_alloc_dev', 290837, 291891, '1', 521872, 4)
    """
    traces: list[SlubTrace] = []
    current: SlubTrace | None = None
    stack: list[str] = []

    def close() -> None:
        if current is not None:
            traces.append(replace(current, stack=tuple(stack)))

    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        m = _HEAD.match(line)
        if m is not None and "age=" in m[4]:
            close()
            current, stack = _head(m), []
            continue
        if stripped == "No data":  # sysfs alloc_calls of a cache with no objects
            continue
        frame = parse_frame(stripped) if current is not None and line[:1].isspace() else None
        if frame is None:
            raise ParseError(
                SPEC, f"expected 'COUNT caller age=... pid=...' or a stack frame, got {stripped[:60]!r}", line=lineno
            )
        stack.append(stripped)
    close()
    traces.sort(key=lambda t: -t.count)
    return tuple(traces)
