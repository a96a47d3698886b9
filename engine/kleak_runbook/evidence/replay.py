"""Replay: the same runbook on saved evidence instead of a live host.

Accepts a report directory or bundle written by ``run`` (``evidence/manifest.json``), a bundle
from another tool in the same layout without a manifest (``samples/NNN/...``, ``static/...``,
``probes/...``), or one snapshot directory that mirrors host paths
(``proc/meminfo``, ``proc/slabinfo``, ...), such as an unpacked sosreport; a tarball of any of
these (a sosreport ``.tar.xz``), extracted safely into a temporary directory; or a text file with
outputs pasted from a ticket (``parsers.pasted``).
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from kleak_runbook.errors import InputError
from kleak_runbook.evidence.collector import Request, StoreFor
from kleak_runbook.evidence.replay_bundle import load_bundle, read_manifest, uptime_of
from kleak_runbook.evidence.replay_fs import Tree, kind_of, read_file_bytes
from kleak_runbook.evidence.replay_manifest import Manifest
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import EvidenceStore

if TYPE_CHECKING:  # pasted text is read by parsers.pasted, imported when there is some
    from kleak_runbook.parsers.pasted import PastedBlocks

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
        self._tree: Tree | None = None
        self._manifest = Manifest()
        # ``root`` is what the report names as the evidence; ``_dir`` is where files are read
        try:
            self.root, self._dir, self.layout = self._open(path)
            self.host = self._host_name()
        except BaseException:
            self.close()  # the extraction of a tarball is not left behind
            raise
        self._loaded = False

    def _open(self, path: Path) -> tuple[Path, Path, str]:
        try:
            st = os.stat(path)  # the path the user gave may be a link; what is inside may not
        except FileNotFoundError:
            raise InputError(f"{path}: no such file or directory") from None
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            self._tree = _locate(path, str(path))
            self._manifest = read_manifest(self._tree) if self.layout_of(self._tree) == "bundle" else Manifest()
            return self._tree.root, self._tree.root, self.layout_of(self._tree)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: {kind_of(st.st_mode)}, not a file or directory; {_ACCEPTS}")
        if path.name.endswith(_TAR_SUFFIXES) or _is_tarfile(path):
            self._tmp = tempfile.TemporaryDirectory(prefix="kleak-replay-")
            try:
                base = _extract(path, Path(self._tmp.name))
                self._tree = _locate(base, str(path), archive=True, top=Path(self._tmp.name))
                layout = self.layout_of(self._tree)
                self._manifest = read_manifest(self._tree) if layout == "bundle" else Manifest()
            except BaseException:
                self.close()
                raise
            return path, self._tree.root, layout
        self._pasted = _read_pasted(path)
        return path, path, "pasted"

    @staticmethod
    def layout_of(tree: Tree) -> str:
        return "bundle" if tree.strict else "snapshot"

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
            if not any(name in s.texts for s in store.samples) and not SPECS[name].optional:
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
            host = _uname_host(self._pasted.uname)  # "unknown" when only an OOM report named the kernel
            return host if host and host != "unknown" else self.source.stem
        tree = self._tree
        assert tree is not None
        if self._manifest.host:
            return self._manifest.host
        for rel in (*_HOSTNAME_FILES, "static/etc/hostname"):
            text = tree.read(rel, 4096) if tree.is_file(rel) else None
            if text and text.strip():
                return text.strip().splitlines()[0].strip()[:255]
        for rel in ("commands/uname", *(rel for rel, _ in SPECS["uname"].sources)):
            host = _uname_host(tree.read(rel, 64 * 1024) if tree.is_file(rel) else None)
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
        assert self._tree is not None
        load_bundle(self._tree, self._manifest, store)

    def _load_snapshot(self, store: EvidenceStore) -> None:
        tree = self._tree
        assert tree is not None
        sample = store.new_sample(None, None)
        for spec in SPECS.values():
            text, form = tree.read(spec.relpath, spec.max_bytes), ""
            for rel, alt in spec.sources:  # a sosreport's own place for it
                if text is not None:
                    break
                text, form = tree.read(rel, spec.max_bytes), alt
                if text is not None and alt == "slabtop":
                    store.add_gap(
                        spec.name,
                        "approximate",
                        f"{spec.host_path} is not in the sosreport; read {rel}, {_slabtop_note()}",
                    )
            if text is None and spec.relpath.startswith("proc/sys/"):  # sos keeps sysctls in `sysctl -a`
                key = spec.relpath[len("proc/sys/") :].replace("/", ".")
                text = _sysctl(tree.read(_SOS_SYSCTL), key)
            if text is None:
                continue
            if spec.sampled:
                store.add_sample_text(sample, spec.name, spec.relpath, text, form)
            else:
                store.add_static(spec.name, spec.relpath, text, form)
        if "uptime" in sample.texts:
            sample.uptime = uptime_of(sample.texts["uptime"])

    def _load_pasted(self, store: EvidenceStore) -> None:
        """Each block becomes evidence; a kind pasted again starts the next sample, at the time the
        paste shows for it (``uptime`` or ``date`` lines), if it shows one."""
        blocks = self._pasted
        assert blocks is not None
        sample = None
        for at, (spec, index) in enumerate(blocks.order):
            if sample is None or spec in sample.texts:
                uptime, wall = blocks.times[at] if at < len(blocks.times) else (None, None)
                sample = store.new_sample(wall, uptime)
            store.add_sample_text(
                sample, spec, SPECS[spec].relpath, getattr(blocks, spec)[index], blocks.form(spec, index)
            )
        if blocks.kmemleak:  # a kmemleak report in a ticket is that probe's output
            where = "sys/kernel/debug/kmemleak"
            store.start_probe("kmemleak", ())
            store.add_probe_text("kmemleak", "data", where, where, blocks.kmemleak)
        for spec in ("version", "uname", "os_release", "cgroups", "oom_report", "oom_memcg", "words", "alloc_failure"):
            text = getattr(blocks, spec)
            if text:
                store.add_static(spec, SPECS[spec].relpath, text)
        for note in blocks.notes:
            item, _, reason = note.partition(": ")
            status = "approximate" if "round" in reason else "truncated"
            store.add_gap(item, status, f"pasted text: {reason}")


def _locate(path: Path, label: str, archive: bool = False, top: Path | None = None) -> Tree:
    """The tree to read: a bundle (``samples/``, in ``evidence/`` of a report directory, strict) or a
    snapshot (``proc/meminfo`` or ``sos_commands/``, links inside it followed)."""
    outer = Tree(path, label, strict=True, prefix=_prefix(path, top), archive=archive)
    for sub in ("evidence/", ""):
        if sub and outer.stat("evidence") is None:
            continue
        if outer.stat(sub + "samples") is not None:  # refuses a link at evidence/ or samples/
            if not outer.is_dir(sub + "samples"):
                raise InputError(f"{outer.name(sub + 'samples')}: not a directory")
            return Tree(
                path / sub if sub else path, label, strict=True, prefix=_prefix(path, top) + sub, archive=archive
            )
    snapshot = Tree(path, label, strict=False, prefix=_prefix(path, top), archive=archive)
    if snapshot.is_file("proc/meminfo") or snapshot.is_dir("sos_commands"):
        return snapshot
    if archive:
        raise InputError(f"{label}: the archive holds no kleak-runbook bundle (samples/) nor a sosreport or snapshot")
    raise InputError(f"{path}: not a kleak-runbook bundle (no samples/) nor a snapshot directory (no proc/meminfo)")


def _prefix(path: Path, top: Path | None) -> str:
    """Where ``path`` sits inside an extracted archive (``sosreport-vm/``), for messages."""
    if top is None or path == top:
        return ""
    return path.relative_to(top).as_posix() + "/"


def _is_tarfile(path: Path) -> bool:
    """Whether a regular file is a (compressed) tar archive, by its first bytes: ``tarfile.is_tarfile``
    alone would read a large file of zeros to its end, and says yes to it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    compressed = head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))
    if not compressed and head[257:262] != b"ustar":
        return False
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, tarfile.TarError):
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
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(f"{tarball}: not a readable tar archive ({reason})") from None
    # sosreport-<host>-<date>/proc/meminfo, or proc/meminfo at the top of the archive
    if len(tops) == 1 and not any((dest / n).exists() for n in ("proc", "samples", "evidence", "sos_commands")):
        return dest / next(iter(tops))
    return dest


