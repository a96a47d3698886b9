"""The runbook validator: every class of problem, each named by file, line and YAML path.

The broken runbooks here are synthetic edge cases, written to break one rule each.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from kleak_runbook.decide import runbook

GOOD = """\
name: t
steps:
  - id: first
    collect: [meminfo]
    rules:
      - when: kmem.slab_unreclaimable.growth_bytes_per_s > 64 * KiB
        next: leak
    default: fine
  - id: leak
    verdict: leak
    kind: slab-unreclaimable
  - id: fine
    verdict: no-leak
    kind: none
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rb.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    return [str(e) for e in runbook.validate(write(tmp_path, text))]


def test_bundled_runbooks_are_valid() -> None:
    for path in runbook.bundled():
        assert runbook.validate(path) == [], path


def test_good_runbook_loads(tmp_path: Path) -> None:
    rb = runbook.load(write(tmp_path, GOOD))
    assert rb.start == "first"
    assert rb.steps["first"].rules[0].next == "leak"
    assert rb.steps["leak"].terminal


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("        next: leak", "        next: nowhere"), 7, "steps[0].rules[0].next: step 'nowhere' is not defined"),
        (("    default: fine", "    default: fien"), 8, "steps[0].default: step 'fien' is not defined"),
        (("    collect: [meminfo]", "    collect: [meminfo, memnifo]"), 4, "unknown evidence name 'memnifo'"),
        (("64 * KiB", "64 * * KiB"), 6, "steps[0].rules[0].when: expression syntax error"),
        (("kmem.slab", "kmemm.slab"), 6, "unknown evidence name(s): kmemm"),
        (("    kind: none", "    kind: nothing"), 14, "steps[2].kind: kind must be one of"),
        (("    verdict: leak", "    verdict: leaky"), 10, "steps[1].verdict: verdict must be one of"),
        (("  - id: leak", "  - id: Leak!"), 9, "steps[1].id: step id is required"),
        (("    collect: [meminfo]", "    colect: [meminfo]"), 4, "steps[0].colect: unknown step key"),
        (("name: t", "name: t\nstep: []"), 2, "step: unknown key"),
    ],
)
def test_each_problem_names_file_line_and_path(
    tmp_path: Path, change: tuple[str, str], line: int, message: str
) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    found = problems(tmp_path, text)
    assert any(f"rb.yaml:{line}: " in p and message in p for p in found), found


def test_unreachable_step(tmp_path: Path) -> None:
    text = GOOD + "  - id: orphan\n    verdict: no-leak\n    kind: none\n"
    assert any("rb.yaml:15: steps[3].id: step 'orphan' is unreachable" in p for p in problems(tmp_path, text))


def test_cycle(tmp_path: Path) -> None:
    text = GOOD.replace("    default: fine", "    default: second") + (
        "  - id: second\n    rules:\n      - when: true\n        next: first\n    default: fine\n"
    )
    found = problems(tmp_path, text)
    assert any("cycle" in p and "rb.yaml:18:" in p for p in found), found


def test_duplicate_id_and_duplicate_key(tmp_path: Path) -> None:
    dup = GOOD + "  - id: fine\n    verdict: no-leak\n    kind: none\n"
    assert any("duplicate step id 'fine'" in p for p in problems(tmp_path, dup))
    dupkey = GOOD.replace("    kind: none", "    kind: none\n    kind: none")
    assert any("rb.yaml:15: steps[2].kind: duplicate key" in p for p in problems(tmp_path, dupkey))


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("    collect: [meminfo]", "    collect: [meminfo"))
    assert len(found) == 1 and "YAML syntax error" in found[0] and "rb.yaml:" in found[0]


def test_terminal_and_non_terminal_rules(tmp_path: Path) -> None:
    t = GOOD.replace("    kind: slab-unreclaimable", "    kind: slab-unreclaimable\n    default: fine")
    assert any("a terminal step (with verdict) cannot also have default" in p for p in problems(tmp_path, t))
    t = GOOD.replace("    default: fine\n", "")
    assert any("needs default" in p for p in problems(tmp_path, t))


def test_template_syntax_and_names_are_checked(tmp_path: Path) -> None:
    t = GOOD.replace("    kind: none", "    kind: none\n    summary: '{{ kmem.x '")
    assert any("steps[2].summary: template syntax error" in p for p in problems(tmp_path, t))
    t = GOOD.replace("    kind: none", "    kind: none\n    summary: '{{ nosuch.x }}'")
    assert any("steps[2].summary: unknown evidence name(s): nosuch" in p for p in problems(tmp_path, t))


def test_validate_cli_reports_every_problem_one_per_line(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("next: leak", "next: nowhere").replace("default: fine", "default: fien"))
    proc = run_cli("validate", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""  # problems go to stderr, one per line
    lines = proc.stderr.strip().splitlines()
    assert len(lines) >= 2 and all(line.startswith(f"{bad}:") for line in lines)
    ok = run_cli("validate", "kernel-memory-leak")
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": ok") and ok.stderr == ""


def test_validate_warns_when_no_step_on_the_way_collects_what_a_rule_reads(tmp_path: Path) -> None:
    # the first step collects meminfo only; a rule reading slab can never be evaluated
    t = GOOD.replace("kmem.slab_unreclaimable.growth_bytes_per_s > 64 * KiB", "slab.caches | length > 100")
    path = write(tmp_path, t)
    proc = run_cli("validate", str(path))
    assert proc.returncode == 0 and proc.stdout.strip().endswith(": ok")
    assert proc.stderr.strip() == (
        f"{path}:6: steps[0].rules[0].when: warning: reads slab, but no step on the way here collects slabinfo"
    )
    fixed = write(tmp_path, t.replace("collect: [meminfo]", "collect: [meminfo, slabinfo]"))
    assert run_cli("validate", str(fixed)).stderr == ""


def test_run_and_replay_refuse_a_broken_runbook_with_one_line(tmp_path: Path, samples: Path) -> None:
    bad = write(tmp_path, GOOD.replace("next: leak", "next: nowhere"))
    for args in (
        ("replay", str(samples / "lab-debian-6.1/healthy"), "--runbook", str(bad)),
        ("run", "--runbook", str(bad), "-q"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and f"{bad}:7:" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
