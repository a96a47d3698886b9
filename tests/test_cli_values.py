"""Option values are checked when the command line is read: one line on stderr naming the option,
exit 2, at once (synthetic bad values; each was once a crash, a hang or a wrong exit code)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import run_cli

CASES = [
    (["--samples", "0"], "--samples"),
    (["--samples", "-1"], "--samples"),
    (["--samples", "1000000000"], "--samples"),
    (["--samples", "abc"], "--samples"),
    (["--interval", "inf"], "--interval"),
    (["--interval", "nan"], "--interval"),
    (["--interval", "1e308"], "--interval"),
    (["--interval", "-1"], "--interval"),
    (["--forks", "0"], "--forks"),
    (["--forks", "-5"], "--forks"),
    (["--port", "0"], "--port"),
    (["--port", "-1"], "--port"),
    (["--port", "70000"], "--port"),
    (["--host", "localhost", "--port", "2222"], "--port"),
    (["--out", "/proc/foo"], "--out /proc/foo"),
    (["--out", "/sys/x"], "--out /sys/x"),
    (["-e", "min_growth_bytes_per_s=fast"], "min_growth_bytes_per_s"),
    (["-e", "noequals"], "-e noequals"),
    (["--allow-intrusive", "rm_rf"], "--allow-intrusive rm_rf"),
    (["--host", "127.0.0.2", "--private-key", "/nonexistent/id_ed25519"], "--private-key /nonexistent/id_ed25519"),
]


@pytest.mark.parametrize(("args", "names"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_value_is_one_line_exit_2(args: list[str], names: str, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("run", *args, "-q", timeout=30)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert time.monotonic() - started < 10


def test_out_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    proc = run_cli("replay", str(Path(__file__).parent / "samples/lab-debian-6.1/healthy"), "--out", str(target))
    assert (
        proc.returncode == 2 and proc.stderr.strip() == f"kleak-runbook: --out {target}: exists and is not a directory"
    )
    assert target.read_text() == "x"
