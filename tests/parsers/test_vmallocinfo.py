"""Tests for the /proc/vmallocinfo parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.vmallocinfo import parse_vmallocinfo

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"


def load(path: str) -> str:
    return (LAB / path).read_text()


def test_healthy_matches_meminfo_vmallocused() -> None:
    info = parse_vmallocinfo(load("healthy/samples/000/proc/vmallocinfo"))
    assert len(info.areas) == 366
    meminfo = parse_meminfo(load("healthy/samples/000/proc/meminfo"))
    assert info.vmalloc_bytes() == meminfo["VmallocUsed"]


def test_area_fields() -> None:
    areas = parse_vmallocinfo(load("healthy/samples/000/proc/vmallocinfo")).areas
    first = areas[0]  # 0x...-0x...   20480 irq_init_percpu_irqstack+0xf0/0x120 vmap
    assert (first.start, first.end, first.size) == (0x69F6463B, 0x36F57C0F, 20480)
    assert (first.caller, first.function, first.module) == (
        "irq_init_percpu_irqstack+0xf0/0x120",
        "irq_init_percpu_irqstack",
        None,
    )
    assert (first.pages, first.flags, first.phys) == (None, ("vmap",), None)
    ioremap = areas[1]
    assert ioremap.phys == 0x3FFE2000 and ioremap.flags == ("ioremap",)
    vpages = next(a for a in areas if "vpages" in a.flags)
    assert vpages.module == "drm_kms_helper" and vpages.pages == 1000 and vpages.flags == ("vmalloc", "vpages")


def test_vmalloc_leak_points_at_leaky() -> None:
    before = parse_vmallocinfo(load("vmalloc-leak/samples/000/proc/vmallocinfo")).by_caller()
    after = parse_vmallocinfo(load("vmalloc-leak/samples/002/proc/vmallocinfo")).by_caller()
    assert before["leaky_leak_4k [leaky]"] == (2816, 2816 * 4096)
    assert after["leaky_leak_4k [leaky]"] == (6144, 6144 * 4096)
    growth = {k: after[k][1] - before.get(k, (0, 0))[1] for k in after}
    assert max(growth, key=lambda k: growth[k]) == "leaky_leak_4k [leaky]"
    meminfo = parse_meminfo(load("vmalloc-leak/samples/000/proc/meminfo"))
    info = parse_vmallocinfo(load("vmalloc-leak/samples/000/proc/vmallocinfo"))
    assert info.vmalloc_bytes() == meminfo["VmallocUsed"]


def test_unloaded_module_leaves_bare_addresses() -> None:
    # dentry-growth ran after `leaky` was removed: its leaked areas stay, named by address only
    info = parse_vmallocinfo(load("dentry-growth/samples/000/proc/vmallocinfo"))
    orphan = next(a for a in info.areas if a.caller.startswith("0xffffffffc0b3d056"))
    assert (orphan.caller, orphan.function, orphan.module) == ("0xffffffffc0b3d056", None, None)
    assert orphan.pages == 1 and orphan.flags == ("vmalloc",)
    assert info.by_caller()["0xffffffffc0b3d056"] == (6400, 6400 * 4096)


def test_special_lines() -> None:
    info = parse_vmallocinfo(load("healthy/samples/000/proc/vmallocinfo"))
    unpurged = [a for a in info.areas if a.caller == "unpurged vm_area"]
    assert unpurged and all(a.function is None and a.flags == () for a in unpurged)
    vm_map_ram = parse_vmallocinfo("0x00000000a1b2c3d4-0x00000000e5f60718   65536 vm_map_ram\n")
    # synthetic edge case: the format mm/vmalloc.c prints for vm_map_ram() areas (none on the lab VM)
    assert vm_map_ram.areas[0].caller == "vm_map_ram" and vm_map_ram.areas[0].function is None


def test_this_machine() -> None:
    info = parse_vmallocinfo((SAMPLES / "this-machine/proc/vmallocinfo").read_text())
    assert len(info.areas) == 1545
    assert info.by_caller()["unpurged vm_area"][0] == 1311


def test_crlf_and_missing_final_newline() -> None:
    text = load("healthy/samples/000/proc/vmallocinfo")
    assert parse_vmallocinfo(text.replace("\n", "\r\n").rstrip()) == parse_vmallocinfo(text)


def test_not_vmallocinfo() -> None:
    with pytest.raises(ParseError) as err:
        parse_vmallocinfo(load("healthy/samples/000/proc/meminfo"))
    assert err.value.spec == "vmallocinfo" and err.value.line == 1
    assert parse_vmallocinfo("").areas == ()


def test_100k_lines_well_under_a_second() -> None:
    lines = load("dentry-growth/samples/000/proc/vmallocinfo").splitlines()
    text = "\n".join((lines * (100_000 // len(lines) + 1))[:100_000])
    started = time.perf_counter()
    info = parse_vmallocinfo(text)
    info.by_caller()
    assert len(info.areas) == 100_000
    assert time.perf_counter() - started < 1.0
