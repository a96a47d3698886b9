"""Two execution nodes (separate loopback sshd processes, each with its own host key) run a fleet
through ansible-runner's streaming; one is killed mid-run and no host is lost."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import command
from support.sshd import Sshd

pytestmark = pytest.mark.ssh
RUNNER = str(Path(sys.executable).parent / "ansible-runner")
HOSTS = [f"h{i}" for i in range(6)]


@pytest.fixture
def nodes(sshd: Sshd) -> Iterator[list[Sshd]]:
    """Two nodes that let in the same client key as the target hosts."""
    started = []
    try:
        for _ in range(2):
            node = Sshd(users=("root",))
            node.start()
            started.append(node)
            with open(node.dir / "authorized_keys" / "root", "a", encoding="utf-8") as fh:
                fh.write(sshd.key.with_name(sshd.key.name + ".pub").read_text(encoding="utf-8"))
        yield started
    finally:
        for node in started:
            node.stop()


def _env(cli_env: dict[str, str], sshd: Sshd) -> dict[str, str]:
    args = f"-i {sshd.key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    return {**cli_env, "KLEAK_NODE_SSH_ARGS": args}


def _start(tmp_path: Path, sshd: Sshd, nodes: list[Sshd], env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "".join(f"{h} ansible_host={sshd.host} ansible_port={sshd.port}\n" for h in HOSTS), encoding="utf-8"
    )
    args = ["run", "-i", str(inventory), "-u", "root", "--private-key", str(sshd.key), "--out", str(tmp_path / "out")]
    for node in nodes:
        args += ["--execution-node", f"root@{node.host}:{node.port}"]
    args += ["--node-runner", RUNNER, "-e", f"min_growth_bytes={2**40}", *extra]
    return subprocess.Popen(
        command(*args), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _kill_node(node: Sshd) -> None:
    """The node dies: its sshd, the session and the worker under it."""
    assert node._proc is not None
    for pid in reversed(_descendants(node._proc.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _results(out: Path) -> dict[str, dict]:
    return {h: json.loads((out / h / "result.json").read_text(encoding="utf-8")) for h in HOSTS}


def test_two_nodes_share_a_fleet(sshd: Sshd, nodes: list[Sshd], cli_env: dict[str, str], tmp_path: Path) -> None:
    proc = _start(tmp_path, sshd, nodes, _env(cli_env, sshd), "--samples", "2", "--interval", "1")
    _stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode in (0, 1), stderr
    results = _results(tmp_path / "out")
    assert all(r["verdict"] != "inconclusive" for r in results.values()), stderr
    for node in nodes:  # each node logged in and ran a worker
        assert node.accepted("root") >= 1, node.log_text()
    fleet = json.loads((tmp_path / "out" / "fleet.json").read_text(encoding="utf-8"))
    assert fleet["hosts"] == len(HOSTS) and fleet["execution_node_incidents"] == []


def test_a_node_killed_mid_run_loses_no_host(
    sshd: Sshd, nodes: list[Sshd], cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = _start(tmp_path, sshd, nodes, _env(cli_env, sshd), "--samples", "4", "--interval", "3")
    victim = nodes[0]
    deadline = time.monotonic() + 120
    # wait until the victim runs a worker and the first sample of some host has arrived
    while time.monotonic() < deadline and not (victim.accepted("root") and list(out.glob("*/evidence/samples/000"))):
        time.sleep(0.2)
    _kill_node(victim)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), f"{stdout}\n{stderr}"
    results = _results(out)
    assert all(r["verdict"] != "inconclusive" for r in results.values()), {h: r["summary"] for h, r in results.items()}
    fleet = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    [incident] = fleet["execution_node_incidents"]
    assert incident["node"] == f"root@{victim.host}:{victim.port}"
    assert incident["retried"] and set(incident["retried"]) <= set(incident["hosts"])
    assert incident["retried_on"] == [f"root@{nodes[1].host}:{nodes[1].port}"] and not incident.get("lost")
    assert f"execution node {incident['node']} died" in stdout
