"""A kernel leak driven into the OOM killer, and its OOM report judged as a ticket would hold it.

The module leaks kmalloc(4096) at 64 MiB/s in a 512 MiB VM until the OOM killer runs. The kernel
prints the report on the serial console (the VM boots without ``quiet``), which the lab records;
the report is cut out of that log exactly as dmesg printed it, saved next to the test's output
(and, with KLEAK_LAB_SAVE_DIR set, there: that is how tests/samples/lab-oom/ was captured), and
replayed as pasted text: the verdict must name unreclaimable slab and ``kmalloc-4k``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vm import LabPool

pytestmark = pytest.mark.lab

START = "invoked oom-killer"
ENDS = ("oom-kill:", "Out of memory: Killed process", "Kernel panic")


def oom_report(serial: str) -> str | None:
    """The first OOM report in a console log, from its first line to the kill (or panic) line."""
    lines = serial.splitlines()
    first = next((i for i, line in enumerate(lines) if START in line), None)
    if first is None:
        return None
    for i in range(first, len(lines)):
        if any(end in lines[i] for end in ENDS):
            return "\n".join(lines[first : i + 1]) + "\n"
    return None


def test_oom_report_of_a_slab_leak_names_the_cache(lab: LabPool, tmp_path: Path) -> None:
    vm = lab.vm("kleak_lab=oom", memory_mib=512)
    try:
        vm.load_module("kmalloc", rate_kib=64 * 1024, total_kib=2 * 1024 * 1024)
        report = None
        deadline = time.monotonic() + 240
        while report is None and time.monotonic() < deadline:
            time.sleep(2)
            report = oom_report(vm.serial_log.read_text(errors="replace"))
        assert report is not None, f"no OOM report on the console in 240 s (log: {vm.serial_log})"
    finally:
        vm.kill()  # the VM is spent; the pool boots a fresh one for whatever comes next
    saved = tmp_path / "dmesg-oom.txt"
    saved.write_text(report)
    if os.environ.get("KLEAK_LAB_SAVE_DIR"):
        shutil.copy(saved, Path(os.environ["KLEAK_LAB_SAVE_DIR"]) / "dmesg-oom.txt")
    assert "Unreclaimable slab info:" in report, report[-2000:]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleak_runbook.cli",
            "replay",
            str(saved),
            "--out",
            str(tmp_path / "r"),
            "-q",
            "--format=json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    doc = json.loads(proc.stdout)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable"), doc["summary"]
    assert doc["culprits"][0]["name"] == "kmalloc-4k", doc["culprits"]
    assert doc["kernel"]["release"].startswith("6.1."), doc["kernel"]
