"""Bad input stops `run` before anything is collected: exit 2 and one line on stderr."""

from __future__ import annotations

from pathlib import Path

from support.cli import QUICK

BROKEN = """\
name: broken-next
description: A runbook whose rule names a step that does not exist.
steps:
  - id: measure
    title: Sample memory
    collect: [meminfo]
    rules:
      - name: grows
        when: samples.count > 1
        next: nosuchstep
    default: healthy
  - id: healthy
    title: Fine
    verdict: no-leak
    kind: none
    summary: Fine.
"""


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_undefined_next_step(kleak, tmp_path: Path) -> None:
    runbook = tmp_path / "broken.yaml"
    runbook.write_text(BROKEN, encoding="utf-8")
    line = BROKEN.splitlines().index("        next: nosuchstep") + 1
    out = tmp_path / "out"
    run = kleak("run", "--runbook", str(runbook), "--out", str(out), *QUICK)
    assert run.returncode == 2, run.explain()
    assert f"{runbook}:{line}" in _one_line(run.stderr)
    assert "nosuchstep" in run.stderr
    assert run.stdout == "" and not out.exists()
    # The same runbook with the step defined runs: the error above is about that line only.
    runbook.write_text(BROKEN.replace("next: nosuchstep", "next: healthy"), encoding="utf-8")
    valid = kleak("validate", str(runbook))
    assert valid.returncode == 0, valid.explain()


def test_unknown_param(kleak, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = kleak("run", "--host", "localhost", "-e", "nosuchparam=1", "--out", str(out), *QUICK)
    assert run.returncode == 2, run.explain()
    assert "nosuchparam" in _one_line(run.stderr)
    assert not out.exists()


def test_unknown_intrusive_probe(kleak, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = kleak("run", "--host", "localhost", "--allow-intrusive", "nosuch", "--out", str(out), *QUICK)
    assert run.returncode == 2, run.explain()
    assert "nosuch" in _one_line(run.stderr)
    assert not out.exists()
