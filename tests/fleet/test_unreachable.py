"""An inventory fleet over real loopback SSH: unreachable hosts grouped by ssh's own reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.sshd import Sshd, free_port

from kleak_runbook.evidence.events import unreachable_reason
from kleak_runbook.report.fleet import reason_class

pytestmark = pytest.mark.ssh


def _inventory(tmp_path: Path, sshd: Sshd) -> Path:
    bad_key = tmp_path / "bad_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(bad_key)], check=True)
    lines = [f"healthy{i} ansible_host={sshd.host} ansible_port={sshd.port}" for i in range(3)]
    lines += [
        f"refused1 ansible_host=127.0.0.1 ansible_port={free_port()}",
        f"refused2 ansible_host=127.0.0.1 ansible_port={free_port()}",
        "noname ansible_host=no-such-host.invalid",
        # "localhost", not 127.0.0.1: the aliases above share one ssh master per address, port and
        # user (ControlPath), which would carry this host in on their key
        f"badkey ansible_host=localhost ansible_port={sshd.port} ansible_ssh_private_key_file={bad_key}",
    ]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inventory


def test_unreachable_hosts_grouped_by_reason(kleak, sshd: Sshd, tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    inventory = _inventory(tmp_path, sshd)
    run = kleak(
        "run", "-i", str(inventory), "-u", "root", "--private-key", str(sshd.key), "--samples", "1", "--out", str(out)
    )
    doc = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    groups = {g["reason"]: g["hosts"] for g in doc["no_verdict"] if g["unreachable"]}
    assert groups == {
        "Connection refused": ["refused1", "refused2"],
        "Could not resolve hostname: Name or service not known": ["noname"],
        "Permission denied (publickey)": ["badkey"],
    }, run.explain()
    assert doc["unreachable"] == 4 and doc["hosts"] == 7
    healthy = [x for x in doc["host_lines"] if x["host"].startswith("healthy")]
    assert len(healthy) == 3 and all(x["verdict"] != "inconclusive" for x in healthy), healthy
    leaks = any(x["verdict"] in ("leak", "suspected-leak") for x in healthy)
    assert run.returncode == (1 if leaks else 3), run.explain()
    assert "All items completed" not in (out / "fleet.md").read_text(encoding="utf-8")
    assert "unreachable: Connection refused: refused1, refused2" in run.stdout, run.explain()
    for host in ("refused1", "noname", "badkey"):
        result = json.loads((out / host / "result.json").read_text(encoding="utf-8"))
        assert "All items completed" not in result["summary"]
        assert reason_class(result["summary"].split(": ", 1)[1]) in groups


@pytest.mark.parametrize(
    ("res", "said"),
    [
        (
            {
                "msg": 'Data could not be sent to remote host "db7". Make sure this host can be reached over '
                "ssh: ssh: connect to host db7 port 22: Connection refused\r\n"
            },
            "ssh: connect to host db7 port 22: Connection refused",
        ),
        (
            {
                "msg": "All items completed",
                "results": [
                    {
                        "msg": "Failed to connect to the host via ssh: "
                        "admin@db7: Permission denied (publickey,password).",
                        "unreachable": True,
                    }
                ],
            },
            "admin@db7: Permission denied (publickey,password).",
        ),
        ({"msg": "All items completed"}, None),
    ],
)
def test_unreachable_reason_is_ssh_s_own(res: dict, said: str | None) -> None:
    reason = unreachable_reason(res)
    if said is None:
        assert "All items completed" not in reason and reason.startswith("unreachable (")
    else:
        assert reason == said
