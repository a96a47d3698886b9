"""Replay: the same runbook on saved evidence instead of a live host.

Accepts a report directory or bundle written by ``run`` (``evidence/manifest.json``), a bundle
from another tool in the same layout without a manifest (``samples/NNN/...``, ``static/...``,
``probes/...``), or one snapshot directory that mirrors host paths
(``proc/meminfo``, ``proc/slabinfo``, ...), such as an unpacked sosreport; a tarball of any of
these (a sosreport ``.tar.xz``), extracted safely into a temporary directory; or a text file with
outputs pasted from a ticket (``parsers.pasted``).
"""

from __future__ import annotations

import json
import lzma
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from kleak_runbook.errors import InputError
from kleak_runbook.evidence.collector import Request, StoreFor
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.parsers.pasted import SLABTOP_NOTE, PastedBlocks, split_pasted
from kleak_runbook.probes import PROBES

_SOS_SYSCTL = "sos_commands/kernel/sysctl_-a"
_HOSTNAME_FILES = ("hostname", "etc/hostname", "sos_commands/host/hostname", "sos_commands/general/hostname")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz")
# A sosreport holds far more than kleak reads (logs, configs): only these are extracted.
_TAR_WANTED = frozenset(
    {s.relpath for s in SPECS.values()}
    | {rel for s in SPECS.values() for rel, _ in s.sources}
    | {_SOS_SYSCTL, *_HOSTNAME_FILES, "manifest.json"}
)
_TAR_WANTED_DIRS = ("samples/", "static/", "probes/", "evidence/")
_MAX_TAR_MEMBER = 256 * 1024 * 1024
_MAX_TAR_TOTAL = 1024 * 1024 * 1024
_MAX_TEXT = 64 * 1024 * 1024
_ACCEPTS = (
    "replay takes a directory (a bundle, a report directory, a snapshot or an unpacked sosreport), "
    "a sosreport tarball, or a text file with /proc outputs pasted in it"
)


class ReplayCollector:
    live = False

    def __init__(self, path: Path) -> None:
        self.source = path
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._pasted: PastedBlocks | None = None
        # ``root`` is what the report names as the evidence; ``_dir`` is where files are read
        self.root, self._dir, self.layout = self._open(path)
        self.host = self._host_name()
        self._loaded = False

    def _open(self, path: Path) -> tuple[Path, Path, str]:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            root, layout = _locate(path)
            return root, root, layout
        if path.name.endswith(_TAR_SUFFIXES) or _is_tarfile(path):
            self._tmp = tempfile.TemporaryDirectory(prefix="kleak-replay-")
            try:
                base = _extract(path, Path(self._tmp.name))
                root, layout = _locate(base, label=path)
            except BaseException:
                self.close()
                raise
            return path, root, layout
        self._pasted = _read_pasted(path)
        return path, path, "pasted"

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
                where = "the pasted text" if self.layout == "pasted" else "the saved evidence"
                store.add_gap(name, "missing", f"{SPECS[name].host_path} is not in {where}")
        return [self.host]

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- loading ---------------------------------------------------------------------------
    def _host_name(self) -> str:
        if self._pasted is not None:
            return _uname_host(self._pasted.uname) or self.source.stem
        manifest = self._dir / "manifest.json"
        if manifest.is_file():
            try:
                return str(json.loads(manifest.read_text())["host"])
            except (ValueError, KeyError):
                pass
        for rel in (*_HOSTNAME_FILES, "static/etc/hostname"):
            text = _read(self._dir / rel, self._dir)
            if text and text.strip():
                return text.strip().splitlines()[0].strip()
        for rel in ("commands/uname", *(rel for rel, _ in SPECS["uname"].sources)):
            host = _uname_host(_read(self._dir / rel, self._dir))
            if host:
                return host
        name = self.source.name
        for suffix in ("-evidence", *_TAR_SUFFIXES):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name

    def _load(self, store: EvidenceStore) -> None:
        if self.layout == "bundle":
            self._load_bundle(store)
        elif self.layout == "pasted":
            self._load_pasted(store)
        else:
            self._load_snapshot(store)

    def _load_bundle(self, store: EvidenceStore) -> None:
        manifest = _read_manifest(self._dir)
        uptimes = {s["index"]: s.get("uptime") for s in manifest.get("samples", [])}
        dirs = sorted(p for p in (self._dir / "samples").iterdir() if p.is_dir() and p.name.isdigit())
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
        self._load_static(store, self._dir / "static")
        probes = self._dir / "probes"
        infos = manifest.get("probes", {})
        for pdir in sorted(probes.iterdir()) if probes.is_dir() else []:
            if pdir.name not in PROBES:
                continue
            store.start_probe(pdir.name, tuple(infos.get(pdir.name, {}).get("args", ())))
            for phase in ("before", "after"):
                for spec in SPECS.values():
                    text = _read(pdir / phase / spec.relpath)
                    if text is not None:
                        store.add_probe_text(pdir.name, phase, spec.name, spec.relpath, text)
            data = pdir / "data"
            for f in sorted(data.rglob("*")) if data.is_dir() else []:
                text = _read(f) if f.is_file() and not f.is_symlink() else None
                if text is not None:
                    rel = str(f.relative_to(data))
                    store.add_probe_text(pdir.name, "data", rel, rel, text)
            for f in sorted(pdir.glob("*.json")):
                try:
                    store.add_probe_action(pdir.name, f.stem, json.loads(f.read_text()))
                except ValueError:
                    raise InputError(f"{f}: not valid JSON") from None
        for name, info in infos.items():
            if not info.get("ran", True) and name not in store.probes:
                store.skip_probe(name, info.get("reason", "skipped"), tuple(info.get("args", ())))
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
        root = self._dir
        sample = store.new_sample(None, None)
        for spec in SPECS.values():
            text, form = _read(root / spec.relpath, root), ""
            for rel, alt in spec.sources:  # a sosreport's own place for it
                if text is not None:
                    break
                text, form = _read(root / rel, root), alt
                if text is not None and alt == "slabtop":
                    store.add_gap(
                        spec.name,
                        "approximate",
                        f"{spec.host_path} is not in the sosreport; read {rel}, {SLABTOP_NOTE}",
                    )
            if text is None and spec.relpath.startswith("proc/sys/"):  # sos keeps sysctls in `sysctl -a`
                key = spec.relpath[len("proc/sys/") :].replace("/", ".")
                text = _sysctl(_read(root / _SOS_SYSCTL, root), key)
            if text is None:
                continue
            if spec.sampled:
                store.add_sample_text(sample, spec.name, spec.relpath, text, form)
            else:
                store.add_static(spec.name, spec.relpath, text, form)
        if "uptime" in sample.texts:
            sample.uptime = _uptime(sample.texts["uptime"])

    def _load_pasted(self, store: EvidenceStore) -> None:
        """Each block becomes evidence; a kind pasted again starts the next sample (no timestamps)."""
        blocks = self._pasted
        assert blocks is not None
        sample = None
        for spec, index in blocks.order:
            if sample is None or spec in sample.texts:
                sample = store.new_sample(None, None)
            store.add_sample_text(
                sample, spec, SPECS[spec].relpath, getattr(blocks, spec)[index], blocks.form(spec, index)
            )
        for spec in ("version", "uname", "os_release"):
            text = getattr(blocks, spec)
            if text:
                store.add_static(spec, SPECS[spec].relpath, text)
        for note in blocks.notes:
            item, _, reason = note.partition(": ")
            status = "approximate" if "round" in reason else "truncated"
            store.add_gap(item, status, f"pasted text: {reason}")


