"""The persistent memo of validation parses (kleak_runbook.memo): a warm memo gives exactly the
answers a cold one does, a broken or unwritable memo changes nothing but speed, and off is off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kleak_runbook import memo as memomod
from kleak_runbook.decide import knowledge
from kleak_runbook.decide import runbook as rbmod
from kleak_runbook.decide.yamlpos import load_text

BAD_RUNBOOK = """\
name: bad
steps:
  - id: a
    collect: [meminfo]
    verdict: no-leak
    rules:
      - when: "meminfo.total >"
        finding: x
      - when: "no_such_thing > 1"
        finding: "{{ also_unknown }}"
      - when: "true"
        finding: "{% include 'x' %}"
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("KLEAK_CACHE_DIR", str(directory))
    monkeypatch.setattr(memomod, "_MEMO", None)
    return directory


def _problems(path: Path) -> list[str]:
    return [str(p) for p in rbmod.validate(path)]


def test_warm_memo_gives_the_same_problems_as_a_cold_one(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RUNBOOK, encoding="utf-8")
    cold = _problems(path)
    for what in ("expression syntax error", "unknown evidence name(s): no_such_thing", "also_unknown", "refused"):
        assert any(what in p for p in cold), (what, cold)
    assert list(cache.glob("checks-*.json")), "the parses were kept"
    memomod._MEMO = None  # a new process, as far as the memo knows
    assert _problems(path) == cold


def test_bundled_runbook_and_knowledge_load_the_same_warm_and_cold(cache: Path) -> None:
    path = rbmod.resolve("kernel-memory-leak")
    cold_rb, cold_kb = rbmod.load(path), knowledge.load_all()
    memomod._MEMO = None
    warm_rb, warm_kb = rbmod.load(path), knowledge.load_all()
    assert warm_rb.steps == cold_rb.steps and warm_rb.doc.lines == cold_rb.doc.lines
    assert warm_kb == cold_kb


def test_memo_is_used(cache: Path, tmp_path: Path) -> None:
    """A value planted under a text's key is what the next check returns: the memo is read."""
    book = memomod.memo()
    book.put("check", "1 + 1", ["planted error", []])
    book.save()
    memomod._MEMO = None
    path = tmp_path / "rb.yaml"
    path.write_text(
        "name: x\nsteps:\n  - id: a\n    verdict: no-leak\n    rules:\n      - when: 1 + 1\n        finding: f\n",
        encoding="utf-8",
    )
    assert any("planted error" in p for p in _problems(path))


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b'{"x": 1}' + b" " * (9 << 20)])
def test_a_broken_memo_file_is_ignored(cache: Path, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RUNBOOK, encoding="utf-8")
    want = _problems(path)
    for file in cache.glob("checks-*.json"):
        file.write_bytes(content)
    memomod._MEMO = None
    assert _problems(path) == want


def test_unwritable_cache_dir_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("KLEAK_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(memomod, "_MEMO", None)
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RUNBOOK, encoding="utf-8")
    assert any("refused" in p for p in _problems(path))


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLEAK_CACHE_DIR", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(memomod, "_MEMO", None)
    rbmod.load(rbmod.resolve("kernel-memory-leak"))
    assert not any(tmp_path.rglob("checks-*.json"))


def test_yaml_values_json_cannot_give_back_are_not_kept(cache: Path) -> None:
    text = "when: 2024-01-02\nwhat: one\n"
    first = load_text(text, "a.yaml")
    memomod.memo().save()
    memomod._MEMO = None
    again = load_text(text, "a.yaml")
    assert again.data == first.data and again.data["what"] == "one"
    kept = json.loads(next(cache.glob("checks-*.json")).read_text()) if list(cache.glob("checks-*.json")) else {}
    assert memomod.Memo.key("yaml", text) not in kept


