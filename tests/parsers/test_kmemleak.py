"""Tests for the kmemleak report parser, on real reports from public posts (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.kmemleak import (
    Frame,
    group_by_backtrace,
    is_allocator,
    parse_frame,
    parse_kmemleak,
)

PUBLIC = Path(__file__).resolve().parents[1] / "samples" / "public"


def load(name: str) -> str:
    return (PUBLIC / name).read_text()


def test_newer_format_without_addresses() -> None:
    # 6.x: "backtrace (crc ...)", frames printed without [<address>], no "(age ...)"
    objs = parse_kmemleak(load("kmemleak-nvme-loop.txt"))
    assert [o.size for o in objs] == [1024, 8, 128, 512]
    first = objs[0]
    assert (first.address, first.comm, first.pid) == (0xFFFF8881295FD000, "nvme", 101335)
    assert len(first.backtrace) == 15
    top = first.backtrace[0]
    assert top == Frame(
        "__kmalloc_cache_node_noprof", "0x5f9/0x840", None, None, "__kmalloc_cache_node_noprof+0x5f9/0x840"
    )
    assert first.backtrace[6].key == "nvme_alloc_admin_tag_set [nvme_core]"


def test_newer_format_groups_by_first_non_allocator_frame() -> None:
    groups = group_by_backtrace(parse_kmemleak(load("kmemleak-nvme-loop.txt")))
    assert [(g.key, g.count, g.bytes) for g in groups] == [
        ("blk_mq_alloc_hctx", 2, 1024 + 128),
        ("sbitmap_init_node", 1, 512),  # __kvmalloc_node_noprof skipped
        ("alloc_cpumask_var_node", 1, 8),
    ]


def test_addresses_crc_and_module_groups() -> None:
    objs = parse_kmemleak(load("kmemleak-bnxt-re.txt"))
    assert len(objs) == 6 and sum(o.size for o in objs) == 4 * 4096 + 2 * 512
    frame = objs[0].backtrace[3]  # [<ffffffffc2152f89>] __alloc_pbl+0x199/0x960 [bnxt_re]
    assert (frame.function, frame.offset, frame.module, frame.address) == (
        "__alloc_pbl",
        "0x199/0x960",
        "bnxt_re",
        0xFFFFFFFFC2152F89,
    )
    groups = group_by_backtrace(objs)
    # kmemleak_vmalloc, __vmalloc_node_range, __vmalloc_node and kmalloc_trace are skipped
    assert [(g.key, g.module, g.count, g.bytes) for g in groups] == [
        ("__alloc_pbl [bnxt_re]", "bnxt_re", 4, 16384),
        ("bnxt_re_alloc_mw [bnxt_re]", "bnxt_re", 2, 1024),
    ]
    assert groups[0].backtrace == objs[0].backtrace


def test_without_skipping_allocators() -> None:
    groups = group_by_backtrace(parse_kmemleak(load("kmemleak-bnxt-re.txt")), skip_allocator_frames=False)
    assert [(g.key, g.count) for g in groups] == [("kmemleak_vmalloc", 4), ("kmalloc_trace", 2)]


def test_syzbot_symbolized_frames() -> None:
    # syzkaller adds file:line and repeats an address for each inlined frame ("[inline]" is no module)
    (obj,) = parse_kmemleak(load("kmemleak-syzbot-nfc.txt"))
    assert (obj.comm, obj.pid, obj.size) == ("syz-executor354", 5068, 32)
    inlined = obj.backtrace[1]
    assert (inlined.function, inlined.offset, inlined.module) == ("kmalloc", None, None)
    assert [g.key for g in group_by_backtrace([obj])] == ["nfc_genl_se_io"]


def test_older_32bit_format_with_age() -> None:
    objs = parse_kmemleak(load("kmemleak-openwrt-mips.txt"))
    assert [(o.address, o.comm, o.pid) for o in objs] == [
        (0x80C93C80, "kmodloader", 326),
        (0x80C93D80, "kmodloader", 326),
    ]
    # __kmalloc_track_caller, memdup_user/strndup_user and kstrdup are copy helpers, not the leaker
    assert [g.key for g in group_by_backtrace(objs)] == ["kobject_set_name_vargs", "load_module"]


def test_frames() -> None:
    assert parse_frame("    [<ffffffff81234567>] kmem_cache_alloc+0x1a/0x2b") == Frame(
        "kmem_cache_alloc", "0x1a/0x2b", None, 0xFFFFFFFF81234567, "[<ffffffff81234567>] kmem_cache_alloc+0x1a/0x2b"
    )
    # a module frame after its module was unloaded: only an address (real one, not the hashed [<>])
    bare = parse_frame("[<0000000039eb1cf5>] 0xffffffffa00083cd")
    assert bare is not None and bare.function is None and bare.address == 0xFFFFFFFFA00083CD
    assert bare.key == "[<0000000039eb1cf5>] 0xffffffffa00083cd"
    assert parse_frame("hex dump (first 32 bytes):") is None
    assert parse_frame("Slab cache page") is None
    assert all(
        map(is_allocator, ["__kmalloc", "kmalloc_trace", "___slab_alloc.constprop.0", "__alloc_pages", "kzalloc"])
    )
    assert not any(map(is_allocator, ["leaky_kmalloc_leak", "alloc_cpumask_var_node", "sk_alloc", None]))


def test_old_kernel_end_of_stack_marker() -> None:
    # synthetic edge case: kernels before 4.19 ended each stack with a ULONG_MAX frame (seen in
    # the abrt/abrt#578 report); it is not a caller
    (obj,) = parse_kmemleak(
        "unreferenced object 0xffff880211e2aec0 (size 544):\n"
        '  comm "X", pid 1377, jiffies 4294790842 (age 147359.137s)\n'
        "  backtrace:\n"
        "    [<ffffffff8117e4e3>] kmem_cache_alloc+0xd3/0x110\n"
        "    [<ffffffff813b9217>] idr_pre_get+0x67/0x90\n"
        "    [<ffffffffffffffff>] 0xffffffffffffffff\n"
    )
    assert [f.function for f in obj.backtrace] == ["kmem_cache_alloc", "idr_pre_get"]


def test_console_lines_between_objects_are_ignored() -> None:
    text = load("kmemleak-openwrt-mips.txt")
    lines = text.splitlines()
    split = next(i for i, line in enumerate(lines) if i and line.startswith("unreferenced"))
    # synthetic edge case: a kernel log line between two objects, as in console captures
    noisy = "\n".join([*lines[:split], "BUG: memory leak", *lines[split:]])
    assert parse_kmemleak(noisy) == parse_kmemleak(text)


def test_crlf_empty_and_not_kmemleak() -> None:
    text = load("kmemleak-bnxt-re.txt")
    assert parse_kmemleak(text.replace("\n", "\r\n").rstrip()) == parse_kmemleak(text)
    assert parse_kmemleak("") == ()
    assert group_by_backtrace([]) == []
    with pytest.raises(ParseError) as err:
        parse_kmemleak(load("page_owner-arm64-2017.txt"))
    assert err.value.spec == "kmemleak" and err.value.line == 1
