"""Parse ``/proc/vmallocinfo`` into areas and per-caller totals (where vmalloc memory went)."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import hexint, uint

SPEC = "vmallocinfo"
# Words mm/vmalloc.c prints after the caller; anything else there is the caller.
_FLAGS = frozenset({"ioremap", "vmalloc", "vmap", "user", "dma-coherent", "vpages"})
# Lines with no caller symbol: areas waiting to be purged, and vm_map_ram() mappings.
_SPECIAL = {"unpurged": "unpurged vm_area", "vm_map_ram": "vm_map_ram"}


@dataclass(frozen=True)
class VmallocArea:
    # start/end are printed with %pK: unless kptr_restrict lets root see real
    # pointers they are hashed, so ``end - start`` is not the size: use ``size``.
    start: int
    end: int
    size: int  # bytes of address space, including the guard page
    caller: str
    function: str | None
    module: str | None
    pages: int | None
    flags: tuple[str, ...]
    phys: int | None

    @property
    def key(self) -> str:
        """Grouping key: ``function [module]``, ``function``, or the caller as printed."""
        if self.function is None:
            return self.caller
        return f"{self.function} [{self.module}]" if self.module else self.function


@dataclass(frozen=True)
class VmallocInfo:
    areas: tuple[VmallocArea, ...]

    def vmalloc_bytes(self, page_size: int = 4096) -> int:
        """Pages backing the areas that report ``pages=`` (vmalloc() allocations)."""
        return sum(a.pages for a in self.areas if a.pages is not None) * page_size

    def by_caller(self, page_size: int = 4096) -> dict[str, tuple[int, int]]:
        """``key -> (areas, bytes)``; bytes are pages when known, else the area size."""
        totals: dict[str, tuple[int, int]] = {}
        for area in self.areas:
            count, total = totals.get(area.key, (0, 0))
            size = area.pages * page_size if area.pages is not None else area.size
            totals[area.key] = (count + 1, total + size)
        return totals


def _parse_line(line: str) -> VmallocArea | None:
    parts = line.split()
    if len(parts) < 2:
        return None
    start_s, dash, end_s = parts[0].partition("-")
    try:
        start, end, size = hexint(start_s), hexint(end_s), uint(parts[1])
    except ValueError:
        return None
    if not dash:
        return None
    caller, function, module = "", None, None
    i = 2
    if i < len(parts):
        token = parts[i]
        special = _SPECIAL.get(token)
        if special is not None:
            caller, i = special, i + (2 if token == "unpurged" else 1)
        elif token not in _FLAGS and not token.startswith(("pages=", "phys=")):
            # %pS: "func+0x56/0xd0 [mod]", or a bare address once the symbol is gone
            caller, i = token, i + 1
            if not token.startswith("0x"):
                function = token.partition("+")[0]
            if i < len(parts) and parts[i].startswith("[") and parts[i].endswith("]"):
                module, i = parts[i][1:-1], i + 1
    pages: int | None = None
    phys: int | None = None
    flags: list[str] = []
    for token in parts[i:]:
        if token.startswith("pages="):
            pages = uint(token[6:])
        elif token.startswith("phys="):
            phys = hexint(token[5:])
        elif token[0] == "N" and "=" in token:
            continue  # per-NUMA-node page counts
        else:
            flags.append(token)
    return VmallocArea(start, end, size, caller, function, module, pages, tuple(flags), phys)


def parse_vmallocinfo(text: str) -> VmallocInfo:
    """Parse the text of ``/proc/vmallocinfo``.

    >>> info = parse_vmallocinfo('''0x00000000d79630be-0x00000000209ce2cc    8192 leaky_leak_4k+0x56/0xd0 [leaky] pages=1 vmalloc N0=1
    ... 0x0000000014bf8b2e-0x000000001ddf6bf0   20480 unpurged vm_area
    ... 0x0000000036f57c0f-0x00000000f4b89162    8192 acpi_os_map_iomem+0x1b6/0x1d0 phys=0x000000003ffe2000 ioremap
    ... ''')
    >>> area = info.areas[0]
    >>> area.function, area.module, area.pages, area.flags
    ('leaky_leak_4k', 'leaky', 1, ('vmalloc',))
    >>> info.vmalloc_bytes()
    4096
    >>> info.by_caller()["leaky_leak_4k [leaky]"], info.by_caller()["unpurged vm_area"]
    ((1, 4096), (1, 20480))
    """
    areas: list[VmallocArea] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            area = _parse_line(line)
        except ValueError:  # a bad pages= or phys= value
            area = None
        if area is not None:
            areas.append(area)
        elif not areas:
            raise ParseError(SPEC, f"expected '0x...-0x... size caller ...', got {line[:60]!r}", line=lineno)
    return VmallocInfo(tuple(areas))
