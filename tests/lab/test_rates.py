"""Faster leaks get the same kind and culprit (issue: dominance, not rule order).

At 4 and 16 MiB/s a leak drags other growth along: vmalloc's own bookkeeping (``vmap_area`` and
small kmalloc objects) grows unreclaimable slab, and pages leaked fast move memory no field
accounts for while slab and per-CPU lists churn. The verdict must still follow the leak. These
scenarios leak up to 3 x 512 MiB, more than the default 1 GiB VM holds, so they run in a VM of
their own with 4 GiB (booted once for all of them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_scenarios import Run, kleak_run
from vm import LabPool, LabVM

pytestmark = pytest.mark.lab

ROOMY_MIB = 4096
SECONDS = 32  # the module stops after this long at its rate; the run samples inside it


@pytest.fixture
def roomy(lab: LabPool) -> Iterator[LabVM]:
    vm = lab.vm("", memory_mib=ROOMY_MIB)
    try:
        yield vm
    finally:
        if vm.running:
            vm.unload_module()


def fast_run(vm: LabVM, out: Path, kind: str, rate_mib: int, *extra: str, size: int = 4096) -> Run:
    with vm.leaking(kind, rate_kib=rate_mib * 1024, total_kib=rate_mib * 1024 * SECONDS, size=size):
        time.sleep(1)
        return kleak_run(vm, out, *extra)


@pytest.mark.parametrize("rate_mib", [4, 16])
def test_fast_kmalloc_leak(roomy: LabVM, tmp_path: Path, rate_mib: int) -> None:
    run = fast_run(roomy, tmp_path, "kmalloc", rate_mib)
    assert (run.result["verdict"], run.result["kind"]) == ("leak", "slab-unreclaimable"), run
    assert run.culprits("slab-cache")[0]["name"] == "kmalloc-4k", run


@pytest.mark.parametrize("rate_mib", [4, 16])
def test_fast_vmalloc_leak(roomy: LabVM, tmp_path: Path, rate_mib: int) -> None:
    # 64 KiB areas: 4096 vmalloc calls a second under emulation (TCG) starve the guest (seen here:
    # SSH stopped answering); a real host does that easily, the lab cannot
    run = fast_run(roomy, tmp_path, "vmalloc", rate_mib, size=65536)
    assert (run.result["verdict"], run.result["kind"]) == ("leak", "vmalloc"), run
    callers = run.culprits("vmalloc-caller")
    assert callers and "leaky_vmalloc_leak" in callers[0]["name"], run


@pytest.mark.parametrize("rate_mib", [4, 16])
def test_fast_pages_leak(roomy: LabVM, tmp_path: Path, rate_mib: int) -> None:
    run = fast_run(roomy, tmp_path, "pages", rate_mib, "-e", "settle_after_boot_s=0")
    assert (run.result["verdict"], run.result["kind"]) == ("leak", "page-allocator"), run
