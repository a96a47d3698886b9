"""Kernel identity and per-stream version ordering (RHEL NVRs, Debian, Ubuntu, kernel.org)."""

from __future__ import annotations

import pytest

from kleak_runbook.derive.kversion import KernelIdentity, Range, check, compare, identify, valid_version

UBUNTU_PROC_VERSION = (
    "Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, "
    "GNU ld (GNU Binutils for Ubuntu) 2.38) #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023"
)
DEBIAN_PROC_VERSION = (
    "Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
    "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2025-10-10)"
)


@pytest.mark.parametrize(
    ("release", "stream", "distro_version", "upstream"),
    [
        ("3.10.0-1160.el7.x86_64", "el7", "3.10.0-1160.el7", (3, 10, 0)),
        ("3.10.0-957.27.2.el7.x86_64", "el7", "3.10.0-957.27.2.el7", (3, 10, 0)),
        ("3.10.0-1160.rt56.1131.el7.x86_64", "el7", "3.10.0-1160.rt56.1131.el7", (3, 10, 0)),
        ("4.18.0-513.5.1.el8_9.x86_64", "el8", "4.18.0-513.5.1.el8_9", (4, 18, 0)),
        ("4.18.0-513.5.1.rt7.307.el8_9.x86_64", "el8", "4.18.0-513.5.1.rt7.307.el8_9", (4, 18, 0)),
        ("5.14.0-362.8.1.el9_3.x86_64", "el9", "5.14.0-362.8.1.el9_3", (5, 14, 0)),
        ("5.14.0-362.8.1.el9_3.x86_64+rt", "el9", "5.14.0-362.8.1.el9_3", (5, 14, 0)),
        ("5.14.0-427.13.1.el9_4.aarch64+64k", "el9", "5.14.0-427.13.1.el9_4", (5, 14, 0)),
        ("2.6.32-754.35.1.el6.x86_64", "el6", "2.6.32-754.35.1.el6", (2, 6, 32)),
        ("6.12.0-55.9.1.el10_0.x86_64", "el10", "6.12.0-55.9.1.el10_0", (6, 12, 0)),
    ],
)
def test_identify_rhel(release: str, stream: str, distro_version: str, upstream: tuple[int, int, int]) -> None:
    kernel = identify(release)
    assert (kernel.stream, kernel.distro_version, kernel.upstream) == (stream, distro_version, upstream)
    assert kernel.upstream_exact is False  # RHEL backports onto a base version


def test_oracle_uek_is_not_rhel() -> None:
    assert identify("5.15.0-200.131.27.el9uek.x86_64").stream == "unknown"


def test_identify_debian_from_proc_version() -> None:
    kernel = identify("6.1.0-50-amd64", DEBIAN_PROC_VERSION, os_release_id="debian")
    assert kernel == KernelIdentity("6.1.0-50-amd64", "debian", "6.1.176-1", (6, 1, 176), True)
    assert kernel.label == "6.1.176-1"


def test_identify_debian_from_uname_v_and_backports() -> None:
    kernel = identify("6.1.0-0.deb11.13-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1~bpo11+1 (2023-10-08)")
    assert (kernel.stream, kernel.distro_version, kernel.upstream) == (
        "debian",
        "6.1.55-1~bpo11+1",
        (6, 1, 55),
    )


def test_identify_debian_without_package_version() -> None:
    kernel = identify("6.1.0-50-amd64", os_release_id="debian")
    assert (kernel.stream, kernel.distro_version, kernel.upstream_exact) == ("debian", None, False)


def test_identify_ubuntu_with_version_signature() -> None:
    kernel = identify("5.15.0-91-generic", UBUNTU_PROC_VERSION, "ubuntu", "Ubuntu 5.15.0-91.101-generic 5.15.131")
    assert kernel == KernelIdentity("5.15.0-91-generic", "ubuntu", "5.15.0-91.101", (5, 15, 131), True)


def test_identify_ubuntu_hwe_signature() -> None:
    kernel = identify("6.5.0-14-generic", version_signature="Ubuntu 6.5.0-14.14~22.04.1-generic 6.5.3\n")
    assert (kernel.distro_version, kernel.upstream) == ("6.5.0-14.14~22.04.1", (6, 5, 3))


def test_identify_ubuntu_without_signature_uses_uname_v_build() -> None:
    kernel = identify("5.15.0-91-generic", "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023")
    assert (kernel.stream, kernel.distro_version) == ("ubuntu", "5.15.0-91.101")
    assert (kernel.upstream, kernel.upstream_exact) == ((5, 15, 0), False)


def test_identify_ubuntu_release_only() -> None:
    kernel = identify("5.15.0-91-generic", os_release_id='"ubuntu"')
    assert (kernel.stream, kernel.distro_version, kernel.upstream, kernel.upstream_exact) == (
        "ubuntu",
        "5.15.0-91",
        (5, 15, 0),
        False,
    )


