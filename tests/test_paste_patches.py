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
    assert "a kernel patch (signed off, with its diff) that fixes it" in doc["summary"]
    # the same report without the patch's sign-off is a report, not its fix: suspected
    (tmp_path / "b").mkdir()
    unsigned = "\n".join(x for x in text.splitlines() if "Signed-off-by" not in x)
    assert not read_prose(unsigned).patch_fixes_leak
    _, doc = replay(unsigned, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "aa_alloc_pdb"


def test_a_patch_quoted_in_a_reply_and_its_subject_naming_a_module(tmp_path: Path) -> None:
    """tests/cases/ml-stable-20240227-nft-flow-offload-dst-kmemleak: the trace's first caller is
    dst_alloc (core); the subject names nft_flow_offload, a module of the trace; the hunk adds the missing
    dst_release() to flow_offload_fill_route, which the trace does not show. The code the fix changes comes
    first (as for every fix outside the trace), the trace's frame in the module the subject names next."""
    _, doc = replay(_case("ml-stable-20240227-nft-flow-offload-dst-kmemleak"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert [c["name"] for c in doc["culprits"][:2]] == ["flow_offload_fill_route", "nft_flow_route [nft_flow_offload]"]
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


def test_a_patch_with_no_trace_names_the_function_it_fixes(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20121113-bug50181-nr-free-pages-capture: "/proc/slabinfo indicates that it
    isn't a slab leak, and kmemleak won't tell us about alloc_pages() leaks", then the patch to
    capture_free_page() ("fix incorrect NR_FREE_PAGES accounting (appears like memory leak)")."""
    text = _case("ml-linux-mm-20121113-bug50181-nr-free-pages-capture")
    facts = read_prose(text)
    assert facts.outside_slab and not facts.kmemleak and facts.kinds == ("page-allocator",)
    assert facts.patched_functions[0] == "capture_free_page"
    assert "MemTotal" not in facts.fields  # "not go beyond 2.6GB memory usage" is no machine's size
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "page-allocator")
    assert doc["culprits"][0]["name"] == "capture_free_page"


def test_growth_again_after_a_fall_and_a_terminal_wrapped_slabdata(tmp_path: Path) -> None:
    """tests/cases/ml-lkml-20041123-rt-patch-ioperm-bitmap-size-8192-leak: size-8192 at 25926 and 10387
    objects, then grep'd rows ("... : sla                    bdata ...", as pasted) from 240 up to 10308
    at every look, and the patch to exit_thread()."""
    from kleak_runbook.parsers.pasted import split_pasted

    text = _case("ml-lkml-20041123-rt-patch-ioperm-bitmap-size-8192-leak")
    blocks = split_pasted(text).slabinfo
    rows = [line.split()[1] for block in blocks for line in block.splitlines() if line.startswith("size-8192 ")]
    assert rows[:3] == ["25926", "10387", "240"] and rows[-1] == "10308"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "size-8192"
    assert doc["summary"].startswith("cache size-8192 grew from 1.9 MiB to 80.5 MiB across 6 outputs")
    # without the patch: a suspected leak of the same cache, by the same growth
    (tmp_path / "b").mkdir()
    unsigned = "\n".join(x for x in text.splitlines() if "Signed-off-by" not in x)
    _, doc = replay(unsigned, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_a_grep_pattern_is_the_cache_row_it_printed(tmp_path: Path) -> None:
    """tests/cases/ml-lkml-20050125-ip-dst-cache-frag-leak: "grep ip_dst /proc/slabinfo" printing
    "ip_dst_cache 669 885 256 15 1" rows; the cache is ip_dst_cache."""
    _, doc = replay(_case("ml-lkml-20050125-ip-dst-cache-frag-leak"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "ip_dst_cache"


def test_half_of_ram_in_slab_a_kernel_does_not_split(tmp_path: Path) -> None:
    """tests/cases/ml-lkml-20030214-bug356-ext3-htree-slab-197mb: a 2.5-era meminfo, Slab 197068 kB of
    255884 kB and no SReclaimable."""
    text = _case("ml-lkml-20030214-bug356-ext3-htree-slab-197mb")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert "does not split reclaimable slab from the rest" in doc["summary"]
    # a third of RAM in slab is not singled out
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("Slab:           197068 kB", "Slab:            80000 kB"), tmp_path / "b")
    assert doc["verdict"] != "suspected-leak" or "does not split" not in doc["summary"]


def test_android_kernel_log_lines_and_a_request_for_zone_dma(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20160719-order2-gfp-dma-fork-failure: "07-13 08:41:51.341 <4>[309805.658142s]
    [pid:1361,cpu5,sManagerService]" before each line; mode 0x2000d1 carries __GFP_DMA, so the DMA zone's
    470 MB free in 4 and 8 kB blocks is the memory it could use."""
    from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure

    text = _case("ml-linux-mm-20160719-order2-gfp-dma-fork-failure")
    failure = parse_alloc_failure(alloc_failure_report(text) or "")
    assert (failure.order, failure.dma, failure.comm) == (2, True, "sManagerService")
    assert [z.name for z in failure.zones] == ["DMA", "Normal"]
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")


def test_socket_inodes_are_held_by_their_sockets() -> None:
    """sock_inode_cache is accounted as reclaimable, but a socket's inode goes only when the socket is
    closed (tests/cases/ml-lkml-20060330-2.6.16-git-dentry-sock-inode-leak)."""
    from kleak_runbook.derive.metrics import is_reclaimable_name

    assert not is_reclaimable_name("sock_inode_cache")
    assert is_reclaimable_name("proc_inode_cache") and is_reclaimable_name("dentry")


def test_memory_used_by_named_caches() -> None:
    """tests/cases/ml-lkml-20060213-2.4.33-pre1-squid-missing-300mb: "plenty of memory used by
    dentry_cache and inode_cache"; "lost about ~300MB of RAM" is no machine's size."""
    facts = read_prose(_case("ml-lkml-20060213-2.4.33-pre1-squid-missing-300mb"))
    assert facts.caches == ("dentry_cache", "inode_cache")
    assert "MemTotal" not in facts.fields or facts.fields["MemTotal"] != 300 * 1024**2
    # ... but "slab memory used by kernel" names no kind that grows
    assert read_prose("Track slab memory used by kernel.").kinds == ()


def test_the_hunk_that_adds_lines_names_the_fix(tmp_path: Path) -> None:
    """tests/cases/ml-linux-nfs-20240324-nfsd-svc-tcp-sendmsg-page-leak: the patch drops nine lines from
    svc_tcp_recvfrom() and adds the missing one to svc_tcp_sendmsg(); no trace to choose by."""
    text = _case("ml-linux-nfs-20240324-nfsd-svc-tcp-sendmsg-page-leak")
    assert read_prose(text).patched_functions == ("svc_tcp_sendmsg", "svc_tcp_recvfrom")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "page-allocator")
    assert doc["culprits"][0]["name"] == "svc_tcp_sendmsg"


def test_a_meminfo_cut_before_what_programs_hold_rules_nothing_out(tmp_path: Path) -> None:
    """tests/cases/ml-linux-nfs-20241127-bug219535-nfsd-rdma-oom-ram-missing: MemTotal 394 GB, MemFree
    1.5 GB, Cached 7 GB, Slab and VmallocUsed small, and no AnonPages: 98% of memory held by no field
    the evidence gives."""
    text = _case("ml-linux-nfs-20241127-bug219535-nfsd-rdma-oom-ram-missing")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("inconclusive", "unknown")
    assert doc["summary"].startswith("The figures given say 98% of memory is in use")
    # with programs' memory given, the rest is accounted for as it was: no guard
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("MemFree:", "AnonPages:      380000000 kB\nMemFree:", 1), tmp_path / "b")
    assert doc["verdict"] != "inconclusive" or "98% of memory is in use" not in doc["summary"]


def test_tens_of_thousands_of_memory_cgroups_name_the_kind_of_kernel_memory(tmp_path: Path) -> None:
    """tests/cases/ml-cgroups-20190730-debian-931111-dying-memcg-pam-systemd: free's 60G used on an idle
    141G box that the ticket says the kernel holds, and "the number of memory cgroups only dropped
    marginally from 211_620 to 210_396": dying memory cgroups, per-CPU memory as the set labels them.
    (The thread's "the final patchset has been merged" is taken out: a fix confirmed makes it a leak,
    tests/test_paste_fix_told.py.)"""
    text = _case("ml-cgroups-20190730-debian-931111-dying-memcg-pam-systemd")
    text = text.replace("has been merged into 5.3", "is still under review")
    assert read_prose(text).fix_confirmed is None
    assert (read_prose(text).memory_cgroups or (0,))[0] == 210396
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "percpu")
    # a plausible count leaves the kind unknown
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("211_620 to\n210_396", "211 to\n210"), tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "unknown")


def test_per_cpu_memory_out_of_proportion_beside_a_big_reclaimable_slab(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20180918-k8s-cronjobs-dying-memcg-percpu: Percpu 3.2 GiB (10% of a 31 GiB
    box) beside 7.7 GiB of reclaimable slab: the cache explains its own bytes, not the per-CPU memory.
    (Johannes Weiner's "patches lined up in the -mm tree for this exact issue" confirm it: a leak.)"""
    text = _case("ml-linux-mm-20180918-k8s-cronjobs-dying-memcg-percpu")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "percpu")
    # with Percpu at a usual size the reclaimable slab is what the report is about, and it is cache
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("Percpu:          3316224 kB", "Percpu:            33162 kB"), tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
