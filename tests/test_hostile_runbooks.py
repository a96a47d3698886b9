"""Runbooks from strangers cannot hang, exhaust or crash the tool (issue 8).

Each hostile runbook goes through the real command line (``validate``, and ``replay`` of a real
lab capture) and is answered within 10 s, well under 1 GiB, with exit 2 and one line naming file
and line (a problem in the file), or as that rule's or text's error (a problem evaluating it).
The runbooks here are synthetic, written to attack one limit each.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import SAMPLES, run_cli
from kleak_runbook.decide import runbook

HEALTHY = SAMPLES / "lab-debian-6.1" / "healthy"
ONE_GIB_KIB = 1024 * 1024  # ru_maxrss is in KiB on Linux

BASE = """\
name: hostile
steps:
  - id: first
    collect: [meminfo]
    rules:
      - when: {when}
        next: leak
      - when: "true"
        finding: {finding}
    default: fine
  - id: leak
    verdict: leak
    kind: slab-unreclaimable
  - id: fine
    verdict: no-leak
    kind: none
    summary: {summary}
"""


def hostile(tmp_path: Path, text: str | bytes, name: str = "rb.yaml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def cli(*args: str) -> tuple[int, list[str], str, float]:
    """(exit code, stderr lines, stdout, seconds), checking the time and memory bounds."""
    peak_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    proc = run_cli(*args, timeout=30)
    took = time.monotonic() - start
    assert took < 10, f"{args} took {took:.1f} s"
    # the largest resident size of any child so far: if ours raised it, it is ours
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak == peak_before or peak < ONE_GIB_KIB, f"{args} peaked at {peak // 1024} MiB"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr.splitlines(), proc.stdout, took


def refused(path: Path, *needles: str) -> str:
    """validate: exit 2, one line naming the file (and a line), containing every needle."""
    code, lines, _, _ = cli("validate", str(path))
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(str(path)), lines
    for needle in needles:
        assert needle in lines[0], lines
    return lines[0]


# -- YAML --------------------------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ["name: t", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"steps: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    path = hostile(tmp_path, billion_laughs())  # 9**9 = 387 million values once expanded
    start = time.monotonic()
    problems = runbook.validate(path)
    assert time.monotonic() - start < 1
    assert len(problems) == 1 and "alias bomb" in str(problems[0]) and problems[0].line
    line = refused(path, "more than 100000 values", "alias bomb")
    assert line.startswith(f"{path}:")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: t\nsteps: &s [*s]\n", 2),
        ("name: t\nsteps:\n  - &step\n    id: a\n    rules: [*step]\n", 3),
        ("name: t\nsteps:\n  - &m\n    <<: *m\n    id: a\n", 3),
    ],
)
def test_recursive_alias_is_one_line(tmp_path: Path, text: str, line: int) -> None:
    path = hostile(tmp_path, text)
    refused(path, f"{path}:{line}:", "recursive alias")


@pytest.mark.parametrize(
    "text", ["steps: " + "[" * 200_000 + "]" * 200_000, "steps:\n" + "- " * 200_000 + "x"], ids=["flow", "block"]
)
def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path, text: str) -> None:
    # libyaml's composer recurses in C: this many levels used to kill the interpreter (SIGSEGV)
    refused(hostile(tmp_path, "name: t\n" + text), "nested more than 100 levels deep")


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/name:os.system x", "!!python/name:os.system"),
        ("!!python/object/apply:os.system ['touch {marker}']", "!!python/object/apply:os.system"),
        ("!!python/object/new:os.system ['touch {marker}']", "!!python/object/new:os.system"),
        ("!!int abc", "!!int"),
        ("!shell ls", "!shell"),
        ("!!binary '???not base64'", "!!binary"),
        ("!!set {a, b}", "!!set"),
    ],
)
def test_tags_beyond_plain_yaml_are_one_line(tmp_path: Path, value: str, tag: str) -> None:
    marker = tmp_path / "executed"
    path = hostile(tmp_path, f"name: t\nsteps:\n  - id: a\n    title: {value.replace('{marker}', str(marker))}\n")
    refused(path, f"{path}:4:", "steps[0].title", tag)
    assert not marker.exists()


MERGED = """\
name: merged
defaults: {samples: 1}
steps:
  - &measure
    id: measure
    collect: [meminfo, slabinfo]
    rules:
      - &huge
        name: huge slab
        when: kmem.slab_unreclaimable > 1000 * GiB
        next: leak
    default: again
  - <<: *measure
    id: again
    rules:
      - <<: *huge
        name: still huge
      - name: note
        when: mem_total > 0
        finding: "{{ mem_total | bytes }} of memory"
    default: fine
  - &terminal
    id: leak
    verdict: leak
    kind: slab-unreclaimable
  - <<: *terminal
    id: fine
    verdict: no-leak
    kind: none
    summary: nothing grows
