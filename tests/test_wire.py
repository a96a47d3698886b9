"""The collection script, run for real by /bin/sh on this machine, and its decoder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kleak_runbook.evidence.wire import ScriptBuilder, decode


def run(builder: ScriptBuilder, user: str | None = None) -> str:
    cmd = builder.as_raw_command()
    argv = ["runuser", "-u", user, "--", "sh", "-c", cmd] if user else ["sh", "-c", cmd]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


def test_items_arrive_whole_with_their_counts() -> None:
    b = ScriptBuilder.new("sample 1/1")
    b.timestamp()
    b.file("sample/proc/meminfo", "/proc/meminfo")
    b.file("sample/proc/nosuch", "/proc/nosuch")
    b.command("static/commands/uname", "uname -a")
    reply = decode(run(b), b.marker)
    assert reply.complete and reply.batch == "sample 1/1"
    assert reply.times and reply.times[0][1] is not None and reply.times[0][1] > 0  # /proc/uptime
    items = {i.name: i for i in reply.items}
    assert items["sample/proc/meminfo"].status == "ok"
    assert items["sample/proc/meminfo"].text is not None and items["sample/proc/meminfo"].text.startswith("MemTotal:")
    assert items["sample/proc/nosuch"].status == "missing"
    uname = items["static/commands/uname"].text
    assert uname is not None and uname.startswith("Linux ")


def test_a_cut_reply_is_never_taken_for_evidence() -> None:
    b = ScriptBuilder.new("cut")
    b.file("sample/proc/slabinfo", "/proc/slabinfo")
    out = run(b)
    whole = decode(out, b.marker)
    assert whole.items[0].status == "ok"
    # what ansible-runner does to an event above MAX_EVENT_RES: the tail is gone
    cut = decode(out[: len(out) // 2], b.marker)
    assert cut.items[0].status == "truncated" and cut.items[0].text is None and not cut.complete
    # a body that lost lines in the middle but kept its END marker fails the counts
    lines = out.split("\n")
    middle = "\n".join(lines[:5] + lines[8:])
    damaged = decode(middle, b.marker)
    assert damaged.items[0].status == "truncated" and "host sent" in damaged.items[0].detail


def test_crlf_from_a_tty_is_undone() -> None:
    b = ScriptBuilder.new("tty")
    b.file("sample/proc/meminfo", "/proc/meminfo")
    out = run(b)
    reply = decode(out.replace("\n", "\r\n"), b.marker)
    assert reply.items[0].status == "ok"


@pytest.mark.skipif(shutil.which("runuser") is None, reason="runuser (util-linux) not installed")
def test_unreadable_file_is_denied_not_failed() -> None:
    b = ScriptBuilder.new("nobody")
    b.file("sample/proc/slabinfo", "/proc/slabinfo")  # mode 0400 root
    b.file("sample/proc/meminfo", "/proc/meminfo")
    reply = decode(run(b, user="nobody"), b.marker)
    status = {i.name: i.status for i in reply.items}
    assert status == {"sample/proc/slabinfo": "denied", "sample/proc/meminfo": "ok"}


def test_scripts_never_look_like_jinja() -> None:
    b = ScriptBuilder.new("x")
    b.command("static/x", "echo {{ no }}")
    with pytest.raises(AssertionError):
        b.render()


def test_files_read_by_awk_keep_every_status(tmp_path: Path) -> None:
    exact, big, empty = tmp_path / "exact", tmp_path / "big", tmp_path / "empty"
    exact.write_text("12345\n1234\n")  # 11 bytes: exactly at its limit
    big.write_text("x" * 100 + "\n")
    empty.write_text("")
    b = ScriptBuilder.new("files")
    b.file("sample/proc/version", "/proc/version")
    b.file("sample/exact", str(exact), 11)
    b.file("sample/big", str(big), 50)
    b.file("sample/nosuch", str(tmp_path / "nosuch"))
    b.file("sample/empty", str(empty))
    b.file("sample/dir", str(tmp_path))
    b.file("sample/comm", "/proc/self/comm")
    assert sum(line.startswith("kl_files ") for line in b.lines) == 1
    reply = decode(run(b), b.marker)
    items = {i.name: i for i in reply.items}
    assert items["sample/proc/version"].text == Path("/proc/version").read_text()
    assert (items["sample/exact"].status, items["sample/exact"].text) == ("ok", "12345\n1234\n")
    assert (items["sample/big"].status, items["sample/big"].detail) == ("toolarge", "larger than the 50 bytes limit")
    assert items["sample/nosuch"].status == "missing"
    assert (items["sample/empty"].status, items["sample/empty"].text) == ("ok", "")
    assert items["sample/dir"].status == "error" and items["sample/dir"].text is None
    assert items["sample/comm"].text == "awk\n"
    assert reply.complete and len(items) == 7


def test_a_command_between_files_keeps_the_order_of_the_script() -> None:
    b = ScriptBuilder.new("mixed")
    b.file("static/proc/version", "/proc/version")
    b.command("static/commands/uname", "uname -r")
    b.file("static/proc/cmdline", "/proc/cmdline")
    assert [line.split()[0] for line in b.lines[2:]] == ["kl_files", "kl_cmd", "kl_files"]
    reply = decode(run(b), b.marker)
    assert [i.name for i in reply.items] == ["static/proc/version", "static/commands/uname", "static/proc/cmdline"]
    assert all(i.status == "ok" for i in reply.items)
