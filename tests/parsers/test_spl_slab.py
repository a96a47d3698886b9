"""ZFS's ``/proc/spl/kmem/slab`` (parsers/spl_slab.py), on outputs pasted in OpenZFS issues."""

from __future__ import annotations

import pytest

from conftest import SAMPLES
from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.spl_slab import parse_spl_slab

PUBLIC = SAMPLES / "public"


def test_rows_of_a_host_whose_spl_slab_kept_growing() -> None:
    # https://github.com/openzfs/zfs/issues/3029 (ZoL 0.6.3): rows pasted without the header
    spl = parse_spl_slab((PUBLIC / "zfs-3029-spl-slab-rows.txt").read_text())
    assert len(spl.caches) == 9 and spl.cut_rows == 0
    assert spl.largest is not None and spl.largest.name == "zio_buf_16384"
    assert (spl.largest.size, spl.largest.alloc, spl.largest.objects) == (12264144896, 5455953920, 333005)
    assert spl.size_bytes == sum(int(c.size or 0) for c in spl.caches) == 12832735232


def test_caches_on_the_kernels_slab_are_not_counted() -> None:
    # https://github.com/openzfs/zfs/issues/11418 (OpenZFS 2.0): "-" rows are KMC_SLAB caches,
    # whose memory /proc/slabinfo and Slab already count
    spl = parse_spl_slab((PUBLIC / "zfs-11418-spl-slab.txt").read_text())
    linux = [c.name for c in spl.caches if c.on_linux_slab]
    assert linux == [
        "mod_hash_entries",
        "kcf_sreq_cache",
        "kcf_areq_cache",
        "kcf_context_cache",
        "zfs_btree_leaf_cache",
    ]
    assert spl.size_bytes == 17161728 + 1394624
    assert next(c for c in spl.caches if c.name == "mod_hash_entries").objects == 35


def test_the_layout_before_the_emergency_columns() -> None:
    # https://github.com/openzfs/zfs/issues/466 (SPL 0.6.0): twelve columns, no "emergency" group
    spl = parse_spl_slab((PUBLIC / "zfs-466-spl-slab.txt").read_text())
    assert spl.largest is not None and (spl.largest.name, spl.largest.size) == ("zio_buf_512", 1052508160)
    assert spl.size_bytes == 753664 + 1052508160 + 360448


def test_a_row_cut_short_is_left_out_and_counted() -> None:
    # https://github.com/openzfs/zfs/issues/3085: the stored copy ends in the middle of the next row
    text = (PUBLIC / "zfs-3085-spl-slab.txt").read_text() + "zio_data_buf_20480                    0x00040"
    spl = parse_spl_slab(text)
    assert spl.cut_rows == 1 and spl.largest is not None and spl.largest.name == "zio_vdev_cache"
    blocks = split_pasted(text)
    assert len(blocks.spl_slab) == 1 and any("cut short" in n for n in blocks.notes)


def test_found_in_prose_with_markdown_and_quoting() -> None:
    text = "> " + (PUBLIC / "zfs-3085-spl-slab.txt").read_text().replace("\n", "\n> ")
    blocks = split_pasted(text)
    assert len(blocks.spl_slab) == 1 and [spec for spec, _ in blocks.order] == ["spl_slab"]
    assert parse_spl_slab(blocks.spl_slab[0]).size_bytes == 524288 + 113246208 + 1572864


def test_a_header_without_rows_is_named_not_read() -> None:
    # the description of issue 3029, as stored: the index cut it after the column header
    blocks = split_pasted((PUBLIC / "zfs-3029-spl-slab-description.txt").read_text())
    assert not blocks.spl_slab and any(n.startswith("spl_slab: a pasted") for n in blocks.notes)


def test_not_spl_slab() -> None:
    with pytest.raises(ParseError):
        parse_spl_slab("name                                    flags      size     alloc slabsize  objsize\n")
