"""Memory a ticket puts somewhere other than a kernel leak: a program's own allocator or share of the
memory, a process's dma-buf FDs, a boot-time carve-out, the dentry and inode caches, and a driver's
DMA buffer that found no contiguous run. Inputs are the real cases named (tests/cases, batch 29);
each verdict goes through the real CLI, and each rule is also shown not to fire without its words."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_a_programs_share_of_memory_said_in_percent(tmp_path: Path) -> None:
    """tests/cases/gh-fuse-overlayfs-238-daemon-memory: "fuse-overlayfs process for every container will
    eat about 10~15% memory"."""
    text = _case("gh-fuse-overlayfs-238-daemon-memory")
    assert "fuse-overlayfs process" in (read_prose(text).process or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # a small share is no program's memory problem; nor is a kernel part's share a program's
    assert read_prose("nginx process will eat about 3% memory.").process is None
    assert read_prose("The slab uses 40% of memory and keeps growing.").process is None
    assert read_prose("Since the upgrade chrome uses more than 25% of RAM.").process is not None


def test_memcacheds_own_slab_classes_are_the_programs(tmp_path: Path) -> None:
    """tests/cases/gh-memcached-689-slab-class-oom: "Slab OOMs" in memcached-tool's and stats slabs' rows."""
    text = _case("gh-memcached-689-slab-class-oom")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "memcached's own slab classes" in doc["summary"]
    # memcached named on a host whose ticket shows no stats of its slab classes: no program is singled out
    assert read_prose("The memcached host has SUnreclaim at 20 GB.").process is None


def test_a_process_rss_said_to_leak_is_the_programs(tmp_path: Path) -> None:
    """tests/cases/gh-jeffycn-mirrors-76-mppvideodec-rss: "RSS memory leak ~10MB/min" and, in Chinese,
    "VmRSS 每 10 秒约增 1.7MB" (VmRSS rises about 1.7 MB every 10 s)."""
    text = _case("gh-jeffycn-mirrors-76-mppvideodec-rss")
    assert read_prose(text).program_grows
    assert read_prose("监控 VmRSS 每 10 秒约增 1.7MB").program_grows
    assert read_prose("mppvideodec: RSS memory leak ~10MB/min").program_grows
    assert not read_prose("The slab memory leak is about 10MB/min.").program_grows
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")


def test_dma_buf_fds_a_process_keeps_open(tmp_path: Path) -> None:
    """tests/cases/gh-intel-media-driver-2028-ihd-dmabuf-fd: "leaves one additional 16 KiB dmabuf FD open
    after each warm decoder create/destroy cycle"."""
    text = _case("gh-intel-media-driver-2028-ihd-dmabuf-fd")
    assert read_prose(text).fds_held
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "open dma-buf file descriptors" in doc["summary"]
    assert not read_prose("The i915 driver leaks dma-buf objects after resume.").fds_held


def test_a_boot_carve_out_under_less_ram_than_fitted(tmp_path: Path) -> None:
    """tests/cases/gh-armbian-build-240-opi-ion-carveout: "the system says i have less ram than I should
    have" and the boot log's "ion_carveout reserve: 160m@0 256m@0 130m@1 200m@1"."""
    text = _case("gh-armbian-build-240-opi-ion-carveout")
    assert "ion_carveout reserve" in (read_prose(text).ram_withheld or "")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # the same boot log under no complaint of missing RAM says nothing of where memory went
    assert read_prose(text.replace("less ram than I should have", "a question")).ram_withheld is None


def test_memory_wasted_in_the_dentry_and_inode_caches(tmp_path: Path) -> None:
    """tests/cases/gh-scylladb-14506-dentry-inode-waste: "Wasted memory in inode cache and dentry cache"."""
    text = _case("gh-scylladb-14506-dentry-inode-waste")
    assert "dentry" in read_prose(text).caches
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")


def test_a_drivers_enomem_for_a_dma_buffer(tmp_path: Path) -> None:
    """tests/cases/gh-sof-linux-5161-dsp-dma-alloc-after-resume: "error: memory alloc failed: -12" and,
    on the next line, "dma prepare for fw loading failed"."""
    text = _case("gh-sof-linux-5161-dsp-dma-alloc-after-resume")
    failure = parse_alloc_failure(alloc_failure_report(text) or "")
    assert (failure.kind, failure.comm) == ("dma", "sof-audio-pci-intel-icl")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "could not allocate a DMA buffer" in doc["summary"]
    # -ENOMEM with no DMA buffer in sight is some other allocation: not read as this one
    assert alloc_failure_report(text.replace("dma prepare", "firmware prepare").replace("DMA", "")) is None


def test_one_task_holding_ten_times_any_other_in_an_oom_task_table(tmp_path: Path) -> None:
    """tests/cases/gh-lede-11831-kernel66-speedtest-oom-xray: a slice of the task table, xray at rss
    240016 pages (938 MiB) and no other task above 6752 pages."""
    text = _case("gh-lede-11831-kernel66-speedtest-oom-xray")
    assert (read_prose(text).process or "").startswith("xray at 938 MiB RSS, 36 times any other task")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # the same table with a second task near xray's size singles no program out
    even = text.replace("  6986     6752 ", "  6986   200000 ")
    assert read_prose(even).process is None


def test_the_memory_usage_of_named_daemons_grows(tmp_path: Path) -> None:
    """tests/cases/gh-openwrt-23284-hostapd-netifd-rss-growth: "the memory usage of hostapd and netifd
    grows more than 10x"."""
    text = _case("gh-openwrt-23284-hostapd-netifd-rss-growth")
    assert read_prose(text).program_grows
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    for kernel_side in ("kmalloc-64", "dentry", "kernel", "SUnreclaim"):
        assert not read_prose(f"The memory usage of {kernel_side} keeps growing.").program_grows


def test_openwrt_logread_oom_lines_and_a_total_from_all_the_zones(tmp_path: Path) -> None:
    """tests/cases/gh-lede-3647-ac58u-oom-unaccounted-kernel: logread's "Sun Mar  8 12:23:14 2020 kern.warn
    kernel:" before each line, no "pages RAM" line, one zone whose free (13484 kB) is the report's
    "free:3363" pages: its managed 120856 kB is all the memory, and 73.6% of it is in no counter."""
    from kleak_runbook.parsers.oom import parse_oom_meminfo

    text = _case("gh-lede-3647-ac58u-oom-unaccounted-kernel")
    fields = parse_oom_meminfo(text).fields
    assert fields["MemTotal"] == 120856 * 1024
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "page-allocator")
    assert "73.6% of MemTotal" in doc["summary"]
    # a zone whose free memory is not the report's own free: other zones' lines are missing, no total
    assert "MemTotal" not in parse_oom_meminfo(text.replace("Normal free:13484kB", "Normal free:3484kB")).fields


