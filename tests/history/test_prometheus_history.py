"""``run --prometheus`` against real Prometheus servers holding a SYNTHETIC week of history
(backfilled with promtool, labelled synthetic="true"), and replay of the bundle it writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.cli import Run, run_kleak

QUICK = ("--samples", "3", "--interval", "1", "--format", "json", "--no-baseline")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}
    return {**env, **extra}


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Run, Any]:
    run = run_kleak("run", "--host", "localhost", "--quiet", *QUICK, *args, env=env or _env(), cwd=tmp_path)
    assert run.returncode in (0, 1, 3), run.explain()
    return run, run.json()


def test_week_long_slow_leak_is_a_leak_with_rate_chart_and_forecast(tmp_path: Path, leak_prometheus: Any) -> None:
    out = tmp_path / "r"
    # the runbook's own sampling (4 x 5 s): the live samples must not see a fast leak on this busy machine
    run = run_kleak("run", "--host", "localhost", "--quiet", "--format", "json", "--no-baseline",
                    "--prometheus", leak_prometheus.url, "--out", str(out), env=_env(), cwd=tmp_path)  # fmt: skip
    doc = run.json()
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable"), run.explain()
    assert run.returncode == 1
    hist = doc["history"]
    assert hist["source"] == "prometheus" and hist["reboots"] == 1
    rate = hist["kernel_memory"]["slab_unreclaimable"]["growth_bytes_per_day"]
    assert 0.85 * 2**30 < rate < 1.15 * 2**30, hist  # 1 GiB/day, through noise, a gap, a reboot and a spike
    assert hist["top"]["kind"] == "slab-unreclaimable"
    fc = hist["forecast"]
    assert fc["days_low"] <= fc["days_to_zero"] and 5 < fc["days_to_zero"] < 80, fc
    assert doc["culprits"][0]["name"] == "kmalloc-256", doc["culprits"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert hist["chart"] == "history.svg" and (out / "history.svg").read_text().startswith("<?xml")
    assert "](history.svg)" in report and "MemAvailable" in report and "/day" in report
    assert (out / "evidence" / "history" / "prometheus.json").is_file()
    # the window is stated in the verdict
    assert hist["window"] in doc["summary"]


def test_the_same_host_without_the_leak_is_no_leak(tmp_path: Path, flat_prometheus: Any) -> None:
    # the runbook's own sampling (4 x 5 s), as in the leak case: a verdict about this machine
    run = run_kleak("run", "--host", "localhost", "--quiet", "--format", "json", "--no-baseline",
                    "--prometheus", flat_prometheus.url, "--out", str(tmp_path / "r"), env=_env(), cwd=tmp_path)  # fmt: skip
    doc = run.json()
    assert doc["verdict"] == "no-leak", run.explain()
    slab = doc["history"]["kernel_memory"]["slab_unreclaimable"]
    assert abs(slab["growth_bytes_per_day"]) < 64 * 2**20 and not slab["grows"], slab  # the 4 GiB spike made nothing
    assert doc["history"]["top"] is None and doc["history"]["forecast"] is None


def test_prometheus_down_is_a_gap_and_the_live_verdict_stands(tmp_path: Path) -> None:
    from history.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    run, doc = _run(tmp_path, "--out", str(tmp_path / "r"), env=_env(KLEAK_PROMETHEUS_URL=url))
    gaps = [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]
    assert gaps and gaps[0]["status"] == "unreachable" and url in gaps[0]["reason"], doc["evidence_gaps"]
    assert doc["verdict"] in ("no-leak", "leak", "suspected-leak") and "history" not in doc, run.explain()


def test_replay_of_a_bundle_with_history_gives_the_same_verdict_offline(tmp_path: Path, leak_prometheus: Any) -> None:
    out = tmp_path / "r"
    _, live = _run(tmp_path, "--prometheus", leak_prometheus.url, "--out", str(out))
    leak_prometheus.stop()  # offline: nothing to ask any more
    try:
        replay = run_kleak(
            "replay", str(out), "--format", "json", "--out", str(tmp_path / "re"), env=_env(), cwd=tmp_path
        )
        doc = replay.json()
        assert (doc["verdict"], doc["kind"]) == (live["verdict"], live["kind"]), replay.explain()
        assert doc["history"]["kernel_memory"] == live["history"]["kernel_memory"]
        assert [s["step"] for s in doc["path"]] == [s["step"] for s in live["path"]]
    finally:
        leak_prometheus.start()  # the other tests of the module share it


def test_live_node_exporter_is_found_by_its_nodename(tmp_path: Path, live_prometheus: Any) -> None:
    """A real node_exporter on this machine, scraped as 127.0.0.1:PORT: --host localhost finds its
    series through node_uname_info's nodename (this machine's hostname)."""
    out = tmp_path / "r"
    run, doc = _run(tmp_path, "--prometheus", live_prometheus.url, "--history-window", "10m", "--out", str(out))
    saved = json.loads((out / "evidence" / "history" / "prometheus.json").read_text())
    assert saved["matched_by"] == "nodename", saved["selector"]
    assert doc["history"]["source"] == "prometheus", run.explain()
    live_total = doc["mem_total_bytes"]
    assert doc["history"]["kernel_memory"]["slab_unreclaimable"]["bytes"] > 0
    mem = saved["queries"]["memory"]["result"]
    totals = {float(v[1]) for s in mem if s["metric"]["__name__"] == "node_memory_MemTotal_bytes" for v in s["values"]}
    assert totals == {float(live_total)}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--prometheus", "ftp://x"), {}, "--prometheus"),
        (("--prometheus", "http://u:secret-pw@127.0.0.1:9"), {}, "no credentials in the URL"),
        (("--prometheus", "http://127.0.0.1:9", "--history-window", "forever"), {}, "--history-window"),
        (("--prometheus", "http://127.0.0.1:9", "--prometheus-ca", "/nonexistent/ca.pem"), {}, "--prometheus-ca"),
        (("--watch", "soon"), {}, "--watch"),
        (("--watch", "24h", "--interval", "1"), {}, "more than 10000"),
        (("--watch", "1m", "--samples", "3"), {}, "--watch and --samples"),
        (("--baseline", "/nonexistent/runs"), {}, "--baseline /nonexistent/runs"),
        ((), {"KLEAK_PROMETHEUS_URL": "http://127.0.0.1:9", "KLEAK_PROMETHEUS_USER": "u"}, "KLEAK_PROMETHEUS_PASSWORD"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    run = run_kleak("run", "--host", "localhost", *args, env=_env(**env), cwd=tmp_path)
    assert run.returncode == 2, run.explain()
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "secret-pw" not in run.stderr and "Traceback" not in run.stderr
