"""Property tests: every parser, the pasted-text splitter and the manifest reader, fed random text
and mutations of the real captures under tests/samples (lines dropped, duplicated, truncated,
bytes flipped, CRLF), raise nothing but ``KleakError`` subclasses, in bounded time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kleak_runbook.errors import KleakError
from kleak_runbook.evidence.replay_manifest import parse_action, parse_manifest
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.parsers.alloc_failure import parse_alloc_failure
from kleak_runbook.parsers.allocinfo import parse_allocinfo
from kleak_runbook.parsers.cgroups import parse_cgroup_stat, parse_cgroups
from kleak_runbook.parsers.cmdline import parse_cmdline
from kleak_runbook.parsers.dentry_state import parse_dentry_state
from kleak_runbook.parsers.exporter import parse_node_memory, parse_telegraf_mem
from kleak_runbook.parsers.inode_state import parse_inode_state
from kleak_runbook.parsers.kconfig import parse_kconfig
from kleak_runbook.parsers.kmemleak import group_by_backtrace, parse_kmemleak
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.modules import parse_modules
from kleak_runbook.parsers.page_owner import aggregate_page_owner, parse_page_owner_by_stack
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.sar import parse_sar_memory
from kleak_runbook.parsers.slabinfo import parse_slabinfo, parse_slabtop
from kleak_runbook.parsers.slub_traces import parse_alloc_traces
from kleak_runbook.parsers.tainted import parse_tainted
from kleak_runbook.parsers.timestamp import parse_timestamp
from kleak_runbook.parsers.top import parse_top_summary
from kleak_runbook.parsers.trace_hist import parse_trace_hist, site_of
from kleak_runbook.parsers.version import (
    parse_os_release,
    parse_proc_version,
    parse_uname,
    parse_version_signature_full,
)
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo
from kleak_runbook.parsers.zoneinfo import parse_zoneinfo

SAMPLES = Path(__file__).parent.parent / "samples"
LAB = SAMPLES / "lab-debian-6.1" / "kmalloc-leak"
CASES = Path(__file__).parent.parent / "cases"
RUNS = SAMPLES / "lab-runs"


def _text(path: Path, limit: int = 12_000) -> str:
    """The head of a real capture (whole lines), small enough for many examples a second."""
    text = path.read_text(errors="replace")
    return text if len(text) <= limit else text[: text.rfind("\n", 0, limit) + 1]


def _first(pattern: str) -> Path:
    return next(iter(sorted(SAMPLES.glob(pattern))))


def _slub(traces: Any) -> Any:
    return [(t.site, t.key) for t in parse_alloc_traces(traces)]


def _hist(text: str) -> Any:
    return [site_of(e) for e in parse_trace_hist(text).entries]


def _kmemleak(text: str) -> Any:
    return group_by_backtrace(parse_kmemleak(text))


def _page_owner(text: str) -> Any:
    return aggregate_page_owner(text.splitlines(), max_records=1000)


def _pasted(text: str) -> Any:
    blocks = split_pasted(text)
    for at, (spec, index) in enumerate(blocks.order):  # each block with the parser of its form, as replay does
        SPECS[spec].parser(blocks.form(spec, index))(getattr(blocks, spec)[index])
        assert at < len(blocks.times) or not blocks.times
    return blocks


def _dentry(text: str) -> Any:
    return parse_dentry_state(text), parse_dentry_state(text, kernel=(4, 19, 0))


def _manifest(text: str) -> Any:
    return parse_manifest(text.encode("utf-8", "surrogateescape"), "manifest.json")


def _action(text: str) -> Any:
    return parse_action(text.encode("utf-8", "surrogateescape"), "x.json")


# parser -> a real capture it reads
PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "meminfo": (parse_meminfo, _text(LAB / "samples/000/proc/meminfo")),
    "slabinfo": (parse_slabinfo, _text(LAB / "samples/000/proc/slabinfo")),
    "slabtop": (parse_slabtop, _text(SAMPLES / "sosreport/sosreport-vm-2026-11-24/sos_commands/memory/slabtop_-o")),
    "vmallocinfo": (parse_vmallocinfo, _text(LAB / "samples/000/proc/vmallocinfo")),
    "zoneinfo": (parse_zoneinfo, _text(_first("lab-runs/*/evidence/samples/000/proc/zoneinfo"))),
    "dentry_state": (_dentry, _text(LAB / "samples/000/proc/sys/fs/dentry-state")),
    "inode_state": (parse_inode_state, "106243\t0\t0\t0\t0\t0\t0\n"),
    "cgroups": (parse_cgroups, _text(LAB / "static/proc/cgroups")),
    "cgroup_stat": (parse_cgroup_stat, "nr_descendants 45\nnr_dying_descendants 1203\n"),
    "cmdline": (parse_cmdline, _text(LAB / "static/proc/cmdline")),
    "modules": (parse_modules, _text(LAB / "static/proc/modules")),
    "tainted": (parse_tainted, _text(LAB / "static/proc/sys/kernel/tainted")),
    "version": (parse_proc_version, _text(LAB / "static/proc/version")),
    "uname": (parse_uname, _text(SAMPLES / "sosreport/sosreport-vm-2026-11-24/sos_commands/kernel/uname_-a")),
    "version_signature": (parse_version_signature_full, "Ubuntu 5.15.0-91.101-generic 5.15.131\n"),
    "os_release": (parse_os_release, _text(LAB / "static/etc/os-release")),
    "kmemleak": (_kmemleak, _text(SAMPLES / "public/kmemleak-nvme-loop.txt")),
    "slub_traces": (_slub, _text(SAMPLES / "public/slub-alloc_traces-doc.txt")),
    "trace_hist": (_hist, _text(SAMPLES / "public/hist-kmalloc-stacktrace-doc.txt")),
    "page_owner": (_page_owner, _text(SAMPLES / "public/page_owner-android-6.12.txt")),
    "page_owner_by_stack": (
        parse_page_owner_by_stack,
        "records 3\n4\t3\t|post_alloc_hook+0x1/0x2|leaky_pages+0x5/0x9 [leaky]\n",
    ),
    "kconfig": (parse_kconfig, 'CONFIG_SLUB_DEBUG=y\n# CONFIG_PAGE_OWNER is not set\nCONFIG_X="a b"\n'),
    "timestamp": (parse_timestamp, "2026-11-24T16:53:05.268978220Z\n"),
    "pasted": (_pasted, _text(SAMPLES / "public/rocm-176-kmalloc-leak.txt")),
    "pasted_sar": (_pasted, _text(CASES / "blog-catalyst2-sar-r/input.txt")),
    "pasted_top_slabtop": (_pasted, _text(CASES / "blog-besthub-nas-xfs-inode-ili/input.txt")),
    "pasted_telegraf": (_pasted, _text(CASES / "gh-telegraf-15663-mem-zfs/input.txt")),
    "pasted_alloc_failure": (_pasted, _text(CASES / "gh-zfs-2816-order4-alloc/input.txt")),
    "pasted_quoted_printable": (_pasted, _text(CASES / "netdev-2020-test-maps-oom-2g-vm/input.txt")),
    "pasted_node_meminfo": (_pasted, _text(CASES / "gh-spdk-1954-node-meminfo-cut/input.txt")),
    "pasted_bpftool": (_pasted, _text(CASES / "gh-cilium-37935-bpf-maps-kmem/input.txt")),
    "pasted_chinese": (_pasted, _text(CASES / "gh-tencent-dcache-32-pagecache-prose-zh/input.txt")),
    "pasted_bcc_memleak": (_pasted, _text(CASES / "gh-lkmpg-279-bcc-memleak-vinput/input.txt")),
    "pasted_vmstat": (_pasted, _text(CASES / "gh-ch34x-15-vmstat-before-after/input.txt")),
    "pasted_proc_vmstat": (_pasted, _text(CASES / "gh-haos-2591-proc-vmstat-zram/input.txt")),
    "pasted_slub_shutdown": (_pasted, _text(CASES / "gh-smb3-kernel-122-cifs-small-rq-shutdown/input.txt")),
    "pasted_allocinfo": (_pasted, _text(CASES / "lkml-intel-wired-lan-ice-allocinfo/input.txt")),
    "pasted_oom_allocations": (_pasted, _text(CASES / "gh-bcachefs-1158-memprofile/input.txt")),
    "allocinfo": (parse_allocinfo, _text(SAMPLES / "public/allocinfo-lkml-version-header.txt").split("\n", 1)[1]),
    "allocinfo_numfmt": (parse_allocinfo, _text(SAMPLES / "public/allocinfo-doc-numfmt.txt").split("\n", 1)[1]),
    "sar": (parse_sar_memory, _text(CASES / "blog-catalyst2-sar-r/input.txt")),
    "top": (
        parse_top_summary,
        "KiB Mem:  16415460 total, 16289720 used,   125740 free,      640 buffers\n"
        "KiB Swap:  3999740 total,   153912 used,  3845828 free.     7456 cached Mem\n",
    ),
    "node_exporter": (
        parse_node_memory,
        "node_memory_MemTotal_bytes 1.7179869184e+10\n"
        'node_memory_SUnreclaim_bytes{instance="a:9100"} 5.57e+08\nnode_memory_HugePages_Total 0\n',
    ),
    "telegraf": (parse_telegraf_mem, _text(CASES / "gh-telegraf-15663-mem-zfs/input.txt")),
    "alloc_failure": (parse_alloc_failure, _text(CASES / "gh-zfs-2816-order4-alloc/input.txt")),
    "manifest": (_manifest, _text(_first("lab-runs/*/evidence/manifest.json"), 100_000)),
    "probe_action": (_action, '{"rc": "0", "ns": "51650410"}\n'),
}

FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    database=None,
)

# numbers and tokens the parsers care about, to reach deeper than plain random text does
TOKENS = st.sampled_from(
    [
        "0",
        "-1",
        "9" * 25,
        "9" * 400,
        "\u0669\u0668\u0661",
        "²",
        "1_000",
        "+5",
        "nan",
        "inf",
        "1e999",
        "0x",
        "0xfffff",
        ":",
        " : tunables",
        " : slabdata",
        "kB",
        "K",
        "0.19K",
        "pages=",
        "phys=",
        "age=",
        "Node 0, zone Normal",
        "unreferenced object 0x1 (size 8):",
        "Page allocated via order 99999, mask 0x0",
        "{",
        "}",
        "[",
        "\t",
        "\r",
        "\x00",
        "\u2028",
        "\ufeff",
        "Linux version ",
        "MemTotal:",
        "slabinfo - version: 2.1",
        "#subsys_name",
        "records",
        "9" * 5000,
        "age=x/y",
        "age=1/2",
        "waste=x/1",
        "pid=1",
        "Hits:",
        "managed",
        "pages free",
        "count:",
        "::",
        "(OE)",
        "Live",
        "0xffffffffc0b3d000",
        "- -",
        "[<ffffffff81234567>]",
        "f+0x1/0x2",
        "\t3\t|f+0x1/0x2",
        "8.977.12 GB",
        "1.234.567,89 MB",
        "=3D",
        "=",
        "Node 0 MemTotal: 1 kB",
        "Kernel driver in use: x",
        '"bytes_memlock": 99999999999999999999',
        "innodb_buffer_pool_size = 48G",
        "-Xmx9999999999g",
        "占用了61G。",
        "OOM killer disabled.",
        "vmalloc: allocation failure: 1 bytes",
        "bytes in 1 allocations from stack",
        " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st",
        "Objects remaining on __kmem_cache_shutdown()",
        "Showing nodes accounting for 1MB, 1% of 99999999999999999999GB total",
    ]
)


def mutations(original: str) -> st.SearchStrategy[str]:
    lines = original.splitlines(keepends=True) or [original]

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["drop", "dup", "truncate", "flip", "crlf", "insert", "token", "cut"]))
            if not out:
                break
            i = draw(st.integers(0, len(out) - 1))
            if op == "drop":
                del out[i]
            elif op == "dup":
                out.insert(i, out[i])
            elif op == "truncate":
                out[i] = out[i][: draw(st.integers(0, len(out[i])))]
            elif op == "flip":
                line = out[i]
                if line:
                    j = draw(st.integers(0, len(line) - 1))
                    out[i] = line[:j] + chr(ord(line[j]) ^ (1 << draw(st.integers(0, 7)))) + line[j + 1 :]
            elif op == "crlf":
                out = [x.replace("\n", "\r\n") for x in out]
            elif op == "insert":
                out.insert(i, draw(st.one_of(st.text(max_size=80), TOKENS.map(lambda x: x + "\n"))))
            elif op == "token":
                words = out[i].split(" ")
                k = draw(st.integers(0, len(words) - 1))
                words[k] = draw(TOKENS) if draw(st.booleans()) else words[k] + " " + draw(TOKENS)
                out[i] = " ".join(words)
            elif op == "cut":
                out = out[: i + 1]
        return "".join(out)

    return mutate()


def _run(parse: Callable[[str], Any], text: str) -> None:
    with contextlib.suppress(KleakError):  # anything else fails the test
        parse(text)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_real_capture_still_parses(name: str) -> None:
    parse, text = PARSERS[name]
    parse(text)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_mutated_captures_raise_only_kleak_errors(name: str) -> None:
    parse, text = PARSERS[name]

    @FUZZ
    @given(mutations(text))
    def check(mutated: str) -> None:
        _run(parse, mutated)

    check()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_random_text_raises_only_kleak_errors(name: str) -> None:
    parse, _ = PARSERS[name]
    line = st.lists(st.one_of(TOKENS, st.text(max_size=30)), max_size=12).map(" ".join)

    @settings(FUZZ, max_examples=60)
    @given(st.one_of(st.text(max_size=400), st.lists(line, max_size=30).map("\n".join)))
    def check(text: str) -> None:
        _run(parse, text)

    check()


# Inputs that once escaped as ValueError/IndexError, or that int() and str.isdigit() accept
# although no kernel prints them (non-ASCII digits, "_" separators, thousands of digits).
HOSTILE = [
    ("zoneinfo", "Node 0, zone   Normal\n  pages free 1\n:::\n"),
    ("slub_traces", "    338 pci_alloc_dev+0x2c/0xa0 age=x/y pid=1\n"),
    ("slub_traces", "    338 pci_alloc_dev+0x2c/0xa0 waste=x/1 age=1/2 pid=1\n"),
    ("modules", "leaky 16384 x - Live 0xffffffffc0b3d000 (OE)\n"),
    ("modules", "leaky \u0661\u0662 0 - Live 0x0\n"),
    ("trace_hist", "Totals:\n    Hits: " + "9" * 5000 + "\n"),
    ("kmemleak", "unreferenced object 0xffff (size " + "9" * 5000 + "):\n"),
    ("page_owner", "Page allocated via order 99999, mask 0x0\n f+0x1/0x2\n"),
    ("page_owner", "9" * 5000 + " times, 1 pages:\n"),
    ("version", "Linux version " + "9" * 5000 + ".1 (a@b) #1\n"),
    ("meminfo", "MemTotal: " + "9" * 400 + " kB\n"),
    ("meminfo", "MemTotal: \u0669\u0668\u0661 kB\n"),
    ("cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t\u0660\t\u0664\t1\n"),
    ("tainted", "1_2288\n"),
    ("dentry_state", "\u0661 2 3 4 5 6\n"),
    ("slabtop", "OBJS ACTIVE USE OBJ SIZE SLABS OBJ/SLAB CACHE SIZE NAME\n1 1 100% nanK 1 1 infK x\n"),
    ("slabtop", "OBJS ACTIVE USE OBJ SIZE SLABS OBJ/SLAB CACHE SIZE NAME\n1 1 100% 1e999K 1 1 4K x\n"),
    ("timestamp", "\u0662\u0660\u0662\u0666-11-24T16:53:05Z"),
    ("pasted", "Slab is " + "9" * 400 + " GB on a 4 GB box\n"),  # a size beyond any float
    ("allocinfo", "9" * 400 + " 1 mm/a.c:1 func:f\n"),
    ("manifest", "[" * 50_000),
    ("manifest", '{"samples": [{"index": ' + "9" * 5000 + "}]}"),
]


@pytest.mark.parametrize(("name", "text"), HOSTILE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(HOSTILE)])
def test_hostile_numbers_are_kleak_errors_or_dropped(name: str, text: str) -> None:
    parse, _ = PARSERS[name]
    _run(parse, text)


def test_non_ascii_digits_are_not_numbers() -> None:
    assert "MemTotal" not in split_pasted("MemTotal: \u0669\u0668\u0661 kB\nMemFree: 1 kB\n").meminfo
    with pytest.raises(KleakError):
        parse_meminfo("MemTotal: \u0669\u0668\u0661 kB\n")
    with pytest.raises(KleakError):
        parse_inode_state("\u0661\u0662 0 0 0 0 0 0\n")
    assert parse_cgroup_stat("nr_descendants \u0664\u0665\n").nr_descendants is None