def test_memory_said_lost_is_not_the_machines_size() -> None:
    """tests/cases/gh-tensorflow-3106-nvidia-361-kernel-leak: "results in ~70MB of memory being lost"."""
    text = _case("gh-tensorflow-3106-nvidia-361-kernel-leak")
    assert read_prose(text).fields.get("MemTotal") is None
    assert read_prose("a box with 16 GB of memory").fields["MemTotal"] == 16 * 1024**3


def test_a_cgroup_killed_at_its_own_limit_told_in_words(tmp_path: Path) -> None:
    """tests/cases/ml-linux-mm-20180406-bug199297-memcg-dirty-pages-oom: "Processes that have a cgroup
    memory limit can easily OOM just writing to files"."""
    text = _case("ml-linux-mm-20180406-bug199297-memcg-dirty-pages-oom")
    assert read_prose(text).limit_oom
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    for said in (
        "My pod keeps getting OOMKilled when it reaches its memory limit of 512Mi.",
        "The container is killed by the OOM killer because it exceeds the memory limit set in docker-compose (2g).",
    ):
        assert read_prose(said).limit_oom, said
    # a limit named with no kill, or a kill denied, says nothing of the kind
    assert not read_prose("We set the container memory limit to 2 GB.").limit_oom
    assert not read_prose("The pod was not OOMKilled although it sits at its memory limit.").limit_oom
    # a kernel leak said beside it keeps the leak
    (tmp_path / "b").mkdir()
    _, doc = replay(
        "The kernel leaks slab in the container and it gets OOMKilled at its memory limit.\n", tmp_path / "b"
    )
    assert doc["verdict"] == "suspected-leak"
