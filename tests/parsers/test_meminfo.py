"""Tests for the /proc/meminfo parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import parse_meminfo

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"

# /proc/meminfo of a CentOS 7 (3.10) host, from https://github.com/brendangregg/perf-tools/issues/78:
# a kernel without MemAvailable, KReclaimable and Percpu.
CENTOS7 = """\
MemTotal:       24592560 kB
MemFree:          532324 kB
Buffers:          236832 kB
Cached:           459252 kB
SwapCached:        60448 kB
Slab:           14876100 kB
SReclaimable:   14810428 kB
SUnreclaim:        65672 kB
KernelStack:       23496 kB
VmallocTotal:   34359738367 kB
VmallocUsed:      213232 kB
VmallocChunk:   34359392960 kB
HardwareCorrupted:     0 kB
AnonHugePages:   2250752 kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
DirectMap4k:       10240 kB
DirectMap2M:    25155584 kB
"""


def read(path: Path) -> str:
    return path.read_text()


def test_healthy_debian_6_1() -> None:
    mi = parse_meminfo(read(LAB / "healthy/samples/000/proc/meminfo"))
    assert len(mi.fields) == 54
    assert mi["MemTotal"] == 981472 * 1024
    assert mi["SUnreclaim"] == 16468 * 1024
    assert mi["Active(anon)"] == 192 * 1024
    assert mi["Percpu"] == 736 * 1024
    assert mi["KReclaimable"] == 16872 * 1024
    # 5-level paging: the VM's vmalloc space is 12.5 PiB
    assert mi["VmallocTotal"] == 13743895347199 * 1024
    assert mi["HugePages_Total"] == 0
    assert mi["Hugepagesize"] == 2048 * 1024
    assert all(isinstance(v, int) for v in mi.fields.values())


def test_kmalloc_leak_grows_sunreclaim() -> None:
    before = parse_meminfo(read(LAB / "kmalloc-leak/samples/000/proc/meminfo"))
    after = parse_meminfo(read(LAB / "kmalloc-leak/samples/002/proc/meminfo"))
    assert after["SUnreclaim"] - before["SUnreclaim"] == (38984 - 27728) * 1024
    assert after["SReclaimable"] == before["SReclaimable"]


def test_vmalloc_leak_grows_vmallocused() -> None:
    before = parse_meminfo(read(LAB / "vmalloc-leak/samples/000/proc/meminfo"))
    after = parse_meminfo(read(LAB / "vmalloc-leak/samples/002/proc/meminfo"))
    assert after["VmallocUsed"] - before["VmallocUsed"] == (42036 - 29748) * 1024


def test_this_machine() -> None:
    mi = parse_meminfo(read(SAMPLES / "this-machine/proc/meminfo"))
    assert mi["MemTotal"] > 0
    assert "SUnreclaim" in mi and "Percpu" in mi


def test_old_kernel_without_newer_fields() -> None:
    mi = parse_meminfo(CENTOS7)
    assert mi.get("MemAvailable") is None
    assert "Percpu" not in mi and "KReclaimable" not in mi
    assert mi["SReclaimable"] == 14810428 * 1024
    with pytest.raises(KeyError):
        mi["Percpu"]


def test_crlf_and_missing_final_newline() -> None:
    text = read(LAB / "healthy/samples/000/proc/meminfo")
    assert parse_meminfo(text.replace("\n", "\r\n").rstrip("\r\n")) == parse_meminfo(text)


def test_odd_lines_are_skipped() -> None:
    mi = parse_meminfo("MemTotal:  100 kB\ngarbage\nWeird:  1 MB\nEmpty:\nMemFree:  5 kB\n")
    assert dict(mi.fields) == {"MemTotal": 102400, "MemFree": 5120}


def test_not_meminfo() -> None:
    with pytest.raises(ParseError) as err:
        parse_meminfo(read(LAB / "healthy/samples/000/proc/slabinfo"))
    assert err.value.spec == "meminfo"
    with pytest.raises(ParseError):
        parse_meminfo("")
