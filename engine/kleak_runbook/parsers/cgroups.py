"""Parse ``/proc/cgroups``: which cgroup controllers exist, are enabled, and how many cgroups each has."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import is_uint


@dataclass(frozen=True)
class CgroupSubsys:
    name: str
    hierarchy: int  # 0 on cgroup v2 (or when not mounted on v1)
    num_cgroups: int
    enabled: bool


def parse_cgroups(text: str) -> dict[str, CgroupSubsys]:
    """Parse ``/proc/cgroups``.

    >>> subsys = parse_cgroups("#subsys_name\\thierarchy\\tnum_cgroups\\tenabled\\nmemory\\t0\\t45\\t1\\n")
    >>> subsys["memory"]
    CgroupSubsys(name='memory', hierarchy=0, num_cgroups=45, enabled=True)
    """
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("#subsys_name"):
        raise ParseError("cgroups", "expected a '#subsys_name hierarchy num_cgroups enabled' header", line=1)
    result: dict[str, CgroupSubsys] = {}
    for lineno, line in enumerate(lines[first + 1 :], start=first + 2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not all(is_uint(f) for f in fields[1:]):
            raise ParseError(
                "cgroups", f"expected 'name hierarchy num_cgroups enabled', got {line[:60]!r}", line=lineno
            )
        result[fields[0]] = CgroupSubsys(fields[0], int(fields[1]), int(fields[2]), fields[3] == "1")
    return result


@dataclass(frozen=True)
class CgroupStat:
    """cgroup v2 ``cgroup.stat`` of the root: live and dying descendants (None when not reported)."""

    nr_descendants: int | None
    nr_dying_descendants: int | None


def parse_cgroup_stat(text: str) -> CgroupStat:
    """cgroup v2 ``cgroup.stat``: ``nr_descendants`` and ``nr_dying_descendants`` (memory cgroups
    that were removed but are still pinned, typically by page cache, slab or per-CPU memory).

    >>> parse_cgroup_stat("nr_descendants 45\\nnr_dying_descendants 1203\\n")
    CgroupStat(nr_descendants=45, nr_dying_descendants=1203)
    """
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and is_uint(parts[1]):
            out[parts[0]] = int(parts[1])
    return CgroupStat(out.get("nr_descendants"), out.get("nr_dying_descendants"))
