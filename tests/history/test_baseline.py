"""Earlier runs as a baseline: real runs of this machine, one after another; and a replay in which
the earlier run is SYNTHETIC (written by the test, labelled so) to show a cross-run leak."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from support.cli import Run, run_kleak

from kleak_runbook.derive.baseline import summarize
from kleak_runbook.evidence.baseline import load_run

QUICK = ("--samples", "3", "--interval", "1", "--format", "json", "--quiet")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
MiB = 1 << 20


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}


def _run(cwd: Path, out: Path, *args: str) -> tuple[Run, Any]:
    run = run_kleak("run", "--host", "localhost", *QUICK, "--out", str(out), *args, env=_env(), cwd=cwd)
    assert run.returncode in (0, 1, 3), run.explain()
    return run, run.json()


def test_a_second_run_reads_the_first_as_its_baseline(tmp_path: Path) -> None:
    reports = tmp_path / "kleak-reports"
    _, first = _run(tmp_path, reports / "localhost-1")
    assert "history" not in first  # nothing earlier: the run is exactly what it was
    run, second = _run(tmp_path, reports / "localhost-2")
    hist = second["history"]
    assert hist["source"] == "runs" and hist["label"] == "1 earlier run(s) of this boot", run.explain()
    assert hist["kernel_memory"]["slab_unreclaimable"]["bytes"] > 0
    saved = json.loads((reports / "localhost-2" / "evidence" / "history" / "runs.json").read_text())
    assert [r["boot_id"] for r in saved["runs"]] == [BOOT_ID.read_text().strip()]
    assert saved["runs"][0]["source"] == str(reports / "localhost-1")
    listing = run_kleak("history", "localhost", "--reports", str(reports), "--format", "json", env=_env(), cwd=tmp_path)
    doc = listing.json()
    assert [r["source"] for r in doc["runs"]] == [str(reports / "localhost-1"), str(reports / "localhost-2")]
    assert set(doc["rates_per_day_by_boot"]) == {BOOT_ID.read_text().strip()}
    text = run_kleak("history", "localhost", "--reports", str(reports), env=_env(), cwd=tmp_path)
    assert text.returncode == 0 and "2 run(s)" in text.stdout and "/day" in text.stdout, text.explain()


def test_runs_of_another_boot_give_no_cross_run_deltas(tmp_path: Path) -> None:
    _, _ = _run(tmp_path, tmp_path / "old" / "localhost-1")
    # a copy of a real run with its boot id changed, as if the host had rebooted since
    boot = next((tmp_path / "old").glob("*/evidence/static/proc/sys/kernel/random/boot_id"))
    boot.chmod(0o644)
    boot.write_text("00000000-0000-4000-8000-000000000000\n")
    run, doc = _run(tmp_path, tmp_path / "new", "--no-baseline", "--baseline", str(tmp_path / "old"))
    hist = doc["history"]
    assert hist["other_boots"] == 1 and hist["kernel_memory"] == {}, run.explain()
    assert any("rebooted since" in f for f in doc["findings"])
    assert "another boot left out" in (tmp_path / "new" / "report.md").read_text()


def test_cross_run_growth_names_the_cache_in_replay(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(tmp_path, out, "--no-baseline")
    loaded = load_run(out)
    assert loaded is not None
    now = summarize(loaded[0], loaded[1], str(out))
    cache = max((n for n, (_, rec) in now["caches"].items() if rec is False), key=lambda n: now["caches"][n][0])
    # SYNTHETIC earlier run: this run 30 minutes earlier, with 48 MiB less in one unreclaimable cache
    earlier = json.loads(json.dumps(now))
    earlier["source"] = "synthetic: written by test_cross_run_growth_names_the_cache_in_replay"
    for s in earlier["samples"]:
        s["uptime"] -= 1800
        s["kmem"]["slab_unreclaimable"] -= 48 * MiB
    earlier["end_uptime"] -= 1800
    earlier["caches"][cache][0] = max(0, earlier["caches"][cache][0] - 48 * MiB)
    bundle = tmp_path / "bundle"
    shutil.copytree(out / "evidence", bundle)
    (bundle / "history").mkdir()
    (bundle / "history" / "runs.json").write_text(json.dumps({"format": 1, "runs": [earlier]}))
    # the short-window tests switched off: whatever this machine did in its 2 s of samples, only
    # the cross-run deltas can find a leak here
    off = [f"-e{p}=1099511627776" for p in ("min_growth_bytes_per_s", "min_unaccounted_growth_bytes_per_s",
                                            "min_reclaimable_growth_bytes_per_s")]  # fmt: skip
    replay = run_kleak(
        "replay", str(bundle), "--format", "json", "--out", str(tmp_path / "re"), *off, env=_env(), cwd=tmp_path
    )
    doc = replay.json()
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable"), replay.explain()
    assert doc["culprits"][0]["name"] == cache and doc["culprits"][0]["source"] == "history"
    assert doc["history"]["window"].endswith("minutes") and "over 3" in doc["summary"]
