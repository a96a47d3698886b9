"""``vmstat -s`` (parsers/vmstat.py) read as a form of the meminfo spec."""

from __future__ import annotations

import pytest

from conftest import SAMPLES
from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.vmstat import parse_vmstat_s

BUILD = SAMPLES / "build-machine"
PUBLIC = SAMPLES / "public" / "uutils-procps-470-vmstat-s.txt"


def test_captured_vmstat_maps_to_the_meminfo_fields_it_comes_from() -> None:
    # vmstat -s and /proc/meminfo read one after the other on the build machine (procps-ng 4.0.2)
    vm = parse_vmstat_s((BUILD / "commands" / "vmstat_-s").read_text())
    mi = parse_meminfo((BUILD / "proc" / "meminfo").read_text())
    assert vm["MemTotal"] == mi["MemTotal"] and vm["Buffers"] == mi["Buffers"]
    # procps-ng's "swap cache" is Cached + SReclaimable, not SwapCached
    assert vm["Cached"] == mi["Cached"] + mi["SReclaimable"]
    assert vm["SwapTotal"] == mi["SwapTotal"] and vm["SwapFree"] == mi["SwapFree"]
    for name in ("MemFree", "Active", "Inactive"):  # read a moment apart: within 1% of MemTotal
        assert abs(vm[name] - mi[name]) < mi["MemTotal"] // 100, name
    assert "SwapCached" not in vm and "VmstatUsed" in vm


def test_the_spec_knows_the_form() -> None:
    text = (BUILD / "commands" / "vmstat_-s").read_text()
    assert SPECS["meminfo"].parser("vmstat")(text)["MemTotal"] == 24684084 * 1024


def test_units_other_than_kib() -> None:
    # synthetic edge case: vmstat -s -S M and -S k print the unit they were given
    mi = parse_vmstat_s("        15924 M total memory\n         3002 M free memory\n")
    assert mi["MemTotal"] == 15924 * 1024**2 and mi["MemFree"] == 3002 * 1024**2
    mi = parse_vmstat_s("     16697384 k total memory\n      3147776 k free memory\n")
    assert mi["MemTotal"] == 16697384 * 1000


def test_event_counters_alone_are_not_memory() -> None:
    with pytest.raises(ParseError):
        parse_vmstat_s("      1915520 non-nice user cpu ticks\n      1823544 forks\n")


def test_two_outputs_in_a_ticket_become_two_samples_in_order() -> None:
    # https://github.com/uutils/procps/pull/470: uutils' vmstat -s, then procps' (cut after "free swap")
    blocks = split_pasted(PUBLIC.read_text())
    assert blocks.meminfo_forms == ("vmstat", "vmstat") and [spec for spec, _ in blocks.order] == ["meminfo"] * 2
    first, second = (parse_vmstat_s(t) for t in blocks.meminfo)
    assert first["MemTotal"] == second["MemTotal"] == 30517772 * 1024
    assert (first["Cached"], second["Cached"]) == (14112448 * 1024, 14338192 * 1024)
    assert blocks.ignored_lines == 2  # the fence and the prompt


def test_quoted_fenced_and_cut_short() -> None:
    # the build machine's capture quoted in an e-mail, in a fence, cut in its last line (built here)
    lines = (BUILD / "commands" / "vmstat_-s").read_text().splitlines()
    text = "> ```\n" + "\n".join("> " + x for x in lines[:12]) + "\n>     19302\n> ```\n"
    blocks = split_pasted(text)
    assert blocks.meminfo_forms == ("vmstat",)
    assert parse_vmstat_s(blocks.meminfo[0])["MemTotal"] == 24684084 * 1024