def _slabtop_note() -> str:
    from kleak_runbook.parsers.pasted import SLABTOP_NOTE

    return SLABTOP_NOTE


def _read_pasted(path: Path) -> PastedBlocks:
    from kleak_runbook.parsers.pasted import split_pasted

    data = read_file_bytes(path, _MAX_TEXT)
    if not data.strip():
        raise InputError(f"{path}: empty file; {_ACCEPTS}")
    try:
        text, binary = data.decode("utf-8"), False  # (replacement characters a mail client left in it too)
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        binary = text.count("\ufffd") > len(text) // 100
        if binary and _legacy_text(data):
            # a mail's iso-8859-1 body, a terminal's 8-bit log: text all the same
            text, binary = data.decode("latin-1"), False
    if binary or b"\0" in data:
        raise InputError(f"{path}: a binary file, not text; {_ACCEPTS}")
    blocks = split_pasted(text.lstrip("\ufeff"))
    if not blocks:
        raise InputError(
            f"{path}: no meminfo, slabinfo, slabtop, vmallocinfo, dentry-state, uname or os-release output "
            f"found in the text; {_ACCEPTS}"
        )
    return blocks


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _legacy_text(data: bytes) -> bool:
    """Text in an 8-bit encoding, not UTF-8 (latin-1): lines, and hardly a control byte among them."""
    return b"\n" in data and len(_CONTROL.findall(data)) <= len(data) // 1000


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