@pytest.mark.parametrize(
    ("release", "upstream"),
    [("6.8.12", (6, 8, 12)), ("6.9", (6, 9, 0)), ("6.10.0-rc3", (6, 10, 0)), ("5.4.0+", (5, 4, 0))],
)
def test_identify_upstream(release: str, upstream: tuple[int, int, int]) -> None:
    kernel = identify(release)
    assert (kernel.stream, kernel.distro_version, kernel.upstream, kernel.upstream_exact) == (
        "upstream",
        None,
        upstream,
        True,
    )


def test_identify_suse_and_unknown() -> None:
    suse = identify("5.14.21-150500.55.39-default", os_release_id="sles")
    assert (suse.stream, suse.distro_version, suse.upstream_exact) == ("suse", "5.14.21-150500.55.39", False)
    fedora = identify("6.8.9-300.fc40.x86_64")
    assert (fedora.stream, fedora.upstream, fedora.upstream_exact) == ("unknown", (6, 8, 9), True)


# Amazon Linux numbers its kernels after the kernel.org stable release they are built from
@pytest.mark.parametrize(
    ("release", "distro_version", "upstream"),
    [
        ("5.10.205-195.807.amzn2.x86_64", "5.10.205-195.807.amzn2", (5, 10, 205)),
        ("5.10.210-201.855.amzn2.aarch64", "5.10.210-201.855.amzn2", (5, 10, 210)),
        ("4.14.336-253.554.amzn2.x86_64", "4.14.336-253.554.amzn2", (4, 14, 336)),
        ("6.1.61-85.141.amzn2023.x86_64", "6.1.61-85.141.amzn2023", (6, 1, 61)),
        ("6.12.80-106.156.amzn2023.x86_64", "6.12.80-106.156.amzn2023", (6, 12, 80)),
        ("4.14.77-70.59.amzn1.x86_64", "4.14.77-70.59.amzn1", (4, 14, 77)),
    ],
)
def test_identify_amazon_linux(release: str, distro_version: str, upstream: tuple[int, int, int]) -> None:
    kernel = identify(release, os_release_id="amzn")
    assert kernel == KernelIdentity(release, "amzn", distro_version, upstream, True)
    assert kernel.label == distro_version


def test_amazon_linux_takes_kernel_org_ranges_on_its_exact_version() -> None:
    ranges = [Range("any", "5.5", "5.10.212")]  # ipv6-rtm-getaddr-netns-leak on 5.10
    inside = check(identify("5.10.205-195.807.amzn2.x86_64"), ranges)
    assert (inside.affected, inside.version) == (True, "5.10.205")
    assert check(identify("6.1.61-85.141.amzn2023.x86_64"), ranges).affected is False
    # a range of Amazon's own stream decides (RPM ordering of the package version)
    own = [Range("amzn", "5.10.205-195.807.amzn2"), Range("any", "4.4")]
    assert check(identify("5.10.205-195.804.amzn2.x86_64"), own).affected is False
    assert check(identify("5.10.210-201.855.amzn2.aarch64"), own).affected is True


def test_amazon_linux_through_kernel_of() -> None:
    from kleak_runbook.derive.kernel import Kernel

    kernel = Kernel.of(
        uname="Linux ip-172-31-29-138.ec2.internal 6.1.66-91.160.amzn2023.x86_64 #1 SMP PREEMPT_DYNAMIC "
        "Wed Dec 13 04:50:24 UTC 2023 x86_64 x86_64 x86_64 GNU/Linux",
        os_release='NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\n',
    )
    assert (kernel.stream, kernel.package_version, kernel.upstream) == ("amzn", "6.1.66-91.160.amzn2023", (6, 1, 66))


@pytest.mark.parametrize(
    ("stream", "older", "newer"),
    [
        ("el7", "3.10.0-957.el7", "3.10.0-1062.el7"),
        ("el7", "3.10.0-957.27.2.el7", "3.10.0-1062.el7"),
        ("el7", "3.10.0-514", "3.10.0-514.el7"),  # a bound without dist tag sorts before its builds
        ("el7", "3.10.0-1160.el7", "3.10.0-1160.rt56.1131.el7"),
        ("el8", "4.18.0-513.5.1.el8_9", "4.18.0-513.11.1.el8_9"),
        ("el8", "4.18.0-513.24.1.el8_9", "4.18.0-553.el8_10"),
        ("el8", "4.18.0-553.5.1.el8_10", "4.18.0-553.62.1.el8_10"),
        ("el9", "5.14.0-362.8.1.el9_3", "5.14.0-362.24.1.el9_3"),
        ("amzn", "5.10.205-195.804.amzn2", "5.10.205-195.807.amzn2"),
        ("amzn", "5.10.205-195.807.amzn2", "5.10.210-201.855.amzn2"),
        ("debian", "6.1.76-1", "6.1.112-1"),
        ("debian", "6.1.55-1~bpo11+1", "6.1.55-1"),  # ~ sorts before anything
        ("debian", "5.10.0~rc1-1", "5.10.0-1"),
        ("debian", "4.19.260-1", "5.10.209-2"),
        ("ubuntu", "5.15.0-91.101", "5.15.0-100.110"),
        ("ubuntu", "5.15.0-91.101~20.04.1", "5.15.0-91.101"),
        ("upstream", "5.9.16", "5.10"),
        ("upstream", "4.19.65", "4.19.100"),
        ("any", "5.2", "5.3"),
    ],
)
def test_compare_orders(stream: str, older: str, newer: str) -> None:
    assert compare(stream, older, newer) == -1
    assert compare(stream, newer, older) == 1
    assert compare(stream, older, older) == 0


