"""The lab itself: booting with extra kernel parameters, and what the leaky module does to /proc."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from vm import LabError, LabImage, LabPool, LabVM

pytestmark = pytest.mark.lab


def test_a_boot_that_does_not_answer_is_retried_then_reported(
    lab: LabPool, lab_image: LabImage, tmp_path: Path
) -> None:
    # a timeout far shorter than a boot makes every attempt fail the way a stalled kernel does
    lab.close()  # one VM at a time
    vm = LabVM(lab_image, tmp_path / "noboot")
    with pytest.raises(
        LabError,
        match=r"did not boot in 2 attempts: attempt 1: no SSH after 1 s \(console: .*serial\.attempt1\.log\); attempt 2",
    ):
        vm.start(timeout=1, attempts=2)
    assert not vm.running and vm.boot_attempts == 2
    assert [p.name for p in sorted((tmp_path / "noboot").glob("serial.attempt*.log"))] == [
        "serial.attempt1.log",
        "serial.attempt2.log",
    ]
    pids = subprocess.run(["pgrep", "-f", str(tmp_path / "noboot")], capture_output=True, text=True).stdout
    assert pids == "", "a QEMU of a failed boot attempt is still running"


def test_boot_with_slub_debug_names_the_leaking_function(lab: LabPool) -> None:
    vm = lab.vm("slub_debug=U,leaky_obj")
    assert "slub_debug=U,leaky_obj" in vm.ssh("cat /proc/cmdline").stdout
    with vm.leaking("cache", rate_kib=1024, total_kib=2048):
        time.sleep(3)
        traces = vm.ssh("cat /sys/kernel/debug/slab/leaky_obj/alloc_traces").stdout
    assert "leaky_cache_leak" in traces, traces


def test_each_kind_grows_its_meminfo_field(lab: LabPool) -> None:
    vm = lab.vm("")

    def meminfo() -> dict[str, int]:
        fields = {}
        for line in vm.ssh("cat /proc/meminfo").stdout.splitlines():
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0])
        return fields

    for kind, field in (("kmalloc", "SUnreclaim"), ("vmalloc", "VmallocUsed"), ("percpu", "Percpu")):
        before = meminfo()[field]
        with vm.leaking(kind, rate_kib=4096, total_kib=4096):
            time.sleep(3)
        grew_kib = meminfo()[field] - before
        assert grew_kib >= 3 * 1024, f"{kind}: {field} grew {grew_kib} kB"
