"""`kleak-runbook bugs`, `--knowledge DIR` and `validate` of knowledge files, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SAMPLES, run_cli

SITE = """\
- id: site-local-el8-kmalloc-64
  title: Our el8 fleet's kmalloc-64 growth (incident OPS-12)
  kind: slab-unreclaimable
  verified: true
  affected:
    - stream: el8
      from: "4.18.0-477"
      to_before: "4.18.0-513.11.1"
  signature: "'kmalloc-64' in slab.caches"
  workaround: Restart the agent that opens the sockets.
  fix: Update to 4.18.0-513.11.1.el8_9 or later.
  escalate_to: the platform team
  links:
    - https://example.org/ops-12
"""


def test_bugs_for_an_el8_kernel_includes_site_local_entries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ours.yaml").write_text(SITE)
    proc = run_cli("bugs", "--kernel", "4.18.0-513.5.1.el8_9.x86_64", "--knowledge", str(site), "--format", "json")
    assert proc.returncode == 1, proc.stderr  # something applies
    doc = json.loads(proc.stdout)
    ours = next(b for b in doc["known_bugs"] if b["id"] == "site-local-el8-kmalloc-64")
    assert ours["confidence"] == "version-only" and ours["source"] == str(site)
    assert "slabinfo" in " ".join(ours["needs"])
    # without the directory it is not there
    plain = json.loads(run_cli("bugs", "--kernel", "4.18.0-513.5.1.el8_9.x86_64", "--format", "json").stdout)
    assert all(b["id"] != ours["id"] for b in plain["known_bugs"])


def test_bugs_from_saved_evidence_and_a_version_file(tmp_path: Path) -> None:
    bundle = SAMPLES / "lab-debian-6.1/healthy"
    from_bundle = json.loads(run_cli("bugs", str(bundle), "--format", "json").stdout)
    assert from_bundle["kernel"] == "6.1.0-50-amd64"
    version = tmp_path / "version"
    version.write_text((bundle / "static/proc/version").read_text())
    from_file = json.loads(run_cli("bugs", "--kernel-version-file", str(version), "--format", "json").stdout)
    assert [b["id"] for b in from_file["known_bugs"]] == [b["id"] for b in from_bundle["known_bugs"]]


def test_bugs_bad_input_is_one_line(tmp_path: Path) -> None:
    for args in (["--kernel", "not a kernel"], [], ["--kernel", "6.1.0", str(tmp_path)]):
        proc = run_cli("bugs", *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def test_broken_site_local_entry_stops_a_replay_with_file_and_line(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "bad.yaml").write_text(SITE.replace("kind: slab-unreclaimable", "kind: nonsense"))
    proc = run_cli(
        "replay", str(SAMPLES / "lab-debian-6.1/healthy"), "--knowledge", str(site), "--out", str(tmp_path / "r")
    )
    assert proc.returncode == 2 and f"{site / 'bad.yaml'}:3" in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists()
    check = run_cli("validate", str(site))
    assert check.returncode == 2 and f"{site / 'bad.yaml'}:3" in check.stderr
    assert run_cli("validate", "runbooks/knowledge").returncode == 0