def test_memo_of_other_code_left_for_a_day_is_removed(cache: Path) -> None:
    cache.mkdir(parents=True)
    old, recent = cache / "checks-0000000000000000.json", cache / "checks-1111111111111111.json"
    for file in (old, recent):
        file.write_text("{}")
    os.utime(old, (1, 1))
    book = memomod.memo()
    book.put("check", "x", [None, ["x"]])
    book.save()
    assert not old.exists() and recent.exists()
    assert oct(book.path.stat().st_mode & 0o777) == "0o600"  # type: ignore[union-attr]


def _fresh_evaluator() -> object:
    from kleak_runbook.decide.expressions import Evaluator

    memomod._BYTECODE.clear()
    return Evaluator()


def test_compiled_expressions_are_kept_and_give_the_same_answers(cache: Path) -> None:
    from kleak_runbook.decide.expressions import ExpressionError

    ev = _fresh_evaluator()
    ctx = {"x": {"growth": 70000}, "y": 1}
    assert ev.evaluate("x.growth > 64 * KiB and y is not none", ctx) is True  # type: ignore[attr-defined]
    kept = list(cache.glob("expressions-*/*"))
    assert kept, "the compiled expression was kept"
    again = _fresh_evaluator()
    assert again.evaluate("x.growth > 64 * KiB and y is not none", ctx) is True  # type: ignore[attr-defined]
    assert again.evaluate("x.growth > 64 * KiB and y is not none", {"x": {"growth": 1}, "y": 1}) is False  # type: ignore[attr-defined]
    for _ in range(2):  # a refusal is never kept: refused again, the second time too
        with pytest.raises(ExpressionError, match="refused"):
            _fresh_evaluator().evaluate("9 ** (9 ** 9) > 0", {})  # type: ignore[attr-defined]
    with pytest.raises(ExpressionError, match="undefined"):
        _fresh_evaluator().evaluate("nothing_here > 1", {})  # type: ignore[attr-defined]


def test_a_directory_others_may_write_is_not_used_for_compiled_code(cache: Path) -> None:
    cache.mkdir(parents=True)
    shared = cache / f"expressions-{memomod._code_key()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    ev = _fresh_evaluator()
    assert ev.evaluate("1 + 1", {}) == 2  # type: ignore[attr-defined]
    assert not list(shared.iterdir())
    assert memomod.private_dir(cache / "elsewhere") and not memomod.private_dir(shared)


def test_checked_knowledge_entries_come_from_the_memo(cache: Path, tmp_path: Path) -> None:
    """A knowledge file that checked clean is not checked again with the same code: its entries are
    rebuilt from the memo (what is planted there comes back), equal to a fresh check's."""
    import dataclasses

    directory = knowledge.bundled_knowledge_dir()
    path = next(iter(sorted(directory.glob("*.yaml"))))
    text = path.read_text(encoding="utf-8")
    cold = knowledge.load_file(path, text)
    memomod.memo().save()
    memomod._MEMO = None
    assert knowledge.load_file(path, text) == cold  # rebuilt from the memo: the same entries
    book = memomod.memo()
    said = f"{path}\0{knowledge._source_of(path)}\0{text}"
    kept = book.get("knowledge-entries", said)
    assert isinstance(kept, list) and len(kept) == len(cold)
    book.put("knowledge-entries", said, [{**kept[0], "title": "planted"}, *kept[1:]])
    assert knowledge.load_file(path, text)[0].title == "planted"
    # a memo of another shape is checked again, and gives the fresh entries
    book.put("knowledge-entries", said, [{"id": "half an entry"}])
    assert knowledge.load_file(path, text) == cold
    assert book.get("knowledge-entries", said) == [dataclasses.asdict(e) for e in cold]  # and kept again


def test_a_knowledge_file_with_problems_is_checked_every_time(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: x\n  title: no kind\n", encoding="utf-8")
    first = [str(p) for p in knowledge.validate_knowledge([bad], against_bundled=False)]
    assert first
    memomod.memo().save()
    memomod._MEMO = None
    assert [str(p) for p in knowledge.validate_knowledge([bad], against_bundled=False)] == first
