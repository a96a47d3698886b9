"""Knowledge rehearsals: evidence replayed through `kleak-runbook replay` names the known bugs that
the evidence supports, with the confidence it allows, and no longer names an entry once the kernel
is moved just outside its range (tests/knowledge/rehearsals.yaml; sources and provenance there).

The replays run in this process through ``kleak_runbook.cli.main`` (the entry point's own function):
some 110 subprocesses would spend most of their time importing."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kleak_runbook import cli
from kleak_runbook.decide.knowledge import KNOWLEDGE_ENV, bundled_knowledge_dir, load_knowledge

TESTS = Path(__file__).parent
HERE = TESTS / "knowledge"
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "rehearsals.yaml").read_text())
ENTRIES = load_knowledge(bundled_knowledge_dir())


def evidence(case: dict[str, Any]) -> Path:
    """The pasted text, or the saved bundle, the case replays."""
    if "bundle" in case:
        return TESTS / case["bundle"]
    text = HERE / "evidence" / case["id"] / "input.txt"
    return text if text.is_file() else HERE / "evidence" / case["id"]


def replay(path: Path, out: Path) -> dict[str, Any]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["replay", str(path), "--out", str(out), "--format", "json", "-q"])
    assert code in (0, 1, 3), code
    doc: dict[str, Any] = json.loads(stdout.getvalue())
    return doc


def moved(path: Path, replace: dict[str, str], tmp: Path) -> Path:
    """A copy of the evidence with the kernel identity replaced (every file under static/ of a bundle)."""
    if path.is_file():
        text = path.read_text()
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        copy = tmp / "input.txt"
        copy.write_text(text)
        return copy
    copy = tmp / "bundle"
    shutil.copytree(path, copy)
    seen = set()
    for file in sorted((copy / "static").rglob("*")):
        if file.is_file():
            text = file.read_text()
            for old, new in replace.items():
                if old in text:
                    seen.add(old)
                    text = text.replace(old, new)
            file.write_text(text)
    assert seen == set(replace), set(replace) - seen
    return copy


@pytest.fixture(autouse=True)
def _bundled_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KNOWLEDGE_ENV, raising=False)


def test_every_case_has_its_evidence_and_says_where_it_comes_from() -> None:
    assert CASES
    for case in CASES:
        assert evidence(case).exists(), case["id"]
        if case.get("synthetic"):
            assert case["real"] and case["changed"], case["id"]
        elif "bundle" in case:
            assert case["bundle"].startswith("samples/") and case["real"], case["id"]
        else:
            assert case["source"].startswith("https://"), case["id"]


def test_every_verified_entry_has_a_full_match_rehearsal() -> None:
    full = {
        bug["id"]
        for case in CASES
        for bug in case["known_bugs"]
        if bug["confidence"] == "matched" and "boundary" in case
    }
    missing = sorted(e.id for e in ENTRIES if e.verified and e.id not in full)
    assert not missing, missing


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_rehearsal(case: dict[str, Any], tmp_path: Path) -> None:
    doc = replay(evidence(case), tmp_path / "report")
    assert (doc["verdict"], doc["kind"]) == (case["verdict"], case["kind"])
    found = {b["id"]: b for b in doc["known_bugs"]}
    for want in case["known_bugs"]:
        bug = found.get(want["id"])
        assert bug is not None, (want["id"], sorted(found))
        assert (bug["confidence"], bug["needs"]) == (want["confidence"], want.get("needs", [])), bug
        assert want["why"] in bug["why"], bug["why"]
    if "names" in case:
        assert sorted(found) == sorted(case["names"]), (
            f"named now: {sorted(found)}; added {sorted(set(found) - set(case['names']))}, "
            f"gone {sorted(set(case['names']) - set(found))}"
        )
    assert not set(case.get("absent", [])) & set(found), sorted(found)
    if "boundary" in case:
        outside = moved(evidence(case), case["boundary"]["replace"], tmp_path)
        after = replay(outside, tmp_path / "report-boundary")
        assert after["kernel"] != doc["kernel"]
        assert (after["verdict"], after["kind"]) == (doc["verdict"], doc["kind"])  # the same evidence
        gone = set(case["boundary"]["absent"])
        assert not gone & {b["id"] for b in after["known_bugs"]}, after["kernel"]


def test_synthetic_inputs_are_what_compose_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/knowledge/compose.py documents how each composed input was made: it must still make them."""
    spec = importlib.util.spec_from_file_location("knowledge_compose", HERE / "compose.py")
    assert spec is not None and spec.loader is not None
    compose = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "knowledge_compose", compose)  # dataclasses look their module up
    spec.loader.exec_module(compose)
    for case in compose.CASES:
        assert (HERE / "evidence" / case.id / "input.txt").read_text() == compose.text(case), case.id
