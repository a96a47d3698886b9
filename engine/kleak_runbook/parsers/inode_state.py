"""Parse ``/proc/sys/fs/inode-state``: inodes allocated and how many of them are free (unused).

The file holds seven numbers: ``nr_inodes nr_free_inodes preshrink`` and four dummies. Free
inodes are cached but unused: the kernel reclaims them under memory pressure, so a large
inode cache whose inodes are mostly free is cache, not a leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import is_uint


@dataclass(frozen=True)
class InodeState:
    nr_inodes: int
    nr_free_inodes: int

    @property
    def nr_used_inodes(self) -> int:
        return max(0, self.nr_inodes - self.nr_free_inodes)

    def summary(self) -> str:
        return f"{self.nr_inodes} inodes allocated, {self.nr_free_inodes} of them unused (reclaimable)"


def parse_inode_state(text: str) -> InodeState:
    """Parse the text of ``/proc/sys/fs/inode-state`` (below: as read on the development VM, 2026-11-30).

    >>> parse_inode_state("106243\\t0\\t0\\t0\\t0\\t0\\t0\\n")
    InodeState(nr_inodes=106243, nr_free_inodes=0)
    """
    fields = text.split()
    if len(fields) < 2 or not all(is_uint(f) for f in fields):
        raise ParseError("inode-state", f"expected numbers, got {text.strip()[:60]!r}", line=1)
    return InodeState(int(fields[0]), int(fields[1]))
