"""matplotlib is an extra (`kleak-runbook[charts]`): without it, a run with history still ends with
its report, one stderr line saying why there is no chart. Found by installing with `pip install .`
alone and running the README's first command twice: the second run has the first as its history."""

from __future__ import annotations

import os
from pathlib import Path

from support.cli import run_kleak

QUICK = ("--samples", "2", "--interval", "1", "--format", "json", "--quiet")


def _env(blocker: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(blocker), env.get("PYTHONPATH", "")) if p)
    return env


def test_a_run_with_history_and_no_matplotlib_still_reports(tmp_path: Path) -> None:
    blocker = tmp_path / "no-matplotlib"  # a package named matplotlib that cannot be imported, first on the path
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text('raise ImportError("matplotlib is not installed (test)")\n')
    reports = tmp_path / "kleak-reports"
    for name in ("localhost-1", "localhost-2"):
        run = run_kleak(
            "run", "--host", "localhost", *QUICK, "--out", str(reports / name), env=_env(blocker), cwd=tmp_path
        )
        assert run.returncode in (0, 1, 3), run.explain()
        assert "internal error" not in run.stderr, run.explain()
    doc = run.json()
    assert doc["history"]["source"] == "runs"  # the second run had the first as its history
    assert "matplotlib is not installed" in run.stderr and "kleak-runbook[charts]" in run.stderr
    assert not (reports / "localhost-2" / "history.svg").exists()
    assert (reports / "localhost-2" / "report.md").is_file()
