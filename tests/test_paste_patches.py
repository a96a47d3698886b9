"""A kernel patch that fixes a leak its message shows (a kmemleak report): a leak its fix confirms,
named by the code the patch names; kmalloc beyond the largest cache comes from the page allocator;
a memcg cache SLUB found objects in at shutdown. Inputs are the real cases named (tests/cases,
batch 31: mailing-list mails); each verdict goes through the real CLI."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_the_patch_that_fixes_a_kmemleak_report_is_a_leak_named_by_its_hunks(tmp_path: Path) -> None:
    """tests/cases/ml-stable-20240122-apparmor-unpack-profile-kmemleak: "apparmor: Fix memory leak in
    unpack_profile()", the trace aa_alloc_pdb <- unpack_pdb <- unpack_profile, and its diff."""
    text = _case("ml-stable-20240122-apparmor-unpack-profile-kmemleak")
    facts = read_prose(text)
    assert facts.patch_fixes_leak and "unpack_profile" in facts.patched
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "unpack_profile"  # the function the patch fixes, not aa_alloc_pdb
    assert "the kernel patch that fixes it" in doc["summary"]
    # the same report without the patch's sign-off is a report, not its fix: suspected
    (tmp_path / "b").mkdir()
    unsigned = "\n".join(x for x in text.splitlines() if "Signed-off-by" not in x)
    assert not read_prose(unsigned).patch_fixes_leak
    _, doc = replay(unsigned, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "aa_alloc_pdb"


def test_a_patch_quoted_in_a_reply_and_its_subject_naming_a_module(tmp_path: Path) -> None:
    """tests/cases/ml-stable-20240227-nft-flow-offload-dst-kmemleak: the trace's first caller is
    dst_alloc (core); the subject names nft_flow_offload, a module of the trace."""
    _, doc = replay(_case("ml-stable-20240227-nft-flow-offload-dst-kmemleak"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "nft_flow_route [nft_flow_offload]"
    # ... and a reply quoting the patch ("> " before every line) is the same patch
    quoted = read_prose(_case("ml-20251128-intel-pmc-ipc-stmmac-acpi-buffer-kmemleak"))
    assert quoted.patch_fixes_leak and "intel_pmc_ipc" in quoted.patched


def test_kmalloc_beyond_the_largest_cache_is_the_page_allocators(tmp_path: Path) -> None:
    """tests/cases/ml-stable-20220516-sfc-ef10-mtd-probe-kmemleak: 63168 bytes through
    kmalloc_order_trace, which takes pages straight from the page allocator."""
    text = _case("ml-stable-20220516-sfc-ef10-mtd-probe-kmemleak")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "page-allocator")
    assert doc["culprits"][0]["name"] == "efx_ef10_mtd_probe [sfc]"
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("kmalloc_order_trace", "kmalloc_trace"), tmp_path / "b")
    assert doc["kind"] == "slab-unreclaimable"


def test_a_patch_to_a_leak_tracer_is_no_kernel_fix() -> None:
    """tests/cases/gh-bcc-2997-memleak-xhci-misjudged: a diff of bcc's memleak.py, no sign-off."""
    assert not read_prose(_case("gh-bcc-2997-memleak-xhci-misjudged")).patch_fixes_leak


def test_a_memcg_caches_objects_remaining_at_shutdown(tmp_path: Path) -> None:
    """tests/cases/gh-moby-29879-kmalloc-256-objects-remaining-lvremove: "BUG kmalloc-256(0:3546...)
    (Tainted: ...): Objects remaining in kmalloc-256(0:...", cut before "on __kmem_cache_shutdown()"."""
    text = _case("gh-moby-29879-kmalloc-256-objects-remaining-lvremove")
    assert read_prose(text).shutdown_cache == "kmalloc-256"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_the_crashkernel_reservation(tmp_path: Path) -> None:
    """tests/cases/gh-demobuilder-58-crashkernel-reserve ("RAM is reserved for the kdump kernel", the boot's
    "Reserving 161MB of memory at 704MB for crashkernel") and gh-azurelinux-5460 (prose only)."""
    text = _case("gh-demobuilder-58-crashkernel-reserve")
    assert "Reserving 161MB of memory at 704MB for crashkernel" in (read_prose(text).ram_withheld or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert read_prose(_case("gh-azurelinux-5460-crashkernel-reserved-unused")).ram_withheld
    # a command line with crashkernel= in a leak ticket says nothing of where memory went
    assert (
        read_prose("[    0.000000] Reserving 161MB of memory at 704MB for crashkernel\nSUnreclaim grows.").ram_withheld
        is None
    )
    assert read_prose("Is memory reserved for kdump?").ram_withheld is None


def test_a_named_program_in_backticks_using_gibs(tmp_path: Path) -> None:
    """tests/cases/gh-cilium-37629-agent-rss-infiniband: "I see `cilium-agent` using 236GB of memory"."""
    text = _case("gh-cilium-37629-agent-rss-infiniband")
    assert read_prose(text).process == "cilium-agent using 236GB of memory"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
