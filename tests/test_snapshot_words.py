"""What a ticket's words and a failed allocation add to the single-snapshot judge
(derive/snapshot.py ``_from_words`` and ``_alloc_failure``), called directly: the spec registry
does not carry a ticket's words or a warn_alloc warning into a replay yet. Inputs are the figures
and sentences of real cases in tests/cases (named in each test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kleak_runbook.derive.metrics import CallerStat, Metrics
from kleak_runbook.derive.series import Series
from kleak_runbook.derive.snapshot import judge
from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"
PARAMS = yaml.safe_load((Path(__file__).parents[1] / "runbooks" / "kernel-memory-leak.yaml").read_text())["params"]
GiB = 1024**3


def _metrics(**kw: object) -> Metrics:
    m = Metrics(times=None, sample_count=0, window_s=0.0, mem_total=None)
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def _series(n: int) -> Series:
    return Series.of([n], None)


def test_words_name_the_cache_slabtop_summary_could_not() -> None:
    # gh-coreos-bugs-1927: slabtop's summary alone (5.1 GiB of slab, no rows) and "rkt run ... seems to
    # cause `kernfs_node_cache` allocations leak"
    words = read_prose("rkt run using default stage1 seems to cause `kernfs_node_cache` allocations leak")
    bare = judge(_metrics(slab_total=5 * GiB), PARAMS)
    assert bare.top is not None and (bare.top.kind, bare.top.name) == ("kernel", None)
    top = judge(_metrics(slab_total=5 * GiB), PARAMS, words=words).top
    assert top is not None and (top.kind, top.name) == ("slab-unreclaimable", "kernfs_node_cache")


def test_words_name_the_kind_of_a_meminfo_cut_before_slab() -> None:
    # gh-open-cas-892: 102 GiB outside the LRU lists, meminfo cut at Shmem, and "the kmalloc-2048
    # allocation is growing more and more until the system OOM"
    mi = {"MemTotal": 251 * GiB, "MemFree": 11 * GiB, "Active": 108 * GiB, "Inactive": 29 * GiB}
    metrics = _metrics(mem_total=251 * GiB, meminfo={k: _series(v) for k, v in mi.items()})
    words = read_prose(
        "With the IO running, the kmalloc-2048 allocation is growing more and more until the system OOM."
    )
    top = judge(metrics, PARAMS, words=words).top
    assert top is not None and (top.kind, top.name) == ("slab-unreclaimable", "kmalloc-2048")


def test_words_alone_are_the_reporters_observation() -> None:
    # gh-systemd-14639's title; gh-rsync-279's first sentence; gh-opensuse-sysconfig-4's Shmem
    cases = [
        ("scoket activation: Unreclaimable slab (cred_jar) grows continuously", ("slab-unreclaimable", "cred_jar")),
        ('Doing multiple rsyncs at the same time fills up "percpu" and crashes the server.', ("percpu", None)),
        ("after many hotplugs /proc/meminfo | grep Shmem increase much", ("user", None)),
    ]
    for text, want in cases:
        top = judge(_metrics(), PARAMS, words=read_prose(text)).top
        assert top is not None and (top.kind, top.name) == want, text


def test_cache_rows_decide_over_words() -> None:
    # words naming one cache never rename a candidate the evidence named, nor make a vmalloc module a
    # slab cache: the module's vmallocinfo rows, grepped out under a claim that it leaks, are what
    # the ticket is about (gh-open-cas-410)
    words = read_prose("the cas_cache memory leak keeps growing")
    caller = CallerStat("_raw_ram_init", "cas_cache", False, _series(3), _series(61440))
    top = judge(_metrics(callers=[caller]), PARAMS, words=words).top
    assert top is not None and (top.kind, top.name) == ("vmalloc", "_raw_ram_init")


def test_a_failed_vmalloc_names_its_caller() -> None:
    # gh-concourse-8739: "vmalloc: allocation failure: 12288 bytes" with module_alloc <- bpf_jit_binary_alloc
    text = (CASES / "gh-concourse-8739-bpf-jit-vmalloc-failure" / "input.txt").read_text()
    report = alloc_failure_report(text)
    assert report is not None
    top = judge(_metrics(), PARAMS, failure=parse_alloc_failure(report)).top
    assert top is not None and (top.kind, top.name) == ("vmalloc", "bpf_jit_binary_alloc")
    # when memory itself ran out (MemAvailable 1% of MemTotal), the failure names nothing
    mi = {"MemTotal": _series(8 * GiB), "MemAvailable": _series(80 * 1024**2)}
    low = _metrics(mem_total=8 * GiB, meminfo=mi)
    assert judge(low, PARAMS, failure=parse_alloc_failure(report)).top is None


def _failure(head: str, zone: str) -> str:
    return f"[ 5.0] {head}\n[ 5.0] Call Trace:\n[ 5.0]  [<ffffffff8112710a>] kmalloc_order_trace+0x3a/0xc0\n" + (
        "[ 5.0]  [<ffffffff8131b03b>] check_partition+0x2b/0x200\n" + zone
    )


def test_a_high_order_failure_with_memory_free_is_fragmentation() -> None:
    # gh-zfs-2816-order4-alloc, shortened (the Normal zone line cut after its watermarks and slab)
    zone = "[ 5.0] Node 0 Normal free:1711868kB min:18248kB low:22808kB high:27372kB present:22708224kB\n"
    failure = parse_alloc_failure(_failure("zfs: page allocation failure: order:4, mode:0x10c0d0", zone))
    assert (failure.order, failure.atomic, failure.caller) == (4, False, "check_partition")
    top = judge(_metrics(), PARAMS, failure=failure).top
    assert top is not None and top.kind == "fragmentation" and "1671 MiB was free in Normal" in top.why
    # the same request with the zone under its high watermark: memory ran out, the failure says nothing
    tight = zone.replace("free:1711868kB", "free:20000kB")
    assert (
        judge(
            _metrics(), PARAMS, failure=parse_alloc_failure(_failure("zfs: page allocation failure: order:4", tight))
        ).top
        is None
    )
    # only the DMA zone roomy: ordinary allocations leave it alone
    dma = "[ 5.0] Node 0 DMA free:15892kB min:20kB low:24kB high:28kB present:15992kB\n"
    assert (
        judge(_metrics(), PARAMS, failure=parse_alloc_failure(_failure("x: page allocation failure: order:2", dma))).top
        is None
    )


def test_an_atomic_order_0_failure_at_the_min_watermark_is_the_reserve() -> None:
    # gh-zfs-325-atomic-alloc, shortened: 2.6-era "failure. order:0, mode:0x20" (bare GFP_ATOMIC)
    zone = (
        "[ 5.0] Node 0 Normal free:4552kB min:13224kB low:16528kB high:19836kB active_anon:2288172kB"
        " present:13445120kB slab_unreclaimable:130064kB\n"
    )
    failure = parse_alloc_failure(_failure("txg_sync: page allocation failure. order:0, mode:0x20", zone))
    assert failure.atomic and failure.order == 0
    top = judge(_metrics(), PARAMS, failure=failure).top
    assert top is not None and top.kind == "atomic-reserve"
    # named flags on later kernels; a request that can wait is no reserve story
    named = parse_alloc_failure(
        _failure("k: page allocation failure: order:0, mode:0x480020(GFP_ATOMIC), nodemask=(null)", zone)
    )
    assert named.atomic
    waits = parse_alloc_failure(
        _failure("k: page allocation failure: order:0, mode:0x14200ca(GFP_HIGHUSER_MOVABLE)", zone)
    )
    assert not waits.atomic and judge(_metrics(), PARAMS, failure=waits).top is None
    # unreclaimable slab filling the zone is the story, not the reserve
    full = zone.replace("slab_unreclaimable:130064kB", "slab_unreclaimable:9000000kB")
    assert (
        judge(
            _metrics(),
            PARAMS,
            failure=parse_alloc_failure(_failure("t: page allocation failure. order:0, mode:0x20", full)),
        ).top
        is None
    )


def test_tmpfs_named_beside_a_claimed_leak_is_not_programs_memory() -> None:
    # a reporter who claims a kernel leak and mentions tmpfs in passing is not told it is tmpfs
    words = read_prose("The kernel has a memory leak. We keep /tmp on tmpfs.")
    top = judge(_metrics(), PARAMS, words=words).top
    assert top is not None and top.kind == "kernel"  # the claim stands, kind unknown; not programs' memory


def _replay_text(text: str, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "ticket.txt"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(out), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    doc: dict[str, object] = json.loads(run.stdout)
    return doc


def test_words_alone_claiming_a_kernel_leak_are_a_suspected_leak(tmp_path: Path) -> None:
    doc = _replay_text("Each blkid run would leak ~30MB inside the kernel, until it runs out of memory.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "unknown")
    doc = _replay_text("The kernel has a huge memory leak since 4.18. Here is the output of kmemleak.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    doc = _replay_text("HugePages_Free is 1022, which indicates that 2 pages are leaked by helloworld.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")


def test_a_slub_failure_names_the_request_not_the_holder(tmp_path: Path) -> None:
    # tests/cases/gh-moby-35545-slub-memcg-kmalloc-1024, its first warning: the cache that could not
    # grow (21 MiB) is no outlier the poster singled out, and no counter says where memory went
    text = (
        "[8643296.448116] SLUB: Unable to allocate memory on node -1 (gfp=0x20)\n"
        "[8643296.448122]   cache: kmalloc-1024(1793:c8ed), object size: 1024, buffer size: 1024, default order: 3, min order: 0\n"
        "[8643296.448125]   node 0: slabs: 663, objs: 20964, free: 0\n"
    )
    doc = _replay_text(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("inconclusive", "unknown")
    path = doc["path"]
    assert isinstance(path, list) and path[-1]["step"] == "allocation_unexplained" and not doc["culprits"]
    # the same warning for a cache of GiBs (gh-lkrg-172) is a suspected leak of that cache
    big = text.replace("slabs: 663, objs: 20964", "slabs: 663000, objs: 20964000")
    doc = _replay_text(big, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_an_oom_for_a_high_order_request_while_memory_was_free() -> None:
    # serverfault-410413-oom-order2-embedded: the OOM header, cut before Mem-Info, and the asker's words
    header = "myshellscript invoked oom-killer: gfp_mask=0xd0, order=2, oomkilladj=0\n"
    report = alloc_failure_report(" " + header)
    assert report is not None
    failure = parse_alloc_failure(report)
    assert (failure.oom, failure.order, failure.comm) == (True, 2, "myshellscript")
    words = read_prose(
        "I am not able to understand why would kernel issue this oom killer when I see enough memory is available\n"
    )
    assert words.free_seen
    top = judge(_metrics(), PARAMS, failure=failure, words=words).top
    assert top is not None and top.kind == "fragmentation" and top.why.startswith("the OOM killer ran when an order-2")
    assert not read_prose("there is not enough memory available\n").free_seen
    assert judge(_metrics(), PARAMS, failure=failure).top is None  # nothing says memory was free
    # a cgroup's OOM is its limit, whatever the order
    memcg = header + "Memory cgroup out of memory: Kill process 1 (x)\n"
    with pytest.raises(ParseError):
        parse_alloc_failure(memcg)


def test_an_atomic_failure_without_its_zone_lines_and_an_arm_backtrace() -> None:
    # tests/cases/gh-rpi-linux-153-atomic-alloc-failure, shortened (ARM's "(fn+off/len) from" frames)
    text = (
        "Apr  9 09:12:27 keylime kernel: [170238.829785] sshd: page allocation failure: order:0, mode:0x20\n"
        "Apr  9 09:12:27 keylime kernel: [170238.829849] [<c0013a7c>] (unwind_backtrace+0x0/0xf0) from [<c009274c>] (warn_alloc_failed+0xc4/0x11c)\n"
        "Apr  9 09:12:27 keylime kernel: [170238.829875] [<c009274c>] (warn_alloc_failed+0xc4/0x11c) from [<c0094a5c>] (__alloc_pages_nodemask+0x3e0/0x63c)\n"
        "Apr  9 09:12:27 keylime kernel: [170238.829899] [<c0094a5c>] (__alloc_pages_nodemask+0x3e0/0x63c) from [<c02e49ec>] (__netdev_alloc_frag+0x90/0x118)\n"
        "Apr  9 09:12:27 keylime kernel: [170238.829923] [<c02e49ec>] (__netdev_alloc_frag+0x90/0x118) from [<c02e8b5c>] (__netdev_alloc_skb+0x40/0xd0)\n"
    )
    report = alloc_failure_report(text)
    assert report is not None
    failure = parse_alloc_failure(report)
    assert failure.atomic and failure.caller == "__netdev_alloc_frag"
    top = judge(_metrics(), PARAMS, failure=failure).top
    assert top is not None and top.kind == "atomic-reserve"
    # when memory itself ran out (MemAvailable 1% of MemTotal), the reserve is not the story
    mi = {"MemTotal": _series(8 * GiB), "MemAvailable": _series(80 * 1024**2)}
    assert judge(_metrics(mem_total=8 * GiB, meminfo=mi), PARAMS, failure=failure).top is None


def test_a_costly_order_or_an_atomic_high_order_failure_without_zone_lines_is_fragmentation() -> None:
    # tests/cases/gh-writeboost-72-order8-cached: order 8, a 3.18 kernel's unnamed mode (it may sleep)
    costly = parse_alloc_failure("dmwb_writeback_: page allocation failure: order:8, mode:0x204010\n")
    assert (costly.order, costly.atomic) == (8, False)
    top = judge(_metrics(), PARAMS, failure=costly).top
    assert top is not None and top.kind == "fragmentation" and "an order above 3" in top.why
    # tests/cases/gh-wl500g-217-order3-router: 2.6's "failure. order:3, mode:0x4020" (__GFP_HIGH|__GFP_COMP)
    atomic = parse_alloc_failure("swapper: page allocation failure. order:3, mode:0x4020\n")
    assert atomic.atomic
    top = judge(_metrics(), PARAMS, failure=atomic).top
    assert top is not None and top.kind == "fragmentation" and top.why.startswith("an atomic order-3")
    # an order-2 request that could wait, without zone lines, says nothing either way
    waits = parse_alloc_failure("cc1: page allocation failure. order:2, mode:0xd0\n")
    assert not waits.atomic and judge(_metrics(), PARAMS, failure=waits).top is None
    # memory itself ran out (MemAvailable 1% of MemTotal): not fragmentation
    mi = {"MemTotal": _series(8 * GiB), "MemAvailable": _series(80 * 1024**2)}
    assert judge(_metrics(mem_total=8 * GiB, meminfo=mi), PARAMS, failure=costly).top is None


def test_free_used_no_program_holds_without_a_slab_figure_is_inconclusive(tmp_path: Path) -> None:
    # tests/cases/blog-waff-linux-ate-my-memory, shortened: the command typed bare gives free's unit
    text = (
        "A server reporting a very high memory usage statistic, yet, no processes to be found consuming it.\n\n"
        " free -m\n"
        "              total       used       free     shared    buffers     cached\n"
        "Mem:          2048       1638        410          0        93       124\n"
        "-/+ buffers/cache:       1590        234\n"
    )
    doc = _replay_text(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("inconclusive", "unknown")
    assert doc["mem_total_bytes"] == 2 * GiB
    # with SUnreclaim beside it, free's used is split: the kernel memory outside slab is named
    doc = _replay_text(text + "SUnreclaim:  102400 kB\nSlab:  204800 kB\n", tmp_path)
    assert doc["verdict"] == "suspected-leak"


def test_vmallocs_own_error_lines_of_later_kernels() -> None:
    # tests/cases/gh-bcachefs-542-vmalloc-order9: the pages behind a vmalloc, order 9, in journalctl's
    # format with microseconds
    line = (
        "May 15 09:38:52.733230 wombat-pc kernel: kworker/8:1: vmalloc error: size 0, page order 9, failed to"
        " allocate pages, mode:0xdc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_ZERO), nodemask=(null)\n"
    )
    report = alloc_failure_report(line)
    assert report is not None
    failure = parse_alloc_failure(report)
    assert (failure.kind, failure.order, failure.comm) == ("pages", 9, "kworker/8:1")
    top = judge(_metrics(), PARAMS, failure=failure).top
    assert top is not None and top.kind == "fragmentation"
    # synthetic: the area itself ran out ("vm_struct allocation failed"): a vmalloc failure of that size
    area = parse_alloc_failure(
        "insmod: vmalloc error: size 8192, vm_struct allocation failed, mode:0xcc0(GFP_KERNEL)\n"
    )
    assert (area.kind, area.bytes) == ("vmalloc", 8192)


def test_free_used_the_ticket_says_the_kernel_leaks_is_kernel_memory(tmp_path: Path) -> None:
    # tests/cases/gh-linuxkit-1365-hvsock-free, shortened: free before and after, cache flat
    text = (
        "Newer stable kernels leak memory on Hyper-V with lots of Hyper-V socket activity.\n\n"
        "After the test finishes, the free memory is depleted:\n"
        "/ # free\n"
        "             total       used       free     shared    buffers     cached\n"
        "Mem:        997320     884208     113112      81960          0      81960\n"
        "-/+ buffers/cache:     802248     195072\n"
    )
    doc = _replay_text(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "unknown")
