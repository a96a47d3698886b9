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


def test_ram_the_kernel_was_never_given_is_no_leak(tmp_path: Path) -> None:
    """tests/cases/gh-amlogic-openwrt-602-dtb-limits-ram-1g: the dtb's memory node says 1 GiB on a 4 GB box."""
    text = _case("gh-amlogic-openwrt-602-dtb-limits-ram-1g")
    assert (read_prose(text).ram_withheld or "").startswith("the device tree's memory node: memory@0 {")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert doc["summary"].startswith("part of the RAM was never handed to the kernel")


def test_words_of_ram_not_seen_against_words_of_ram_used() -> None:
    # synthetic edge cases: RAM the kernel does not see, against RAM it sees and uses
    seen = [
        "The system only sees 3.2 GB of the 4 GB installed.",
        "It detects 4GB instead of 8GB of RAM.",
        "Only 3 GB is usable.",
        "I booted with mem=2G on the kernel command line.",
    ]
    used = [
        "htop shows 3.7G out of 8G total.",
        "Only 2GB of 8GB RAM is used.",
        "free shows only 1.2 GB of 16 GB free.",
        "mem=2G",  # no command line in sight: a variable, a config key
    ]
    assert all(read_prose(x).ram_withheld for x in seen)
    assert not any(read_prose(x).ram_withheld for x in used)


def test_outputs_of_another_machine_are_not_part_of_the_series(tmp_path: Path) -> None:
    """tests/cases/gh-mwlwifi-118-free-iperf-leak: three `free` outputs of a 2 GB reference board,
    then two of the 512 MB router the ticket is about."""
    _, doc = replay(_case("gh-mwlwifi-118-free-iperf-leak"), tmp_path)
    assert doc["samples"]["count"] == 2
    assert doc["mem_total_bytes"] == 512720 * 1024
    assert any("000, 001, 002 gives another memory size" in n for n in doc["notes"])


