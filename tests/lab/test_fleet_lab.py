"""A fleet, end to end: the lab VM leaking through a module, 20 healthy loopback hosts and
3 unreachable ones (connection refused, a name that does not resolve, a key the host refuses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm import LabVM

pytestmark = pytest.mark.lab
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.sshd import Sshd, free_port  # noqa: E402

HEALTHY = [f"healthy{i:02d}" for i in range(20)]


@pytest.fixture
def loopback() -> Iterator[Sshd]:
    server = Sshd(users=("root",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _inventory(tmp_path: Path, vm: LabVM, sshd: Sshd) -> Path:
    bad_key = tmp_path / "bad_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(bad_key)], check=True)
    lines = [f"labvm ansible_host=127.0.0.1 ansible_port={vm.port} ansible_ssh_private_key_file={vm.private_key}"]
    lines += [f"{h} ansible_host={sshd.host} ansible_port={sshd.port}" for h in HEALTHY]
    lines += [
        f"refused ansible_host=127.0.0.1 ansible_port={free_port()}",
        "unresolvable ansible_host=no-such-host.invalid",
        # "localhost", not 127.0.0.1: the aliases above share one ssh master per address, port and
        # user (ControlPath), which would carry this host in on their key
        f"badkey ansible_host=localhost ansible_port={sshd.port} ansible_ssh_private_key_file={bad_key}",
    ]
    path = tmp_path / "fleet.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fleet_names_the_leaking_host_and_groups_the_unreachable(leaky: LabVM, loopback: Sshd, tmp_path: Path) -> None:
    out = tmp_path / "out"
    inventory = _inventory(tmp_path, leaky, loopback)
    cmd = [
        sys.executable, "-m", "kleak_runbook.cli", "run", "-i", str(inventory), "-u", "root",
        "--private-key", str(loopback.key), "--out", str(out), "--samples", "3", "--interval", "4",
    ]  # fmt: skip
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_COMMON_ARGS": "-o UserKnownHostsFile=/dev/null",
    }
    with leaky.leaking("vmalloc", rate_kib=1024, total_kib=96 * 1024):
        time.sleep(1)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    explain = f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 1, explain
    fleet = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    assert fleet["hosts"] == 24, explain
    lab = next(x for x in fleet["leaking"] if x["host"] == "labvm")
    assert lab["kind"] == "vmalloc" and lab["rate"] > 256 * 1024, fleet["leaking"]
    groups = {g["label"]: g["hosts"] for g in fleet["by_culprit"]}
    assert "labvm" in groups.get("leaky", []), groups  # the module, named as the culprit
    unreachable = {g["reason"]: g["hosts"] for g in fleet["no_verdict"] if g["unreachable"]}
    assert unreachable == {
        "Connection refused": ["refused"],
        "Could not resolve hostname: Name or service not known": ["unresolvable"],
        "Permission denied (publickey)": ["badkey"],
    }, explain
    healthy = [x for x in fleet["host_lines"] if x["host"] in HEALTHY]
    assert len(healthy) == 20 and all(x["verdict"] != "inconclusive" for x in healthy), healthy
    md = (out / "fleet.md").read_text(encoding="utf-8")
    assert "labvm" in md and "`leaky`" in md and "[labvm](labvm/report.md)" in md
    assert "LEAK labvm: vmalloc" in proc.stdout, explain
