"""Decode ``/proc/sys/kernel/tainted`` into the flags of Documentation/admin-guide/tainted-kernels.rst."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import sint


@dataclass(frozen=True)
class TaintFlag:
    bit: int
    letter: str
    description: str


# Documentation/admin-guide/tainted-kernels.rst ("Table for decoding tainted state");
# bit 19 (J, fwctl) was added in Linux 6.15.
FLAGS: tuple[TaintFlag, ...] = tuple(
    TaintFlag(bit, letter, description)
    for bit, (letter, description) in enumerate(
        [
            ("P", "proprietary module was loaded"),
            ("F", "module was force loaded"),
            ("S", "kernel running on an out of specification system"),
            ("R", "module was force unloaded"),
            ("M", "processor reported a Machine Check Exception (MCE)"),
            ("B", "bad page referenced or some unexpected page flags"),
            ("U", "taint requested by userspace application"),
            ("D", "kernel died recently, i.e. there was an OOPS or BUG"),
            ("A", "ACPI table overridden by user"),
            ("W", "kernel issued warning"),
            ("C", "staging driver was loaded"),
            ("I", "workaround for bug in platform firmware applied"),
            ("O", 'externally-built ("out-of-tree") module was loaded'),
            ("E", "unsigned module was loaded"),
            ("L", "soft lockup occurred"),
            ("K", "kernel has been live patched"),
            ("X", "auxiliary taint, defined for and used by distros"),
            ("T", "kernel was built with the struct randomization plugin"),
            ("N", "an in-kernel test has been run"),
            ("J", "userspace used a mutating debug operation in fwctl"),
        ]
    )
)


@dataclass(frozen=True)
class Taint:
    value: int
    flags: tuple[TaintFlag, ...]

    def has(self, bit: int) -> bool:
        return bool(self.value >> bit & 1)

    @property
    def proprietary(self) -> bool:
        return self.has(0)

    @property
    def out_of_tree(self) -> bool:
        return self.has(12)

    @property
    def unsigned(self) -> bool:
        return self.has(13)

    @property
    def letters(self) -> str:
        """The letters the kernel prints after ``Tainted:`` (``G`` when no proprietary module)."""
        letters = "".join(f.letter for f in self.flags)
        return letters if self.proprietary else "G" + letters


def parse_tainted(text: str) -> Taint:
    """Decode the number in ``/proc/sys/kernel/tainted``; unknown bits get letter ``?``.

    >>> taint = parse_tainted("12288\\n")
    >>> [f.letter for f in taint.flags], taint.out_of_tree, taint.unsigned, taint.proprietary
    (['O', 'E'], True, True, False)
    """
    token = text.strip()
    try:
        value = sint(token)
    except ValueError:
        raise ParseError("tainted", f"expected a number, got {token[:40]!r}", line=1) from None
    if value < 0:
        raise ParseError("tainted", f"negative taint value {value}", line=1)
    flags = [
        FLAGS[bit] if bit < len(FLAGS) else TaintFlag(bit, "?", f"unknown taint bit {bit}")
        for bit in range(value.bit_length())
        if value >> bit & 1
    ]
    return Taint(value, tuple(flags))
