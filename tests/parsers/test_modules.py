"""Tests for the /proc/modules parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.modules import Module, parse_modules

LAB = Path(__file__).resolve().parents[1] / "samples" / "lab-debian-6.1"


def test_leaky_module_loaded() -> None:
    mods = parse_modules((LAB / "kmalloc-leak/static/proc/modules").read_text())
    assert mods[0] == Module("leaky", 16384, 0, (), "Live", 0xFFFFFFFFC0B3D000, "OE")
    assert mods[0].out_of_tree and mods[0].unsigned and not mods[0].proprietary
    by_name = {m.name: m for m in mods}
    assert by_name["ccp"].deps == ("kvm_amd",) and by_name["ccp"].refcount == 1
    assert not any(m.taints for m in mods[1:])


def test_healthy_and_after_unload() -> None:
    healthy = parse_modules((LAB / "healthy/static/proc/modules").read_text())
    after = parse_modules((LAB / "dentry-growth/static/proc/modules").read_text())
    assert healthy == after and "leaky" not in {m.name for m in healthy}
    assert all(m.state == "Live" for m in healthy)


def test_edge_cases() -> None:
    # synthetic edge cases in the kernel's print format: several users, "[permanent]",
    # no unload support ("-" refcount), address hidden from unprivileged readers, proprietary taint
    text = (
        "nvidia 56799232 2 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000 (POE)\r\n"
        "sunrpc 581632 1 [permanent], Live 0xffffffffc0400000\r\n"
        "foo 16384 - - Loading 0xffffffffc0500000"
    )
    nvidia, sunrpc, foo = parse_modules(text)
    assert nvidia.deps == ("nvidia_modeset", "nvidia_uvm") and nvidia.address is None and nvidia.proprietary
    assert sunrpc.deps == () and sunrpc.taints == ""
    assert (foo.refcount, foo.state, foo.deps) == (-1, "Loading", ())
    assert parse_modules("") == ()


def test_not_modules() -> None:
    with pytest.raises(ParseError) as err:
        parse_modules((LAB / "healthy/static/proc/cgroups").read_text())
    assert err.value.line == 1
