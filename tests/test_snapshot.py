"""One snapshot judged from what a ticket holds: the expert rules of derive/snapshot.py, each on a
real public case of tests/cases (sources in cases.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_cli

CASES = Path(__file__).parent / "cases"


def judge(case: str, tmp_path: Path) -> dict[str, Any]:
    proc = run_cli("replay", str(CASES / case / "input.txt"), "--out", str(tmp_path / "r"), "--format", "json", "-q")
    assert proc.returncode in (0, 1, 3), proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_per_memcg_kmem_cache_copies_in_slabtop(tmp_path: Path) -> None:
    # slabtop only: 1,159,809 kmem_cache objects (one per cache per memory cgroup, before 5.9)
    doc = judge("gh-kube-aws-954-kmem-cache", tmp_path)
    assert (doc["verdict"], doc["kind"], doc["culprits"][0]["name"]) == (
        "suspected-leak",
        "slab-unreclaimable",
        "kmem_cache",
    )
    assert "per-memcg cache copies" in doc["path"][1]["finding"]


def test_mostly_unused_dentries_are_cache_at_any_size(tmp_path: Path) -> None:
    # dentry-state (2,357,899 of 2,368,980 unused) and one slabinfo row: 440 MiB of dentries
    doc = judge("gh-opencloudtouch-387-negative-dentries", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
    assert [v["step"] for v in doc["path"]][-1] == "reclaimable_large"


def test_a_meminfo_dump_cut_short_does_not_hide_the_others(tmp_path: Path) -> None:
    # several meminfo dumps with `date` lines; the last one is cut off mid-line in the paste
    doc = judge("gh-openwrt-19544-meminfo-unaccounted", tmp_path)
    assert doc["memory"] is not None and doc["kernel_memory"]
    assert any("cut short" in n for n in doc["notes"])


def test_smem_beside_meminfo_splits_out_what_no_field_holds() -> None:
    """smem's kernel dynamic memory less what meminfo's kernel fields explain is memory in no field
    (tests/cases/gh-gnif-vendor-reset-28-unaccounted: 9.7 GiB noncache, 1.2 GiB slab)."""
    from kleak_runbook.derive import snapshot
    from kleak_runbook.derive.metrics import Metrics
    from kleak_runbook.derive.series import Series

    def metrics(**fields: int) -> Metrics:
        m = Metrics(times=None, sample_count=1, window_s=0.0, mem_total=fields["MemTotal"], page_size=4096)
        m.meminfo = {k: Series.of([v], None) for k, v in fields.items()}
        return m

    GiB = 1024**3
    both = metrics(MemTotal=32 * GiB, KernelDynamicNoncache=int(9.7 * GiB), UserspaceUsed=2 * GiB, Slab=GiB)
    top = snapshot.judge(both, {}).top
    assert top is not None and top.kind == "page-allocator" and top.bytes == int(9.7 * GiB) - GiB
    alone = metrics(MemTotal=32 * GiB, KernelDynamicNoncache=int(9.7 * GiB), UserspaceUsed=2 * GiB)
    top = snapshot.judge(alone, {}).top
    assert top is not None and top.kind == "kernel"  # without meminfo's fields, no kind can be told
