"""Tests for the /proc/sys/fs/dentry-state parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.dentry_state import DentryState, parse_dentry_state

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"


def test_healthy() -> None:
    state = parse_dentry_state((LAB / "healthy/samples/000/proc/sys/fs/dentry-state").read_text(), kernel=(6, 1, 176))
    assert state == DentryState(18761, 3192, 45, 0, 696)


def test_negative_dentries_grow() -> None:
    before = parse_dentry_state((LAB / "dentry-growth/samples/000/proc/sys/fs/dentry-state").read_text())
    after = parse_dentry_state((LAB / "dentry-growth/samples/002/proc/sys/fs/dentry-state").read_text())
    assert (before.nr_negative, after.nr_negative) == (59343, 132237)
    assert after.nr_dentry - before.nr_dentry == 150350 - 77456


def test_this_machine() -> None:
    state = parse_dentry_state((SAMPLES / "this-machine/proc/sys/fs/dentry-state").read_text())
    assert state.age_limit == 45 and state.nr_negative is not None


def test_old_kernel_field_is_a_dummy() -> None:
    # synthetic edge case: a 4.x kernel prints "dummy" 0 where 5.0+ prints nr_negative
    text = "41302\t36113\t45\t0\t0\t0\r\n"
    assert parse_dentry_state(text, kernel=(4, 19, 0)).nr_negative is None
    assert parse_dentry_state(text, kernel=(3, 10, 0)).nr_negative is None
    assert parse_dentry_state(text).nr_negative == 0  # kernel unknown: report what is there
    assert parse_dentry_state(text, kernel=(5, 0, 0)).nr_negative == 0


def test_public_report() -> None:
    # https://github.com/opencloudtouch/opencloudtouch/issues/387: 2.3 million negative dentries
    state = parse_dentry_state("2368980 2357899 45      0       2318380 0")
    assert (state.nr_dentry, state.nr_unused, state.nr_negative) == (2368980, 2357899, 2318380)


def test_not_dentry_state() -> None:
    with pytest.raises(ParseError):
        parse_dentry_state("1 2 3")
    with pytest.raises(ParseError):
        parse_dentry_state((LAB / "healthy/static/proc/cgroups").read_text())
