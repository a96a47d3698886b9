"""Secrets given with -e never reach a command line or an output file (issue: the process table
showed `-e ansible_password=...` for the whole run)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from support.cli import command

SECRET = "kleak-S3cr3t-7f2a9c"


def _cmdlines(skip: int) -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == skip:
            continue
        try:
            out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return out


def _run_and_watch(args: list[str], env: dict[str, str], cwd: Path, skip_self: bool) -> tuple[int, set[str], str]:
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    polls = 0
    own = " ".join(args)  # a child between fork and exec shows its parent's argv, no more than the parent does
    while proc.poll() is None and time.monotonic() < deadline:
        for pid, line in _cmdlines(proc.pid if skip_self else -1).items():
            if SECRET in line and pid != os.getpid() and not (skip_self and line.strip() == own):
                seen.add(line[:200])
        polls += 1
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert polls > 20, "the run ended before the process table could be watched"
    return proc.returncode, seen, out + err


def _files_holding_secret(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_extra_vars_on_the_command_line_reach_no_child_process(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = command("run", "--host", "localhost", "--samples", "3", "--interval", "1", "--out", str(out), "-q",
                   "-e", f"ansible_become_password={SECRET}")  # fmt: skip
    code, seen, output = _run_and_watch(args, cli_env, tmp_path, skip_self=True)  # our own argv is the user's
    assert code in (0, 1, 3), output
    assert not seen, seen
    assert SECRET not in output
    assert not _files_holding_secret(out)


def test_vars_file_keeps_the_secret_off_every_command_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(f"ansible_become_password: {SECRET}\nmin_growth_bytes_per_s: 65536\n")
    out = tmp_path / "out"
    args = command("run", "--host", "localhost", "--samples", "3", "--interval", "1", "--out", str(out), "-q",
                   "-e", f"@{vars_file}")  # fmt: skip
    code, seen, output = _run_and_watch(args, cli_env, tmp_path, skip_self=False)
    assert code in (0, 1, 3), output
    assert not seen, seen
    assert SECRET not in output
    assert not _files_holding_secret(out)


def test_vars_file_errors_are_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    for content, expect in (("[1, 2]\n", "expected a mapping"), ("a: [\n", "not valid YAML"), (None, "No such file")):
        vars_file = tmp_path / "v.yml"
        if content is None:
            vars_file.unlink(missing_ok=True)
        else:
            vars_file.write_text(content)
        proc = subprocess.run(command("run", "-e", f"@{vars_file}", "-q"), env=cli_env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert expect in proc.stderr and str(vars_file) in proc.stderr
