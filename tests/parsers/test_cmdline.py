"""Tests for the /proc/cmdline parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

from kleak_runbook.parsers.cmdline import parse_cmdline

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"


def test_lab() -> None:
    cmd = parse_cmdline((LAB / "healthy/static/proc/cmdline").read_text())  # ends in "1 \n"
    assert cmd.args == ("root=/dev/vda", "rw", "console=ttyS0", "net.ifnames=1")
    assert cmd.params() == {"root": "/dev/vda", "rw": None, "console": "ttyS0", "net.ifnames": "1"}
    assert cmd.has("rw") and cmd.has("net.ifnames", "1") and not cmd.has("net.ifnames", "0")
    assert not cmd.has("slub_debug")


def test_this_machine_init_args_after_double_dash() -> None:
    cmd = parse_cmdline((SAMPLES / "this-machine/proc/cmdline").read_text())
    assert cmd.has("psi", "1") and cmd.has("nomodule")
    assert cmd.params()["mitigations"] == "auto,no_guest_host,no_guest_guest"
    assert cmd.init_args[0] == "--firecracker-init"
    assert "--addr" not in cmd.params() and not cmd.has("--addr")


def test_quotes_last_wins_and_dash_underscore() -> None:
    # synthetic edge cases, following kernel/params.c
    cmd = parse_cmdline('slub_debug=FZ dyndbg="file mm/slub.c +p" slub-debug=U "quoted word" quiet\r')
    assert cmd.args[1] == 'dyndbg="file mm/slub.c +p"'
    assert cmd.params()["dyndbg"] == "file mm/slub.c +p"
    assert cmd.args[3] == '"quoted word"' and cmd.params()["quoted word"] is None
    assert cmd.has("slub_debug", "U") and not cmd.has("slub_debug", "FZ")
    assert parse_cmdline("a=1 a=2").params() == {"a": "2"}
    assert parse_cmdline("").args == ()
