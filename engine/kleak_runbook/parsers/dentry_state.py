"""Parse ``/proc/sys/fs/dentry-state``: dentry cache counters, negative dentries included (Linux >= 5.0)."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import sint


@dataclass(frozen=True)
class DentryState:
    nr_dentry: int
    nr_unused: int
    age_limit: int
    want_pages: int
    nr_negative: int | None  # None when the kernel is known to predate 5.0 (the field was a dummy 0)


def parse_dentry_state(text: str, kernel: tuple[int, int, int] | None = None) -> DentryState:
    """Parse ``/proc/sys/fs/dentry-state``; pass ``kernel`` (upstream version) to know what field 5 means.

    >>> parse_dentry_state("77456\\t61893\\t45\\t0\\t59343\\t0\\n")
    DentryState(nr_dentry=77456, nr_unused=61893, age_limit=45, want_pages=0, nr_negative=59343)
    >>> parse_dentry_state("77456\\t61893\\t45\\t0\\t0\\t0\\n", kernel=(4, 19, 0)).nr_negative is None
    True
    """
    fields = text.split()
    try:
        values = [sint(f) for f in fields]
    except ValueError:
        raise ParseError("dentry-state", f"expected numbers, got {text.strip()[:60]!r}", line=1) from None
    if len(values) < 5:
        raise ParseError("dentry-state", f"expected 6 numbers, got {len(values)}", line=1)
    old_kernel = kernel is not None and tuple(kernel) < (5, 0, 0)
    return DentryState(values[0], values[1], values[2], values[3], None if old_kernel else values[4])
