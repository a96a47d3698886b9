"""bcc's ``memleak`` tool pasted into a ticket: kernel allocations still outstanding, by stack.

``memleak`` (without ``-p``) traces the kernel's allocators and prints, for each stack, what was
allocated and not freed while it watched::

    [11:00:13] Top 10 stacks with outstanding allocations:
            125829120 bytes in 30 allocations from stack
                    __alloc_pages_nodemask+0x1be [kernel]

or, from newer versions, numbered frames (``  0 [<ffffffffa07b8ee9>] __kmalloc_cache_noprof+0x1f9``).
Outstanding allocations of a module traced through its unloading are leaked, like kmemleak's
unreferenced objects: each stack becomes a kmemleak object of its total size (``parsers.kmemleak``
reads it), so the same attribution names the code and the allocator names the kind.
"""

from __future__ import annotations

import re

_GROUP = re.compile(r"^\s*(?P<bytes>[0-9]+) bytes in (?P<count>[0-9]+) allocations? from stack\s*$")
# "__alloc_pages_nodemask+0x1be [kernel]", "  0 [<ffffffffa07b8ee9>] __kmalloc_cache_noprof+0x1f9"
_FRAME = re.compile(
    r"^\s*(?:[0-9]+\s+)?(?:\[<(?P<addr>[0-9a-fA-F]+)>\]\s+)?(?P<fn>[A-Za-z_][\w.]*)\+(?P<off>0x[0-9a-fA-F]+)"
    r"(?:/0x[0-9a-fA-F]+)?(?:\s+\[(?P<mod>[\w-]+)\])?\s*$"
)
_UNLOADED = re.compile(r"\bmodule '[^']+' unloaded\b")
_LEAK_CLAIM = re.compile(r"(?<![A-Za-z])leak(?:s|ing|ed)?\b", re.I)  # not the tool's own name, "memleak"
_HEADER = re.compile(
    r"stacks with outstanding allocations:|Attaching to kernel allocators|Tracing module memory allocs"
)


def memleak_as_kmemleak(text: str) -> str | None:
    """The stacks of a bcc memleak report as kmemleak records, or None when the text has none.

    Outstanding means not freed yet within the trace: allocations in flight are outstanding too. So
    they count as leaked only where the trace ran through the module's unloading ("module 'x'
    unloaded") or the ticket says something leaks; a report alone is left unread."""
    if not _HEADER.search(text):
        return None
    if not (_UNLOADED.search(text) or _LEAK_CLAIM.search(text)):
        return None
    out: list[str] = []
    frames: list[str] = []
    size = 0

    def close() -> None:
        if size and frames:
            out.append(f'unreferenced object 0x0 (size {size}):\n  comm "memleak", pid 0, jiffies 0\n  backtrace:\n')
            out.extend(frames)

    for line in text.splitlines():
        g = _GROUP.match(line)
        if g is not None:
            close()
            size, frames = int(g["bytes"]), []
            continue
        f = _FRAME.match(line)
        if f is not None and size:
            module = f" [{f['mod']}]" if f["mod"] and f["mod"] != "kernel" else ""
            frames.append(f"    [<{f['addr'] or '0'}>] {f['fn']}+{f['off']}/0x0{module}\n")
    close()
    return "".join(out) or None
