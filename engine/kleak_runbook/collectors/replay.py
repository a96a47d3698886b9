"""Replay: the same runbook on saved evidence instead of a live host.

Accepts a report directory or bundle written by ``run`` (``evidence/manifest.json``), a bundle
from another tool in the same layout without a manifest (``samples/NNN/...``, ``static/...``,
``probes/...``; see shared/samples), or one snapshot directory that mirrors host paths
(``proc/meminfo``, ``proc/slabinfo``, ...), such as an unpacked sosreport.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..bundle import EvidenceStore
from ..errors import InputError
from ..probes import PROBES
from ..specs import SPECS
from . import Request, StoreFor

_SOS_UNAME = ("sos_commands/kernel/uname_-a", "uname")


class ReplayCollector:
    live = False

    def __init__(self, path: Path) -> None:
        self.source = path
        self.root, self.layout = _locate(path)
        self.host = self._host_name()
        self._loaded = False

    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: StoreFor) -> list[str]:
        store = store_for(self.host)
        if not self._loaded:
            self._load(store)
            self._loaded = True
        for call in request.probes:
            if call.name not in store.probes:
                store.skip_probe(call.name, "not in the saved evidence", call.args)
        for name in request.specs:
            if name == "uptime" and all(s.wall for s in store.samples):
                continue  # wall-clock timestamps serve instead
            if not any(name in s.texts for s in store.samples):
                store.add_gap(name, "missing", f"{SPECS[name].host_path} is not in the saved evidence")
        return [self.host]

    def close(self) -> None:
        pass

    # --- loading ---------------------------------------------------------------------------
    def _host_name(self) -> str:
        manifest = self.root / "manifest.json"
        if manifest.is_file():
            try:
                return str(json.loads(manifest.read_text())["host"])
            except (ValueError, KeyError):
                pass
        for rel in ("etc/hostname", "hostname", "static/etc/hostname"):
            p = self.root / rel
            if p.is_file() and p.read_text(errors="replace").strip():
                return p.read_text(errors="replace").strip().splitlines()[0]
        name = self.source.name
        return name[: -len("-evidence")] if name.endswith("-evidence") else name

    def _load(self, store: EvidenceStore) -> None:
        if self.layout == "bundle":
            self._load_bundle(store)
        else:
            self._load_snapshot(store)

    def _load_bundle(self, store: EvidenceStore) -> None:
        manifest = _read_manifest(self.root)
        uptimes = {s["index"]: s.get("uptime") for s in manifest.get("samples", [])}
        dirs = sorted(p for p in (self.root / "samples").iterdir() if p.is_dir() and p.name.isdigit())
        for d in dirs:
            wall = _read(d / "timestamp")
            up = uptimes.get(int(d.name))
            sample = store.new_sample(wall.strip() if wall else None, up)
            for spec in SPECS.values():
                if spec.sampled:
                    text = _read(d / spec.relpath)
                    if text is not None:
                        store.add_sample_text(sample, spec.name, spec.relpath, text)
            if sample.uptime is None and "uptime" in sample.texts:
                sample.uptime = _uptime(sample.texts["uptime"])
        self._load_static(store, self.root / "static")
        probes = self.root / "probes"
        for pdir in sorted(probes.iterdir()) if probes.is_dir() else []:
            if pdir.name not in PROBES:
                continue
            for phase in ("before", "after"):
                for spec in SPECS.values():
                    text = _read(pdir / phase / spec.relpath)
                    if text is not None:
                        store.add_probe_text(pdir.name, phase, spec.name, spec.relpath, text)
            action = _read(pdir / "action.json")
            if action:
                store.add_probe_action(pdir.name, "action", json.loads(action))
        for name, info in manifest.get("probes", {}).items():
            if not info.get("ran", True) and name not in store.probes:
                store.skip_probe(name, info.get("reason", "skipped"))
        for gap in manifest.get("gaps", []):
            store.add_gap(gap["item"], gap["status"], gap["reason"])
        store.unreachable = manifest.get("unreachable")

    def _load_static(self, store: EvidenceStore, base: Path) -> None:
        for spec in SPECS.values():
            if not spec.sampled:
                text = _read(base / spec.relpath)
                if text is not None:
                    store.add_static(spec.name, spec.relpath, text)

    def _load_snapshot(self, store: EvidenceStore) -> None:
        sample = store.new_sample(None, None)
        for spec in SPECS.values():
            text = _read(self.root / spec.relpath)
            if text is None and spec.name == "uname":
                text = _read(self.root / _SOS_UNAME[0])
            if text is None:
                continue
            if spec.sampled:
                store.add_sample_text(sample, spec.name, spec.relpath, text)
            else:
                store.add_static(spec.name, spec.relpath, text)
        if "uptime" in sample.texts:
            sample.uptime = _uptime(sample.texts["uptime"])


def _locate(path: Path) -> tuple[Path, str]:
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        raise InputError(f"{path}: replay takes a directory (a bundle, a report directory or a snapshot)")
    for root in (path / "evidence", path):
        if (root / "samples").is_dir():
            return root, "bundle"
    if (path / "proc" / "meminfo").is_file():
        return path, "snapshot"
    raise InputError(f"{path}: not a kleak-runbook bundle (no samples/) nor a snapshot directory (no proc/meminfo)")


def _read_manifest(root: Path) -> dict:  # type: ignore[type-arg]
    for name in ("manifest.json",):
        p = root / name
        if p.is_file():
            try:
                data = json.loads(p.read_text())
                return data if isinstance(data, dict) else {}
            except ValueError as exc:
                raise InputError(f"{p}: not valid JSON ({exc})") from None
    return {}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except PermissionError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None


def _uptime(text: str) -> float | None:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None
