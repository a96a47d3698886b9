"""A report read back from its directory (``result.json``, ``report.md``, ``evidence/``): what the
chat, ticket and webhook sinks send, so any report on disk can be posted, not just a fresh one.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError

MAX_RESULT_BYTES = 64 * 1024 * 1024  # result.json of a huge host is a few MiB; this refuses /dev/zero-like input
VERDICT_MARK = {"leak": "🔴", "suspected-leak": "🟠", "no-leak": "🟢", "inconclusive": "⚪"}


@dataclass(frozen=True)
class SavedReport:
    report_dir: Path
    doc: dict[str, Any]
    markdown: str
    link: str | None = None  # the run's web page (/runs/{id}), when a server ran it

    @classmethod
    def load(cls, report_dir: Path, link: str | None = None) -> SavedReport:
        """Raises ``UsageError`` (exit 2) naming the path when it is not a report directory."""
        if not report_dir.is_dir():
            raise UsageError(f"{report_dir}: not a report directory")
        result, md = report_dir / "result.json", report_dir / "report.md"
        for f in (result, md):
            if not f.is_file():
                raise UsageError(f"{report_dir}: no {f.name}: not a report directory written by run or replay")
        if result.stat().st_size > MAX_RESULT_BYTES:
            raise UsageError(f"{result}: too large for a result document")
        try:
            doc = json.loads(result.read_text(encoding="utf-8"))
            markdown = md.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"{report_dir}: cannot read the report ({type(exc).__name__})") from None
        if not isinstance(doc, dict) or "verdict" not in doc:
            raise UsageError(f"{result}: not a result document (no verdict)")
        return cls(report_dir, doc, markdown, link)

    @property
    def host(self) -> str:
        return str(self.doc.get("host") or "unknown host")

    @property
    def stem(self) -> str:
        """A file name stem for attachments: ``kleak-<host>``."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.host)
        return f"kleak-{safe}"


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns


def culprit_line(c: dict[str, Any]) -> str:
    growth = c.get("growth_bytes_per_s")
    rate = f", {'+' if growth > 0 else ''}{_size(growth)}/s" if isinstance(growth, (int, float)) and growth else ""
    size = c.get("bytes")
    # a culprit named only in a ticket's words has no size of its own: say so rather than "0 B"
    held = f", {_size(size)}" if size or rate else ", size not in the evidence"
    return f"{c.get('name', '?')} ({c.get('type', '?')}{held}{rate})"


def summary_text(doc: dict[str, Any]) -> str:
    """Short plain text for chat and tickets: verdict, kind, host, top culprit, known bugs.

    >>> print(summary_text({"host": "db7", "verdict": "leak", "kind": "vmalloc",
    ...     "kernel": {"release": "6.1.0-50-amd64"}, "culprits": [{"name": "leaky_fn [leaky]",
    ...     "type": "vmalloc-caller", "bytes": 3145728, "growth_bytes_per_s": 1024}],
    ...     "known_bugs": [{"id": "k1", "title": "A bug"}]}))
    🔴 LEAK: vmalloc on db7 (kernel 6.1.0-50-amd64)
    Top culprit: leaky_fn [leaky] (vmalloc-caller, 3.0 MiB, +1.0 KiB/s)
    Known bugs: A bug [k1]
    """
    verdict = str(doc.get("verdict", "unknown"))
    kind = doc.get("kind")
    kernel = doc.get("kernel") if isinstance(doc.get("kernel"), dict) else {}
    release = kernel.get("release") if kernel else None
    head = f"{VERDICT_MARK.get(verdict, '')} {verdict.upper()}".strip()
    if kind and kind not in ("none", "unknown"):
        head += f": {kind}"
    head += f" on {doc.get('host') or 'unknown host'}" + (f" (kernel {release})" if release else "")
    lines = [head]
    if doc.get("summary"):
        lines.append(str(doc["summary"]))
    culprits = [c for c in doc.get("culprits") or [] if isinstance(c, dict)]
    if culprits:
        lines.append(f"Top culprit: {culprit_line(culprits[0])}")
    bugs = [b for b in doc.get("known_bugs") or [] if isinstance(b, dict)]
    if bugs:
        lines.append("Known bugs: " + "; ".join(f"{b.get('title', '?')} [{b.get('id', '?')}]" for b in bugs[:3]))
    if doc.get("interrupted"):
        lines.append(f"Interrupted {doc['interrupted']}")
    return "\n".join(lines)


def bundle_tarball(report_dir: Path, dest: Path) -> Path:
    """report.md, result.json and evidence/ (when there is one) as ``dest``, a tar.gz under one
    top directory named after the report directory. Symbolic links are stored as links, never
    followed, so a link in evidence/ cannot pull a host file into the bundle."""
    top = report_dir.resolve().name or "report"
    with tarfile.open(dest, "w:gz") as tar:
        for name in ("report.md", "result.json", "evidence"):
            path = report_dir / name
            if path.exists() or path.is_symlink():
                tar.add(path, arcname=f"{top}/{name}", recursive=True)
    return dest
