"""What a mailing-list thread's words and pastes tell beyond a trace: a slabtop a mail client
double-spaced (and whose long cache name it wrapped), page tables that leak (the page allocator's
pages), failed allocations from the contiguous memory area told in words. Inputs are the real cases
named (tests/cases); each verdict goes through the real CLI. Short texts are synthetic edge cases,
labelled as such."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_a_double_spaced_slabtop_is_one_table(tmp_path: Path) -> None:
    """ml-iommu-20200423-iommu-iova-slab-80m-objects: slabtop mailed with a blank line between rows, and
    "selinux_inode_security" wrapped onto the line after its figures: one table, whose 80 million
    iommu_iova objects (5 GB of 5.7 GB of slab) are what the thread is about."""
    text = _case("ml-iommu-20200423-iommu-iova-slab-80m-objects")
    blocks = split_pasted(text)
    assert len(blocks.slabinfo) == 1
    slab = blocks.slabinfo[0]
    assert "iommu_iova" in slab and "selinux_inode_security" in slab and "Acpi-Namespace" in slab
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], doc["culprits"][0]["name"]) == (
        "suspected-leak",
        "slab-unreclaimable",
        "iommu_iova",
    )
    # synthetic: two slabtop screens, each with its header, stay two outputs
    row = " 1000   1000 100%    0.06K     16       64        64K kmalloc-64\n"
    header = "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
    twice = split_pasted(f"{header}{row}\n{row.replace('kmalloc-64', 'dentry')}\n\nthen\n\n{header}{row}")
    assert len(twice.slabinfo) == 2


def test_page_tables_that_leak_are_the_page_allocators(tmp_path: Path) -> None:
    """ml-iommu-20220118-amd-v1-free-pgtable-leak: "iommu/amd: bug report: page table memory leak", 1.5 GB per
    guest run, and "Thanks! That fixes the leak." after a change to v1_free_pgtable()."""
    text = _case("ml-iommu-20220118-amd-v1-free-pgtable-leak")
    assert "page-allocator" in read_prose(text).kinds
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "page-allocator")
    # synthetic: meminfo's PageTables field is a figure, not a kind told
    assert read_prose("PageTables: 1024 kB grows").kinds == ()


def test_failed_cma_allocations_told_in_words(tmp_path: Path) -> None:
    """ml-iwl-20190812-x710-24-ports-cma-alloc-failed: "dmesg is full of cma_alloc errors. I increased CMA
    space to 32MB, but still no luck", 24 i40e ports: the area set aside at boot is too small for their
    DMA rings; nothing leaks."""
    text = _case("ml-iwl-20190812-x710-24-ports-cma-alloc-failed")
    assert read_prose(text).cma_failed == "CMA alloc failed with 6 4-port X710 QAD4 NICs"  # the title
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "contiguous memory area" in doc["summary"]
    # synthetic: a CMA allocation that did not fail, and a leak claimed beside the failures
    assert read_prose("The CMA allocation did not fail this time.").cma_failed is None
    (tmp_path / "b").mkdir()
    _, doc = replay("The vcsm-cma driver leaks memory: after a day cma_alloc fails.\n", tmp_path / "b")
    assert doc["verdict"] != "no-leak"


def test_kasans_shadow_is_memory_set_aside_at_boot(tmp_path: Path) -> None:
    """ml-kasan-dev-20240208-kasan-memtotal-one-eighth-hidden: a KASAN kernel "hides 1/8th of the memory from
    `/proc/meminfo` MemTotal" and fleet scripts report missing RAM: KASAN's shadow, never lost."""
    text = _case("ml-kasan-dev-20240208-kasan-memtotal-one-eighth-hidden")
    assert "KASAN's shadow memory" in (read_prose(text).ram_withheld or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # synthetic: KASAN named beside a figure that is not hidden from MemTotal
    assert read_prose("With KASAN enabled the kernel uses 1/8 more slab.").ram_withheld is None


def test_a_pool_vmalloced_once_at_boot(tmp_path: Path) -> None:
    """ml-linux-acpi-20240327-ghes-estatus-pool-vmalloc-900mb: `cat /proc/vmallocinfo | grep ghes` mailed with
    each row's "pages=... vmalloc N0=..." wrapped onto the next line: two areas of ghes_estatus_pool_init, 940
    MB in one, sized at boot at 64 KiB per error source (14,350 of them). One output, not two; and beside a
    MemTotal it is out of proportion to (synthetic: the MemTotal line is added), it is a pool set up once at
    boot, not a leak, because a leak piles up many areas."""
    text = _case("ml-linux-acpi-20240327-ghes-estatus-pool-vmalloc-900mb")
    blocks = split_pasted(text)
    assert len(blocks.vmallocinfo) == 1 and "pages=229585" in blocks.vmallocinfo[0]
    _, doc = replay(text, tmp_path)
    assert doc["verdict"] == "no-leak"
    (tmp_path / "b").mkdir()
    _, doc = replay("MemTotal:        4000000 kB\n\n" + text, tmp_path / "b")
    assert (doc["verdict"], doc["kind"], doc["largest"][0]["name"]) == ("no-leak", "vmalloc", "ghes_estatus_pool_init")
    assert "a pool set up once at boot" in doc["summary"]
    # synthetic: the same bytes in a thousand areas of a driver's own function are a suspected leak
    rows = "".join(
        f"0xffffb3eb{i:08x}-0xffffb3eb{i + 1:08x} 942080 foo_rx_alloc+0x3e/0xa0 pages=229 vmalloc N0=229\n"
        for i in range(1000)
    )
    (tmp_path / "c").mkdir()
    _, doc = replay("MemTotal:        4000000 kB\n\n" + rows, tmp_path / "c")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "vmalloc")


def test_a_high_order_allocation_failing_told_in_words(tmp_path: Path) -> None:
    """ml-linux-mm-20120909-iwl3945-order5-firmware-alloc-fragmentation: "iwl3945: order 5 allocation during
    ifconfig up", "SIOCSIFFLAGS: Cannot allocate memory" until drop_caches: 128 KiB in one piece missing
    while memory was there (Mel Gorman's compaction answer), no leak."""
    text = _case("ml-linux-mm-20120909-iwl3945-order5-firmware-alloc-fragmentation")
    assert read_prose(text).high_order_failed == "order 5 allocation"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "fragmentation" in doc["summary"]
    # synthetic: an order-0 request, or a high order with no failure told, says nothing of the kind
    assert read_prose("An order 0 allocation failed.").high_order_failed is None
    assert read_prose("The driver makes an order 5 allocation at probe.").high_order_failed is None