"""


def test_merge_keys_work_in_steps_and_rules(tmp_path: Path) -> None:
    path = hostile(tmp_path, MERGED)
    code, lines, out, _ = cli("validate", str(path))
    assert (code, lines, out.strip()) == (0, [], f"{path}: ok")
    rb = runbook.load(path)
    again = rb.steps["again"]
    assert again.collect == ("meminfo", "slabinfo") and again.default == "fine"
    assert [r.name for r in again.rules] == ["still huge", "note"]
    assert again.rules[0].when == "kmem.slab_unreclaimable > 1000 * GiB" and again.rules[0].next == "leak"
    assert rb.steps["fine"].culprits == "none" and rb.steps["leak"].culprits == "slab-unreclaimable"
    code, lines, out, _ = cli(
        "replay", str(HEALTHY), "--runbook", str(path), "--out", str(tmp_path / "r"), "--format", "json", "-q"
    )
    doc = json.loads(out)
    assert doc["verdict"] == "no-leak", (doc["verdict"], doc["notes"])
    assert [v["step"] for v in doc["path"]] == ["measure", "again", "fine"]
    assert any(f.endswith("of memory") for f in doc["findings"])


def test_a_misplaced_key_in_a_merged_step_is_still_located(tmp_path: Path) -> None:
    path = hostile(tmp_path, MERGED.replace("    collect: [meminfo, slabinfo]", "    colect: [meminfo]"))
    code, lines, _, _ = cli("validate", str(path))
    assert code == 2
    assert f"{path}:6: steps[0].colect: unknown step key" in lines
    assert f"{path}:6: steps[1].colect: unknown step key" in lines  # the merged copy: where it is written


# -- the file itself ---------------------------------------------------------------------------


def test_a_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    path = hostile(tmp_path, "name: t\n# " + "x" * (1024 * 1024) + "\n")
    assert refused(path, "1 MiB") == f"{path}: larger than the 1 MiB limit for a YAML file"


def test_an_endless_file_is_refused() -> None:
    start = time.monotonic()
    problems = runbook.validate(Path("/dev/zero"))  # reads one byte past the limit, not forever
    assert time.monotonic() - start < 1
    assert [str(p) for p in problems] == ["/dev/zero: larger than the 1 MiB limit for a YAML file"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"name: t\nsteps: []\x00\x00\n", ":2: contains a NUL byte"),
        (b"name: t\nsteps:\n  - id: \xff\xfe\n", ":3: not UTF-8 text"),
        (b"name: t\x01\n", ":1: YAML error: unacceptable character #x0001"),
    ],
)
def test_binary_text_is_one_line(tmp_path: Path, data: bytes, needle: str) -> None:
    refused(hostile(tmp_path, data), needle)


# -- expressions and texts ---------------------------------------------------------------------


def quoted(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def hostile_runbook(tmp_path: Path, when: str = "false", finding: str = "x", summary: str = "fine") -> Path:
    return hostile(tmp_path, BASE.format(when=quoted(when), finding=quoted(finding), summary=quoted(summary)))


def replay(tmp_path: Path, path: Path) -> dict[str, Any]:
    code, _, out, _ = cli(
        "replay", str(HEALTHY), "--runbook", str(path), "--out", str(tmp_path / "r"), "--format", "json", "-q"
    )
    assert code in (0, 1, 3), code
    doc: dict[str, Any] = json.loads(out)
    return doc


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("9**(9**9) > 0", "power too large"),
        ("('a' * 10**11) | length > 0", "repetition too large"),
        ("range(10**12) | list | length > 0", "range of more than"),
        ("([1] * 10**10) | length > 0", "repetition too large"),
        ("('x' ~ 'y' * 10**9) | length > 0", "repetition too large"),
        ("('%1000000000d' % 1) | length > 0", "width 1000000000"),
        ("('%*d' % (1000000000, 1)) | length > 0", "'*' widths"),
        ("'{:>1000000000}'.format(1) | length > 0", "width 1000000000"),
        ("'a'.center(10**9) | length > 0", "width 1000000000"),
        ("('a' * 1000) | replace('a', 'a' * 1000) | replace('a', 'a' * 1000) | length > 0", "replaced text too large"),
        ("range(100000) | join('x' * 100000) | length > 0", "joined text too large"),
        ("[1] | slice(10**9) | list | length > 0", "number of slices"),
        ("kmem.slab_unreclaimable ** kmem.slab_unreclaimable > 0", "power too large"),
    ],
)
def test_bounded_expressions_are_that_rules_error(tmp_path: Path, when: str, reason: str) -> None:
    path = hostile_runbook(tmp_path, when=when)
    assert cli("validate", str(path))[0] == 0  # well-formed: refused when evaluated
    doc = replay(tmp_path, path)
    unevaluated = doc["path"][0]["unevaluated"]
    assert len(unevaluated) == 1 and unevaluated[0]["reason"].startswith("refused: "), unevaluated
    assert reason in unevaluated[0]["reason"]
    assert doc["verdict"] == "inconclusive"  # a rule that could have found a leak was not evaluated


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{% set x = 'a' * 10**11 %}{{ x }}", "repetition too large"),
        ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "evaluation steps"),
        ("{% for a in range(100000) %}" + "x" * 1000 + "{% endfor %}", "text longer than"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            "joined text too large",
        ),
        (
            "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
            "list or mapping too large",
        ),
    ],
    ids=["set", "nested-loops", "long-output", "doubling-string", "doubling-list"],
)
def test_bounded_texts_are_that_texts_error(tmp_path: Path, text: str, reason: str) -> None:
    path = hostile_runbook(tmp_path, finding=text, summary=text)
    doc = replay(tmp_path, path)
    assert doc["summary"].startswith("(summary could not be rendered: refused: ") and reason in doc["summary"]
    finding = next(f for f in doc["findings"] if "could not be rendered" in f)
    assert reason in finding


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("{% include '/etc/passwd' %}", "include"),
        ("{% extends '/etc/passwd' %}", "extends"),
        ("{% import '/etc/passwd' as p %}", "import"),
        ("{% from '/etc/passwd' import x %}", "from … import"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "macro"),
        ("{% set x %}{{ mem_total }}{% endset %}{{ x }}", "set … endset"),
        ("{% filter upper %}x{% endfilter %}", "filter"),
        ("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", "recursive loops"),
    ],
)
def test_template_statements_without_a_loader_are_refused_by_validate(tmp_path: Path, text: str, tag: str) -> None:
    path = hostile_runbook(tmp_path, finding=text)
    refused(path, f"{path}:9: steps[0].rules[1].finding: refused:", tag)


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("(" * 500 + "1" + ")" * 500, "nested too deeply"),
        ("mem_total" + " | abs" * 200, "nested more than"),
        ("1 }}{% include 'x' %}{{ 1", "expression syntax error"),
    ],
    ids=["parentheses", "filters", "not-an-expression"],
)
def test_expressions_too_deep_or_not_expressions_are_refused_by_validate(
    tmp_path: Path, when: str, reason: str
) -> None:
    path = hostile_runbook(tmp_path, when=when)
    code, lines, _, _ = cli("validate", str(path))
    # the rule is dropped, so its next step is also reported unreachable: one line each
    assert code == 2 and len(lines) == 2, lines
    assert lines[0].startswith(f"{path}:6: steps[0].rules[0].when: ") and reason in lines[0], lines
    assert lines[1] == f"{path}:11: steps[1].id: step 'leak' is unreachable from 'first'"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("collect: [[x]]", "unknown evidence name"),
        ("probe: [[x]]", "unknown probe"),
        ("probe: {a: 1}", "unknown probe"),
        ("samples: 100000000", "samples must be a whole number from 1 to"),
        ("timeout: .inf", "timeout must be positive seconds"),
        ("interval: 1e308", "interval must be seconds"),
    ],
)
def test_hostile_step_values_are_one_line(line: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(
        f"name: t\nsteps:\n  - id: a\n    {line}\n    default: b\n  - id: b\n    verdict: no-leak\n    kind: none\n"
    )
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2 and "internal error" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"{path}:4: ") and reason in proc.stderr
