"""/proc/sys/fs/inode-state: parser, rule context and report (the evidence type added through the
"where things go" path: a spec, a parser, the runbook's collect list)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, run_cli
from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.inode_state import parse_inode_state


def test_real_capture() -> None:
    # tests/samples/this-machine (README there): read on the development VM
    state = parse_inode_state((SAMPLES / "this-machine/proc/sys/fs/inode-state").read_text())
    assert state.nr_inodes > 1000 and 0 <= state.nr_free_inodes <= state.nr_inodes


@pytest.mark.parametrize("text", ["", "12 x 0", "١٢ 3 0 0 0 0 0", "5"])
def test_bad_text_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError, match="inode-state"):
        parse_inode_state(text)


def test_in_the_rule_context_and_the_report(tmp_path: Path) -> None:
    runbook = tmp_path / "inodes.yaml"
    runbook.write_text(
        "name: inodes\n"
        "steps:\n"
        "  - id: look\n"
        "    collect: [meminfo, inode_state]\n"
        "    rules:\n"
        "      - when: inodes.nr_inodes > 1000 and inodes.nr_free_inodes >= 0\n"
        "        finding: '{{ inodes.nr_inodes }} inodes'\n"
        "        next: done\n"
        "    default: done\n"
        "  - id: done\n"
        "    verdict: no-leak\n"
        "    kind: none\n"
    )
    out = tmp_path / "r"
    proc = run_cli("replay", str(SAMPLES / "this-machine"), "--runbook", str(runbook), "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "result.json").read_text())
    nr = parse_inode_state((SAMPLES / "this-machine/proc/sys/fs/inode-state").read_text()).nr_inodes
    assert doc["findings"] == [f"{nr} inodes"]
    assert {"item": "inode_state", "summary": f"{nr} inodes allocated, 0 of them unused (reclaimable)"} in doc[
        "evidence"
    ]
    assert f"- inode_state: {nr} inodes allocated" in (out / "report.md").read_text()
