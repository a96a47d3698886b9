"""A fleet's later steps reach their hosts through a generated inventory group, not a --limit
that lists every host: watched on the real ansible-playbook command lines of a real run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from support.sshd import Sshd

from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.hostgroup import _scaled
from kleak_runbook.progress import Progress

pytestmark = pytest.mark.ssh
RUNBOOK = Path(__file__).parent / "data" / "two-steps.yaml"
HOSTS = [f"node{i}" for i in range(12)]


def _playbook_cmdlines(seen: list[str], stop: threading.Event) -> None:
    while not stop.wait(0.02):
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            # ansible-playbook with the collection play, or ad-hoc ansible -m raw for one batch
            if "bin/ansible" in text and "--forks" in text and text not in seen:
                seen.append(text)


def test_later_steps_use_a_generated_group(kleak, sshd: Sshd, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(f"{h} ansible_host={sshd.host} ansible_port={sshd.port}\n" for h in HOSTS))
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_playbook_cmdlines, args=(seen, stop), daemon=True)
    watcher.start()
    try:
        run = kleak(
            "run", "-i", str(inventory), "-u", "root", "--private-key", str(sshd.key), "--runbook", str(RUNBOOK),
            "--out", str(tmp_path / "out"), "--samples", "1",
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join()
    assert run.returncode == 0, run.explain()
    for host in HOSTS:  # both steps reached every host
        result = json.loads((tmp_path / "out" / host / "result.json").read_text(encoding="utf-8"))
        assert [p["step"] for p in result["path"]] == ["first", "second", "done"], result["path"]
    assert any("kleak_step_1" in c for c in seen), seen  # the second step's group
    assert not any("node0,node1" in c or "node1,node0" in c for c in seen), seen


def test_step_time_limit_grows_with_fork_rounds() -> None:
    request = Request(step="measure", timeout=120.0)
    assert _scaled(request, 10, 50).timeout == 120.0
    assert _scaled(request, 1000, 50).timeout == 120.0 * 20
    assert _scaled(request, None, 50).timeout == 120.0


def test_progress_counts_hosts_once_with_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    stream = io.StringIO()
    progress = Progress(enabled=True, stream=stream)
    progress.fleet("measure", 3)
    progress.host_finished("a", failed=False)
    progress.host_finished("a", failed=False)  # a second event for the same host
    progress.host_finished("b", failed=True)
    progress.host_finished("c", failed=False)
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "step measure: 3 hosts done, 1 failed, 0 remaining"
    assert "1 hosts done, 0 failed, 2 remaining, about" in lines[0]
