"""The batched file reader of the collection script gives, byte for byte, what one awk per file gave.

``kl_files`` once ran one ``awk`` per file; it now runs one for every file of a batch and goes on
after the file a read error ended it on. The old function is kept here as the reference: both
run for real on this machine's /bin/sh and awk, on the same files, and their outputs (stdout,
which is what the decoder reads) must be identical.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kleak_runbook.evidence.wire import ScriptBuilder, decode

OLD_KL_FILES = (
    "kl_files() {\n  while [ $# -ge 3 ]; do\n"
    '    if [ ! -e "$2" ]; then echo "$M END $1 status=missing"\n'
    '    elif [ ! -r "$2" ]; then echo "$M END $1 status=denied"\n'
    '    else LC_ALL=C awk -v m="$M" \'BEGIN{nm = ARGV[1]; f = ARGV[2]; max = ARGV[3] + 0; print m " BEGIN " nm; '
    "while ((r = (getline line < f)) > 0) {if (n + length(line) + 1 > max) {big = 1; break} print line; "
    'n += length(line) + 1; k++} if (big) printf "\\n%s END %s status=toolarge max=%d\\n", m, nm, max; '
    'else if (r < 0) printf "\\n%s END %s status=error\\n", m, nm; '
    'else printf "%s END %s status=ok bytes=%d lines=%d\\n", m, nm, n, k + 0; exit}\' "$1" "$2" "$3" '
    '|| printf \'\\n%s END %s status=error rc=%s\\n\' "$M" "$1" "$?"; fi\n'
    "    shift 3\n  done\n}\n"
)


def _both(b: ScriptBuilder, env: dict[str, str] | None = None, user: str | None = None) -> tuple[str, str]:
    new = b.render()
    start, end = new.index("kl_files() {"), new.index("kl_cmd() {")
    old = new[:start] + OLD_KL_FILES + new[end:]
    outs = []
    for script in (old, new):
        argv = ["runuser", "-u", user, "--", "sh", "-c", script] if user else ["sh", "-c", script]
        done = subprocess.run(argv, capture_output=True, check=False, timeout=60, env=env)
        outs.append(done.stdout.decode("utf-8", "surrogateescape"))
    return outs[0], outs[1]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "exact": b"12345\n1234\n",  # exactly at its 11-byte limit
        "over": b"12345\n12345\n",  # one byte over
        "big": b"x" * 100 + b"\n",
        "empty": b"",
        "noeol": b"first\nlast line without newline",
        "crlf": b"a\r\nb\r\n",
        "nul": b"a\0b\nc\n",
        "blank": b"\n\n\n",
        "long": b"y" * 70000 + b"\n",
        "utf8": "Grüße ✓\n".encode(),
        "latin1": b"caf\xe9\n",
    }
    out = {}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    out["dir"] = tmp_path
    out["nosuch"] = tmp_path / "nosuch"
    return out


def _builder(files: dict[str, Path], order: list[str]) -> ScriptBuilder:
    b = ScriptBuilder.new("same")
    limits = {"exact": 11, "over": 11, "big": 50}
    for name in order:
        b.file(f"sample/{name}", str(files[name]), limits.get(name, 64 * 1024 * 1024))
    return b


ORDERS = [
    ["exact", "over", "big", "empty", "noeol", "crlf", "nul", "blank", "long", "utf8", "latin1"],
    ["dir", "exact", "nosuch", "dir", "big", "dir"],  # read errors first, in the middle and last
    ["nosuch", "nosuch", "empty"],
    ["dir"],
    ["exact", "exact", "noeol", "noeol"],  # the same file twice: read again from its start
]


@pytest.mark.parametrize("order", ORDERS)
def test_one_awk_for_every_file_prints_what_one_awk_per_file_printed(files: dict[str, Path], order: list[str]) -> None:
    b = _builder(files, order)
    old, new = _both(b)
    assert new == old
    reply = decode(new, b.marker)
    assert reply.complete and [i.name for i in reply.items] == [f"sample/{n}" for n in order]


def test_proc_files_and_a_command_between_them(files: dict[str, Path]) -> None:
    b = ScriptBuilder.new("proc")
    b.timestamp()
    for path in (
        "/proc/meminfo",
        "/proc/slabinfo",
        "/proc/vmallocinfo",
        "/proc/spl/kstat/zfs/arcstats",
        "/proc/uptime",
    ):
        b.file("sample" + path, path)
    b.command("static/commands/uname", "uname -a")
    b.file("static/proc/version", "/proc/version")
    b.file("static/dir", str(files["dir"]))
    b.file("static/proc/cmdline", "/proc/cmdline")
    old, new = _both(b)
    strip = [line for line in old.split("\n") if " TIME " not in line]
    # /proc/meminfo, slabinfo and vmallocinfo move between two reads: compare what must not move
    reply_old, reply_new = decode(old, b.marker), decode(new, b.marker)
    assert [(i.name, i.status) for i in reply_new.items] == [(i.name, i.status) for i in reply_old.items]
    stable = {"static/proc/version", "static/commands/uname", "static/proc/cmdline", "static/dir"}
    assert {i.name: i.text for i in reply_new.items if i.name in stable} == {
        i.name: i.text for i in reply_old.items if i.name in stable
    }
    assert strip and reply_new.complete


def test_without_awk_every_file_is_an_error_as_before(files: dict[str, Path], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("date", "cat", "head", "timeout", "sh"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    b = _builder(files, ["exact", "nosuch", "big"])
    old, new = _both(b, env={"PATH": str(bin_dir)})
    assert new == old
    statuses = [(i.name, i.status, i.detail) for i in decode(new, b.marker).items]
    assert statuses == [
        ("sample/exact", "error", "rc=127"),
        ("sample/nosuch", "missing", ""),
        ("sample/big", "error", "rc=127"),
    ]


@pytest.mark.skipif(shutil.which("runuser") is None or os.geteuid() != 0, reason="needs root and runuser")
def test_unreadable_files_are_denied_as_before(files: dict[str, Path]) -> None:
    b = ScriptBuilder.new("nobody")
    b.file("sample/proc/slabinfo", "/proc/slabinfo")  # mode 0400 root
    b.file("sample/proc/version", "/proc/version")
    b.file("sample/proc/slabinfo2", "/proc/slabinfo")
    old, new = _both(b, user="nobody")
    assert new == old
    assert [i.status for i in decode(new, b.marker).items] == ["denied", "ok", "denied"]
