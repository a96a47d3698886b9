"""Tests for the /proc/sys/kernel/tainted decoder, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.tainted import FLAGS, parse_tainted

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"


def test_untainted_lab_and_this_machine() -> None:
    for path in (
        LAB / "healthy/static/proc/sys/kernel/tainted",
        SAMPLES / "this-machine/proc/sys/kernel/tainted",
    ):
        taint = parse_tainted(path.read_text())
        assert taint.value == 0 and taint.flags == ()
        assert not (taint.proprietary or taint.out_of_tree or taint.unsigned)
        assert taint.letters == "G"


def test_out_of_tree_unsigned_module() -> None:
    taint = parse_tainted((LAB / "kmalloc-leak/static/proc/sys/kernel/tainted").read_text())
    assert taint.value == 12288
    assert [(f.bit, f.letter) for f in taint.flags] == [(12, "O"), (13, "E")]
    assert taint.out_of_tree and taint.unsigned and not taint.proprietary
    assert taint.letters == "GOE"


def test_taint_stays_after_module_is_unloaded() -> None:
    # dentry-growth ran after rmmod leaky: /proc/modules no longer lists it, the taint remains
    assert parse_tainted((LAB / "dentry-growth/static/proc/sys/kernel/tainted").read_text()).value == 12288


def test_doc_example_and_unknown_bits() -> None:
    # 4609 = P W O, the example in Documentation/admin-guide/tainted-kernels.rst
    assert parse_tainted("4609").letters == "PWO"
    assert [f.letter for f in FLAGS] == list("PFSRMBUDAWCIOELKXTNJ")
    unknown = parse_tainted(str(1 << 25) + "\r\n").flags
    assert unknown[0].bit == 25 and unknown[0].letter == "?"


def test_not_a_number() -> None:
    with pytest.raises(ParseError):
        parse_tainted("Tainted: G\n")
    with pytest.raises(ParseError):
        parse_tainted("-1")
