"""Tests for the SLUB alloc_traces / alloc_calls parser (see tests/samples/README.md for the sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.slub_traces import parse_alloc_traces

PUBLIC = Path(__file__).resolve().parents[1] / "samples" / "public"


def load(name: str) -> str:
    return (PUBLIC / name).read_text()


def test_alloc_traces_with_stack() -> None:
    (trace,) = parse_alloc_traces(load("slub-alloc_traces-doc.txt"))
    assert (trace.count, trace.caller, trace.function, trace.module) == (
        338,
        "pci_alloc_dev+0x2c/0xa0",
        "pci_alloc_dev",
        None,
    )
    assert (trace.age_min, trace.age_avg, trace.age_max) == (290837, 291891, 293509)
    assert (trace.pids, trace.cpus, trace.nodes, trace.waste) == ("1", "106", "0-1", 521872)
    assert len(trace.stack) == 16 and trace.stack[:2] == (
        "__kmem_cache_alloc_node+0x11f/0x4e0",
        "kmalloc_trace+0x26/0xa0",
    )
    assert trace.site == "pci_alloc_dev"


def test_free_traces_not_available_single_age_and_tabs() -> None:
    # free_traces has the same format; its stack lines are tab-indented in the doc
    na, acpi = parse_alloc_traces(load("slub-free_traces-doc.txt"))
    assert (na.count, na.caller, na.function, na.key) == (1980, "<not-available>", None, "<not-available>")
    assert (na.age_min, na.age_avg, na.age_max, na.pids, na.stack) == (4294912290, 4294912290, 4294912290, "0", ())
    assert acpi.pids == "1" and acpi.stack[0] == "kfree+0x2db/0x420" and len(acpi.stack) == 16


def test_sysfs_alloc_calls_sorted_by_count() -> None:
    traces = parse_alloc_traces(load("slub-alloc_calls-2007.txt"))
    assert len(traces) == 22 and sum(t.count for t in traces) == 194
    assert [(t.key, t.count) for t in traces[:3]] == [
        ("kernel_param_sysfs_setup", 29),
        ("dma_pool_create", 26),
        ("kobject_kset_add_dir", 24),
    ]
    chrdev = next(t for t in traces if t.function == "__register_chrdev_region")
    assert (chrdev.pids, chrdev.nodes, chrdev.cpus, chrdev.stack) == ("1-1705", "0-2", None, ())


def test_site_behind_an_allocator_wrapper() -> None:
    # synthetic edge case, in the shape the lab saw on Debian 6.1 with slub_debug=U,kmalloc-4k:
    # when the recorded caller is itself an allocator, the site is the first frame past it
    (trace,) = parse_alloc_traces(
        "   9216 kmalloc_trace+0x26/0x90 age=1234/5678/9012 pid=12-34 cpus=0-1\n"
        "        __kmem_cache_alloc_node+0x1b5/0x2e0\n"
        "        kmalloc_trace+0x26/0x90\n"
        "        leaky_kmalloc_leak+0x3a/0x80 [leaky]\n"
        "        process_one_work+0x1c7/0x380\n"
        "\n"
    )
    assert (trace.key, trace.site, trace.pids, trace.age_max) == (
        "kmalloc_trace",
        "leaky_kmalloc_leak [leaky]",
        "12-34",
        9012,
    )
    # module caller on the head line
    (mod,) = parse_alloc_traces("   9216 leaky_kmalloc_leak+0x3a/0x80 [leaky] age=1/2/3 pid=12 cpus=0-1 nodes=0\n")
    assert (mod.caller, mod.function, mod.module, mod.site) == (
        "leaky_kmalloc_leak+0x3a/0x80 [leaky]",
        "leaky_kmalloc_leak",
        "leaky",
        "leaky_kmalloc_leak [leaky]",
    )


def test_no_data_empty_and_not_traces() -> None:
    assert parse_alloc_traces("No data\n") == ()
    assert parse_alloc_traces("") == ()
    with pytest.raises(ParseError) as err:
        parse_alloc_traces(load("kmemleak-nvme-loop.txt"))
    assert err.value.spec == "slub_traces" and err.value.line == 1
