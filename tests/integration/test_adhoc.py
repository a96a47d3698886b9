"""One sample on localhost goes as one ad-hoc ``ansible -m raw`` and brings the same evidence as
the looped playbook of a two-sample run (the sample's files, the static files, the verdict)."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_kleak

from .checks import live_meminfo_fields, meminfo_fields, samples_dir


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_one_sample_brings_what_a_looped_sample_brings(cli_env: dict[str, str], tmp_path: Path) -> None:
    one, two = tmp_path / "a" / "out", tmp_path / "b" / "out"  # apart: neither is the other's earlier run
    first = run_kleak("run", "--samples", "1", "--out", str(one), "--format", "json", env=cli_env, cwd=tmp_path)
    second = run_kleak("run", "--samples", "2", "--interval", "1", "--out", str(two), "--format", "json",
                       env=cli_env, cwd=tmp_path)  # fmt: skip
    assert first.returncode in (0, 1), first.explain()
    assert second.returncode in (0, 1), second.explain()
    # the walk after the sample may differ (noise in a 1 s window): compare what the sample brought
    taken = {f for f in _files(one / "evidence") if f.startswith(("samples/000/", "static/"))}
    looped = {f for f in _files(two / "evidence") if f.startswith(("samples/000/", "static/"))}
    assert taken == looped and "samples/000/proc/vmallocinfo" in taken
    assert meminfo_fields((samples_dir(one) / "000/proc/meminfo").read_text(encoding="ascii")) == live_meminfo_fields()
    assert (one / "evidence/static/proc/version").read_text() == Path("/proc/version").read_text()
    manifest = json.loads((one / "evidence/manifest.json").read_text(encoding="utf-8"))
    assert manifest["host"] == "localhost"
    assert first.json()["path"][0]["step"] == "measure" and (one / "report.md").is_file()