def test_meminfo_lines_with_the_posters_marks_are_read(tmp_path: Path) -> None:
    """tests/cases/gh-lineage-unified-55-tab-k10-sunreclaim: "SUnreclaim:  1290420 kB <--------"."""
    _, doc = replay(_case("gh-lineage-unified-55-tab-k10-sunreclaim"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert doc["summary"].startswith("SUnreclaim is 1.2 GiB (32.6% of MemTotal")


def test_a_busybox_top_row_holding_half_the_memory_is_a_programs(tmp_path: Path) -> None:
    """tests/cases/gh-lede-4476-vmtoolsd-top-52pct: one busybox top row, vmtoolsd at 52% (VSZ)."""
    text = _case("gh-lede-4476-vmtoolsd-top-52pct")
    assert read_prose(text).process == "vmtoolsd at 52% of memory (busybox top's %VSZ)"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert read_prose(" 2592     1 root     S     254m  12%   0% /bin/vmtoolsd\n").process is None


def test_a_drivers_own_rx_allocation_failures_are_the_atomic_reserve(tmp_path: Path) -> None:
    """tests/cases/gh-rtw88-205-rx-skb-alloc-fail-pi3: "rtw_8821au 1-1.5:1.0: failed to allocate rx_skb 1"."""
    text = _case("gh-rtw88-205-rx-skb-alloc-fail-pi3")
    failure = parse_alloc_failure(alloc_failure_report(text) or "")
    assert (failure.kind, failure.comm, failure.caller) == ("driver", "rtw_8821au", "rx_skb")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert doc["summary"].startswith("rtw_8821au could not allocate rx_skb")


def test_a_leak_the_thread_calls_a_false_positive(tmp_path: Path) -> None:
    """tests/cases/gh-zfs-5707-kmemleak-false-positive-filp: "I think this is a false positive"."""
    _, doc = replay(_case("gh-zfs-5707-kmemleak-false-positive-filp"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert not read_prose("This is not a false positive, it leaks.").false_positive
    assert not read_prose("kmemleak may report false positives.").false_positive


def test_zone_lines_under_words_of_a_page_allocation_failure(tmp_path: Path) -> None:
    """tests/cases/gh-xcpng-182-dom0-page-alloc-failure-flood: kern.log's repeated zone line of the
    report ("DMA32 free:433148kB min:3208kB ... high:4812kB"), its first line not in the text."""
    text = _case("gh-xcpng-182-dom0-page-alloc-failure-flood")
    failure = parse_alloc_failure(alloc_failure_report(text) or "")
    assert (failure.kind, failure.order) == ("pages", None)
    assert [(z.name, z.free) for z in failure.zones] == [("DMA32", 433148 * 1024)]
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "while DMA32 held 422 MiB free against a high watermark of 4 MiB" in doc["summary"]


def test_a_report_the_thread_calls_a_false_alarm_or_misjudged(tmp_path: Path) -> None:
    """tests/cases/gh-linaro-swg-linux-99-optee-kmemleak-false-alarm (kmemleak's object pasted, "the
    kmemleak false alarm") and gh-bcc-2997-memleak-xhci-misjudged (bcc memleak "misjudged")."""
    for name in ("gh-linaro-swg-linux-99-optee-kmemleak-false-alarm", "gh-bcc-2997-memleak-xhci-misjudged"):
        (tmp_path / name).mkdir()
        _, doc = replay(_case(name), tmp_path / name)
        assert (doc["verdict"], doc["kind"]) == ("no-leak", "none"), name
        assert doc["summary"].startswith("the ticket concludes the leak reported was a false positive")


def test_vmmem_said_to_use_a_size_is_the_vms_memory() -> None:
    """tests/cases/gh-wsl-6252-vmmem-400mb-idle: "Vmmem process uses nearly 400MB" under WSL 2."""
    assert read_prose(_case("gh-wsl-6252-vmmem-400mb-idle")).host_view == "Vmmem using ~400MB without running nothing"


def test_a_process_figure_said_to_grow_and_its_maps_are_a_programs_memory(tmp_path: Path) -> None:
    """tests/cases/gh-camera-ros-5-dmabuf-munmap ("the VIRT value in top was increasing monotonically for
    `camera_node`": a process, not a slab cache) and gh-gstreamer-imx-67-vpu-hw-buffers (a process's
    /proc/PID/maps counted)."""
    camera = read_prose(_case("gh-camera-ros-5-dmabuf-munmap"))
    assert camera.program_grows and "camera_node" not in camera.caches
    assert read_prose(_case("gh-gstreamer-imx-67-vpu-hw-buffers")).pmap
    for name in ("gh-camera-ros-5-dmabuf-munmap", "gh-gstreamer-imx-67-vpu-hw-buffers"):
        (tmp_path / name).mkdir()
        _, doc = replay(_case(name), tmp_path / name)
        assert (doc["verdict"], doc["kind"]) == ("no-leak", "none"), name
    assert not read_prose("cat /proc/sys/vm/max_map_count").pmap


def test_one_programs_top_rows_or_words_of_its_growth(tmp_path: Path) -> None:
    """tests/cases/gh-gstreamer-rockchip-50-mpph264enc-rss (gst-launch's RES in two top rows, 28 MB
    then 100 MB) and gh-jetpack-dec-enc-4-jetson-decoder-app-leak (in Chinese: the process's GPU MEM
    "从200m增长到2g")."""
    for name in ("gh-gstreamer-rockchip-50-mpph264enc-rss", "gh-jetpack-dec-enc-4-jetson-decoder-app-leak"):
        assert read_prose(_case(name)).program_grows, name
        (tmp_path / name).mkdir()
        _, doc = replay(_case(name), tmp_path / name)
        assert (doc["verdict"], doc["kind"]) == ("no-leak", "none"), name
    # one row of it alone says nothing of growth (synthetic edge case)
    row = "  928 root      20   0   70788  28552  25744 S  50.8  1.4   1:03.55 gst-launch-1.0\n"
    assert not read_prose(row).program_grows


def test_an_oom_reports_zone_lines_alone_are_its_counters(tmp_path: Path) -> None:
    """tests/cases/gh-es-23842-oom-slab-unreclaimable-mlocked (zone lines: ~5 GB slab_unreclaimable of
    ~14 GB managed) and gh-restic-1830-check-oom-anon (zone lines: ~7.9 GB active_anon)."""
    (tmp_path / "a").mkdir()
    _, doc = replay(_case("gh-es-23842-oom-slab-unreclaimable-mlocked"), tmp_path / "a")
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert doc["mem_total_bytes"] == (3965580 + 10352916) * 1024
    (tmp_path / "b").mkdir()
    _, doc = replay(_case("gh-restic-1830-check-oom-anon"), tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert doc["summary"].startswith("programs (anonymous memory) hold 7.5 GiB")


def test_systemd_oomd_candidates_and_memory_mostly_in_the_cache(tmp_path: Path) -> None:
    """tests/cases/gh-systemd-32687-oomd-nix-daemon ("Current Memory Usage: 43.3G" under nix-daemon's
    Path) and gh-es-27157-used-percent-buffcache ("most of memory is allocated to buffer/cache")."""
    assert read_prose(_case("gh-systemd-32687-oomd-nix-daemon")).process == (
        "nix-daemon.service at 43.3 GiB (systemd-oomd's current memory usage)"
    )
    assert read_prose(_case("gh-es-27157-used-percent-buffcache")).cache
    for name in ("gh-systemd-32687-oomd-nix-daemon", "gh-es-27157-used-percent-buffcache"):
        (tmp_path / name).mkdir()
        _, doc = replay(_case(name), tmp_path / name)
        assert (doc["verdict"], doc["kind"]) == ("no-leak", "none"), name
