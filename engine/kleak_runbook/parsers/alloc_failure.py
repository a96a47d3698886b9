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
from kleak_runbook.parsers.oom_memcg import MEMCG_OOM

SPEC = "alloc_failure"
# (before 4.12 the comm is on the "page allocation failure" line that follows instead)
# (a task's name holds no ": ": text before it on the line is prose, as in a title that quotes the warning)
_COMM = r"(?P<comm>[^\s:](?:[^:\n]|:(?=\S)){0,40}?)"
_VMALLOC = re.compile(r"^(?:" + _COMM + r": )?vmalloc: allocation failure: (?P<bytes>[0-9]+) bytes")
# 5.13 and later: "vmalloc error: size 0, page order 9, failed to allocate pages" (the pages behind
# the area, a page allocation of that order) or "vmalloc error: size 8192, vm_struct allocation
# failed" (the area itself)
_VMALLOC_ERROR = re.compile(
    r"^(?P<comm>.+?): vmalloc error: size (?P<bytes>[0-9]+), (?:page order (?P<order>[0-9]+), failed to allocate pages"
    r"|(?P<area>vm_struct allocation failed))"
)
# the contiguous memory area (CMA) had no free run that long: "cma: cma_alloc: alloc failed, req-size:
# 2040 pages, ret: -12" (5.x and later name the area: "cma: cma_alloc: linux,cma: alloc failed, ...")
_CMA = re.compile(
    r"^cma: cma_alloc(?:\(\))?: (?:[\w,.@-]+: )?alloc failed, req-size: (?P<pages>[0-9]+) pages, ret: -?[0-9]+"
)
# the driver that asked, on the line after: "vc4-drm soc:gpu: failed to allocate buffer with size 8355840"
_CMA_USER = re.compile(r"^(?P<driver>[\w-]+) \S+: (?:failed to allocate|[Ff]ailed to alloc\w*)\b")
# a network driver's own message that its receive path got no buffer: "rtw_8821au 1-1.5:1.0: failed to
# allocate rx_skb 1" (allocations that may not wait for reclaim, retried on the next packet)
_DRIVER_RX = re.compile(
    r"^(?P<driver>[\w-]+) [\w:.-]+: (?:failed to alloc(?:ate)?|(?:could not|couldn't|cannot|unable to) alloc(?:ate)?)"
    r" (?:an? )?(?P<what>rx[_ ]skbs?|skbs?|rx buffers?|rx bufs?|rx pages?)\b",
    re.I,
)
# a driver's own message that memory for a DMA buffer (physically contiguous) could not be had, with
# -ENOMEM: "sof-audio-pci-intel-icl 0000:00:1f.3: error: memory alloc failed: -12" followed by "... dma
# prepare for fw loading failed"; "dma" must be on the line or one of the two after it
_DRIVER_NOMEM = re.compile(
    r"^(?P<driver>[\w-]+) [\w:.-]+: (?:error: )?(?:[\w ]{0,30}?\b(?:alloc(?:ation)?|allocate)\b[\w ]{0,30}?failed"
    r"|failed to alloc(?:ate)?\b[\w ]{0,40}?)(?::\s*|\s*\(|\s+)(?:-12|-ENOMEM)\b",
    re.I,
)
_DMA = re.compile(r"\bdma\b", re.I)
# "page allocation failure: order:4, mode:0x10c0d0"; 2.6-3.x kernels also wrote "failure. order:0"
_PAGES = re.compile(
    r"^(?P<comm>.+?): page allocation failure[:.] order:(?P<order>[0-9]+)(?:,\s*mode:(?P<mode>0x[0-9a-f]+)(?:\((?P<flags>[^)]*)\))?)?"
)
# the OOM killer's first line names the request that failed the same way:
# "myshellscript invoked oom-killer: gfp_mask=0xd0, order=2, oomkilladj=0"
_OOM_INVOKED = re.compile(
    r"^(?P<comm>.+?) invoked oom-killer: gfp_mask=(?P<mode>0x[0-9a-f]+)(?:\((?P<flags>[^)]*)\))?, order=(?P<order>[0-9]+)"
)
# a zone's line of the report that follows: "Node 0 Normal free:1711868kB min:18248kB low:22808kB high:27372kB ..."
_ZONE = re.compile(
    r"^(?:Node (?P<node>[0-9]+) )?(?P<zone>\w+) free:(?P<free>[0-9]+)kB min:(?P<min>[0-9]+)kB low:[0-9]+kB high:(?P<high>[0-9]+)kB"
)
_ZONE_SIZE = re.compile(r"\b(?:managed|present):([0-9]+)kB")
_ZONE_SLAB = re.compile(r"\bslab_unreclaimable:([0-9]+)kB")
# "bpf_jit_binary_alloc+0x5b/0xe0", "? foo+0x1/0x2" (a guess the unwinder is not sure of), "[<c0123>] foo+..."
# ARM's unwinder: "[<c009274c>] (warn_alloc_failed+0xc4/0x11c) from [<c0094a5c>] (__alloc_pages_nodemask+...)"
_FRAME = re.compile(r"^(?:\[<[0-9a-f]+>\]\s*)?(?P<unsure>\?\s+)?\(?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
# the warning's own frames and the allocators': the caller is the first frame after them
_INTERNAL = re.compile(
    r"^(?:dump_stack\w*|show_stack|unwind_backtrace|dump_backtrace|warn_alloc\w*|__?vmalloc\w*|vmalloc\w*|__vmalloc_area_node|__get_vm_area\w*"
    r"|module_alloc|execmem_alloc\w*|__alloc_pages\w*|alloc_pages\w*|__alloc_pages_slowpath\w*|get_order"
    r"|kvmalloc\w*|__kvmalloc\w*|__get_free_pages|get_zeroed_page|kmalloc_order\w*|kmalloc_large\w*"
    r"|__kmalloc_large\w*|new_slab|allocate_slab|_{0,3}slab_alloc\w*|kmem_cache_alloc\w*|__kmalloc\w*|kmalloc\w*)$"
)


# a suspend or hibernation under way: user space frozen and the OOM killer off, until the tasks restart
_SUSPENDING = re.compile(
    r"^(?:PM: (?:suspend|hibernation) entry|PM: Syncing filesystems|Freezing user space processes|OOM killer disabled)"
)
_RESUMED = re.compile(r"^(?:OOM killer enabled|Restarting tasks|PM: (?:suspend|hibernation) exit)")
_STAMP = re.compile(r"^\s*(?:<\d+>)?\[\s*([0-9]+\.[0-9]+)\]")  # dmesg's "[   14.006613]"


@dataclass(frozen=True)
class AllocFailure:
    # "vmalloc" | "pages" | "cma" (the contiguous memory area; comm and caller: the driver that asked)
    # | "driver" (a network driver's own "failed to allocate rx_skb"; caller: what it could not allocate)
    # | "dma" (a driver's own -ENOMEM for a DMA buffer; comm: the driver)
    kind: str
    comm: str  # the task that asked
    bytes: int  # what it asked for (pages: 4 KiB << order)
    caller: str | None  # the first frame above the allocator, when the trace is there
    stack: tuple[str, ...]  # the trace's sure frames, innermost first
    uptime: float | None = None  # seconds since boot, from the warning's dmesg timestamp
    order: int | None = None  # a page allocation's order (2**order contiguous pages)
    # the request could not wait for reclaim: GFP_ATOMIC or GFP_NOWAIT by name, or 2.6-4.3's bare
    # GFP_ATOMIC (mode 0x20, __GFP_HIGH without __GFP_WAIT)
    atomic: bool = False
    zones: tuple[Zone, ...] = ()  # the zones the report printed after the warning
    # the OOM killer's header rather than warn_alloc's warning (the request failed, and the OOM killer ran)
    oom: bool = False
    # it came while the system suspended or hibernated (tasks frozen, the OOM killer off)
    suspend: bool = False
    times: int = 1  # how many times the text holds the failure (a driver repeats its own message)
    dma: bool = False  # the request asked for ZONE_DMA (__GFP_DMA): that zone alone could serve it


@dataclass(frozen=True)
class Zone:
    """One zone's line in the report that follows a failure: free memory against its watermarks (bytes)."""

    name: str
    free: int
    min: int
    high: int
    size: int | None  # managed (else present) memory of the zone
    unreclaimable_slab: int | None  # 2.6-4.7 kernels count slab per zone


def parse_alloc_failure(text: str) -> AllocFailure:
    """The first allocation-failure warning in ``text`` and the call trace that follows it."""
    raw = text.splitlines()
    lines = [_PREFIX.sub("", line).strip() for line in raw]
    suspend = False
    for at, line in enumerate(lines):
        suspend = suspend or bool(_SUSPENDING.match(line))
        v, p = _VMALLOC.match(line), _PAGES.match(line)
        e = _VMALLOC_ERROR.match(line)
        if e is not None and e["area"]:
            v = e  # the area ran out: a vmalloc failure of that size
        elif e is not None:
            order = int(e["order"])  # the pages behind it: a page allocation failure of that order
            mode = re.search(r"mode:(0x[0-9a-f]+)(?:\(([^)]*)\))?", line)
            return AllocFailure(
                "pages", e["comm"], 4096 << min(order, 20), None, (), None, order=order,
                atomic=_cannot_wait(mode.group(1), mode.group(2)) if mode else False, zones=_zones(lines[at + 1 :]),
                suspend=suspend,
            )  # fmt: skip
        rx = _DRIVER_RX.match(line)
        if rx is not None:
            times = sum(1 for x in lines if _DRIVER_RX.match(x))
            return AllocFailure("driver", rx["driver"], 0, rx["what"], (), None, suspend=suspend, times=times)
        nomem = _DRIVER_NOMEM.match(line)
        if nomem is not None and any(_DMA.search(x) for x in lines[at : at + 3]):
            return AllocFailure("dma", nomem["driver"], 0, "a DMA buffer", (), None, suspend=suspend)
        cma = _CMA.match(line)
        if cma is not None:
            user = next((u["driver"] for u in map(_CMA_USER.match, lines[at + 1 : at + 3]) if u), None)
            return AllocFailure("cma", user or "?", int(cma["pages"]) * 4096, user, (), None, suspend=suspend)
        if v is None and p is None:
            o = _OOM_INVOKED.match(line)
            if o is not None and not any(MEMCG_OOM.search(x) for x in lines[at:]):  # a cgroup's own: its limit
                order = int(o["order"])
                stack = _stack(lines[at + 1 :])
                return AllocFailure(
                    "pages",
                    o["comm"],
                    4096 << min(order, 20),
                    None,  # the OOM killer's trace names who asked, not who holds the memory
                    tuple(stack),
                    order=order,
                    zones=_zones(lines[at + 1 :]),
                    oom=True,
                    suspend=suspend,
                )
            continue
        stack = _stack(lines[at + 1 :])
        caller = next((fn for fn in stack if not _INTERNAL.match(fn)), None)
        stamp = _STAMP.match(raw[at])
        uptime = float(stamp.group(1)) if stamp else None
        if v is not None:
            comm = v["comm"]
            if comm is None:
                after = _PAGES.match(lines[at + 1]) if at + 1 < len(lines) else None
                comm = after["comm"] if after else "?"
            return AllocFailure("vmalloc", comm, int(v["bytes"]), caller, tuple(stack), uptime, suspend=suspend)
        assert p is not None
        order = int(p["order"])
        atomic = _cannot_wait(p["mode"], p["flags"])
        dma = _wants_dma(p["mode"], p["flags"])
        return AllocFailure(
            "pages",
            p["comm"],
            4096 << min(order, 20),
            caller,
            tuple(stack),
            uptime,
            order=order,
            atomic=atomic,
            zones=_zones(lines[at + 1 :]),
            suspend=suspend,
            dma=dma,
        )
    zones = _zones(lines)
    if zones and _FAILURE_WORDS.search(text):
        # the report's zone lines under words that call it a page allocation failure, its own first
        # line not in the text: a page allocation of an order not given
        return AllocFailure("pages", "?", 0, None, (), None, order=None, zones=zones, suspend=suspend)
    raise ParseError(SPEC, "no 'vmalloc: allocation failure', 'page allocation failure' or 'cma_alloc' failure line")


def _stack(lines: list[str]) -> list[str]:
    """The sure frames of the trace that follows a warning, innermost first, up to its registers,
    Mem-Info or the next warning."""
    stack: list[str] = []
    for line in lines:
        if (
            _VMALLOC.match(line)
            or _PAGES.match(line)
            or _OOM_INVOKED.match(line)
            or line.startswith(("Mem-Info:", "RIP:"))
        ):
            break
        frame = _FRAME.match(line)
        if frame is not None and not frame["unsure"]:
            stack.append(frame["fn"].split(".")[0])  # without .constprop.0, .isra.1, .cold
    return stack


def _cannot_wait(mode: str | None, flags: str | None) -> bool:
    """A request that could not wait for reclaim: GFP_ATOMIC or GFP_NOWAIT by name (4.10 on), or a
    mode printed without names that lacks __GFP_WAIT: before 4.4 every flag sat below 0x80000 and
    __GFP_WAIT was 0x10 (GFP_ATOMIC = __GFP_HIGH = 0x20; 0x4020 adds __GFP_COMP). Unnamed modes of
    later layouts are left alone: read wrongly, they would call a sleeping request atomic."""
    if flags:
        return bool(re.search(r"\bGFP_(?:ATOMIC|NOWAIT)\b", flags))
    if mode is None:
        return False
    value = int(mode, 16)
    return value < 0x80000 and not value & 0x10


def _wants_dma(mode: str | None, flags: str | None) -> bool:
    """The request carries __GFP_DMA (bit 0x01 in every layout; GFP_DMA by name since 4.10)."""
    if flags:
        return bool(re.search(r"\b(?:__)?GFP_DMA\b", flags))
    return mode is not None and bool(int(mode, 16) & 0x01)


def _zones(lines: list[str]) -> tuple[Zone, ...]:
    """The zone lines of the report after a warning, up to the next warning: each zone once."""
    zones: dict[tuple[str, str], Zone] = {}
    for line in lines:
        if _VMALLOC.match(line) or _PAGES.match(line) or _OOM_INVOKED.match(line):
            break
        z = _ZONE.match(line)
        if z is None or (z["node"], z["zone"]) in zones:
            continue
        size = _ZONE_SIZE.findall(line)
        slab = _ZONE_SLAB.search(line)
        zones[(z["node"], z["zone"])] = Zone(
            z["zone"],
            int(z["free"]) * 1024,
            int(z["min"]) * 1024,
            int(z["high"]) * 1024,
            int(size[-1]) * 1024 if size else None,
            int(slab.group(1)) * 1024 if slab else None,
        )
    return tuple(zones.values())


_FAILURE_WORDS = re.compile(r"\bpage allocation failures?\b", re.I)


def alloc_failure_report(text: str) -> str | None:
    """The warning and its trace as the text holds them, for ``parse_alloc_failure``, from the line
    that began a suspend still under way when it came (if one did); None without one."""
    lines = text.splitlines()
    began = None
    for at, line in enumerate(lines):
        bare = _PREFIX.sub("", line.lstrip("> ")).strip()
        if _SUSPENDING.match(bare):
            began = at if began is None else began
        elif _RESUMED.match(bare):
            began = None
        if (
            _VMALLOC.match(bare)
            or _PAGES.match(bare)
            or _OOM_INVOKED.match(bare)
            or _VMALLOC_ERROR.match(bare)
            or _CMA.match(bare)
            or _DRIVER_RX.match(bare)
            or (
                _DRIVER_NOMEM.match(bare)
                and any(_DMA.search(_PREFIX.sub("", x.lstrip("> "))) for x in lines[at : at + 3])
            )
        ):
            start = at if began is None else began
            return "\n".join(x.lstrip("> ") for x in lines[start : at + 400]) + "\n"  # its report's zone lines too
    if _FAILURE_WORDS.search(text):  # the words, and zone lines of its report without its first line
        zoned = [x.lstrip("> ") for x in lines if _ZONE.match(_PREFIX.sub("", x.lstrip("> ")).strip())]
        if zoned:
            return "page allocation failure (in the ticket's words)\n" + "\n".join(zoned) + "\n"
    return None
