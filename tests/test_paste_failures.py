"""Failures and figures that do not mean a leak, or cannot rule one out, read from real tickets (batch 24
of tests/cases): a CMA area too small for a GPU's buffers, a vmalloc of 0 bytes, a VM's memory as
Windows counts it, a cache grepped out of /proc/slabinfo, and figures that split nothing of the
memory in use. Inputs are shortened from the cases named; each verdict goes through the real CLI."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


CMA = """cma_alloc issue mainline 4.11 rc2
```
[   81.757756] cma: cma_alloc: alloc failed, req-size: 2040 pages, ret: -12
[   81.757790] vc4-drm soc:gpu: failed to allocate buffer with size 8355840
[   81.757988] [drm:vc4_bo_create] *ERROR* Failed to allocate from CMA:
[   81.757995] [drm] num bos allocated: 64
[   81.758000] [drm] size bos allocated: 62328kb
```
"""


def test_a_cma_area_too_small_for_the_gpu_is_no_leak(tmp_path: Path) -> None:
    """tests/cases/gh-anholt-linux-94-cma-vc4, shortened: vc4's buffers fill the CMA region."""
    failure = parse_alloc_failure(alloc_failure_report(CMA) or "")
    assert (failure.kind, failure.bytes, failure.caller) == ("cma", 2040 * 4096, "vc4-drm")
    code, doc = replay(CMA, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert doc["summary"].startswith("the contiguous memory area (CMA) had no free run of 8.0 MiB for vc4-drm")


def test_the_area_named_by_newer_kernels() -> None:
    # synthetic edge case: 5.x and later put the area's name before "alloc failed"
    text = "[ 5.1] cma: cma_alloc: linux,cma: alloc failed, req-size: 1024 pages, ret: -12\n"
    assert parse_alloc_failure(alloc_failure_report(text) or "").bytes == 4 * 1024**2


def test_a_vmalloc_of_zero_bytes_says_nothing_of_memory(tmp_path: Path) -> None:
    """tests/cases/gh-raspberrypi-linux-95-vmalloc-0-bytes: the module loader's empty section; the
    title line quotes the warning after prose, which is no task name."""
    text = _case("gh-raspberrypi-linux-95-vmalloc-0-bytes")
    failure = parse_alloc_failure(alloc_failure_report(text) or "")
    assert (failure.kind, failure.bytes, failure.comm) == ("vmalloc", 0, "modprobe")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # the same warning for 12 KiB is still a vmalloc failure to explain
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("failure: 0 bytes", "failure: 12288 bytes"), tmp_path / "b")
    assert doc["verdict"] != "no-leak"


def test_vmmem_as_windows_counts_it_is_the_vms_memory(tmp_path: Path) -> None:
    """tests/cases/gh-wsl-5654-vmmem-cache: "Vmmem.exe takes way too much RAM" under WSL 2."""
    text = _case("gh-wsl-5654-vmmem-cache")
    assert read_prose(text).host_view == "Vmmem.exe takes way too much RAM (Memory Leak)"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")


def test_the_cache_grepped_out_of_slabinfo_is_the_one_watched() -> None:
    """tests/cases/centos-list-2009-02-rt-cache-ip-dst: "rt_cache leak" in words, ip_dst_cache grepped."""
    facts = read_prose(_case("centos-list-2009-02-rt-cache-ip-dst"))
    assert facts.caches[0] == "ip_dst_cache" and "rt_cache" not in facts.caches
    # without a word of growth the grep names nothing (synthetic edge case)
    assert read_prose("I ran grep kmalloc-64 /proc/slabinfo to see it.\n").caches == ()


def test_figures_that_split_nothing_of_the_memory_in_use_rule_nothing_out(tmp_path: Path) -> None:
    """tests/cases/gh-monkeycode-1031-firecracker-unaccounted (Chinese): MemTotal 8 GB and MemFree
    0.22 GB stated; nothing says what holds the rest."""
    _, doc = replay(_case("gh-monkeycode-1031-firecracker-unaccounted"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("inconclusive", "unknown")
    assert doc["summary"].startswith("The figures given say 97% of memory is in use and nothing of what holds it")
