"""Knowledge rehearsals: public text replayed through the real CLI names the known bugs that the
text supports, with the confidence its evidence allows (tests/knowledge/rehearsals.yaml; sources there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli

HERE = Path(__file__).parent / "knowledge"
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "rehearsals.yaml").read_text())


def test_every_case_has_its_text_and_a_public_source() -> None:
    assert CASES
    for case in CASES:
        assert (HERE / "evidence" / case["id"] / "input.txt").is_file(), case["id"]
        assert case["source"].startswith("https://"), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_rehearsal(case: dict[str, Any], tmp_path: Path) -> None:
    text = HERE / "evidence" / case["id"] / "input.txt"
    proc = run_cli("replay", str(text), "--out", str(tmp_path / "report"), "--format", "json", "-q")
    doc = json.loads(proc.stdout)
    assert (doc["verdict"], doc["kind"]) == (case["verdict"], case["kind"])
    found = {b["id"]: b for b in doc["known_bugs"]}
    for want in case["known_bugs"]:
        bug = found.get(want["id"])
        assert bug is not None, (want["id"], sorted(found))
        assert (bug["confidence"], bug["needs"]) == (want["confidence"], want.get("needs", [])), bug
        assert want["why"] in bug["why"], bug["why"]
    assert not set(case.get("absent", [])) & set(found), sorted(found)
