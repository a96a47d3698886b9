"""Tests for finding /proc outputs in pasted text: real public tickets (tests/samples/public/) and
a labelled synthetic edge case."""

from __future__ import annotations

from pathlib import Path

from kleak_runbook.parsers.dentry_state import parse_dentry_state
from kleak_runbook.parsers.meminfo import parse_meminfo, parse_meminfo_lines
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.slabinfo import parse_slabinfo, parse_slabtop
from kleak_runbook.parsers.version import parse_os_release, parse_proc_version, parse_uname
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PUBLIC = SAMPLES / "public"
KIB = 1024


def pasted(name: str) -> str:
    return (PUBLIC / name).read_text()


def test_rocm_thread_slabtop_in_the_description_meminfo_in_a_comment() -> None:
    # https://github.com/ROCm/legacy-rocm-build/issues/176: prose, a fenced slabtop, lsmod, a prompt
    blocks = split_pasted(pasted("rocm-176-kmalloc-leak.txt"))
    assert [spec for spec, _ in blocks.order] == ["slabinfo", "meminfo"]
    mi = parse_meminfo(blocks.meminfo[0])
    assert (mi["MemTotal"], mi["SUnreclaim"]) == (16383964 * KIB, 7582864 * KIB)
    assert "CommitLimit" in mi and "VmallocUsed" not in mi  # the stored copy ends there
    assert blocks.slabinfo_forms == ("slabtop",)
    caches = parse_slabtop(blocks.slabinfo[0]).by_name()
    assert list(caches) == ["kmalloc-192", "buffer_head", "kmalloc-256", "kmalloc-512", "kmalloc-1024", "kmalloc-96"]
    assert caches["kmalloc-1024"].size_bytes() == 1069376 * KIB  # slabtop's CACHE SIZE, kept exactly
    assert caches["kmalloc-1024"].objsize == 1024 and caches["kmalloc-192"].objsize == 195  # 0.19K: rounded
    assert blocks.notes == (blocks.notes[0],) and blocks.notes[0].startswith("slabinfo: from slabtop -o")
    assert (blocks.uname, blocks.version, blocks.os_release) == (None, None, None)
    # prose, the fence lines, "$ lsmod ..." and the 7 lsmod rows, "$ cat /proc/meminfo"
    assert blocks.ignored_lines == 25


def test_perf_tools_meminfo_pasted_bare_in_prose() -> None:
    # https://github.com/brendangregg/perf-tools/issues/78: no fence, no prompt, CentOS 7 (3.10)
    blocks = split_pasted(pasted("perf-tools-78-centos7-big-slab.txt"))
    assert len(blocks.meminfo) == 1 and not blocks.slabinfo and not blocks.notes
    mi = parse_meminfo(blocks.meminfo[0])
    assert (mi["SReclaimable"], mi["DirectMap2M"], mi["HugePages_Total"]) == (14810428 * KIB, 25155584 * KIB, 0)
    assert len(mi.fields) == 42
    assert blocks.ignored_lines == 3


def test_selinux_report_uname_and_slabtop_without_meminfo() -> None:
    # https://github.com/SELinuxProject/selinux/issues/220: "# " root prompts inside fences,
    # /etc/lsb-release (not os-release: ignored) and a `uname -a` that includes -p and -i
    blocks = split_pasted(pasted("selinux-220-ebitmap-node.txt"))
    assert not blocks.meminfo and blocks.os_release is None
    assert blocks.uname is not None
    kv = parse_uname(blocks.uname)
    assert (blocks.uname.split()[1], kv.release, kv.upstream) == ("cloud-worker-25", "4.19.86-coreos", (4, 19, 86))
    caches = parse_slabtop(blocks.slabinfo[0]).by_name()
    assert max(caches.values(), key=lambda c: c.size_bytes()).name == "ebitmap_node"
    assert caches["ebitmap_node"].size_bytes() == 45906648 * KIB


def test_pasted_slabtop_matches_slabinfo_of_the_same_capture() -> None:
    # tests/samples/this-machine: `slabtop -o` and /proc/slabinfo read within the same second
    machine = SAMPLES / "this-machine"
    blocks = split_pasted((machine / "commands/slabtop_-o").read_text())
    assert blocks.form("slabinfo", 0) == "slabtop"
    from_top = parse_slabtop(blocks.slabinfo[0]).by_name()
    real = parse_slabinfo((machine / "proc/slabinfo").read_text()).by_name()
    assert len(from_top) == len(parse_slabtop((machine / "commands/slabtop_-o").read_text()).caches) > 200
    for name in ("dentry", "ext4_inode_cache", "kmalloc-4k", "radix_tree_node"):
        assert from_top[name].size_bytes() == real[name].size_bytes(), name
        assert abs(from_top[name].objsize - real[name].objsize) <= 0.006 * KIB


