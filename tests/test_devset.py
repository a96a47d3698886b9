"""The development set of real public cases (tests/cases/cases.yaml; sources and conclusions in
each entry): every case replays to a judgement in one line or a report, and the cases judged
right (tests/cases/right.txt, written when a change makes more of them right) stay right."""

from __future__ import annotations

from pathlib import Path

import pytest

from devset import CASES_DIR, Outcome, cases, judge, table

CASES = cases()
RIGHT = set((CASES_DIR / "right.txt").read_text().split())


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    return {c["id"]: judge(c) for c in CASES}


def test_every_case_has_its_input_and_a_source() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) >= 30
    for c in CASES:
        assert (CASES_DIR / c["id"] / "input.txt").is_file(), c["id"]
        assert c["source"].startswith(("https://", "http://")) and c["concluded"], c["id"]


def test_no_case_ends_in_an_internal_error(outcomes: dict[str, Outcome]) -> None:
    for o in outcomes.values():
        assert not (o.error and ("internal error" in o.error or "Traceback" in o.error)), o
        assert not o.error or len(o.error.splitlines()) == 1, o


def test_cases_judged_right_stay_right(outcomes: dict[str, Outcome]) -> None:
    wrong = [cid for cid in sorted(RIGHT) if not outcomes[cid].right]
    assert not wrong, (wrong, table(list(outcomes.values())))


def test_right_list_names_real_cases() -> None:
    assert {c["id"] for c in CASES} >= RIGHT


if __name__ == "__main__":  # pragma: no cover
    print(table([judge(c) for c in CASES]))
    print(Path(__file__))
