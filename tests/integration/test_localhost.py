"""`kleak-runbook run` on this machine through Ansible's local connection, then `replay` of its bundle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cli import QUICK, Run, command, run_kleak

from .checks import check_report, check_result, iso_utc, live_meminfo_fields, meminfo_fields, samples_dir, visited


@dataclass(frozen=True)
class LocalRun:
    run: Run
    doc: dict[str, Any]
    out: Path
    work: Path


@pytest.fixture(scope="module")
def local(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    work = tmp_path_factory.mktemp("localhost")
    out = work / "report"
    run = run_kleak("run", "--host", "localhost", "--out", str(out), *QUICK, env=cli_env, cwd=work)
    return LocalRun(run, run.json(), out, work)


def test_exit_code_and_result_document(local: LocalRun) -> None:
    assert local.run.returncode in (0, 1, 3), local.run.explain()
    check_result(local.run, local.doc, "localhost")
    assert local.doc["runbook"] == "kernel-memory-leak"
    assert local.doc["kernel"]["release"] == os.uname().release


def test_report_and_stdout_match_result_json(local: LocalRun) -> None:
    assert local.doc["report_dir"] == str(local.out)
    check_report(local.out, local.doc)


def test_bundle_mirrors_host_paths(local: LocalRun) -> None:
    evidence = local.out / "evidence"
    manifest = json.loads((evidence / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["host"] == "localhost"
    taken = sorted(p.name for p in samples_dir(local.out).iterdir())
    assert taken == ["000", "001"], "--samples 2 should leave exactly two samples"
    for sample in taken:
        text = (samples_dir(local.out) / sample / "proc" / "meminfo").read_text(encoding="ascii")
        assert meminfo_fields(text) == live_meminfo_fields()
    assert (evidence / "static" / "proc" / "version").read_text(encoding="utf-8") == Path("/proc/version").read_text(
        encoding="utf-8"
    )


def test_started_at_is_before_the_first_sample(local: LocalRun) -> None:
    manifest = json.loads((local.out / "evidence" / "manifest.json").read_text(encoding="utf-8"))
    first_wall = iso_utc(manifest["samples"][0]["wall"][:19] + "Z")  # the host clock, to the second
    last_wall = iso_utc(manifest["samples"][-1]["wall"][:19] + "Z")
    assert iso_utc(local.doc["finished_at"]) >= last_wall
    assert iso_utc(local.doc["started_at"]) <= first_wall


def test_replay_gives_same_verdict_and_path(local: LocalRun, cli_env: dict[str, str]) -> None:
    replay_out = local.work / "replay"
    rerun = run_kleak(
        "replay", str(local.out), "--out", str(replay_out), "--format", "json", env=cli_env, cwd=local.work
    )
    doc = rerun.json()
    check_result(rerun, doc, "localhost")
    assert (doc["verdict"], doc["kind"]) == (local.doc["verdict"], local.doc["kind"])
    assert visited(doc) == visited(local.doc)
    assert rerun.returncode == local.run.returncode
    assert (replay_out / "report.md").is_file()


def test_ctrl_c_keeps_the_evidence(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = samples_dir(out) / "000" / "proc" / "meminfo"
    args = ("run", "--host", "localhost", "--out", str(out), "--samples", "5", "--interval", "2", "--format", "json")
    # Its own process group, so the SIGINT reaches the CLI and everything it started, as Ctrl-C does.
    proc = subprocess.Popen(
        command(*args),
        cwd=tmp_path,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the first sample arrived"
        assert first.exists(), "no sample on disk after 60 s"
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    run = Run(args, proc.returncode, stdout, stderr)
    assert run.returncode == 3, run.explain()
    assert "Traceback" not in run.stderr, run.explain()
    assert meminfo_fields(first.read_text(encoding="ascii")) == live_meminfo_fields()
    assert len(list(samples_dir(out).iterdir())) < 5, "the run was not interrupted"
    assert took < 1.5, f"Ctrl-C during a sample's wait took {took:.2f} s to end the run"
    # the partial report the README promises
    doc = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert (doc["verdict"], doc["exit_code"]) == ("inconclusive", 3)
    assert doc["interrupted"].startswith("in step measure after ") and doc["interrupted"].endswith("of 5 samples")
    assert "interrupted" in (out / "report.md").read_text(encoding="utf-8").splitlines()[2]
    assert len(run.stderr.strip().splitlines()) == 1 and str(out) in run.stderr
    manifest = json.loads((out / "evidence" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["interrupted"] == doc["interrupted"]
    assert manifest["samples"][0]["index"] == 0


def test_replay_of_an_interrupted_bundle_says_so(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A bundle whose run was cut short: its replay never claims no-leak and names the interruption."""
    out = tmp_path / "report"
    args = ("run", "--host", "localhost", "--out", str(out), "--samples", "4", "--interval", "1", "-q")
    proc = subprocess.Popen(command(*args), cwd=tmp_path, env=cli_env, start_new_session=True)
    first = samples_dir(out) / "001" / "proc" / "meminfo"
    deadline = time.monotonic() + 60
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 3
    replay = run_kleak(
        "replay", str(out), "--format", "json", "--out", str(tmp_path / "again"), env=cli_env, cwd=tmp_path
    )
    doc = json.loads(replay.stdout)
    assert doc["interrupted"].startswith("in step measure after ")
    assert doc["verdict"] != "no-leak" and any("interrupted" in n for n in doc["notes"])
