"""An OOM killer that ran inside a memory cgroup is the cgroup's limit, not the machine's memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.oom_memcg import parse_oom_memcg
from kleak_runbook.parsers.pasted import split_pasted

TESTS = Path(__file__).parent
TALOS = TESTS / "cases/gh-talos-11046-apid-memcg-oom/input.txt"  # real: a 40 MiB cgroup's OOM (source in cases.yaml)
LAB_OOM = TESTS / "samples/lab-oom/dmesg-oom.txt"  # real: the lab VM's whole-machine OOM


def _replay(path: Path, out: Path) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(run.stdout)


def test_the_usage_line_gives_usage_and_limit() -> None:
    oom = parse_oom_memcg("[ 5.1] memory: usage 2097152kB, limit 2097152kB, failcnt 9\n")
    assert (oom.usage_bytes, oom.limit_bytes, oom.failcnt) == (2 << 30, 2 << 30, 9)
    assert parse_oom_memcg("memory: usage 10kB, limit 9007199254740988kB, failcnt 0\n").limit_bytes is None
    assert parse_oom_memcg("Memory cgroup out of memory: Killed process 42 (java)\n").usage_bytes is None
    with pytest.raises(ParseError):
        parse_oom_memcg("Out of memory: Killed process 42 (java)\n")


def test_a_cgroup_oom_is_no_kernel_leak(tmp_path: Path) -> None:
    doc = _replay(TALOS, tmp_path / "out")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "40.0 MiB used of 40.0 MiB" in doc["summary"]


def test_a_machine_oom_is_not_taken_for_a_cgroup_one(tmp_path: Path) -> None:
    assert split_pasted(LAB_OOM.read_text()).oom_memcg is None
    doc = _replay(LAB_OOM, tmp_path / "out")
    assert "memory cgroup" not in doc["summary"]


def test_the_charge_path_in_the_trace_marks_a_cgroups_own_oom() -> None:
    # tests/cases/gh-moby-38613-memcg-oom-rhel7 (3.10): the fault path's mem_cgroup_oom_synchronize;
    # tests/cases/gh-reportportal-203-memcg-oom (5.x): try_charge
    from kleak_runbook.parsers.oom_memcg import MEMCG_OOM

    assert MEMCG_OOM.search(" [<ffffffffbe835506>] mem_cgroup_oom_synchronize+0x546/0x570")
    assert MEMCG_OOM.search("[ 7093.543738]  try_charge+0x77c/0x810")
    assert not MEMCG_OOM.search(" [<ffffffff8115a32e>] oom_kill_process+0x24e/0x3b0")


def test_a_cgroups_kill_line_pasted_alone(tmp_path: object) -> None:
    # tests/cases/gh-kata-7470-memcg-oom-qemu, its two lines, shortened: no "invoked oom-killer" line
    from kleak_runbook.parsers.pasted import split_pasted

    text = (
        "[40743.903374] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-50fa.scope,"
        "mems_allowed=0,oom_memcg=/kubepods.slice,task_memcg=/kubepods.slice/x.scope,task=qemu-system-x86,pid=1162211,uid=0\n"
        "[40743.903412] Memory cgroup out of memory: Killed process 1162211 (qemu-system-x86) total-vm:2804836kB,"
        " anon-rss:20456kB, file-rss:61968kB, shmem-rss:100848kB, UID:0 pgtables:692kB oom_score_adj:-999\n"
    )
    assert split_pasted(text).oom_memcg is not None
    global_kill = text.replace("CONSTRAINT_MEMCG", "CONSTRAINT_NONE").replace(
        "Memory cgroup out of memory", "Out of memory"
    )
    assert split_pasted(global_kill).oom_memcg is None