# Synthetic edge case: every kind of block, dressed the way tickets dress them (e-mail quoting,
# prompts of several shells, fences, indentation), meminfo pasted twice, headerless slabinfo rows
# from grep, a grep of meminfo without MemTotal, a slabinfo row damaged by line wrapping.
EDGE = """\
Hi team, the box got slow again. Output below, first right after the alert:

> [root@db7 ~]# cat /proc/meminfo
> MemTotal:        8000000 kB
> MemFree:         1000000 kB
> SUnreclaim:      2400000 kB
> SReclaimable:     100000 kB
>
> [root@db7 ~]# grep -i slab /proc/meminfo
> Slab:            2500000 kB
> SUnreclaim:      2400000 kB

and an hour later (same host):
```
    root@db7:~# cat /proc/meminfo
    MemTotal:        8000000 kB
    MemFree:          900000 kB
    SUnreclaim:      2500000 kB
    SReclaimable:     100000 kB
```
~~~
$ sudo grep -E 'kmalloc-(64|2k)' /proc/slabinfo
kmalloc-2k         1200000 1200000   2048   16    8 : tunables    0    0    0 : slabdata  75000  75000      0
kmalloc-64            6400   6400     64   64    1 : tunables    0    0    0 : slabdata    100    100      0
~~~
# head -3 /proc/vmallocinfo
0x00000000d79630be-0x00000000209ce2cc    8192 leaky_leak_4k+0x56/0xd0 [leaky] pages=1 vmalloc N0=1
0x0000000014bf8b2e-0x000000001ddf6bf0   20480 unpurged vm_area
0x0000000036f57c0f-0x00000000f4b89162    8192 acpi_os_map_iomem+0x1b6/0x1d0 phys=0x000000003ffe2000 ioremap
$ cat /proc/sys/fs/dentry-state
77456	61893	45	0	59343	0
$ cat /proc/version
Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)
$ uname -r
6.1.0-50-amd64
$ cat /etc/os-release
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
$ cat /proc/slabinfo
slabinfo - version: 2.1
kmalloc-8k     10     12   8192    4    8 : tunables    0    0    0 : slabdata
      3      3      0
Regards, Ops
"""


def test_synthetic_edge_case_every_block_once_dressed_up() -> None:
    blocks = split_pasted(EDGE)
    order = [spec for spec, _ in blocks.order]
    assert order == ["meminfo", "meminfo", "meminfo", "slabinfo", "vmallocinfo", "dentry_state"]
    assert blocks.meminfo_forms == ("", "partial", "")  # grep'd lines are read, without MemTotal
    assert parse_meminfo_lines(blocks.meminfo[1]).get("MemTotal") is None
    first, second = (parse_meminfo(t) for t in (blocks.meminfo[0], blocks.meminfo[2]))
    assert (first["SUnreclaim"], second["SUnreclaim"]) == (2400000 * KIB, 2500000 * KIB)
    info = parse_slabinfo(blocks.slabinfo[0])  # header and column line synthesised
    assert info.version == "2.1" and info.by_name()["kmalloc-2k"].size_bytes() == 75000 * 8 * 4096
    areas = parse_vmallocinfo(blocks.vmallocinfo[0]).areas
    assert [a.key for a in areas] == ["leaky_leak_4k [leaky]", "unpurged vm_area", "acpi_os_map_iomem"]
    assert parse_dentry_state(blocks.dentry_state[0]).nr_negative == 59343
    assert blocks.version is not None and parse_proc_version(blocks.version).upstream == (6, 1, 176)
    assert blocks.uname == "6.1.0-50-amd64\n"  # a bare release, recognised after `uname -r`
    assert blocks.os_release is not None and parse_os_release(blocks.os_release).version_id == "12"
    assert len(blocks.notes) == 2
    assert blocks.notes[0] == "meminfo: a partial /proc/meminfo of 2 lines, without MemTotal"
    assert blocks.notes[1] == "slabinfo: a pasted /proc/slabinfo header with no whole cache row was left out"


def test_repeated_kinds_split_even_without_a_separator() -> None:
    # synthetic edge case: two meminfo dumps and two slabtop screens, back to back
    text = (
        "MemTotal: 100 kB\nMemFree: 50 kB\nMemTotal: 100 kB\nMemFree: 40 kB\n\n"
        + (
            " Active / Total Objects (% used)    : 1 / 1 (100.0%)\n\n"
            "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
            "    21     21 100%    0.19K      1       21         4K dentry\n"
        )
        * 2
    )
    blocks = split_pasted(text)
    assert [spec for spec, _ in blocks.order] == ["meminfo", "meminfo", "slabinfo", "slabinfo"]
    assert blocks.ignored_lines == 0


def test_nothing_recognisable() -> None:
    blocks = split_pasted("Hello,\n\nthe server is slow since Monday.\n$ free -m\nMem: 7821 3400\n")
    assert not blocks and blocks.ignored_lines == 4
    assert not split_pasted("")
