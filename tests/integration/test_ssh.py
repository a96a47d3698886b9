"""`kleak-runbook run` over real SSH to an sshd started on 127.0.0.1 (tests/support/sshd.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import QUICK, Run
from support.sshd import Sshd, free_port

from .checks import check_report, check_result, gaps, live_meminfo_fields, meminfo_fields, samples_dir

pytestmark = pytest.mark.ssh

ROOT_ONLY = ("slabinfo", "vmallocinfo")


def _logged_in(sshd: Sshd, user: str, before: int, run: Run) -> None:
    assert sshd.accepted(user) > before, f"no SSH login as {user} reached the test sshd\n{run.explain()}"


def _collected(out: Path, spec_file: str, first_line: str) -> None:
    for sample in ("000", "001"):
        text = (samples_dir(out) / sample / "proc" / spec_file).read_text(encoding="utf-8")
        assert text.startswith(first_line) and "\r" not in text, text[:200]


def test_root(kleak, sshd: Sshd, tmp_path: Path) -> None:
    out = tmp_path / "root"
    before = sshd.accepted("root")
    run = kleak("run", *sshd.cli_args("root"), "--out", str(out), *QUICK)
    doc = run.json()
    check_result(run, doc, sshd.host)
    check_report(out, doc)
    _logged_in(sshd, "root", before, run)
    assert not set(ROOT_ONLY) & set(gaps(doc)), doc["evidence_gaps"]
    _collected(out, "slabinfo", "slabinfo - version: 2.1")
    _collected(out, "vmallocinfo", "0x")
    meminfo = (samples_dir(out) / "000" / "proc" / "meminfo").read_text(encoding="ascii")
    assert meminfo_fields(meminfo) == live_meminfo_fields()


def test_non_root_without_become_reports_denied(kleak, sshd: Sshd, test_user: str, tmp_path: Path) -> None:
    out = tmp_path / "user"
    before = sshd.accepted(test_user)
    run = kleak("run", *sshd.cli_args(test_user), "--out", str(out), *QUICK)
    doc = run.json()
    check_result(run, doc, sshd.host)
    _logged_in(sshd, test_user, before, run)
    found = gaps(doc)
    assert {item: found.get(item) for item in ROOT_ONLY} == dict.fromkeys(ROOT_ONLY, "denied"), doc["evidence_gaps"]
    assert doc["verdict"] != "inconclusive", "meminfo alone is enough for a verdict"
    for sample in ("000", "001"):
        proc = samples_dir(out) / sample / "proc"
        assert meminfo_fields((proc / "meminfo").read_text(encoding="ascii")) == live_meminfo_fields()
        assert not (proc / "slabinfo").exists() and not (proc / "vmallocinfo").exists()


def test_non_root_with_become(kleak, sshd: Sshd, sudo_user: str, tmp_path: Path) -> None:
    out = tmp_path / "become"
    before = sshd.accepted(sudo_user)
    run = kleak("run", *sshd.cli_args(sudo_user), "--become", "--out", str(out), *QUICK)
    doc = run.json()
    check_result(run, doc, sshd.host)
    _logged_in(sshd, sudo_user, before, run)
    assert not set(ROOT_ONLY) & set(gaps(doc)), doc["evidence_gaps"]
    _collected(out, "slabinfo", "slabinfo - version: 2.1")


def test_closed_port_is_unreachable(kleak, sshd: Sshd, tmp_path: Path) -> None:
    out = tmp_path / "closed"
    args = list(sshd.cli_args("root"))
    args[args.index("--port") + 1] = str(free_port())
    run = kleak("run", *args, "--out", str(out), *QUICK)
    assert run.returncode == 3, run.explain()
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.explain()
    doc = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert doc["verdict"] == "inconclusive"
    assert "unreachable" in {g["status"] for g in doc["evidence_gaps"]}, doc["evidence_gaps"]
    assert "unreachable" in (out / "report.md").read_text(encoding="utf-8").lower()
    check_result(run, run.json(), sshd.host)


def test_inventory_with_two_hosts(kleak, sshd: Sshd, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "".join(f"{alias} ansible_host={sshd.host} ansible_port={sshd.port}\n" for alias in ("a", "b")),
        encoding="utf-8",
    )
    out = tmp_path / "fleet"
    run = kleak("run", "-i", str(inventory), "-u", "root", "--private-key", str(sshd.key), "--out", str(out), *QUICK)
    docs = run.json()
    assert isinstance(docs, list) and sorted(d["host"] for d in docs) == ["a", "b"], run.explain()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["a", "b"]
    assert (out / "fleet.md").is_file() and (out / "fleet.json").is_file()
    codes = set()
    for doc in docs:
        host_run = Run(run.args, doc["exit_code"], run.stdout, run.stderr)
        check_result(host_run, doc, doc["host"])
        assert doc["report_dir"] == str(out / doc["host"])
        check_report(out / doc["host"], doc)
        assert (samples_dir(out / doc["host"]) / "001" / "proc" / "slabinfo").is_file()
        codes.add(doc["exit_code"])
    assert run.returncode == (1 if 1 in codes else 3 if 3 in codes else 0), run.explain()


def test_prewarmed_master_is_reused(sshd: Sshd, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The master opened while Ansible starts is the connection Ansible uses: one login in all."""
    from kleak_runbook.evidence.ansible import AnsibleCollector, Target
    from kleak_runbook.evidence.collector import Request
    from kleak_runbook.evidence.store import EvidenceStore
    from kleak_runbook.progress import Progress

    for k, v in cli_env.items():
        monkeypatch.setenv(k, v)
    before = sshd.accepted("root")
    target = Target(host=sshd.host, port=sshd.port, user="root", private_key=str(sshd.key))
    collector = AnsibleCollector(target, Progress(enabled=False))
    try:
        assert collector._warm is not None, "no master was started for a plain --host target"
        assert collector._warm.wait(timeout=60) == 0, sshd.log_text()[-2000:]
        assert len(list(collector.control_dir.iterdir())) == 1  # the master's socket
        assert sshd.accepted("root") == before + 1
        stores: dict[str, EvidenceStore] = {}
        seen = collector.collect(
            Request(step="t", specs=("meminfo",), samples=2, interval=0.5, static=("version",)),
            None,
            lambda h: stores.setdefault(h, EvidenceStore(h)),
        )
        assert seen == [sshd.host]
        assert [("meminfo" in s.texts) for s in stores[sshd.host].samples] == [True, True]
        assert sshd.accepted("root") == before + 1, "Ansible logged in again instead of using the master"
    finally:
        collector.close()
    assert not collector.control_dir.exists()
