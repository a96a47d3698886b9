"""Load a saved bundle (``samples/NNN/...``, ``static/...``, ``probes/...``, ``manifest.json``) into a store.

Every file is read through ``replay_fs.Tree`` (strict: no links, no FIFOs or devices, size
limits). What is odd but not dangerous becomes an evidence gap the report shows, never a silent
verdict: a directory under ``samples/`` whose name is not a sample number, a sample holding no
evidence, a timestamp that is not a time. A sample with a bad timestamp is left out when at
least two well-timed samples remain: their times still give a rate (and a leak is only
confirmed from three or more, by decide.finish). With fewer, the samples are judged untimed.
"""

from __future__ import annotations

import math
import re
import stat
from dataclasses import dataclass, field

from kleak_runbook.errors import InputError, ParseError
from kleak_runbook.evidence.replay_fs import MAX_SMALL, Tree
from kleak_runbook.evidence.replay_manifest import Manifest, parse_action, parse_manifest
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.parsers.timestamp import parse_timestamp
from kleak_runbook.probes import PROBES

MIN_TIMED = 2  # a rate needs two times; decide.finish confirms a leak only from three
MAX_SAMPLES = 10_000
_SAMPLE_NAME = re.compile(r"[0-9]{1,6}")
_MAX_TIMESTAMP = 4096


@dataclass
class _Read:
    index: int
    wall: str | None
    uptime: float | None
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # spec -> (relpath, text)
    bad_wall: str | None = None  # why the timestamp is not a time


def read_manifest(tree: Tree) -> Manifest:
    data = tree.read_bytes("manifest.json", MAX_SMALL)
    return Manifest() if data is None else parse_manifest(data, tree.name("manifest.json"))


