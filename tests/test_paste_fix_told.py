"""A leak's fix confirmed in words (its reporter tested it, its maintainer says it is fixed) confirms
the leak the evidence shows; a thread that puts the memory free calls used in dentry and inode
caches the kernel reclaims when it needs them is reclaimable slab, not a leak. Inputs are the real
cases named (tests/cases: mailing-list threads); each verdict goes through the real CLI. The
one-sentence texts are synthetic edge cases, labelled as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_paste_judgement import replay

from kleak_runbook.parsers.kmemleak import first_site, parse_frame
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_a_fix_its_reporter_tested_confirms_the_leak(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20121019-secpath-cache-ipsec-leak: slabtop's secpath_cache, then
    "Problem is indeed gone in v3.7-rc2 with the proposed generic patch"."""
    text = _case("ml-linux-mm-20121019-secpath-cache-ipsec-leak")
    facts = read_prose(text)
    assert facts.fix_confirmed is not None and "gone in v3.7-rc2 with the proposed generic patch" in facts.fix_confirmed
    assert facts.leak_fixed and not facts.patch_fixes_leak
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "secpath_cache"
    assert "its fix was confirmed" in doc["summary"] and "signed off" not in doc["summary"]
    # the same thread without the confirmation is the report alone: suspected
    (tmp_path / "b").mkdir()
    untested = text.replace("Problem is indeed gone", "Problem is still there")
    assert read_prose(untested).fix_confirmed is None
    _, doc = replay(untested, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_a_maintainer_saying_it_is_fixed_in_a_release(tmp_path: Path) -> None:
    """tests/cases/ml-kvm-20200611-bug208081-async-pf-dummy-node-leak: Paolo Bonzini, "It will be
    fixed in 5.8, but it's a host-side bug"."""
    text = _case("ml-kvm-20200611-bug208081-async-pf-dummy-node-leak")
    assert "It will be fixed in 5.8" in (read_prose(text).fix_confirmed or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")


@pytest.mark.parametrize(
    ("sentence", "confirmed"),
    [  # synthetic sentences, each beside "memory leak" so the text speaks of a leak
        ("I can confirm your patch fixes the problem I was describing.", True),
        ("The patch below fixes this.", True),
        ("You need this patch to fix a bio leak.", True),
        ("Well, yes, 2.6.16-rc1 has this fixed.", True),
        ("The final patchset has been merged into 5.3.", True),
        ("There are patches lined up in the -mm tree for this exact issue.", True),
        ("Yup - also right. Thanks for fixing this. - Merged", True),
        ("The patch has not been merged yet.", False),
        ("I applied the patch and I can confirm this issue has been resolved.", True),
        ("This change fixed the OOM issue I was seeing on my MX4200.", True),
        ("I cannot confirm the issue has been resolved.", False),
        ("I fixed the leaks, but forgot to submit the patch.", True),
        ("A fix has been found.", True),
        ("Thanks Larry for doing QA and fixing the problem!", True),
        ("Thanks for looking, but fixing the problem needs more work.", False),
        ("Let me know if the patch fixes the problem.", False),  # a fix not yet tried
        ("Similar one was fixed in -rc4.", False),  # another leak's fix
        ("A few kernel memory leaks have recently been fixed by #988.", False),  # others
        ("The patch does not fix the problem.", False),
        ("It might be something fixed with the work Maciej did.", False),  # hedged
        ("Did the patch fix the problem?", False),  # asked
        ("It will be fixed once someone has time.", False),  # no release, commit or patch
    ],
)
def test_what_a_confirmed_fix_is(sentence: str, confirmed: bool) -> None:
    facts = read_prose(f"There is a memory leak in the kernel.\n\n{sentence}\n")
    assert (facts.fix_confirmed is not None) is confirmed, facts.fix_confirmed


def test_a_fix_confirms_a_kernel_leak_only(tmp_path: Path) -> None:
    """A tested fix confirms the kernel leak the evidence or the reporter shows, of the kind shown
    (none here: unknown); beside memory no one says the kernel holds, it confirms nothing (synthetic)."""
    text = "Kernel memory leak on 5.3: free memory drops every day.\n\nI can confirm your patch fixes the leak.\n"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "unknown")
    (tmp_path / "b").mkdir()
    text = "Free memory drops every day on 5.3.\n\nI can confirm your patch fixes the problem.\n"
    _, doc = replay(text, tmp_path / "b")
    assert doc["verdict"] != "leak"


def test_dentry_and_inode_caches_reclaimed_when_needed(tmp_path: Path) -> None:
    """tests/cases/ml-lkml-20060213-2.4.33-pre1-squid-missing-300mb: free -m with 945 MB used after
    buffers/cache, and Willy Tarreau: "plenty of memory used by dentry_cache and inode_cache and that's
    expected. This memory will be reclaimed when needed"."""
    text = _case("ml-lkml-20060213-2.4.33-pre1-squid-missing-300mb")
    assert read_prose(text).reclaim_told == "will be reclaimed when needed"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
    assert "dentry and inode caches" in doc["summary"]
    # the reclaim said in the next sentence to the caches it is about, and not said at all
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("will be reclaimed when needed", "will stay"), tmp_path / "b")
    assert doc["kind"] != "slab-reclaimable"


