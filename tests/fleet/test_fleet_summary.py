"""The fleet summary's pieces: reasons grouped, the correlation sentence, nodes' shares, bad options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.cli import run_kleak

from kleak_runbook.evidence.nodes import Node, split
from kleak_runbook.report.fleet import HostLine, by_kernel, correlation_text, culprit_groups, reason_class


def _line(host: str, verdict: str, release: str | None, culprit: str | None = None) -> HostLine:
    return HostLine(
        host=host,
        verdict=verdict,
        kind="slab-unreclaimable" if culprit else "none",
        rate=1000.0 if culprit else None,
        culprits=(("slab-cache", culprit),) if culprit else (),
        release=release,
        distro="Ubuntu 22.04.3 LTS" if release else None,
        distro_id="ubuntu" if release else None,
        version_signature=None,
        no_verdict=None,
        unreachable=False,
        known_bugs=(),
        summary="",
        report=f"{host}/report.md",
    )


def test_correlation_is_stated_as_the_issue_asks() -> None:
    lines = [_line(f"leak{i}", "leak", "5.15.0-91-generic", "kmalloc-2k") for i in range(11)]
    lines.append(_line("leak11", "leak", "5.15.0-88-generic", "kmalloc-2k"))
    lines += [_line(f"ok{i}", "no-leak", "5.15.0-88-generic") for i in range(88)]
    [group] = culprit_groups(lines)
    assert correlation_text(group) == ("11 of 12 hosts leaking `kmalloc-2k` run 5.15.0-91-generic; 0 of 88 others do")
    rows = {r["release"]: r for r in by_kernel(lines)}
    assert rows["5.15.0-91-generic"]["leak"] == 11 and rows["5.15.0-88-generic"]["no-leak"] == 88


@pytest.mark.parametrize(
    ("reason", "group"),
    [
        ("ssh: connect to host 10.1.2.3 port 22: Connection refused", "Connection refused"),
        ("ssh: connect to host db7 port 2222: Connection timed out", "Connection timed out"),
        ("ssh: Could not resolve hostname db7.example: Temporary failure in name resolution",
         "Could not resolve hostname: Temporary failure in name resolution"),
        ("admin@db7: Permission denied (publickey,password).", "Permission denied (publickey,password)"),
        ("Connection closed by 10.1.2.3 port 22", "Connection closed by remote host"),
        ("Host key verification failed.", "Host key verification failed"),
    ],
)  # fmt: skip
def test_unreachable_reasons_lose_the_host_name(reason: str, group: str) -> None:
    assert reason_class(reason) == group


def test_nodes_take_their_group_and_share_the_rest() -> None:
    a, b, c = Node.parse("ops@n1"), Node.parse("ops@n2:2222=db"), Node.parse("ops@n3")
    hosts = ["w1", "w2", "w3", "d1", "d2"]
    plan = {n.spec: hosts for n, hosts in split(hosts, [a, b, c], {"db": ["d1", "d2"]})}
    assert plan == {"ops@n2:2222=db": ["d1", "d2"], "ops@n1": ["w1", "w3"], "ops@n3": ["w2"]}
    a.dead = "gone"
    plan = {n.spec: hosts for n, hosts in split(hosts, [a, b, c], {})}
    assert sorted(h for hs in plan.values() for h in hs) == sorted(hosts) and "ops@n1" not in plan


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "db7", "--execution-node", "ops@n1"], "--execution-node needs -i INVENTORY"),
        (["-i", "INV", "--execution-node", "n1"], "--execution-node n1: expected USER@HOST[:PORT][=GROUP]"),
        (["-i", "INV", "--execution-node", "ops@n1:99999"], "--execution-node ops@n1:99999: port 99999 out of range"),
    ],
)
def test_bad_execution_node_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("h1\n", encoding="utf-8")
    args = [str(inventory) if a == "INV" else a for a in args]
    run = run_kleak("run", *args, "--out", str(tmp_path / "out"), env=dict(os.environ), cwd=tmp_path)
    assert run.returncode == 2, run.explain()
    assert run.stderr.strip() == f"kleak-runbook: {says}", run.explain()
