"""Memory that has an owner or an explanation, read from what a ticket holds: BPF maps (bpftool's
listing, an OOM raised while a map was created, words), an allocation that failed while the
system suspended, a VM's memory as its hypervisor counts it, a vmalloc request too large for the
area, ZFS's ARC capped, per-node meminfo cut before Slab on a ticket about huge pages, mail
archives in quoted-printable, Chinese text. Inputs are shortened from the real cases named in
each test (tests/cases); those marked synthetic are edge cases made up to pin a boundary. Each
verdict goes through the real CLI."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure
from kleak_runbook.parsers.node_meminfo import take_node_meminfo
from kleak_runbook.parsers.pasted import _unquoted_printable, split_pasted
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_bpftool_memlock_sums_the_maps_listed() -> None:
    """tests/cases/gh-cilium-37935-bpf-maps-kmem: bpftool map -j | jq, cut after four maps."""
    text = (
        '  {\n    "bytes_memlock": 951429936,\n    "name": "cilium_lb4_reve"\n  },\n'
        '  {\n    "bytes_memlock": 1342182208,\n    "name": "cilium_nodeport"\n  },\n'
    )
    assert read_prose(text).bpf == 951429936 + 1342182208
    assert (
        read_prose("12: hash  name m  flags 0x0\n\tkey 4B  value 8B  max_entries 1024  memlock 86016B\n").bpf == 86016
    )


def test_words_that_put_the_memory_in_bpf_and_words_that_say_bpf_leaks() -> None:
    """tests/cases/gh-netdata-10960 (held) against gh-cilium-47730 (leaked)."""
    held = "The missing part is percpu memory that is actively used by [eBPF and other subsystems](https://x)."
    assert read_prose(held).bpf == 0
    assert read_prose("Host datapath BPF programs leak on every device change.").bpf is None
    assert read_prose("Memory keeps growing.").bpf is None


def test_bpf_maps_listed_are_held_for_a_live_program(tmp_path: Path) -> None:
    code, doc = replay(_case("gh-cilium-37935-bpf-maps-kmem"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "bytes_memlock" in doc["summary"]


def test_an_oom_while_a_bpf_map_is_created_is_the_maps_not_a_page_leak(tmp_path: Path) -> None:
    """tests/cases/netdev-2020-test-maps-oom-2g-vm: 1.7 GiB in no counter of the OOM report, the
    trace in htab_map_alloc under bpf(); the mail archive kept it in quoted-printable."""
    code, doc = replay(_case("netdev-2020-test-maps-oom-2g-vm"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "htab_map_alloc" in doc["summary"]


def test_the_oom_header_keeps_its_trace() -> None:
    """Synthetic: an OOM header and the frames of its trace, up to Mem-Info."""
    report = (
        "test_maps invoked oom-killer: gfp_mask=0x140cc0(GFP_USER|__GFP_COMP), order=0, oom_score_adj=0\n"
        " dump_stack+0x57/0x70\n out_of_memory+0x1ca/0x280\n htab_map_alloc+0x3a/0x480\n"
        " __do_sys_bpf+0x2a4/0x1c30\nMem-Info:\n kmem_cache_alloc+0x1/0x2\n"
    )
    failure = parse_alloc_failure(report)
    assert failure.oom and failure.caller is None
    assert failure.stack == ("dump_stack", "out_of_memory", "htab_map_alloc", "__do_sys_bpf")


def test_quoted_printable_mail_text_is_decoded() -> None:
    """Synthetic, shaped like netdev-2020's: soft line breaks and =3D."""
    text = (
        "[  244.333067] test_maps invoked oom-killer: gfp_mask=3D0x140cc0(GFP_USER|_=\n"
        "_GFP_COMP), order=3D0, oom_score_adj=3D0\n"
        "[  244.335559] 524154 pages RAM\n"
        "[  244.334488] Mem-Info:\n[  244.334488] active_anon:13749 inactive_anon:81 isolated_anon:0=\n"
        "\n"
    )
    blocks = split_pasted(text)
    assert blocks.alloc_failure is not None and "gfp_mask=0x140cc0(GFP_USER|__GFP_COMP)" in blocks.alloc_failure
    # one "=3D" is text, not an encoding: left as it is
    assert _unquoted_printable("x=3D1\na=\nb=\n") == "x=3D1\na=\nb=\n"


