"""Parse the ``/sys/kernel/debug/kmemleak`` report and group unreferenced objects by who allocated them.

Also home of the stack-frame helpers the other attribution parsers share (``parse_frame``,
``is_allocator``, ``first_site``): one list of allocator frames for every stack we read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kleak_runbook.errors import ParseError

SPEC = "kmemleak"

# Frames that only pass an allocation on (mm/ slab, page, vmalloc and percpu paths, the
# kmemleak/page_owner hooks that record it, and the mm/util.c copy helpers). Matched against
# the function name with leading underscores and compiler suffixes (.isra.0, .cold) removed,
# so "kmalloc*" also covers __kmalloc_node_noprof and ___kmalloc_large_node. A "*" ends a prefix.
# fmt: off
ALLOCATOR_FRAMES: tuple[str, ...] = (
    # slab
    "kmalloc*", "do_kmalloc*", "kmem_cache_alloc*", "kmem_cache_zalloc", "kzalloc*", "kcalloc*",
    "krealloc*", "kvrealloc*", "kmemdup*", "kstrdup*", "kstrndup*", "memdup_user*", "vmemdup_user*",
    "strndup_user", "kasprintf", "kvasprintf*", "slab_alloc*", "slab_post_alloc_hook", "allocate_slab",
    "new_slab", "alloc_slab_page", "devm_kmalloc", "devm_kzalloc", "devm_kcalloc", "devm_kmemdup",
    # hooks that record the allocation
    "kmemleak_alloc*", "kmemleak_vmalloc", "create_object", "set_page_owner", "save_stack*",
    "stack_trace_save*", "post_alloc_hook", "prep_new_page",
    # page allocator
    "alloc_pages*", "alloc_frozen_pages*", "folio_alloc*", "get_free_pages", "get_zeroed_page*",
    "get_page_from_freelist", "rmqueue*", "alloc_page_interleave",
    # a network buffer's own allocators: the driver or protocol that asked for the sk_buff is its holder
    "alloc_skb*", "netdev_alloc_skb*", "napi_alloc_skb*", "dev_alloc_skb*", "build_skb*", "napi_build_skb*",
    "netdev_alloc_frag*", "napi_alloc_frag*", "page_frag_alloc*", "skb_clone", "skb_copy*", "pskb_copy*",
    "pskb_expand_head",
    # vmalloc and percpu
    "vmalloc*", "vzalloc*", "kvmalloc*", "kvzalloc*", "kvcalloc*", "vm_area_alloc_pages",
    "alloc_vmap_area", "get_vm_area*", "pcpu_alloc*", "alloc_percpu*",
)
# fmt: on
_ALLOCATOR_RE = re.compile(
    "|".join(re.escape(p[:-1]) + r"\w*" if p.endswith("*") else re.escape(p) for p in ALLOCATOR_FRAMES)
)

_CLONE_SUFFIX = re.compile(r"(?:\.(?:constprop|isra|part|cold|llvm|lto_priv)(?:\.[0-9]+)*)+$")
# "[<ffffffff81234567>] func+0x1a/0x2b [mod] file.c:12 [inline]": every part but the symbol optional
_FRAME = re.compile(r"^(?:\[<?([0-9a-fA-F]+)>?\]\s*)?(\S+)(.*)$")  # "[<ffff...>]", some kernels "[ffff...]"
_SYMBOL = re.compile(r"^([^\s+]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)$")
# where decode_stacktrace.sh puts a frame's source, after its function: "(lib/cpumask.c:71)" (pasted.py
# finds such frames in a ticket with it too)
DECODED_SOURCE = r"\((?:[^\s():]{0,300}/)?[\w.-]{1,100}\.[chS]:[0-9]+"
_DECODED = re.compile(r"^\s*" + DECODED_SOURCE)
_HEADER = re.compile(r"^unreferenced object (?:\(\w+\) )?0x([0-9a-fA-F]+) \(size ([0-9]{1,20})\):")
_COMM = re.compile(r'^\s+comm "(.*)", pid ([0-9]{1,20})')
# a frame's source location alone on a line: a mail or terminal wrapped it off its frame (pasted.py too)
WRAPPED_SOURCE = re.compile(r"^/?(?:[\w.+-]{1,100}/){0,20}[\w.+-]{1,100}\.[chS]:[0-9]+(?:\s+\[inline\])?$")
# Kernels before 4.19 end a stack with ULONG_MAX, printed as a frame of its own.
_END_OF_STACK = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Frame:
    function: str | None  # None when only an address was printed (symbol unknown, module gone)
    offset: str | None  # "0x1a/0x2b"
    module: str | None
    # The bare address when no symbol was printed; else the "[<...>]" one, which kernels since
    # 4.15 hash (%p), so it only identifies a frame within one boot.
    address: int | None
    raw: str

    @property
    def key(self) -> str:
        """``function [module]``, ``function``, or the frame as printed when there is no symbol."""
        if self.function is None:
            return self.raw
        # the function as its source names it: a compiler's clone suffix (".constprop.0", ".isra.0",
        # ".part.1", ".cold") is the same code
        function = _CLONE_SUFFIX.sub("", self.function) or self.function
        return f"{function} [{self.module}]" if self.module else function


@dataclass(frozen=True)
class KmemleakObject:
    address: int
    size: int
    comm: str | None
    pid: int | None
    backtrace: tuple[Frame, ...]


@dataclass(frozen=True)
class LeakGroup:
    key: str  # first non-allocator frame, "function [module]"
    module: str | None
    count: int
    bytes: int
    backtrace: tuple[Frame, ...]  # one example


def parse_frame(line: str) -> Frame | None:
    """One stack line as printed with %pS (optionally ``[<addr>]``-prefixed), or None if it is not one.

    A frame needs an address or a ``+0x../0x..`` offset, so prose and record headers are rejected;
    file:line and ``[inline]`` annotations (syzkaller, decode_stacktrace.sh) are dropped.
    """
    text = line.strip()
    m = _FRAME.match(text)
    if m is None:
        return None
    bracket, symbol, rest = m.groups()
    function: str | None = None
    offset: str | None = None
    address = int(bracket, 16) if bracket else None
    sym = _SYMBOL.match(symbol)
    if sym is not None:
        function, offset = sym.groups()
    elif re.fullmatch(r"0x[0-9a-fA-F]+", symbol):
        address = int(symbol, 16)
    elif bracket is not None and re.fullmatch(r"[A-Za-z_][\w.$]*", symbol):
        function = symbol  # syzkaller's inlined frames: "kmalloc include/linux/slab.h:580 [inline]"
    elif re.fullmatch(r"[A-Za-z_][\w.$]*", symbol) and _DECODED.match(rest):
        function = symbol  # decode_stacktrace.sh's: "alloc_cpumask_var_node (lib/cpumask.c:71)"
    else:
        return None
    module = None
    for token in rest.split():
        if token.startswith("[") and token.endswith("]") and token != "[inline]":
            module = token[1:-1]
            break
    return Frame(function, offset, module, address, text)


def is_allocator(function: str | None) -> bool:
    """True for frames that only pass an allocation on (see ``ALLOCATOR_FRAMES``)."""
    if function is None:
        return False
    base = function.lstrip("_").split(".", 1)[0]
    return _ALLOCATOR_RE.fullmatch(base) is not None


def first_site(frames: Sequence[Frame]) -> Frame | None:
    """The first frame that is not an allocator, else the first frame, else None."""
    for frame in frames:
        if not is_allocator(frame.function):
            return frame
    return frames[0] if frames else None


def parse_kmemleak(text: str) -> tuple[KmemleakObject, ...]:
    """Parse the text of ``/sys/kernel/debug/kmemleak`` (also kmemleak reports copied from dmesg).

    >>> objs = parse_kmemleak('''unreferenced object 0xffff8881c24db660 (size 8):
    ...   comm "nvme", pid 101335, jiffies 4299282670
    ...   hex dump (first 8 bytes):
    ...     ff ff 00 00 00 00 00 00                          ........
    ...   backtrace (crc b47d4cd6):
    ...     __kmalloc_node_noprof+0x6ab/0x970
    ...     alloc_cpumask_var_node+0x56/0xb0
    ...     nvme_alloc_admin_tag_set+0x352/0x670 [nvme_core]
    ... ''')
    >>> obj = objs[0]
    >>> obj.address == 0xFFFF8881C24DB660, obj.size, obj.comm, obj.pid
    (True, 8, 'nvme', 101335)
    >>> [f.key for f in obj.backtrace]
    ['__kmalloc_node_noprof', 'alloc_cpumask_var_node', 'nvme_alloc_admin_tag_set [nvme_core]']
    >>> group_by_backtrace(objs)[0].key
    'alloc_cpumask_var_node'
    """
    objects: list[KmemleakObject] = []
    header: tuple[int, int] | None = None
    comm: str | None = None
    pid: int | None = None
    frames: list[Frame] = []
    in_backtrace = False

    def close() -> None:
        if header is not None:
            objects.append(KmemleakObject(header[0], header[1], comm, pid, tuple(frames)))

    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        m = _HEADER.match(stripped)
        if m is not None:
            close()
            header, comm, pid, frames, in_backtrace = (int(m[1], 16), int(m[2])), None, None, [], False
            continue
        if header is None:
            raise ParseError(
                SPEC, f"expected 'unreferenced object 0x... (size N):', got {stripped[:60]!r}", line=lineno
            )
        if in_backtrace and WRAPPED_SOURCE.match(stripped):
            continue  # a frame's "include/linux/kmemleak.h:42 [inline]" a mail wrapped onto the next line
        if not line[:1].isspace():
            # Not part of an object (e.g. "BUG: memory leak" in a console log): the object ends.
            in_backtrace = False
            continue
        if in_backtrace:
            frame = parse_frame(stripped)
            if frame is not None and frame.function is None and frame.address == _END_OF_STACK:
                continue
            if frame is not None:
                frames.append(frame)
            continue  # "..." where a report was shortened by hand
        cm = _COMM.match(line)
        if cm is not None:
            comm, pid = cm[1], int(cm[2])
        elif stripped.startswith("backtrace"):
            in_backtrace = True
    close()
    return tuple(objects)


NO_BACKTRACE = "<no backtrace>"


def group_by_backtrace(objects: Iterable[KmemleakObject], skip_allocator_frames: bool = True) -> list[LeakGroup]:
    """Group objects by their first non-allocator frame (or first frame), biggest total size first;
    objects whose backtrace the text cut off come last, whatever their size: they name no code."""
    groups: dict[str, tuple[str | None, int, int, tuple[Frame, ...]]] = {}
    for obj in objects:
        site = first_site(obj.backtrace) if skip_allocator_frames else (obj.backtrace[0] if obj.backtrace else None)
        key = site.key if site is not None else NO_BACKTRACE
        module = site.module if site is not None else None
        _, count, total, example = groups.get(key, (module, 0, 0, obj.backtrace))
        groups[key] = (module, count + 1, total + obj.size, example)
    result = [LeakGroup(k, m, c, b, bt) for k, (m, c, b, bt) in groups.items()]
    result.sort(key=lambda g: (g.key == NO_BACKTRACE, -g.bytes, -g.count, g.key))
    return result
