"""Tests for the /proc/cgroups parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.cgroups import CgroupSubsys, parse_cgroups

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_lab_cgroup_v2() -> None:
    subsys = parse_cgroups((SAMPLES / "lab-debian-6.1/healthy/static/proc/cgroups").read_text())
    assert len(subsys) == 14
    assert subsys["memory"] == CgroupSubsys("memory", 0, 45, True)
    assert all(s.hierarchy == 0 for s in subsys.values())


def test_this_machine_cgroup_v1() -> None:
    subsys = parse_cgroups((SAMPLES / "this-machine/proc/cgroups").read_text())
    assert subsys["memory"] == CgroupSubsys("memory", 4, 26, True)
    assert subsys["net_cls"].hierarchy == 0


def test_crlf_disabled_and_wrong_file() -> None:
    text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\r\nmemory\t0\t1\t0"  # as after cgroup_disable=memory
    assert parse_cgroups(text)["memory"].enabled is False
    with pytest.raises(ParseError):
        parse_cgroups("memory\t0\t1\t1\n")
    with pytest.raises(ParseError) as err:
        parse_cgroups("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\n")
    assert err.value.line == 2