def test_compare_treats_padded_numbers_as_equal() -> None:
    assert compare("upstream", "5.3", "5.3.0") == 0
    assert compare("el7", "3.10.0-0957.el7", "3.10.0-957.el7") == 0


def test_compare_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        compare("upstream", "5.x", "5.3")
    with pytest.raises(ValueError):
        compare("debian", "", "6.1.76-1")
    with pytest.raises(ValueError):
        compare("el7", "3.10 0", "3.10.0-957.el7")
    with pytest.raises(ValueError):
        compare("unknown", "1", "2")


@pytest.mark.parametrize(
    ("stream", "version", "ok"),
    [
        ("el7", "3.10.0-957.el7", True),
        ("el7", "three", False),
        ("debian", "6.1.76-1", True),
        ("debian", "", False),
        ("upstream", "5.3", True),
        ("upstream", "5.3-rc1", False),
        ("amzn", "6.1.61-85.141.amzn2023", True),
        ("unknown", "5.3", False),
    ],
)
def test_valid_version(stream: str, version: str, ok: bool) -> None:
    assert valid_version(stream, version) is ok


RHEL7_KMEM = [Range("el7", "3.10.0-514", "3.10.0-1075")]


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("3.10.0-327.36.3.el7.x86_64", False),
        ("3.10.0-514.el7.x86_64", True),  # inclusive lower bound
        ("3.10.0-957.el7.x86_64", True),
        ("3.10.0-1062.18.1.el7.x86_64", True),
        ("3.10.0-1075.el7.x86_64", False),  # exclusive upper bound
        ("3.10.0-1160.el7.x86_64", False),
    ],
)
def test_in_range_el7_edges(release: str, expected: bool) -> None:
    assert check(identify(release), RHEL7_KMEM).affected is expected


def test_in_range_other_stream_cannot_tell() -> None:
    assert check(identify("4.18.0-513.5.1.el8_9.x86_64"), RHEL7_KMEM).affected is None


def test_in_range_any_uses_exact_upstream_only() -> None:
    any_range = [Range("any", "4.4", "5.3")]
    debian = identify("4.19.0-27-amd64", "#1 SMP Debian 4.19.316-1 (2024-06-25)")
    assert check(debian, any_range).affected is True
    assert check(identify("5.3.0"), any_range).affected is False
    assert check(identify("4.4"), any_range).affected is True
    ubuntu = identify("5.4.0-150-generic", version_signature="Ubuntu 5.4.0-150.167-generic 5.4.231")
    assert check(ubuntu, any_range).affected is False
    assert check(identify("5.0.0-23-generic", os_release_id="ubuntu"), any_range).affected is None
    assert check(identify("4.18.0-80.el8.x86_64"), any_range).affected is None  # RHEL base versions are not exact


def test_in_range_own_stream_wins_over_any() -> None:
    ranges = [Range("any", "3.8", "5.9"), Range("ubuntu", "3.13.0-0", "5.9.0-0")]
    assert check(identify("5.4.0-150-generic", os_release_id="ubuntu"), ranges).affected is True
    assert check(identify("5.15.0-91-generic", os_release_id="ubuntu"), ranges).affected is False


def test_in_range_open_ended_and_unknown_distro_version() -> None:
    assert check(identify("6.8.12"), [Range("upstream", "6.1")]).affected is True
    assert check(identify("6.1.0-50-amd64", os_release_id="debian"), [Range("debian", "6.1.0-1")]).affected is None


def test_uname_a_alone_names_the_ubuntu_stream() -> None:
    """A ticket with `uname -a` and no /proc/version: uname -v's "#101-Ubuntu" still names the stream."""
    from kleak_runbook.derive.kernel import Kernel

    uname = "Linux db7 5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64 x86_64 x86_64 GNU/Linux"
    kernel = Kernel.of_texts({"uname": uname}, [])
    assert kernel.identity is not None
    assert (kernel.identity.stream, kernel.identity.distro_version) == ("ubuntu", "5.15.0-91.101")
