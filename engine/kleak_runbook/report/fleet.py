"""The fleet summary: many hosts' Results as one answer (``fleet.md``, ``fleet.json``, ``fleet.svg``).

Each host is kept as one small ``HostLine`` (not its whole Result), so a thousand hosts cost
little memory. Hosts with leaks are ranked by rate and grouped by culprit and by kernel, with
the correlation stated; hosts without a verdict are grouped by the reason (ssh's, for the
unreachable), with the host names shortened so that equal reasons fall together.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kleak_runbook.decide.result import Result
from kleak_runbook.decide.units import human_bytes

VERDICTS = ("leak", "suspected-leak", "no-leak", "inconclusive")
LEAKING = ("leak", "suspected-leak")
# the meminfo component whose growth measures a leak of each kind
_COMPONENT = {
    "slab-unreclaimable": "slab_unreclaimable",
    "slab-reclaimable": "slab_reclaimable",
    "vmalloc": "vmalloc",
    "percpu": "percpu",
    "page-allocator": "unaccounted",
}
# ssh's diagnosis names the host and port; without them equal reasons group together
_REASON_FORMS = (
    (re.compile(r"^ssh: connect to host \S+ port \d+: (.+)$"), r"\1"),
    (re.compile(r"^ssh: Could not resolve hostname \S+: (.+)$"), r"Could not resolve hostname: \1"),
    (re.compile(r"^Connection (closed|reset) by \S+ port \d+$"), r"Connection \1 by remote host"),
    (re.compile(r"^[^@\s]+@\S+: (.+)$"), r"\1"),
)
TOP_CULPRITS = 3


def reason_class(reason: str) -> str:
    """ssh's reason without the host it names.

    >>> reason_class("ssh: connect to host 127.0.0.1 port 1: Connection refused")
    'Connection refused'
    >>> reason_class("root@10.0.0.7: Permission denied (publickey).")
    'Permission denied (publickey)'
    """
    text = reason.strip()
    for pattern, repl in _REASON_FORMS:
        text = pattern.sub(repl, text)
    return text.rstrip(".") or "unreachable"


@dataclass(frozen=True)
class HostLine:
    """What the fleet summary needs of one host."""

    host: str
    verdict: str
    kind: str
    rate: float | None  # growth of the leaking kind, bytes/s
    culprits: tuple[tuple[str, str], ...]  # (type, name), biggest growth first
    release: str | None
    distro: str | None
    distro_id: str | None
    version_signature: str | None
    no_verdict: str | None  # why there is no verdict (unreachable: ssh's reason)
    unreachable: bool
    known_bugs: tuple[str, ...]  # ids of matched knowledge entries
    summary: str
    report: str  # report.md, relative to the fleet root where possible

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["culprits"] = [{"type": t, "name": n} for t, n in self.culprits]
        d["known_bugs"] = list(self.known_bugs)
        return d


def _rate(result: Result) -> float | None:
    component = _COMPONENT.get(result.kind)
    series = dict(result.kmem).get(component or "")
    rates = [c.growth_bytes_per_s for c in result.culprits[:1] if c.growth_bytes_per_s]
    if series is not None and result.sample_count > 1:
        rates.append(series.growth_bytes_per_s)
    return max(rates) if rates else None


def _no_verdict(result: Result) -> tuple[str | None, bool]:
    if result.verdict != "inconclusive":
        return None, False
    for gap in result.gaps:
        if gap.status == "unreachable":
            return reason_class(gap.reason), True
    if result.interrupted:
        return "interrupted", False
    timeouts = [g for g in result.gaps if g.status == "timeout"]
    if timeouts:
        return f"timed out ({timeouts[0].item})", False
    first = result.summary.split(". ")[0].strip().rstrip(".")
    return first or "inconclusive", False


def line_of(result: Result, report_dir: Path, root: Path | None = None, name: str | None = None) -> HostLine:
    """The fleet's view of one host's Result, whose report was written to ``report_dir``
    (``name``: the host's name in the fleet, when the same host appears twice)."""
    reason, unreachable = _no_verdict(result)
    report = report_dir / "report.md"
    if root is not None:
        report = Path(os.path.relpath(report, root))
    k = result.kernel
    return HostLine(
        host=name or result.host,
        verdict=result.verdict,
        kind=result.kind,
        rate=_rate(result) if result.verdict in LEAKING else None,
        culprits=tuple((c.type, c.name) for c in result.culprits[:TOP_CULPRITS]),
        release=k.release,
        distro=k.distro,
        distro_id=k.distro_id,
        version_signature=k.version_signature,
        no_verdict=reason,
        unreachable=unreachable,
        known_bugs=tuple(str(b["id"]) for b in result.known_bugs if b.get("confidence") == "matched"),
        summary=result.summary,
        report=str(report),
    )


@dataclass
class Fleet:
    """Hosts as they finish, and inputs that could not be read (replay of several inputs)."""

    root: Path
    lines: list[HostLine] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    node_incidents: list[dict[str, Any]] = field(default_factory=list)  # execution nodes that died

    def add(self, result: Result, report_dir: Path, name: str | None = None) -> HostLine:
        line = line_of(result, report_dir, self.root, name)
        self.lines.append(line)
        return line

    @property
    def exit_code(self) -> int:
        """1 if any host leaks, else 3 if any host (or input) has no verdict, else 0."""
        verdicts = {line.verdict for line in self.lines}
        if verdicts & set(LEAKING):
            return 1
        return 3 if "inconclusive" in verdicts or self.unreadable else 0


def _correlation(members: Sequence[HostLine], others: Sequence[HostLine], attr: str) -> dict[str, Any] | None:
    """How many of ``members`` share their most common ``attr`` (release, distro), and of the others."""
    values = Counter(getattr(m, attr) for m in members if getattr(m, attr))
    if not values:
        return None
    value, count = values.most_common(1)[0]
    known = [o for o in others if getattr(o, attr)]
    return {
        "value": value,
        "members": count,
        "of_members": len(members),
        "others": sum(1 for o in known if getattr(o, attr) == value),
        "of_others": len(known),
    }


def _bugs_for(release: str, line: HostLine, kind: str | None) -> list[dict[str, Any]]:
    from kleak_runbook.decide.known_bugs import bugs_for_kernel

    try:
        found = bugs_for_kernel(release, version_signature=line.version_signature, os_release_id=line.distro_id)
    except Exception:  # an odd release string must not cost the fleet summary
        return []
    keep = [b for b in found if not b["trap"] and (kind is None or b.get("kind") in (None, "any", kind))]
    return [{"id": b["id"], "title": b["title"], "confidence": b["confidence"]} for b in keep]


def _group(key: str, label: str, members: list[HostLine], everyone: Sequence[HostLine]) -> dict[str, Any]:
    names = {m.host for m in members}
    others = [o for o in everyone if o.host not in names]
    kinds = Counter(m.kind for m in members)
    kind = kinds.most_common(1)[0][0] if kinds else None
    by_release = _correlation(members, others, "release")
    bugs = _bugs_for(by_release["value"], members[0], kind) if by_release else []
    matched = sorted({b for m in members for b in m.known_bugs})
    return {
        "key": key,
        "label": label,
        "kind": kind,
        "hosts": sorted(names),
        "release": by_release,
        "distro": _correlation(members, others, "distro"),
        "known_bugs": bugs,
        "matched_bugs": matched,
    }


def culprit_groups(lines: Sequence[HostLine]) -> list[dict[str, Any]]:
    """Leaking hosts grouped by each culprit they name (a host with a module and its vmalloc
    caller is in both groups); leaking hosts that name no culprit are grouped by kind."""
    groups: dict[tuple[str, str], list[HostLine]] = {}
    for line in lines:
        if line.verdict not in LEAKING:
            continue
        for culprit in line.culprits or (("kind", line.kind),):
            groups.setdefault(culprit, []).append(line)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [_group(f"{t}:{n}", n if t != "kind" else f"{n} (no culprit named)", m, lines) for (t, n), m in ordered]


def by_kernel(lines: Iterable[HostLine]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in lines:
        release = line.release or "unknown"
        row = rows.setdefault(release, {"release": release, "distros": Counter(), **{v: 0 for v in VERDICTS}})
        row[line.verdict] += 1
        if line.distro:
            row["distros"][line.distro] += 1
    out = sorted(rows.values(), key=lambda r: (-(r["leak"] + r["suspected-leak"]), r["release"]))
    for row in out:
        row["hosts"] = sum(row[v] for v in VERDICTS)
        row["distros"] = [d for d, _ in row["distros"].most_common()]
    return out


def no_verdict_groups(lines: Iterable[HostLine]) -> list[dict[str, Any]]:
    groups: dict[tuple[bool, str], list[str]] = {}
    for line in lines:
        if line.no_verdict is not None:
            groups.setdefault((line.unreachable, line.no_verdict), []).append(line.host)
    ordered = sorted(groups.items(), key=lambda kv: (not kv[0][0], -len(kv[1]), kv[0][1]))
    return [{"unreachable": u, "reason": r, "hosts": sorted(h)} for (u, r), h in ordered]


def document(fleet: Fleet) -> dict[str, Any]:
    """``fleet.json``: counts, ranked leaks, groups; the hosts themselves at the end."""
    lines = fleet.lines
    leaking = sorted((x for x in lines if x.verdict in LEAKING), key=lambda x: (-(x.rate or 0.0), x.host))
    return {
        "schema": 1,
        "hosts": len(lines),
        "verdicts": {v: sum(1 for x in lines if x.verdict == v) for v in VERDICTS},
        "kinds": dict(Counter(x.kind for x in lines if x.verdict in LEAKING).most_common()),
        "unreachable": sum(1 for x in lines if x.unreachable),
        "leaking": [{"host": x.host, "verdict": x.verdict, "kind": x.kind, "rate": x.rate} for x in leaking],
        "by_culprit": culprit_groups(lines),
        "by_kernel": by_kernel(lines),
        "no_verdict": no_verdict_groups(lines),
        "unreadable_inputs": [{"input": i, "reason": r} for i, r in fleet.unreadable],
        "execution_node_incidents": fleet.node_incidents,
        "exit_code": fleet.exit_code,
        "host_lines": [x.as_dict() for x in sorted(lines, key=lambda x: x.host)],
    }


def correlation_text(group: dict[str, Any], what: str = "release") -> str:
    """ "11 of 12 hosts leaking `kmalloc-2k` run 5.15.0-91-generic; 0 of 88 others do"."""
    c = group[what]
    if c is None:
        return ""
    verb = "run" if what == "release" else "are on"
    return (
        f"{c['members']} of {c['of_members']} hosts leaking `{group['label']}` {verb} {c['value']}; "
        f"{c['others']} of {c['of_others']} others do"
    )


def rate_text(rate: float | None) -> str:
    return f"{human_bytes(rate, signed=True)}/s" if rate else "size only (one snapshot)"


def write(fleet: Fleet) -> dict[str, Any]:
    """Write fleet.json, fleet.md and fleet.svg at the fleet root; returns the document."""
    from kleak_runbook.report.fleet_chart import svg
    from kleak_runbook.report.markdown import environment

    doc = document(fleet)
    fleet.root.mkdir(parents=True, exist_ok=True)
    (fleet.root / "fleet.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (fleet.root / "fleet.svg").write_text(svg(doc["by_kernel"]), encoding="utf-8")
    template = environment().get_template("fleet.md.j2")
    reports = {x.host: x.report for x in fleet.lines}
    text = template.render(doc=doc, reports=reports, correlation=correlation_text, rate=rate_text)
    (fleet.root / "fleet.md").write_text(text, encoding="utf-8")
    return doc


def short(doc: dict[str, Any], root: Path, top: int = 10) -> list[str]:
    """The stdout version: counts, the leaking hosts, the groups, where the rest is."""
    v = doc["verdicts"]
    out = [
        f"fleet: {doc['hosts']} hosts: {v['leak']} leak, {v['suspected-leak']} suspected-leak, "
        f"{v['no-leak']} no-leak, {v['inconclusive']} inconclusive ({doc['unreachable']} unreachable)"
    ]
    for x in doc["leaking"][:top]:
        out.append(f"  {x['verdict'].upper()} {x['host']}: {x['kind']}, {rate_text(x['rate'])}")
    if len(doc["leaking"]) > top:
        out.append(f"  ... and {len(doc['leaking']) - top} more leaking hosts")
    for g in doc["by_culprit"][:top]:
        bugs = ", ".join(b["id"] for b in g["known_bugs"][:3])
        n = len(g["hosts"])
        said = correlation_text(g) or f"{n} host{'s' if n != 1 else ''}"
        out.append(f"  culprit {g['label']}: {said}")
        if bugs:
            out.append(f"    known bugs for that kernel: {bugs}")
    for g in doc["no_verdict"][:top]:
        what = "unreachable" if g["unreachable"] else "no verdict"
        hosts = ", ".join(g["hosts"][:5]) + (f" (+{len(g['hosts']) - 5})" if len(g["hosts"]) > 5 else "")
        out.append(f"  {what}: {g['reason']}: {hosts}")
    for n in doc["execution_node_incidents"]:
        again = ", ".join(n.get("retried_on", [])) or "nowhere"
        out.append(f"  execution node {n['node']} died ({n['reason']}): {len(n['retried'])} hosts run again on {again}")
    for u in doc["unreadable_inputs"][:top]:
        out.append(f"  not read: {u['input']}: {u['reason']}")
    out.append(f"  fleet summary: {root / 'fleet.md'}")
    return out
