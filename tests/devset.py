"""The development set: real public cases (tests/cases/cases.yaml, each with its source URL and what
its thread concluded) replayed through the real CLI and scored against the expected verdict, kind
and culprit. ``python tests/devset.py`` prints the accuracy table the README shows."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Outcome:
    case: dict[str, Any]
    verdict: str
    kind: str
    culprit: str | None
    error: str | None

    @property
    def right(self) -> bool:
        want = self.case["expected"]
        if self.error or (self.verdict, self.kind) != (want["verdict"], want["kind"]):
            return False
        culprit = want.get("culprit") or {}
        name = culprit.get("name")
        if name is None or name == self.culprit:
            return True
        got = str(self.culprit or "")
        if culprit.get("type") == "function":  # "efx_ef10_mtd_probe [sfc]" is that function, in its module
            return got.split(" [", 1)[0] == name
        # a module named as the culprit: the tool names the code in it, "ksmbd_alloc [ksmbd]"
        return culprit.get("type") == "module" and got.endswith(f"[{name}]")


def cases(path: Path = CASES_DIR / "cases.yaml") -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


def judge(case: dict[str, Any]) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r"
        source = str(CASES_DIR / case["id"] / "input.txt")
        proc = subprocess.run(
            [sys.executable, "-m", "kleak_runbook.cli", "replay", source, "--out", str(out), "--format", "json", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode == 2 or not proc.stdout.strip():
            return Outcome(case, "", "", None, proc.stderr.strip() or f"exit {proc.returncode}")
        doc = json.loads(proc.stdout)
        named = (doc.get("culprits") or []) + (doc.get("largest") or [])
        return Outcome(case, doc["verdict"], doc["kind"], named[0]["name"] if named else None, None)


def table(outcomes: list[Outcome]) -> str:
    rows = ["| class | cases | right |", "|---|---:|---:|"]
    by: dict[str, Counter[bool]] = {}
    for o in outcomes:
        want = o.case["expected"]
        by.setdefault(f"{want['verdict']} / {want['kind']}", Counter())[o.right] += 1
    for label, count in sorted(by.items()):
        rows.append(f"| {label} | {count.total()} | {count[True]} |")
    right = sum(o.right for o in outcomes)
    rows.append(f"| **all** | **{len(outcomes)}** | **{right} ({100 * right / len(outcomes):.0f}%)** |")
    return "\n".join(rows)


if __name__ == "__main__":
    # python tests/devset.py [CASES.yaml]: another list of cases (e.g. a new batch kept apart until judged)
    results = [judge(c) for c in cases(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR / "cases.yaml")]
    for o in results:
        mark = "ok " if o.right else "BAD"
        got = o.error or f"{o.verdict}/{o.kind}/{o.culprit or '-'}"
        want = o.case["expected"]
        print(
            f"{mark} {o.case['id']}: got {got[:100]}; want {want['verdict']}/{want['kind']}/{(want.get('culprit') or {}).get('name', '-')}"
        )
    print()
    print(table(results))
