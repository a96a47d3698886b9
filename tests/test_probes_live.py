"""Attribution probes run for real on localhost, and a replay of the bundle sees the same thing.

This machine's kernel has neither kmemleak, nor SLUB debugfs traces, nor (here) tracefs: each
probe must say why it cannot run and what would enable it, never fail the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

RUNBOOK = """\
name: probe-everything
params: {trace_seconds: 1}
steps:
  - id: measure
    collect: [meminfo, slabinfo]
    samples: 2
    interval: 1
    default: attribute
  - id: attribute
    probe: [slub_traces, kmemleak, page_owner, trace_slab, drop_caches]
    default: done
  - id: done
    verdict: no-leak
    kind: none
"""


def test_probes_on_localhost_then_replay(tmp_path: Path) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK)
    out = tmp_path / "live"
    live = run_cli("run", "--runbook", str(rb), "--out", str(out), "--format", "json", "-q")
    assert live.returncode == 0, live.stderr
    doc = json.loads(live.stdout)
    assert [v["step"] for v in doc["path"]] == ["measure", "attribute", "done"]
    attr = doc["attribution"]
    # no consent given: intrusive probes are skipped and say how to allow them
    gaps = {g["item"]: g for g in doc["evidence_gaps"]}
    assert gaps["probe trace_slab"]["status"] == "not-consented"
    assert gaps["probe drop_caches"]["status"] == "not-consented"
    assert not attr["trace_slab"]["ran"] and "--allow-intrusive trace" in attr["trace_slab"]["reason"]
    # the read-only probes ran; where the kernel cannot support them they say what would
    for name in ("slub_traces", "kmemleak", "page_owner"):
        a = attr[name]
        assert a["ran"], name
        assert a["available"] or (a["reason"] and a["enable"]), (name, a)
    evidence = out / "evidence"
    assert (evidence / "probes" / "slub_traces" / "data").is_dir()
    manifest = json.loads((evidence / "manifest.json").read_text())
    assert manifest["probes"]["slub_traces"]["args"]  # the cache chosen for this host

    replayed = run_cli("replay", str(out), "--runbook", str(rb), "--out", str(tmp_path / "r"), "--format", "json")
    again = json.loads(replayed.stdout)
    assert [v["step"] for v in again["path"]] == [v["step"] for v in doc["path"]]
    for name in ("slub_traces", "kmemleak", "page_owner"):
        assert again["attribution"][name]["reason"] == attr[name]["reason"], name


def test_consented_trace_probe_is_disarmed_or_explains(tmp_path: Path) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK.replace("slub_traces, kmemleak, page_owner, trace_slab, drop_caches", "trace_slab"))
    proc = run_cli(
        "run",
        "--runbook",
        str(rb),
        "--out",
        str(tmp_path / "o"),
        "--format",
        "json",
        "-q",
        "--allow-intrusive",
        "trace",
    )
    doc = json.loads(proc.stdout)
    a = doc["attribution"]["trace_slab"]
    assert a["ran"]
    if a["available"]:
        assert a["details"]["disarmed"] is True
    else:
        assert "could not be armed" in a["reason"] and a["enable"]
    for trigger in Path("/sys/kernel/tracing/events/kmem").glob("*/trigger"):
        assert "kleak_runbook" not in trigger.read_text()