def test_a_failure_while_suspending(tmp_path: Path) -> None:
    """tests/cases/gh-rocm-amdgpu-174-suspend-noio-failure: the failure came after "OOM killer
    disabled." and before the tasks restarted."""
    code, doc = replay(_case("gh-rocm-amdgpu-174-suspend-noio-failure"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "suspending" in doc["summary"]


def test_suspend_ends_when_the_tasks_restart() -> None:
    """Synthetic: a suspend that finished before the failure does not explain it."""
    failure = "[ 9.0] kworker: page allocation failure: order:0, mode:0x100c02(GFP_NOIO)\n"
    during = "[ 1.0] PM: suspend entry (deep)\n[ 2.0] OOM killer disabled.\n" + failure
    after = during.replace(failure, "[ 3.0] OOM killer enabled.\n[ 4.0] Restarting tasks ... done.\n" + failure)
    assert parse_alloc_failure(alloc_failure_report(during) or "").suspend
    assert not parse_alloc_failure(alloc_failure_report(after) or "").suspend


def test_a_vms_memory_as_its_hypervisor_counts_it(tmp_path: Path) -> None:
    """tests/cases/gh-ha-core-123831-proxmox-vs-guest and gh-wsl-6981 (Windows under WSL 2)."""
    for name in ("gh-ha-core-123831-proxmox-vs-guest", "gh-wsl-6981-nfs-rsync-vm-memory"):
        (tmp_path / name).mkdir()
        code, doc = replay(_case(name), tmp_path / name)
        assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none"), name
        assert "as its host counts it" in doc["summary"]
    # Windows is a hypervisor's view only where the text is about WSL
    assert read_prose("The VM's memory use in Windows rises.").host_view is None
    assert read_prose("In WSL 2 the memory of the Windows system rises.").host_view


def test_one_vmalloc_request_of_many_mib_is_the_area_too_small(tmp_path: Path) -> None:
    """tests/cases/gh-rtl8852au-14-vmalloc-armv7 and gh-netcat-cpi-10 (the pre-4.12 layout, the
    comm on the page allocation line that follows)."""
    for name in ("gh-rtl8852au-14-vmalloc-armv7", "gh-netcat-cpi-10-vmalloc-32bit"):
        (tmp_path / name).mkdir()
        code, doc = replay(_case(name), tmp_path / name)
        assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none"), name
    old = "vmalloc: allocation failure: 37798136 bytes\ninsmod: page allocation failure: order:0, mode:0xd2\n"
    failure = parse_alloc_failure(old)
    assert (failure.kind, failure.comm, failure.bytes) == ("vmalloc", "insmod", 37798136)


def test_a_small_vmalloc_failure_after_days_is_still_a_vmalloc_matter(tmp_path: Path) -> None:
    """Synthetic: 32 KiB failing after ten days fills no "too small" story."""
    text = "[857968.790997] tracebox: vmalloc: allocation failure: 32768 bytes, mode:0xcc0(GFP_KERNEL)\n"
    _code, doc = replay(text, tmp_path)
    assert doc["kind"] == "vmalloc"


def test_capping_the_arc_said_to_help_is_the_arc(tmp_path: Path) -> None:
    """tests/cases/gh-zfs-1036-rsync-freeze-arc-prose."""
    code, doc = replay(_case("gh-zfs-1036-rsync-freeze-arc-prose"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert not read_prose("I set zfs_arc_max to 4 GB. It has not helped.").arc_capped


def test_per_node_meminfo_is_summed_over_nodes() -> None:
    """Synthetic: two nodes, the second cut before Active."""
    rest, block, nodes = take_node_meminfo(
        "Node 0 MemTotal: 100 kB\nNode 0 MemFree: 10 kB\nNode 0 Active: 5 kB\n"
        "Node 1 MemTotal: 200 kB\nNode 1 MemFree: 20 kB\nsome words\n"
    )
    assert (block, nodes, rest.strip()) == ("MemTotal: 300 kB\nMemFree: 30 kB\n", 2, "some words")


def test_per_node_meminfo_cut_before_slab_on_a_huge_pages_ticket(tmp_path: Path) -> None:
    """tests/cases/gh-spdk-1954-node-meminfo-cut: 28 GB off the LRU lists, HugePages not reached."""
    code, doc = replay(_case("gh-spdk-1954-node-meminfo-cut"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (3, "inconclusive", "unknown")
    assert "HugePages_Total" in doc["summary"]


def test_chinese_text_reads_its_latin_words_and_figures(tmp_path: Path) -> None:
    """tests/cases/gh-tencent-dcache-32-pagecache-prose-zh."""
    facts = read_prose("2周后发现buffer/cache竟然占用了61G。经过清理，发现pagecache占用了绝大部分内存。")
    assert facts.cache
    code, doc = replay(_case("gh-tencent-dcache-32-pagecache-prose-zh"), tmp_path)
    assert (code, doc["verdict"]) == (0, "no-leak")


def test_a_cache_said_to_leak_and_stay_is_suspected_at_any_size(tmp_path: Path) -> None:
    """tests/cases/gh-podman-19161-kmalloc-2k-slabtop: kmalloc-2k at 40 MiB, said to leak and to
    stay after every container is removed; xfs_inode falling after drop_caches clears nothing else."""
    code, doc = replay(_case("gh-podman-19161-kmalloc-2k-slabtop"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-2k"
    assert read_prose("Killing every process doesn't reclaim this slab memory after OOM.").kept
    assert not read_prose("Killing every process reclaims this slab memory after OOM.").kept


def test_a_reclaimable_cache_that_fell_is_not_memory_given_back(tmp_path: Path) -> None:
    """Synthetic: dentry falls between two untimed slabtops; nothing unreclaimable moved."""
    row = "{objs} {objs} 99% 0.19K {slabs} 21 {kb}K dentry\n  4000 4000 100% 8.00K 1000 4 32000K kmalloc-8k\n"
    head = "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
    text = (
        head
        + row.format(objs=2100000, slabs=100000, kb=400000)
        + "\n"
        + head
        + row.format(objs=21000, slabs=1000, kb=4000)
    )
    _code, doc = replay(text, tmp_path)
    assert "fell from" not in " ".join([*doc["findings"], doc["summary"]])


def test_sunreclaim_a_grep_left_out_is_slab_less_sreclaimable(tmp_path: Path) -> None:
    """tests/cases/gh-netdata-3929-slab-67g: free && grep 'Slab\\|SReclaimable' beside an earlier
    example block; the grep printed with free is the one that counts."""
    code, doc = replay(_case("gh-netdata-3929-slab-67g"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert "62.6 GiB" in doc["summary"]


def test_meminfo_cut_before_page_tables_has_no_residue(tmp_path: Path) -> None:
    """tests/cases/gh-htop-447-hugepages-meminfo-cut: cut after SReclaimable on a 593 GB host whose
    huge pages the paste does not reach."""
    code, doc = replay(_case("gh-htop-447-hugepages-meminfo-cut"), tmp_path)
    assert (code, doc["verdict"]) == (0, "no-leak")
    assert doc["kind"] != "page-allocator"


def test_the_driver_lspci_names_is_the_suspect_of_a_kernel_leak_told_in_words(tmp_path: Path) -> None:
    """tests/cases/gh-acooks-tn40xx-driver-35-kernel-dynamic."""
    code, doc = replay(_case("gh-acooks-tn40xx-driver-35-kernel-dynamic"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "unknown")
    assert [(c["type"], c["name"]) for c in doc["culprits"]] == [("module", "tn40xx")]
    two = "Kernel driver in use: igb\nKernel driver in use: tn40xx\n"
    assert read_prose(two).driver is None  # two drivers: neither is singled out


def test_a_cgroups_usage_against_its_processes_rss(tmp_path: Path) -> None:
    """tests/cases/gh-cilium-28772-pod-cgroup-usage."""
    code, doc = replay(_case("gh-cilium-28772-pod-cgroup-usage"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert not read_prose("kubectl top shows 300Mi for the pod.").cgroup_view


def test_a_cache_said_to_be_raised() -> None:
    """tests/cases/gh-jool-229-kmalloc-128-prose."""
    assert read_prose("`kmalloc-128` and `free`'s `buff/cache` raised quickly.").caches == ("kmalloc-128",)


def test_guests_given_more_memory_than_the_host_has(tmp_path: Path) -> None:
    """tests/cases/gh-shakenfist-177-kvm-oom-header: "CPU 0/KVM invoked oom-killer" and the reporter's
    "I have the RAM contention ratio wrong"."""
    code, doc = replay(_case("gh-shakenfist-177-kvm-oom-header"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert not read_prose("I set vm.overcommit_memory=2 on the KVM host.").overcommitted
    assert not read_prose("The memory is not overcommitted on this KVM host.").overcommitted


def test_zfs_on_a_32_bit_kernel_runs_out_of_vmalloc_area(tmp_path: Path) -> None:
    """tests/cases/gh-zfs-1430-vmap-32bit ("vmap allocation ... failed", "ZFS on a 32b system") and
    gh-zfs-3470-arm-vmalloc-prose (armv5tel, told in words)."""
    for name in ("gh-zfs-1430-vmap-32bit", "gh-zfs-3470-arm-vmalloc-prose"):
        (tmp_path / name).mkdir()
        code, doc = replay(_case(name), tmp_path / name)
        assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none"), name
        assert "32-bit kernel" in doc["summary"]
    assert not read_prose("Allocations of 32B objects in ZFS").thirty_two  # a size, not a kernel


def test_a_program_configured_to_take_most_of_ram(tmp_path: Path) -> None:
    """tests/cases/unixse-100873-mysqld-oom-trace: innodb_buffer_pool_size = 48G on a 64GB machine."""
    code, doc = replay(_case("unixse-100873-mysqld-oom-trace"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert read_prose("java -Xmx12g -jar app.jar").configured == (12 * 1024**3, "-Xmx12g")
    assert read_prose("shared_buffers = 128MB").configured is None  # too small to be where the memory went


def test_kmemleak_frames_printed_without_angle_brackets(tmp_path: Path) -> None:
    """tests/cases/gh-fibdrv-3-kmemleak-cdev: "[ffffffff9bbba9ee] cdev_alloc+0x2e/0x70"."""
    _code, doc = replay(_case("gh-fibdrv-3-kmemleak-cdev"), tmp_path)
    assert doc["culprits"][0]["name"] == "cdev_alloc"


def test_memory_growing_on_a_zfs_host_is_the_arc(tmp_path: Path) -> None:
    """tests/cases/gh-zfs-166-read-large-file-prose: reading a 9 GB file, "ram usage shoots up"; the
    hedged "might be the same as bug #149 (about vmalloc)" names no kind."""
    code, doc = replay(_case("gh-zfs-166-read-large-file-prose"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert read_prose("This might be the same as bug #149 (about vmalloc), memory grows.").kinds == ()
    assert read_prose("vmalloc memory grows every hour.").kinds == ("vmalloc",)


def test_growth_that_stays_after_the_load_stopped_is_a_leak(tmp_path: Path) -> None:
    """tests/cases/gh-boundarydevices-57-android-sunreclaim-growth: three grep'd outputs, the last
    "After killing the application", SUnreclaim 27 -> 64 -> 66 MB. Two outputs are not enough."""
    code, doc = replay(_case("gh-boundarydevices-57-android-sunreclaim-growth"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "leak", "slab-unreclaimable")
    two = "Before:\nSUnreclaim: 27016 kB\nSlab: 42092 kB\n\nAfter killing the application:\nSUnreclaim: 65996 kB\nSlab: 80956 kB\n"
    (tmp_path / "two").mkdir()
    _code, doc = replay(two, tmp_path / "two")
    assert doc["verdict"] == "suspected-leak"


def test_the_arc_in_lower_case_where_the_text_names_zfs() -> None:
    """tests/cases/gh-zfs-1623-arc-2x: "the arc ... twice the size (now 8.5G, up from 4.25G)"; the
    Synopsys ARC CPUs (gh-arc-linux-102) are not ZFS's."""
    line = "not only is the arc (as expected) twice the size (now 8.5G, up from 4.25G)"
    assert read_prose("Installed spl and zfs.\n" + line).arc == round(4.25 * 1024**3)
    assert read_prose(line).arc is None


def test_kmemleak_objects_cut_before_their_backtrace_rank_last() -> None:
    """Synthetic: a big object whose record the paste cut before "backtrace:", and a small one with it."""
    from kleak_runbook.parsers.kmemleak import group_by_backtrace, parse_kmemleak

    text = (
        "unreferenced object 0xffff888100000000 (size 4096):\n"
        '  comm "a", pid 1, jiffies 1\n'
        "unreferenced object 0xffff888100001000 (size 64):\n"
        '  comm "b", pid 2, jiffies 2\n'
        "  backtrace:\n"
        "    [<ffffffff81000000>] __kmalloc+0x1/0x2\n"
        "    [<ffffffffc0000000>] ftgmac100_alloc_rx_buf+0x1/0x2 [ftgmac100]\n"
    )
    assert [g.key for g in group_by_backtrace(parse_kmemleak(text))] == [
        "ftgmac100_alloc_rx_buf [ftgmac100]",
        "<no backtrace>",
    ]


def test_a_cache_destroyed_with_objects_left(tmp_path: Path) -> None:
    """tests/cases/gh-smb3-kernel-122-cifs-small-rq-shutdown: "BUG cifs_small_rq (Not tainted):
    Objects remaining on __kmem_cache_shutdown()" when cifs unloaded."""
    code, doc = replay(_case("gh-smb3-kernel-122-cifs-small-rq-shutdown"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "cifs_small_rq"
    line = "kmem_cache_destroy ext4_groupinfo_4k: Slab cache still has objects when called from x+0x1/0x2\n"
    assert read_prose(line).shutdown_cache == "ext4_groupinfo_4k"


def test_bcc_memleak_outstanding_allocations(tmp_path: Path) -> None:
    """tests/cases/gh-lkmpg-279-bcc-memleak-vinput (numbered frames, through a module's unload) and
    gh-bcc-2108-memleak-4m-module (the page allocator's frames: its kind)."""
    from kleak_runbook.parsers.bcc_memleak import memleak_as_kmemleak
    from kleak_runbook.parsers.kmemleak import group_by_backtrace, parse_kmemleak

    (tmp_path / "a").mkdir()
    code, doc = replay(_case("gh-lkmpg-279-bcc-memleak-vinput"), tmp_path / "a")
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "input_allocate_device"
    (tmp_path / "b").mkdir()
    _code, doc = replay(_case("gh-bcc-2108-memleak-4m-module"), tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "page-allocator")
    report = memleak_as_kmemleak(
        "module 'leaky' unloaded\n[11:00:13] Top 10 stacks with outstanding allocations:\n"
        "        4096 bytes in 2 allocations from stack\n"
        "                kmem_cache_alloc+0x15c [kernel]\n"
        "                leaky_init+0x10 [leaky]\n"
    )
    assert report is not None
    groups = group_by_backtrace(parse_kmemleak(report))
    assert [(g.key, g.bytes) for g in groups] == [("leaky_init [leaky]", 4096)]
    assert memleak_as_kmemleak("4096 bytes in 2 allocations from stack\n") is None  # not memleak's report


def test_vmstat_rows_are_samples_of_free_and_the_caches(tmp_path: Path) -> None:
    """tests/cases/gh-ch34x-15-vmstat-before-after: free falls 31 MB as the cache grows 28 MB."""
    from kleak_runbook.parsers.vmstat_rows import take_vmstat

    code, doc = replay(_case("gh-ch34x-15-vmstat-before-after"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    head = " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n"
    row = " 1  0      0   2000    100    300    0    0     5    10  100  200  1  1 98  0  0\n"
    _rest, blocks = take_vmstat("$ vmstat -S M 5\n" + head + row)
    assert blocks == ["MemFree: 2048000 kB\nBuffers: 102400 kB\nCached: 307200 kB\n"]
    assert take_vmstat(row)[1] == []  # a row without its header is not read


def test_a_programs_heap_profile_is_its_memory(tmp_path: Path) -> None:
    """tests/cases/gh-nebula-290-pprof-conntrack: Go's pprof, 1747 MB in nebula's own heap."""
    code, doc = replay(_case("gh-nebula-290-pprof-conntrack"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "nebula" in doc["summary"]


def test_a_cache_given_a_size_of_its_own_comes_first() -> None:
    """tests/cases/gh-zfs-4399-kmalloc-96-512-prose."""
    text = "kmalloc-96 and kmalloc-512 slabs grow.\n\nThe kmalloc-512 slab has some 1.3GB in it alone, and the kmalloc-96 slab is also large and growing."
    assert read_prose(text).caches[0] == "kmalloc-512"


def test_a_programs_own_memory_said_to_grow(tmp_path: Path) -> None:
    """tests/cases/gh-systemd-33744-journal-shr-top: "the RAM memory consumption of the application
    increases up to 250MB within 20 minutes"."""
    code, doc = replay(_case("gh-systemd-33744-journal-shr-top"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert not read_prose("The memory usage of the kernel increases.").program_grows


def test_a_cache_guessed_in_a_question_names_nothing(tmp_path: Path) -> None:
    """tests/cases/gh-libfuse-976-passthrough-rss: "the process 'passthrough' occupies approximately
    13.3G"; "Which structure occupies so much memory space, is it dentry&inode?" is a guess."""
    code, doc = replay(_case("gh-libfuse-976-passthrough-rss"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert read_prose("Which structure occupies 2GB, is it dentry?").caches == ()
    assert read_prose("Why does dentry keep growing to 2GB?").caches == ("dentry",)


def test_pmap_rows_are_one_programs_memory(tmp_path: Path) -> None:
    """tests/cases/gh-systemd-11502-journald-pmap: journald's [ anon ] heap levelling off."""
    code, doc = replay(_case("gh-systemd-11502-journald-pmap"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert not read_prose("ffffffffc0a5e000   16384 bpf_jit_alloc_exec+0x1/0x2\n" * 3).pmap


def test_free_in_another_language() -> None:
    """Synthetic, from procps-ng's own translations (po/zh_CN.po, po/de.po): free under LANG=zh_CN
    and de_DE prints the same figures under translated labels."""
    from kleak_runbook.parsers.free import parse_free

    zh = (
        "              总计        已用        空闲        共享    缓冲/缓存      可用\n"
        "内存：     7.6Gi       6.2Gi       0.1Gi        21Mi       1.3Gi       0.6Gi\n"
        "交换：        0B          0B          0B\n"
    )
    de = (
        "              gesamt       benutzt     frei      gemns.  Puffer/Cache verfügbar\n"
        "Speicher:    16282644     5413284     8214588      356076     2654772    10184852\n"
    )
    for text, total in ((zh, round(7.6 * 1024**3)), (de, 16282644 * 1024)):
        blocks = split_pasted(text)
        assert [spec for spec, _ in blocks.order] == ["meminfo"]
        assert abs(parse_free(blocks.meminfo[0])["MemTotal"] - total) < 1024**2
    assert not split_pasted("Hoch: super\n").order  # a label without figures is a word


def test_bcc_memleak_alone_in_a_question_claims_nothing(tmp_path: Path) -> None:
    """tests/cases/gh-bcc-5268-memleak-static-kylin: memleak's outstanding allocations over a few
    seconds, in a question about the tool itself; "memleak" there is the tool's name."""
    from kleak_runbook.parsers.bcc_memleak import memleak_as_kmemleak

    code, doc = replay(_case("gh-bcc-5268-memleak-static-kylin"), tmp_path)
    assert (code, doc["verdict"]) == (3, "inconclusive")
    report = "Top 5 stacks with outstanding allocations:\n4096 bytes in 1 allocations from stack\n  kmalloc+0x1 [kernel]\n  foo+0x2 [kernel]\n"
    assert memleak_as_kmemleak(report) is None
    assert memleak_as_kmemleak("The driver leaks.\n" + report) is not None
    assert not read_prose("I ran ./memleak -a on the host.").kernel_leak


def test_proc_vmstat_counters_are_meminfo_fields(tmp_path: Path) -> None:
    """tests/cases/gh-haos-2591-proc-vmstat-zram: a Raspberry Pi's /proc/vmstat, programs' anonymous
    memory and a little slab."""
    from kleak_runbook.parsers.proc_vmstat import take_proc_vmstat

    code, doc = replay(_case("gh-haos-2591-proc-vmstat-zram"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    text = "".join(f"{k} {v}\n" for k, v in [("nr_free_pages", 10), ("nr_active_anon", 1), ("nr_inactive_anon", 2),
        ("nr_active_file", 3), ("nr_inactive_file", 4), ("nr_slab_reclaimable", 5), ("nr_slab_unreclaimable", 6),
        ("nr_kernel_stack", 7), ("pgpgin", 8)])  # fmt: skip
    rest, block = take_proc_vmstat("words\n" + text)
    assert rest.strip() == "words"
    assert block is not None and "SUnreclaim: 24 kB\n" in block and "KernelStack: 7 kB\n" in block
    assert take_proc_vmstat("nr_free_pages 10\npgpgin 8\n") == ("nr_free_pages 10\npgpgin 8\n", None)