def uptime_of(text: str | None) -> float | None:
    """``/proc/uptime``'s first number, when it is a plausible one."""
    try:
        value = float((text or "").split()[0])
    except (IndexError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _sample_dirs(tree: Tree, store: EvidenceStore) -> list[tuple[int, str]]:
    dirs: dict[int, str] = {}
    for name, st in tree.entries("samples"):
        rel = f"samples/{name}"
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            tree.read_bytes(rel)  # raises: a link, FIFO, device or socket in a bundle
        if not stat.S_ISDIR(st.st_mode):
            continue
        if not (name.isascii() and _SAMPLE_NAME.fullmatch(name)):
            store.add_gap(
                rel, "error", f"{tree.name(rel)}: not a sample directory (samples are named 000, 001, ...): ignored"
            )
            continue
        index = int(name)
        if index in dirs:
            store.add_gap(rel, "error", f"{tree.name(rel)}: sample {index} again (as {dirs[index]}): ignored")
            continue
        dirs[index] = name
    if len(dirs) > MAX_SAMPLES:
        raise InputError(f"{tree.name('samples')}: more than {MAX_SAMPLES} samples: not a bundle replay can judge")
    return sorted(dirs.items())


def _read_samples(tree: Tree, manifest: Manifest, store: EvidenceStore) -> list[_Read]:
    reads = []
    for index, name in _sample_dirs(tree, store):
        base = f"samples/{name}"
        stamp = tree.read(f"{base}/timestamp", _MAX_TIMESTAMP)
        wall = stamp.strip() if stamp and stamp.strip() else None
        sample = _Read(index, wall, manifest.uptimes.get(index))
        for spec in SPECS.values():
            if spec.sampled:
                text = tree.read(f"{base}/{spec.relpath}", spec.max_bytes)
                if text is not None:
                    sample.texts[spec.name] = (spec.relpath, text)
        if not sample.texts:
            store.add_gap(base, "missing", f"sample {index:03d} holds no evidence ({tree.name(base)})")
            continue
        if sample.uptime is None and "uptime" in sample.texts:
            sample.uptime = uptime_of(sample.texts["uptime"][1])
        if wall is not None:
            try:
                parse_timestamp(wall)
            except ParseError as exc:
                sample.bad_wall = exc.reason
        reads.append(sample)
    return reads


def _time_samples(reads: list[_Read], tree: Tree, store: EvidenceStore) -> list[_Read]:
    """Drop (or untime) samples whose timestamps are bad; the rest keep their times."""
    if len(reads) < 2 or all(r.uptime is not None for r in reads):
        return reads  # the host's uptime clock times every sample: wall clocks are not used
    good = [r for r in reads if r.wall is not None and r.bad_wall is None]
    bad = [r for r in reads if r not in good]
    if not any(r.bad_wall for r in reads) and not good:
        return reads  # no sample has a time: untimed, and the missing uptime is a gap of its own
    if not bad:
        _check_order(good, tree, store)
        return reads
    keep = len(good) >= MIN_TIMED
    for r in bad:
        rel = f"samples/{r.index:03d}/timestamp"
        outcome = (
            f"the sample is left out; the other {len(good)} samples are timed"
            if keep
            else f"{len(good)} of {len(reads)} samples have a good time: the samples are judged untimed"
        )
        why = r.bad_wall or "no timestamp"
        store.add_gap(f"samples/{r.index:03d}", "error", f"{tree.name(rel)}: {why}: {outcome}")
        r.wall = None
    if keep:
        _check_order(good, tree, store)
    return good if keep else reads


def _check_order(reads: list[_Read], tree: Tree, store: EvidenceStore) -> None:
    times = [parse_timestamp(r.wall or "") for r in reads]
    if any(b <= a for a, b in zip(times, times[1:])):
        store.add_gap(
            "samples",
            "error",
            f"{tree.name('samples')}: the sample timestamps do not move forward "
            f"({reads[0].wall} ... {reads[-1].wall}): the samples are judged untimed",
        )


def load_bundle(tree: Tree, manifest: Manifest, store: EvidenceStore) -> None:
    reads = _time_samples(_read_samples(tree, manifest, store), tree, store)
    for r in reads:
        sample = store.new_sample(r.wall, r.uptime)
        sample.index = r.index  # parse errors then name the directory the file is in
        for spec, (relpath, text) in r.texts.items():
            store.add_sample_text(sample, spec, relpath, text)
    load_static(tree, store, "static")
    _load_probes(tree, manifest, store)
    for item, status, reason in manifest.gaps:
        store.add_gap(item, status, reason)
    store.unreachable = manifest.unreachable
    store.interrupted = manifest.interrupted


def load_static(tree: Tree, store: EvidenceStore, base: str) -> None:
    for spec in SPECS.values():
        if not spec.sampled:
            # history (Prometheus, earlier runs) sits beside static/, not in it: the host never had it
            history = spec.origin == "history"
            text = tree.read(spec.relpath if history else f"{base}/{spec.relpath}", spec.max_bytes)
            if text is not None and history:
                store.add_history(spec.name, spec.relpath, text)
            elif text is not None:
                store.add_static(spec.name, spec.relpath, text)


def _load_probes(tree: Tree, manifest: Manifest, store: EvidenceStore) -> None:
    for pname, st in tree.entries("probes"):
        rel = f"probes/{pname}"
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            tree.read_bytes(rel)  # raises: a link, FIFO, device or socket in a bundle
        if pname not in PROBES or not stat.S_ISDIR(st.st_mode):
            continue
        info = manifest.probes.get(pname)
        store.start_probe(pname, info.args if info else ())
        for phase in ("before", "after"):
            for spec in SPECS.values():
                text = tree.read(f"{rel}/{phase}/{spec.relpath}", spec.max_bytes)
                if text is not None:
                    store.add_probe_text(pname, phase, spec.name, spec.relpath, text)
        for path in tree.files(f"{rel}/data"):
            text = tree.read(path, 256 * 1024 * 1024)
            if text is not None:
                inner = path[len(f"{rel}/data/") :]
                store.add_probe_text(pname, "data", inner, inner, text)
        for name, _ in tree.entries(rel):
            if name.endswith(".json") and len(name) > 5:
                data = tree.read_bytes(f"{rel}/{name}", MAX_SMALL)  # raises on links and FIFOs
                if data is not None:
                    store.add_probe_action(pname, name[:-5], parse_action(data, tree.name(f"{rel}/{name}")))
    for pname, info in manifest.probes.items():
        if not info.ran and pname in PROBES and pname not in store.probes:
            store.skip_probe(pname, info.reason or "skipped", info.args)