def _locate(path: Path, label: Path | None = None) -> tuple[Path, str]:
    for root in (path / "evidence", path):
        if (root / "samples").is_dir():
            return root, "bundle"
    if (path / "proc" / "meminfo").is_file() or (path / "sos_commands").is_dir():
        return path, "snapshot"
    if label is not None:
        raise InputError(f"{label}: the archive holds no kleak-runbook bundle (samples/) nor a sosreport or snapshot")
    raise InputError(f"{path}: not a kleak-runbook bundle (no samples/) nor a snapshot directory (no proc/meminfo)")


def _is_tarfile(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _extract(tarball: Path, dest: Path) -> Path:
    """Extract what replay reads from ``tarball`` into ``dest``; return the directory holding it."""
    tops: set[str] = set()
    total = 0

    def keep(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        nonlocal total
        parts = [p for p in PurePosixPath(member.name.lstrip("/")).parts if p != "."]
        rel, inner = "/".join(parts), "/".join(parts[1:])
        if not any(r in _TAR_WANTED or r.startswith(_TAR_WANTED_DIRS) for r in (rel, inner)):
            return None
        if member.isfile():
            total += member.size
            if member.size > _MAX_TAR_MEMBER or total > _MAX_TAR_TOTAL:
                raise InputError(f"{tarball}: {member.name} makes the evidence larger than replay reads")
        elif not (member.isdir() or member.issym()):
            return None  # hard links, devices, fifos
        try:
            kept = tarfile.data_filter(member, path)  # no absolute paths, no "..", no links out
        except tarfile.FilterError:
            return None
        tops.add(parts[0])
        return kept

    try:
        with tarfile.open(tarball, "r:*") as tar:
            tar.extractall(dest, filter=keep)
    except (tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError) as exc:
        raise InputError(f"{tarball}: not a readable tar archive ({exc})") from None
    # sosreport-<host>-<date>/proc/meminfo, or proc/meminfo at the top of the archive
    if len(tops) == 1 and not any((dest / n).exists() for n in ("proc", "samples", "evidence", "sos_commands")):
        return dest / next(iter(tops))
    return dest


def _read_pasted(path: Path) -> PastedBlocks:
    try:
        if path.stat().st_size > _MAX_TEXT:
            raise InputError(f"{path}: larger than {_MAX_TEXT // 1048576} MiB: not a pasted text")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    if not data.strip():
        raise InputError(f"{path}: empty file; {_ACCEPTS}")
    text = data.decode("utf-8", errors="replace")
    if b"\0" in data or text.count("\ufffd") > len(text) // 100:
        raise InputError(f"{path}: a binary file, not text; {_ACCEPTS}")
    blocks = split_pasted(text.lstrip("\ufeff"))
    if not blocks:
        raise InputError(
            f"{path}: no meminfo, slabinfo, slabtop, vmallocinfo, dentry-state, uname or os-release output "
            f"found in the text; {_ACCEPTS}"
        )
    return blocks


def _uname_host(text: str | None) -> str | None:
    """The node name of ``uname -a`` output ("Linux <host> <release> ...")."""
    tokens = (text or "").split()
    return tokens[1] if len(tokens) >= 3 and tokens[0] == "Linux" and tokens[1] != "version" else None


def _sysctl(text: str | None, key: str) -> str | None:
    for line in (text or "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip() + "\n"
    return None


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


def _read(path: Path, inside: Path | None = None) -> str | None:
    """The file's text, or None when absent; with ``inside``, also None when a symlink leads out of it
    (an unpacked sosreport linking to /proc would otherwise read this machine, not the reported one)."""
    if inside is not None and not path.resolve().is_relative_to(inside.resolve()):
        return None
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