def test_reclaim_told_of_the_caches_and_slab_that_free_counts_as_used(tmp_path: Path) -> None:
    """tests/cases/ml-lkml-20020721-du-used-grows-dcache (Rik van Riel: "the memory is most likely
    being used in the dentry_cache, the inode_cache and in buffer heads. This memory will be
    reclaimed when the system needs it.") and blog-achillessatan-free-slab ("another kind of cache,
    Slab, which free command count as used memory")."""
    _, doc = replay(_case("ml-lkml-20020721-du-used-grows-dcache"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
    assert read_prose(_case("blog-achillessatan-free-slab")).reclaim_told is not None
    # figures that split slab decide over the words (synthetic meminfo beside the same sentence)
    (tmp_path / "b").mkdir()
    text = (
        "MemTotal: 8000000 kB\nMemFree: 7000000 kB\nMemAvailable: 7500000 kB\nCached: 300000 kB\n"
        "Slab: 200000 kB\nSReclaimable: 150000 kB\nSUnreclaim: 50000 kB\n\n"
        "The memory is in the dentry_cache. This memory will be reclaimed when needed.\n"
    )
    _, doc = replay(text, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")


def test_reclaimable_slab_filling_a_32_bit_kernels_low_memory(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20070915-ntfs-i386-12g-buffer-head-lowmem-oom: an i386 box with 12 GiB
    OOM-panics copying from NTFS; LowFree 35 MiB of LowTotal 794 MiB, SReclaimable 752292 kB (the
    buffer_heads of page cache in high memory). Peter Zijlstra: the 32-bit layout, not a leak."""
    text = _case("ml-linux-mm-20070915-ntfs-i386-12g-buffer-head-lowmem-oom")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
    assert [step["step"] for step in doc["path"]][-1] == "lowmem_reclaimable"
    # the same low memory filled by unreclaimable slab is the 32-bit layout, of no kind
    (tmp_path / "b").mkdir()
    swapped = text.replace("SReclaimable:   752292 kB", "SReclaimable:    14280 kB").replace(
        "SUnreclaim:      14280 kB", "SUnreclaim:     752292 kB"
    )
    assert swapped != text
    _, doc = replay(swapped, tmp_path / "b")
    assert [step["step"] for step in doc["path"]][-1] != "lowmem_reclaimable"
    assert doc["kind"] != "slab-reclaimable"


def test_a_kernel_leak_of_no_known_kind_gone_with_the_patch(tmp_path: Path) -> None:
    """tests/cases/gh-tempesta-691-kernel-patch-leak-gone: "the massive memory leak where the system
    lost several gigabytes of RAM after each 10min test is now gone. Which means that the kernel patch
    was in the right direction." No figure tells the kind: a leak of unknown kind."""
    text = _case("gh-tempesta-691-kernel-patch-leak-gone")
    assert "is now gone" in (read_prose(text).fix_confirmed or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "unknown")
    # gone with nothing changed beside it (a reboot, say) confirms no fix (synthetic)
    facts = read_prose("There was a kernel memory leak.\n\nAfter the reboot the leak is now gone.\n")
    assert facts.fix_confirmed is None


def test_a_merged_fix_for_dying_memory_cgroups_and_a_reviewed_diff(tmp_path: Path) -> None:
    """tests/cases/ml-cgroups-20190730-debian-931111-dying-memcg-pam-systemd: 210396 memory cgroups and
    Roman Gushchin, quoted: "the final patchset has been merged into 5.3" (wrapped and quoted by the
    mail); gh-px-fuse-177-pxd-fuse-request-leak: a signed-off PR "fix fuse 'req' leak" whose diff is
    shown only as a review's excerpt of C lines added and removed."""
    text = _case("ml-cgroups-20190730-debian-931111-dying-memcg-pam-systemd")
    assert "has been merged into 5.3" in (read_prose(text).fix_confirmed or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "percpu")
    text = _case("gh-px-fuse-177-pxd-fuse-request-leak")
    assert read_prose(text).patch_fixes_leak
    (tmp_path / "b").mkdir()
    _, doc = replay(text, tmp_path / "b")
    assert (doc["verdict"], doc["kind"], doc["culprits"][0]["name"]) == (
        "leak",
        "slab-unreclaimable",
        "pxd_fuse_request",
    )
    # without the C lines removed, the sign-off and the "+" lines are no diff
    unchanged = "\n".join(x for x in text.splitlines() if not x.startswith("-"))
    assert not read_prose(unchanged).patch_fixes_leak


def test_a_network_buffer_is_held_by_the_driver_that_asked_for_it(tmp_path: Path) -> None:
    """tests/cases/ml-linux-wireless-20210326-rtw88-pci-rx-skb-kmemleak: kmemleak's skb buffers through
    kmalloc_reserve <- __alloc_skb <- __netdev_alloc_skb <- rtw_pci_rx_napi.constprop.0 [rtw88_pci], and
    Larry Finger: "A fix has been found" and "I fixed the leaks". The culprit is the driver's function,
    named as its source names it (a compiler's clone suffix is the same code)."""
    text = _case("ml-linux-wireless-20210326-rtw88-pci-rx-skb-kmemleak")
    frames = [parse_frame(x) for x in text.splitlines() if "+0x" in x]
    site = first_site([f for f in frames if f is not None][:6])
    assert site is not None and site.key == "rtw_pci_rx_napi [rtw88_pci]"
    assert read_prose(text).fix_confirmed is not None
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "rtw_pci_rx_napi [rtw88_pci]"
    # a frame that is not a clone keeps its whole name
    frame = parse_frame("[<0000000071d79fc5>] rtw_pci_napi_poll+0x47/0xf0 [rtw88_pci]")
    assert frame is not None and frame.key == "rtw_pci_napi_poll [rtw88_pci]"
    frame = parse_frame("[<00000000>] foo_part2.isra.0.cold+0x47/0xf0")
    assert frame is not None and frame.key == "foo_part2"


def test_a_kernel_leak_fixed_whatever_the_figures_after_the_fix_show(tmp_path: Path) -> None:
    """tests/cases/gh-ollama-7403-kernel-611-pinned-pages: the 6.11 pinned-pages leak, and "I applied the
    patch and built a custom kernel today to test it and I can confirm this issue has been resolved",
    with the healthy free -h of the patched kernel after it. The figures are the fixed kernel's."""
    text = _case("gh-ollama-7403-kernel-611-pinned-pages")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "unknown")
    # the same figures and no fix: what they show decides
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("I can confirm this issue has been resolved", "it still happens"), tmp_path / "b")
    assert doc["verdict"] == "no-leak"
    # tensorflow#3106's reporter: "Awesome, glad the driver update fixed the problem!", as said, no post header
    said = read_prose(_case("gh-tensorflow-3106-nvidia-361-kernel-leak")).fix_confirmed
    assert said == "Awesome, glad the driver update fixed the problem!"


def test_a_fix_outside_the_trace_names_the_code_it_changes(tmp_path: Path) -> None:
    """tests/cases/ml-cgroups-20240227-cpuset-exclusive-cpumask-kmemleak: kmemleak's objects from
    alloc_cpumask_var_node <- cpuset_write_resmask, decoded by decode_stacktrace.sh ("func (file:line)",
    no offsets) and pasted without their indentation, then Waiman Long's "cgroup/cpuset: Fix a memory leak
    in update_exclusive_cpumask()": the object is allocated in one place and leaked in another, so the
    code the fix changes comes first and the allocation site after it."""
    text = _case("ml-cgroups-20240227-cpuset-exclusive-cpumask-kmemleak")
    frame = parse_frame("alloc_cpumask_var_node (/home/marvin/linux/lib/cpumask.c:71)")
    assert frame is not None and frame.key == "alloc_cpumask_var_node"
    assert parse_frame("Hello (this is prose)") is None
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert [c["name"] for c in doc["culprits"][:2]] == ["update_exclusive_cpumask", "alloc_cpumask_var_node"]
    # tests/cases/ml-linux-rdma-20200305-rdmavt-kernel-cq-kqueue-vfree-kmemleak: vmalloc'd in
    # rvt_create_cq, never vfree'd in rvt_destroy_cq, which the fix changes
    (tmp_path / "b").mkdir()
    _, doc = replay(_case("ml-linux-rdma-20200305-rdmavt-kernel-cq-kqueue-vfree-kmemleak"), tmp_path / "b")
    assert (doc["verdict"], doc["kind"], doc["culprits"][0]["name"]) == ("leak", "vmalloc", "rvt_destroy_cq")
    # a function the subject names comes before other hunks' (synthetic patch)
    patch = (
        "Subject: [PATCH] foo: Fix a memory leak in foo_bar()\n\nSigned-off-by: A B <a@b.org>\n---\n"
        "diff --git a/x.c b/x.c\n@@ -1,3 +1,5 @@ static int foo_other(void)\n+\tkfree(p);\n"
        "@@ -9,3 +11,4 @@ static int foo_bar(void)\n+\tkfree(q);\n"
    )
    assert read_prose(patch).patched_functions == ("foo_bar", "foo_other")
