"""One stuck host (its sshd runs every command as `sleep`) holds one fork for its own time limit,
never the others: the fleet finishes, the stuck host is reported without a verdict, by reason."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.sshd import Sshd

pytestmark = pytest.mark.ssh


class StuckSshd(Sshd):
    """Lets the client in, then every command hangs."""

    def _write_config(self) -> Path:
        config = super()._write_config()
        config.write_text(config.read_text(encoding="utf-8") + "ForceCommand sleep 600\n", encoding="utf-8")
        return config


@pytest.fixture
def stuck(sshd: Sshd) -> Iterator[Sshd]:
    server = StuckSshd(users=("root",))
    server.start()
    try:
        (server.dir / "authorized_keys" / "root").write_text(
            sshd.key.with_name(sshd.key.name + ".pub").read_text(encoding="utf-8"), encoding="utf-8"
        )
        yield server
    finally:
        server.stop()


def test_a_stuck_host_does_not_hold_the_fleet(kleak, sshd: Sshd, stuck: Sshd, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    lines = [f"ok{i} ansible_host={sshd.host} ansible_port={sshd.port}" for i in range(3)]
    lines.append(f"stuck ansible_host={stuck.host} ansible_port={stuck.port}")
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    started = time.monotonic()
    run = kleak(
        "run", "-i", str(inventory), "-u", "root", "--private-key", str(sshd.key), "--out", str(out),
        "--samples", "1", "-e", f"min_growth_bytes={2**40}", timeout=300,
    )  # fmt: skip
    took = time.monotonic() - started
    # the play's per-sample limit is 40 s (30 s + twice the interval); the step's own limit
    # (120 s + 60) would be far longer, and asking the stuck host again in each later step would
    # cost 40 s more per step (the walker takes steps one after another): 126 s before that was fixed
    assert took < 100, (took, run.explain())
    fleet = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    verdicts = {x["host"]: x["verdict"] for x in fleet["host_lines"]}
    assert all(verdicts[f"ok{i}"] != "inconclusive" for i in range(3)), run.explain()
    assert verdicts["stuck"] == "inconclusive", run.explain()
    stuck = json.loads((out / "stuck" / "result.json").read_text(encoding="utf-8"))
    timeouts = [g for g in stuck["evidence_gaps"] if g["status"] == "timeout"]
    assert timeouts and all(g["item"] == "measure" or "not asked again" in g["reason"] for g in timeouts), timeouts
    [group] = [g for g in fleet["no_verdict"] if "stuck" in g["hosts"]]
    assert not group["unreachable"] and "time" in group["reason"], group
