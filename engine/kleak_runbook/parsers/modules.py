"""Parse ``/proc/modules``: loaded modules, who uses them, and their taint letters."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import hexint, is_uint, uint


@dataclass(frozen=True)
class Module:
    name: str
    size: int  # bytes
    refcount: int  # -1 when the kernel cannot unload modules (it prints "-")
    deps: tuple[str, ...]  # the modules using this one
    state: str  # Live, Loading, Unloading
    address: int | None  # None when hidden (printed as 0 to readers without CAP_SYSLOG)
    taints: str  # letters inside the trailing "(...)", e.g. "OE"

    @property
    def out_of_tree(self) -> bool:
        return "O" in self.taints

    @property
    def unsigned(self) -> bool:
        return "E" in self.taints

    @property
    def proprietary(self) -> bool:
        return "P" in self.taints


def parse_modules(text: str) -> tuple[Module, ...]:
    """Parse ``/proc/modules``.

    >>> mods = parse_modules('''leaky 16384 0 - Live 0xffffffffc0b3d000 (OE)
    ... ccp 118784 1 kvm_amd, Live 0xffffffffc0af6000
    ... ''')
    >>> mods[0].name, mods[0].taints, mods[0].out_of_tree, mods[1].deps
    ('leaky', 'OE', True, ('kvm_amd',))
    """
    modules: list[Module] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 6 or not is_uint(fields[1]) or not (fields[2] == "-" or is_uint(fields[2])):
            raise ParseError(
                "modules", f"expected 'name size refcount deps state address', got {line[:60]!r}", line=lineno
            )
        taints = ""
        if len(fields) > 6 and fields[6].startswith("(") and fields[6].endswith(")"):
            taints = fields[6][1:-1]
        try:
            address = hexint(fields[5]) or None
        except ValueError:
            raise ParseError("modules", f"expected an address, got {fields[5][:40]!r}", line=lineno) from None
        modules.append(
            Module(
                name=fields[0],
                size=uint(fields[1]),
                refcount=-1 if fields[2] == "-" else uint(fields[2]),
                # "[permanent]" marks a module without an exit function; it is not a user
                deps=tuple(d for d in fields[3].split(",") if d and d not in ("-", "[permanent]")),
                state=fields[4],
                address=address,
                taints=taints,
            )
        )
    return tuple(modules)
