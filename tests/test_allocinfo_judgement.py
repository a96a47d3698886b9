"""Memory allocation profiling (/proc/allocinfo, an OOM report's list) in judgements: the code that holds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SAMPLES, run_cli

CASES = Path(__file__).resolve().parent / "cases"


def _replay(source: Path, out: Path) -> dict:
    proc = run_cli("replay", str(source), "--out", str(out), "-q")
    assert proc.returncode in (0, 1, 3), proc.stderr
    return json.loads((out / "result.json").read_text())


def test_a_driver_tag_that_grew_between_two_pasted_outputs(tmp_path: Path) -> None:
    # intel-wired-lan, 2025: two `sort -g /proc/allocinfo | tail -n 15` outputs, at boot and 4 days
    # later, quoted-printable mail with the driver's rows wrapped before "[ice] func:"
    doc = _replay(CASES / "lkml-intel-wired-lan-ice-allocinfo" / "input.txt", tmp_path / "r")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "page-allocator")
    first, module = doc["culprits"][:2]
    assert first["name"] == "ice_alloc_mapped_page [ice]" and first["type"] == "backtrace"
    assert first["location"] == "drivers/net/ethernet/intel/ice/ice_txrx.c:681" and first["source"] == "allocinfo"
    assert first["bytes"] == 2544877568
    assert (module["type"], module["name"]) == ("module", "ice")
    # the page cache's and programs' tags grew too (ractl_alloc_folio, folio_prealloc): not culprits
    assert not any("folio" in c["name"] for c in doc["culprits"])
    assert "1.0 GiB to 2.4 GiB" in doc["summary"]
    advice = doc["advice"]
    assert any("get_maintainer.pl -f drivers/net/ethernet/intel/ice/ice_txrx.c" in w for w in advice["who"])
    assert any(
        "/proc/allocinfo | grep -F 'drivers/net/ethernet/intel/ice/ice_txrx.c'" in c["command"]
        for c in advice["commands"]
    )


def test_an_oom_reports_allocation_list_against_its_slab_rows(tmp_path: Path) -> None:
    # bcachefs#1158: the OOM report's "Memory allocations:" top list (3.5 GiB in the kernel's own
    # code) and the start of its unreclaimable slab table (bio-560 at 50 MiB standing out of it);
    # no Mem-Info, so no memory size
    doc = _replay(CASES / "gh-bcachefs-1158-memprofile" / "input.txt", tmp_path / "r")
    assert (doc["verdict"], doc["kind"]) == ("inconclusive", "unknown")  # not a slab leak of bio-560, nor no-leak
    assert doc["summary"].startswith("Allocation profiling counts 3.5 GiB held by the kernel's own code")
    assert [c["name"] for c in doc["largest"][:2]] == ["mempool_kvmalloc", "__btree_node_data_alloc"]


def test_timed_samples_name_the_tag_that_grows_at_the_leaks_rate(tmp_path: Path) -> None:
    # the real lab bundle of a page leak (leaky module, 1.1 MiB/s in no meminfo field), with an
    # allocinfo added to each sample: SYNTHETIC edge case (the lab's 6.1 kernel has no allocation
    # profiling), the documentation's example tags held steady and the leaky module's tag growing
    # by what MemFree lost between the samples
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLES / "lab" / "pages-leak", bundle)
    doc_example = [
        x for x in (SAMPLES / "public" / "allocinfo-doc-numfmt.txt").read_text().splitlines() if "/proc/" not in x
    ]
    for i, pages in enumerate((10240, 11264, 12288)):
        rows = [*doc_example, f"{pages * 4096:>12} {pages:>8} /build/leaky.c:95 [leaky] func:leaky_pages_leak"]
        (bundle / "samples" / f"{i:03d}" / "proc" / "allocinfo").write_text("\n".join(rows) + "\n")
    doc = _replay(bundle, tmp_path / "r")
    assert (doc["verdict"], doc["kind"]) == ("leak", "page-allocator")
    tag = doc["culprits"][0]
    assert (tag["name"], tag["source"], tag["location"]) == (
        "leaky_pages_leak [leaky]",
        "allocinfo",
        "/build/leaky.c:95",
    )
    assert abs(tag["growth_bytes_per_s"] - 1024 * 4096 / 4.0) < 0.01 * 1048576  # 1024 pages every 4 s
    assert ("module", "leaky") in [(c["type"], c["name"]) for c in doc["culprits"]]
    # the tags that did not move are no culprits, however big (page_ext's 122 MiB)
    assert not any(c["name"] == "alloc_page_ext" for c in doc["culprits"])
