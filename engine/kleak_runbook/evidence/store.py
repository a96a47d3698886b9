"""Evidence as it arrives: an in-memory view per host plus the on-disk bundle.

Every file is written once, when it arrives (opened with ``"x"``: never rewritten), and a
line is appended to ``manifest.jsonl``; ``manifest.json`` is written when the run ends, also
after an error or Ctrl-C, so an interrupted run keeps everything it got.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BUNDLE_FORMAT = 1


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Gap:
    """Evidence that could not be had, and why; it belongs in the report, not in a traceback."""

    item: str
    status: str  # denied | missing | timeout | truncated | error | not-consented | unsupported | unreachable
    reason: str


@dataclass
class Sample:
    index: int
    wall: str | None
    uptime: float | None
    texts: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)  # spec -> form, when not the spec's own (e.g. slabtop)


@dataclass
class Probe:
    name: str
    ran: bool
    reason: str = ""
    args: tuple[str, ...] = ()
    phases: dict[str, dict[str, str]] = field(default_factory=dict)  # phase -> spec -> text
    actions: dict[str, dict[str, str]] = field(default_factory=dict)


class EvidenceStore:
    """One host's evidence; ``root`` is None for read-only stores (replay)."""

    def __init__(self, host: str, root: Path | None = None) -> None:
        self.host = host
        self.root = root
        self.samples: list[Sample] = []
        self.static: dict[str, str] = {}
        self.static_forms: dict[str, str] = {}
        self.history: dict[str, str] = {}  # spec -> text fetched by the engine, not read on the host
        self.probes: dict[str, Probe] = {}
        self.gaps: list[Gap] = []
        self.unreachable: str | None = None
        self.interrupted: str | None = None  # a replayed bundle whose run was cut short: what was under way
        self.revision = 0  # counts what was recorded: derived views are rebuilt only when it moves
        self.data_revision = 0  # counts samples, static and history texts: what metrics are computed from
        self.items: list[dict[str, Any]] = []
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            self._journal = open(root / "manifest.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._unsynced: list[Path] = []
        self._syncing: tuple[Any, list[BaseException]] | None = None  # sync_soon's thread and what it raised

    # --- recording -------------------------------------------------------------------------
    def new_sample(self, wall: str | None, uptime: float | None) -> Sample:
        self.revision += 1
        self.data_revision += 1
        sample = Sample(len(self.samples), wall, uptime)
        self.samples.append(sample)
        if wall:
            self._write(f"samples/{sample.index:03d}/timestamp", wall + "\n")
        return sample

    def add_sample_text(self, sample: Sample, spec: str, relpath: str, text: str, form: str = "") -> None:
        self.revision += 1
        self.data_revision += 1
        sample.texts[spec] = text
        if form:
            sample.forms[spec] = form
        self._write(f"samples/{sample.index:03d}/{relpath}", text)

    def add_static(self, spec: str, relpath: str, text: str, form: str = "") -> None:
        if spec in self.static:
            return  # nothing new: what was derived from the store still holds
        self.revision += 1
        self.data_revision += 1
        self.static[spec] = text
        if form:
            self.static_forms[spec] = form
        self._write(f"static/{relpath}", text)

    def add_history(self, spec: str, relpath: str, text: str) -> None:
        """History the engine fetched (Prometheus, earlier runs): parsed like static evidence, kept in history/."""
        if spec not in self.history:
            self.revision += 1
            self.data_revision += 1
            self.history[spec] = text
            self._write(relpath, text)

    def add_probe_text(self, probe: str, phase: str, spec: str, relpath: str, text: str) -> None:
        self.revision += 1
        self.probe(probe).phases.setdefault(phase, {})[spec] = text
        self._write(f"probes/{probe}/{phase}/{relpath}", text)

    def probe(self, name: str) -> Probe:
        return self.probes.setdefault(name, Probe(name, ran=True))

    def add_probe_action(self, probe: str, action: str, fields: dict[str, str]) -> None:
        self.revision += 1
        self.probe(probe).actions[action] = fields
        self._write(f"probes/{probe}/{action}.json", json.dumps(fields, indent=1) + "\n")

    def skip_probe(self, name: str, reason: str, args: tuple[str, ...] = ()) -> None:
        self.revision += 1
        self.probes[name] = Probe(name, ran=False, reason=reason, args=args)

    def start_probe(self, name: str, args: tuple[str, ...]) -> None:
        self.revision += 1
        self.probes[name] = Probe(name, ran=True, args=args)

    def add_gap(self, item: str, status: str, reason: str) -> None:
        gap = Gap(item, status, reason)
        if gap not in self.gaps:
            self.revision += 1
            self.gaps.append(gap)
            self._journal_line({"item": item, "status": status, "reason": reason, "at": utcnow()})

    # --- files -----------------------------------------------------------------------------
    def _write(self, relpath: str, text: str) -> None:
        if self.root is None:
            return
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8", errors="surrogateescape") as fh:
            # written at once and closed: a crash of this process (kill -9, Ctrl-C) leaves it in the
            # page cache, so it survives. Only a crash of the machine could lose it, so the fsync
            # that guards against that waits for the end of the run (finalize): one fsync per file
            # on the event thread cost 3.6 s of a 20 s run over 40 hosts.
            fh.write(text)
        self._unsynced.append(path)
        self._journal_line(
            {
                "item": relpath,
                "status": "ok",
                "bytes": len(text.encode("utf-8", "surrogateescape")),
                "at": utcnow(),
            }
        )

    def _journal_line(self, entry: dict[str, Any]) -> None:
        self.items.append(entry)
        if self.root is not None:
            self._journal.write(json.dumps(entry) + "\n")
            self._journal.flush()

    def finalize(self, header: dict[str, Any]) -> None:
        if self.root is None:
            return
        manifest = {
            "format": BUNDLE_FORMAT,
            **header,
            "host": self.host,
            "unreachable": self.unreachable,
            "samples": [
                {"index": s.index, "wall": s.wall, "uptime": s.uptime, "specs": sorted(s.texts)} for s in self.samples
            ],
            "probes": {
                n: {"ran": p.ran, "reason": p.reason, "args": list(p.args), "actions": p.actions}
                for n, p in self.probes.items()
            },
            "gaps": [asdict(g) for g in self.gaps],
            "items": self.items,
        }
        self.sync()
        tmp = self.root / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.root / "manifest.json")
        self._journal.close()

    def sync_soon(self) -> None:
        """Start putting the evidence written so far on disk in a thread, while the walk judges it
        (fsync waits on the disk, not on the interpreter); ``sync`` waits for it and raises what
        it raised. One at a time: what arrives meanwhile waits for ``sync``."""
        if self._syncing is not None or not self._unsynced:
            return
        import threading

        pending, self._unsynced = self._unsynced, []
        failed: list[BaseException] = []

        def run() -> None:
            try:
                _fsync_all(pending)
            except BaseException as exc:  # raised again by sync, in the caller's thread
                failed.append(exc)

        thread = threading.Thread(target=run, name="kleak-fsync", daemon=True)
        self._syncing = (thread, failed)
        thread.start()

    def sync(self) -> None:
        """Put every evidence file written so far on disk (fsync), then the journal."""
        if self._syncing is not None:
            thread, failed = self._syncing
            self._syncing = None
            thread.join()
            if failed:
                raise failed[0]
        pending, self._unsynced = self._unsynced, []
        _fsync_all(pending)
        if self.root is not None and not self._journal.closed:
            self._journal.flush()
            os.fsync(self._journal.fileno())


def _fsync_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # removed by someone else: nothing to keep
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
