"""Rehearsals: each saved bundle, replayed through the default runbook, takes the expected path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import SAMPLES, run_cli

CASES = [
    case
    for f in sorted((Path(__file__).parent / "rehearsals").glob("*.yaml"))
    for case in yaml.safe_load(f.read_text())
]


@pytest.mark.parametrize(
    "case", CASES, ids=[c["bundle"] + (" " + " ".join(c["args"]) if "args" in c else "") for c in CASES]
)
def test_rehearsal(case: dict, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = [str(a) for a in case.get("args", [])]
    proc = run_cli("replay", str(SAMPLES / case["bundle"]), "--out", str(out), "--format", "json", "-q", *args)
    doc = json.loads(proc.stdout)
    assert [v["step"] for v in doc["path"]] == case["path"], doc["path"]
    assert (doc["verdict"], doc["kind"]) == (case["verdict"], case["kind"])
    assert proc.returncode == {"no-leak": 0, "leak": 1, "suspected-leak": 1, "inconclusive": 3}[doc["verdict"]]
    if "culprit" in case:
        first = doc["culprits"][0]
        assert {k: first[k] for k in case["culprit"]} == case["culprit"]
        assert first["bytes"] > 0
    if "largest" in case:  # not a leak: the biggest of the kind are named, never as culprits
        assert not doc["culprits"]
        assert {k: doc["largest"][0][k] for k in case["largest"]} == case["largest"]
    for want in case.get("also", []):
        assert any({k: c.get(k) for k in want} == want for c in doc["culprits"]), (want, doc["culprits"])
    assert json.loads((out / "result.json").read_text())["verdict"] == doc["verdict"]
    assert (out / "report.md").read_text().splitlines()[0].startswith("# ")
