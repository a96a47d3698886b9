"""Escalation goes to whoever built the kernel in hand, as the kernel itself says (real identity
strings: the lab's Debian kernel, this development VM's custom kernel on Debian userland, and
release strings of each distribution)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.decide.advice import advise
from kleak_runbook.derive.kernel import Kernel

SAMPLES = Path(__file__).parent / "samples"
CACHE = [{"type": "slab-cache", "name": "kmalloc-64", "object_size": 64}]


def who(kernel: Kernel) -> str:
    return " | ".join(advise("slab-unreclaimable", "leak", CACHE, kernel)["who"])


def test_custom_kernel_on_debian_userland_names_no_debian_package() -> None:
    # tests/samples/this-machine: kernel 6.18.44-fc-v669 built by "builder@sandboxing", Debian 12 userland
    s = SAMPLES / "this-machine"
    kernel = Kernel.of(proc_version=(s / "proc/version").read_text(), os_release=(s / "etc/os-release").read_text())
    assert kernel.stream == "unknown" and kernel.builder == "builder@sandboxing"
    text = who(kernel)
    assert "reportbug" not in text and "linux-image" not in text
    assert "6.18.44-fc-v669, built by builder@sandboxing" in text and "custom or vendor build" in text


def test_debian_kernel_goes_to_the_debian_kernel_team() -> None:
    s = SAMPLES / "lab-debian-6.1/healthy/static"
    kernel = Kernel.of(proc_version=(s / "proc/version").read_text(), os_release=(s / "etc/os-release").read_text())
    assert (kernel.stream, kernel.package_version, kernel.builder) == (
        "debian",
        "6.1.176-1",
        "debian-kernel@lists.debian.org",
    )
    assert "`reportbug linux-image-6.1.0-50-amd64`" in who(kernel)


@pytest.mark.parametrize(
    ("uname", "os_id", "expect"),
    [
        ("Linux h 3.10.0-957.21.3.el7.x86_64 #1 SMP x86_64", "centos", "CentOS's bug tracker"),
        ("Linux h 4.18.0-513.5.1.el8_9.x86_64 #1 SMP x86_64", "rhel", "Red Hat support"),
        ("Linux h 5.15.0-91-generic #101-Ubuntu SMP x86_64", "ubuntu", "ubuntu-bug linux"),
        ("Linux h 5.14.21-150500.55.39-default #1 SMP x86_64", "sles", "bugzilla.suse.com"),
        ("Linux h 6.6.30-custom #3 SMP x86_64", "ubuntu", "custom or vendor build"),
        ("Linux h 5.10.205-195.807.amzn2.x86_64 #1 SMP x86_64", "amzn", "AWS support"),
    ],
)
def test_each_stream(uname: str, os_id: str, expect: str) -> None:
    assert expect in who(Kernel.of(uname=uname, os_release=f"ID={os_id}\n"))


def test_no_escalation_for_no_leak() -> None:
    assert advise("none", "no-leak", [], Kernel())["who"] == []
