"""Aggregate ``/sys/kernel/debug/page_owner`` records (or ``page_owner_sort`` output) by allocation stack.

The file holds one record per allocated page block and can be gigabytes, so this reads an
iterable of lines once and keeps one counter per distinct stack: memory grows with the number
of stacks, not of records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.kmemleak import Frame, first_site, parse_frame
from kleak_runbook.parsers.numbers import uint

SPEC = "page_owner"

_RECORD = re.compile(r"^Page allocated via order ([0-9]{1,2}), mask (0x[0-9a-fA-F]+)")
# page_owner_sort: "N times, M pages:" (newer versions add ", allocated by SLAB :" or cull fields)
_SORTED = re.compile(r"^([0-9]{1,20}) times, ([0-9]{1,20}) pages\b")
# Record lines that are not stack frames (PFN/flags; migration, memcg and slab notes of newer kernels).
_METADATA = ("PFN ", "Page has been migrated", "Charged ", "Slab cache page", "SLAB_PAGE ")


@dataclass(frozen=True)
class PageOwnerStack:
    key: str  # first non-allocator frame, "function [module]"
    frames: tuple[str, ...]
    count: int  # records (allocations) with this stack
    pages: int  # sum of 2**order over those records


@dataclass(frozen=True)
class PageOwnerSummary:
    records: int
    pages: int
    truncated: bool  # stopped at max_records with more records left
    stacks: tuple[PageOwnerStack, ...]  # biggest (pages) first


def _frame_text(frame: Frame) -> str:
    # Without the "[<addr>]" prefix, so equal stacks read in different ways still aggregate.
    if frame.function is None:
        return frame.raw
    text = f"{frame.function}+{frame.offset}" if frame.offset else frame.function
    return f"{text} [{frame.module}]" if frame.module else text


def aggregate_page_owner(lines: Iterable[str], max_records: int | None = None) -> PageOwnerSummary:
    """Sum page_owner records by stack, streaming over ``lines``.

    >>> summary = aggregate_page_owner('''Page allocated via order 9, mask 0x52dc0(GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_ZERO), pid 1, tgid 1 (swapper/0), ts 1065952310 ns
    ... PFN 0x23d200 type Unmovable Block 4585 type CMA Flags 0x4000000000000040(head|zone=1|kasantag=0x0)
    ...  post_alloc_hook+0x228/0x230
    ...  get_page_from_freelist+0x19d0/0x1a38
    ...  __alloc_pages_noprof+0x1b0/0x440
    ...  __kvmalloc_node_noprof+0xd8/0x18c
    ...  nf_ct_alloc_hashtable+0x64/0x108
    ...  nf_nat_init+0x3c/0xf8
    ...
    ... '''.splitlines())
    >>> summary.records, summary.pages, summary.truncated
    (1, 512, False)
    >>> summary.stacks[0].key, summary.stacks[0].frames[-1]
    ('nf_ct_alloc_hashtable', 'nf_nat_init+0x3c/0xf8')
    """
    stacks: dict[tuple[str, ...], tuple[str, int, int]] = {}  # frames -> (key, count, pages)
    records = pages = 0
    truncated = False
    seen_any = False
    # the block being read: (allocations, pages, frames, has its "Page allocated" line)
    block: tuple[int, int, list[Frame], bool] | None = None

    def close() -> None:
        nonlocal records, pages
        if block is None:
            return
        count, npages, frames, _ = block
        records += count
        pages += npages
        text = tuple(_frame_text(f) for f in frames)
        entry = stacks.get(text)
        if entry is None:
            site = first_site(frames)
            stacks[text] = (site.key if site is not None else "<no stack>", count, npages)
        else:
            stacks[text] = (entry[0], entry[1] + count, entry[2] + npages)

    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            close()
            block = None
            continue
        sorted_head = _SORTED.match(stripped)
        record = _RECORD.match(stripped) if sorted_head is None else None
        if record is not None and block is not None and not block[3] and not block[2]:
            block = (block[0], block[1], block[2], True)  # the record line under "N times, M pages:"
            continue
        if sorted_head is not None or record is not None:
            close()
            block = None
            if max_records is not None and records >= max_records:
                truncated = True
                break
            seen_any = True
            if sorted_head is not None:
                block = (int(sorted_head[1]), int(sorted_head[2]), [], False)
            else:
                assert record is not None
                block = (1, 2 ** int(record[1]), [], True)
            continue
        if block is None:
            if not seen_any:
                raise ParseError(
                    SPEC, f"expected 'Page allocated via order N, mask 0x...', got {stripped[:60]!r}", line=lineno
                )
            continue  # prose between records in a pasted report
        if stripped.startswith(_METADATA):
            continue
        frame = parse_frame(stripped)
        if frame is not None:
            block[2].append(frame)
    else:
        close()

    result = [PageOwnerStack(k, frames, c, p) for frames, (k, c, p) in stacks.items()]
    result.sort(key=lambda s: (-s.pages, -s.count, s.key))
    return PageOwnerSummary(records, pages, truncated, tuple(result))


def parse_page_owner_by_stack(text: str) -> PageOwnerSummary:
    """Parse what the page_owner probe's on-host ``awk`` prints: ``records N`` then one line per
    stack, ``pages<TAB>count<TAB>frame|frame|...`` (pages is the sum of 2**order).

    >>> s = parse_page_owner_by_stack("records 3\\n4\\t3\\t|post_alloc_hook+0x1/0x2|leaky_pages+0x5/0x9 [leaky]\\n")
    >>> s.records, s.stacks[0].key, s.stacks[0].pages
    (3, 'leaky_pages [leaky]', 4)
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith("records"):
        raise ParseError(SPEC, "expected a 'records N' line first", line=1)
    try:
        records = uint(lines[0].split()[1])
    except (IndexError, ValueError):
        raise ParseError(SPEC, f"expected 'records N', got {lines[0][:40]!r}", line=1) from None
    stacks = []
    for lineno, line in enumerate(lines[1:], start=2):
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        try:
            pages, count = uint(parts[0]), uint(parts[1])
        except ValueError:
            raise ParseError(SPEC, f"expected pages and count, got {line[:40]!r}", line=lineno) from None
        frames = tuple(f for f in parts[2].split("|") if f)
        site = first_site([f for f in map(parse_frame, frames) if f is not None])
        key = site.key if site is not None else (frames[0] if frames else "?")
        stacks.append(PageOwnerStack(key, frames, count, pages))
    stacks.sort(key=lambda s: -s.pages)
    return PageOwnerSummary(records, sum(s.pages for s in stacks), False, tuple(stacks))
