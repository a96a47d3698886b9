"""Replay of each input form, the single-snapshot judgement, and the engine's own guards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from kleak_runbook.evidence.store import EvidenceStore


def snapshot_of(samples: Path, scenario: str, index: str, dest: Path) -> Path:
    """One sample of a real bundle, laid out like an unpacked sosreport (host paths at the top)."""
    src = samples / "lab-debian-6.1" / scenario
    shutil.copytree(src / "samples" / index / "proc", dest / "proc")
    shutil.copytree(src / "static" / "proc", dest / "proc", dirs_exist_ok=True)
    shutil.copytree(src / "static" / "etc", dest / "etc")
    return dest


def replay(path: Path, out: Path, *extra: str) -> tuple[int, dict]:
    proc = run_cli("replay", str(path), "--out", str(out), "--format", "json", "-q", *extra)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_single_snapshot_never_says_leak(samples: Path, tmp_path: Path) -> None:
    snap = snapshot_of(samples, "kmalloc-leak", "002", tmp_path / "snap")
    code, doc = replay(snap, tmp_path / "r1")
    # 38 MiB of SUnreclaim in 958 MiB is not abnormal by default: a single snapshot says so
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert [v["step"] for v in doc["path"]] == ["measure", "snapshot_size", "healthy_snapshot"]
    # with a stricter limit, the same snapshot is a suspected (never a confirmed) leak
    code, doc = replay(snap, tmp_path / "r2", "-e", "max_unreclaimable_slab_fraction=0.03")
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-4k"


def test_engine_downgrades_a_one_sample_leak(samples: Path, tmp_path: Path) -> None:
    rb = tmp_path / "eager.yaml"
    rb.write_text(
        "name: eager\nsteps:\n  - id: a\n    collect: [meminfo]\n    rules:\n      - when: true\n"
        "        next: b\n    default: b\n  - id: b\n    verdict: leak\n    kind: page-allocator\n"
    )
    snap = snapshot_of(samples, "healthy", "000", tmp_path / "snap")
    code, doc = replay(snap, tmp_path / "r", "--runbook", str(rb))
    assert (code, doc["verdict"]) == (1, "suspected-leak")
    assert any("fewer than three timed samples" in n for n in doc["notes"])


def test_replay_of_a_report_dir_and_of_its_evidence_dir(samples: Path, tmp_path: Path) -> None:
    _, first = replay(samples / "lab-debian-6.1/vmalloc-leak", tmp_path / "a")
    # a bundle in kleak's own layout, with manifest.json, written by a store
    store = EvidenceStore("copy", tmp_path / "b" / "evidence")
    for i, d in enumerate(sorted((samples / "lab-debian-6.1/vmalloc-leak/samples").iterdir())):
        s = store.new_sample((d / "timestamp").read_text().strip(), None)
        for rel in ("proc/meminfo", "proc/vmallocinfo", "proc/slabinfo"):
            store.add_sample_text(s, rel.split("/")[-1], rel, (d / rel).read_text())
        assert s.index == i
    store.finalize({"runbook": "kernel-memory-leak"})
    for path in (tmp_path / "b", tmp_path / "b" / "evidence"):
        _, doc = replay(path, tmp_path / f"r-{path.name}")
        assert doc["host"] == "copy"
        assert (doc["verdict"], doc["kind"]) == (first["verdict"], first["kind"])
        assert [v["step"] for v in doc["path"]] == [v["step"] for v in first["path"]]


def test_bundle_files_are_written_once(tmp_path: Path) -> None:
    store = EvidenceStore("h", tmp_path / "ev")
    s = store.new_sample("2026-11-24T00:00:00Z", 1.0)
    store.add_sample_text(s, "meminfo", "proc/meminfo", "MemTotal: 1 kB\n")
    with pytest.raises(FileExistsError):
        store._write("samples/000/proc/meminfo", "changed\n")
    journal = (tmp_path / "ev" / "manifest.jsonl").read_text().splitlines()
    assert len(journal) == 2  # timestamp, meminfo: on disk before finalize
    store.finalize({})
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert manifest["samples"][0]["specs"] == ["meminfo"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("replay", "/nonexistent/bundle"), "/nonexistent/bundle: no such file or directory"),
        (("replay", "/etc"), "/etc: not a kleak-runbook bundle"),
        (("replay", "/etc/hostname"), "replay takes a directory"),
        (("run", "--allow-intrusive", "nosuch"), "--allow-intrusive nosuch: unknown"),
        (("run", "-e", "nosuchparam=1"), "-e nosuchparam: not a param"),
        (("run", "-e", "min_growth_bytes=lots"), "expected a int"),
        (("run", "--limit", "web"), "--limit needs -i"),
        (("run", "-i", "/nonexistent/inv"), "no such inventory file"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_per_memcg_kmem_cache_signature_is_reported(samples: Path, tmp_path: Path) -> None:
    """Real lab evidence with the threshold lowered: the finding names the kmem_cache count."""
    bundle = samples / "lab-debian-6.1/kmalloc-leak"
    _, quiet = replay(bundle, tmp_path / "a")
    assert not any("kmem_cache cache holds" in f for f in quiet["findings"])
    _, doc = replay(bundle, tmp_path / "b", "-e", "many_kmem_caches=10")
    assert any("kmem_cache cache holds" in f for f in doc["findings"]), doc["findings"]
