"""Tests for /proc/version, uname, version_signature and os-release parsers (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.version import (
    KernelVersion,
    OsRelease,
    VersionSignature,
    parse_os_release,
    parse_proc_version,
    parse_uname,
    parse_version_signature,
    parse_version_signature_full,
)

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"

# CentOS 7.9's /proc/version as quoted in many public pages (e.g. the TryHackMe and Docker notes
# found with the search tool); the compiler group has nested parentheses and a trailing space.
CENTOS7 = (
    "Linux version 3.10.0-1160.el7.x86_64 (mockbuild@kbuilder.bsys.centos.org) (gcc version 4.8.5 20150623"
    " (Red Hat 4.8.5-44) (GCC) ) #1 SMP Mon Oct 19 16:18:59 UTC 2020\n"
)
# Ubuntu 22.04 (jammy) 5.15.0-91: the format of Ubuntu's /proc/version; the buildd host name varies
# between the public copies found, so treat this as a reconstructed (synthetic) sample.
UBUNTU = (
    "Linux version 5.15.0-91-generic (buildd@lcy02-amd64-015) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0,"
    " GNU ld (GNU Binutils for Ubuntu) 2.38) #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023\n"
)
# Ubuntu precise, both files from https://github.com/DE-IBH/apt-dater-host/pull/1
PRECISE_VERSION = (
    "Linux version 3.2.0-31-generic (buildd@allspice) (gcc version 4.6.3 (Ubuntu/Linaro 4.6.3-1ubuntu5) )"
    " #50-Ubuntu SMP Fri Sep 7 16:16:45 UTC 2012\n"
)
PRECISE_SIGNATURE = "Ubuntu 3.2.0-31.50-generic 3.2.28\n"
# uname -a of CentOS 7.9, as printed next to CENTOS7 in the same public notes
CENTOS7_UNAME = "Linux 13fa91a6d858 3.10.0-1160.el7.x86_64 #1 SMP Mon Oct 19 16:18:59 UTC 2020 x86_64 GNU/Linux\n"


def test_debian_lab() -> None:
    kv = parse_proc_version((LAB / "healthy/static/proc/version").read_text())
    assert kv == KernelVersion(
        release="6.1.0-50-amd64",
        build="#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)",
        compiler="gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40",
        upstream=(6, 1, 176),
        distro_version="6.1.176-1",
    )


def test_this_machine() -> None:
    kv = parse_proc_version((SAMPLES / "this-machine/proc/version").read_text())
    assert kv.release == "6.18.44-fc-v669"
    assert kv.compiler == "gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46"
    assert kv.build == "#1 SMP PREEMPT_DYNAMIC @0"
    assert kv.upstream == (6, 18, 44) and kv.distro_version is None
    assert parse_uname((SAMPLES / "this-machine/commands/uname_-r").read_text()).release == kv.release
    uname = parse_uname((SAMPLES / "this-machine/commands/uname_-a").read_text())
    assert (uname.release, uname.build) == (kv.release, kv.build)


def test_centos7() -> None:
    kv = parse_proc_version(CENTOS7)
    assert kv.release == "3.10.0-1160.el7.x86_64"
    assert kv.compiler == "gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC)"
    assert kv.build == "#1 SMP Mon Oct 19 16:18:59 UTC 2020"
    assert kv.upstream == (3, 10, 0)
    assert kv.distro_version == "3.10.0-1160.el7"
    assert parse_uname(CENTOS7_UNAME) == KernelVersion(kv.release, kv.build, None, (3, 10, 0), "3.10.0-1160.el7")


def test_ubuntu() -> None:
    kv = parse_proc_version(UBUNTU)
    assert kv.release == "5.15.0-91-generic"
    assert kv.upstream == (5, 15, 0)  # /proc/version does not say; version_signature does
    assert kv.distro_version == "5.15.0-91.101"
    precise = parse_proc_version(PRECISE_VERSION)
    assert precise.distro_version == "3.2.0-31.50"
    assert precise.compiler == "gcc version 4.6.3 (Ubuntu/Linaro 4.6.3-1ubuntu5)"


def test_version_signature() -> None:
    assert parse_version_signature(PRECISE_SIGNATURE) == "3.2.28"
    assert parse_version_signature_full(PRECISE_SIGNATURE) == VersionSignature("3.2.0-31.50-generic", (3, 2, 28))
    assert parse_version_signature_full("Ubuntu 5.15.0-91.101-generic 5.15.131\r\n").upstream == (5, 15, 131)
    with pytest.raises(ParseError):
        parse_version_signature("")


def test_uname_debian() -> None:
    kv = parse_uname(
        "Linux host 6.1.0-50-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02) x86_64 GNU/Linux\r\n"
    )
    assert kv.build == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)"
    assert (kv.upstream, kv.distro_version) == ((6, 1, 176), "6.1.176-1")


def test_not_proc_version() -> None:
    with pytest.raises(ParseError):
        parse_proc_version((LAB / "healthy/static/proc/cmdline").read_text())
    with pytest.raises(ParseError):
        parse_uname("Darwin mac 23.1.0 Darwin Kernel Version 23.1.0")


def test_proc_version_crlf_no_newline() -> None:
    text = (LAB / "healthy/static/proc/version").read_text()
    assert parse_proc_version(text.rstrip() + "\r\n") == parse_proc_version(text.rstrip())


def test_os_release_lab_and_this_machine() -> None:
    osr = parse_os_release((LAB / "healthy/static/etc/os-release").read_text())
    assert osr == OsRelease(id="debian", version_id="12", pretty_name="Debian GNU/Linux 12 (bookworm)", id_like=())
    assert parse_os_release((SAMPLES / "this-machine/etc/os-release").read_text()).id == "debian"


def test_os_release_quoting_and_comments() -> None:
    # synthetic edge case in the shapes of RHEL's and Ubuntu's files: single quotes, comments, ID_LIKE list
    text = '# comment\r\nNAME=\'Red Hat Enterprise Linux\'\r\nID="rhel"\r\nID_LIKE="fedora centos"\r\nVERSION_ID="9.3"'
    osr = parse_os_release(text)
    assert (osr.id, osr.version_id, osr.id_like, osr.pretty_name) == (
        "rhel",
        "9.3",
        ("fedora", "centos"),
        None,
    )
    assert parse_os_release('PRETTY_NAME="It\'s \\"quoted\\""\n').pretty_name == 'It\'s "quoted"'
    assert parse_os_release("NAME=x\n").id == "linux"
    with pytest.raises(ParseError):
        parse_os_release("# only a comment\n")
