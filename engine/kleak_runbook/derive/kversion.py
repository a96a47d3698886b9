"""Kernel identity (which distribution stream a kernel belongs to) and per-stream version comparison.

A RHEL, SUSE or Amazon Linux kernel is compared as an RPM version, a Debian or Ubuntu kernel as
a dpkg version, a vanilla kernel as a tuple of numbers; the rpm and dpkg rules come from ``univers``.

>>> k = identify("4.18.0-513.5.1.el8_9.x86_64")
>>> k.stream, k.distro_version
('el8', '4.18.0-513.5.1.el8_9')
>>> compare("el7", "3.10.0-957.el7", "3.10.0-1062.el7")
-1
>>> check(k, [Range("el8", "4.18.0-477", "4.18.0-513.11.1")]).affected
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from univers.debian import Version as DebianVersion

STREAMS = ("upstream", "el6", "el7", "el8", "el9", "el10", "debian", "ubuntu", "suse", "amzn", "unknown")
EL_STREAMS = ("el6", "el7", "el8", "el9", "el10")
# streams whose package versions compare as RPM versions
RPM_STREAMS = (*EL_STREAMS, "suse", "amzn")
# what a knowledge entry may name: every stream a kernel can be identified as, plus "any"
RANGE_STREAMS = (*STREAMS[:-1], "any")

_EL = re.compile(r"^(?P<base>\d+\.\d+\.\d+)-(?P<rel>[0-9][\w.+~]*?\.el(?P<major>\d+)(?:_\d+)?)(?=$|[.+])")
_UPSTREAM_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc\d+)?\+?$")
_LEADING = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
_DEBIAN_IN_VERSION = re.compile(r"\bDebian (\d+\.\d+(?:\.\d+)?[\w.+~-]*)")
_UBUNTU_SIGNATURE = re.compile(r"^Ubuntu\s+(\d+\.\d+\.\d+-[\w.+~]+?)-[a-z][\w-]*\s+(\d+)\.(\d+)\.(\d+)")
_UBUNTU_ABI = re.compile(r"^(\d+\.\d+\.\d+-\d+)(?:-[a-z][\w-]*)?$")
_UBUNTU_BUILD = re.compile(r"#(\d+(?:~[\w.]+)?)-Ubuntu\b")
# Amazon Linux 1, 2 and 2023: "5.10.205-195.807.amzn2.x86_64", "6.1.61-85.141.amzn2023.x86_64"
_AMZN = re.compile(r"^(?P<nvr>(?P<base>\d+\.\d+\.\d+)-\d[\d.]*\.amzn(?:1|2|2023))(?:\.[\w+]+)?$")
_SUSE = re.compile(r"^(\d+\.\d+\.\d+-\d[\d.]*)-(?:default|azure|rt|64kb|preempt|vanilla|kvmsmall)$")
# distributions that ship the upstream stable release under its own number
_STABLE_NUMBERED = re.compile(r"^\d+\.\d+\.\d+-(?:\d+\.fc\d+|arch\d+-\d+)")
_RPM_VERSION = re.compile(r"^(?:\d+:)?[0-9][A-Za-z0-9._+~^]*(?:-[A-Za-z0-9._+~^]+)?$")
_NUMERIC = re.compile(r"^\d+(?:\.\d+){1,2}$")


@dataclass(frozen=True)
class KernelIdentity:
    """What a kernel release string says about its origin.

    ``upstream`` is the kernel.org version the kernel is built from; ``upstream_exact`` is False
    when it is only the base a distribution backports onto (RHEL, SUSE) or when the stable
    update level could not be read (Ubuntu without /proc/version_signature).
    """

    release: str
    stream: str
    distro_version: str | None
    upstream: tuple[int, int, int] | None
    upstream_exact: bool = True

    @property
    def label(self) -> str:
        """The version as the report names it: the distro package version where there is one."""
        if self.distro_version:
            return self.distro_version
        if self.upstream and self.stream == "upstream":
            return dotted(self.upstream)
        return self.release


@dataclass(frozen=True)
class Range:
    """Affected versions of one stream: ``start`` inclusive, ``to_before`` exclusive (None = open)."""

    stream: str
    start: str | None
    to_before: str | None = None
    note: str | None = None

    def __str__(self) -> str:
        return f"{self.stream} [{self.start or '…'}, {self.to_before or '…'})"


def dotted(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def _numbers(match: re.Match[str]) -> tuple[int, int, int]:
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _leading(release: str) -> tuple[int, int, int] | None:
    match = _LEADING.match(release)
    return _numbers(match) if match else None


def identify(
    release: str,
    proc_version: str | None = None,
    os_release_id: str | None = None,
    version_signature: str | None = None,
) -> KernelIdentity:
    """Work out the stream and versions of a kernel from what the host shows.

    ``release`` is ``uname -r``; ``proc_version`` is /proc/version or ``uname -v`` (either carries
    Debian's package version and Ubuntu's build number); ``version_signature`` is Ubuntu's
    /proc/version_signature.

    >>> k = identify("6.1.0-50-amd64", "Linux version 6.1.0-50-amd64 ... Debian 6.1.176-1 (2025-10-10)")
    >>> k.stream, k.distro_version, k.upstream
    ('debian', '6.1.176-1', (6, 1, 176))
    >>> identify("5.15.0-91-generic", version_signature="Ubuntu 5.15.0-91.101-generic 5.15.131").upstream
    (5, 15, 131)
    """
    release = release.strip()
    text = proc_version or ""
    os_id = (os_release_id or "").strip().strip('"').lower()

    el = _EL.match(release)
    if el:
        stream = f"el{el.group('major')}"
        if stream not in EL_STREAMS:
            stream = "unknown"
        return KernelIdentity(
            release, stream, f"{el.group('base')}-{el.group('rel')}", _leading(release), upstream_exact=False
        )

    amzn = _AMZN.match(release)
    if amzn:
        # Amazon numbers its kernels after the kernel.org stable release they are built from
        upstream = _leading(amzn.group("base"))
        return KernelIdentity(release, "amzn", amzn.group("nvr"), upstream)

    signature = _UBUNTU_SIGNATURE.match(version_signature.strip()) if version_signature else None
    if signature:
        upstream = (int(signature.group(2)), int(signature.group(3)), int(signature.group(4)))
        return KernelIdentity(release, "ubuntu", signature.group(1), upstream)
    if os_id == "ubuntu" or "-Ubuntu" in text or "ubuntu" in release:
        abi = _UBUNTU_ABI.match(release)
        distro = abi.group(1) if abi else None
        build = _UBUNTU_BUILD.search(text)
        if distro and build:
            distro = f"{distro}.{build.group(1)}"
        return KernelIdentity(release, "ubuntu", distro, _leading(release), upstream_exact=False)

    # the kernel's own package version follows "#1 SMP ..."; earlier ones name the compiler's
    debian = _DEBIAN_IN_VERSION.findall(text[text.rfind("#") :] if "#" in text else text)
    if debian:
        distro = debian[-1]
        return KernelIdentity(release, "debian", distro, _leading(distro))
    if os_id == "debian" or "debian-kernel@" in text:
        return KernelIdentity(release, "debian", None, _leading(release), upstream_exact=False)

    suse = _SUSE.match(release)
    if suse or os_id.startswith(("sles", "sled", "opensuse")):
        distro = suse.group(1) if suse else None
        return KernelIdentity(release, "suse", distro, _leading(release), upstream_exact=False)

    plain = _UPSTREAM_RELEASE.match(release)
    if plain:
        return KernelIdentity(release, "upstream", None, _numbers(plain))
    return KernelIdentity(
        release, "unknown", None, _leading(release), upstream_exact=bool(_STABLE_NUMBERED.match(release))
    )


def valid_version(stream: str, version: str) -> bool:
    """Whether ``version`` is a version string that ``compare`` can order for ``stream``."""
    if stream in ("upstream", "any"):
        return bool(_NUMERIC.match(version))
    if stream in RPM_STREAMS:
        return bool(_RPM_VERSION.match(version))
    if stream in ("debian", "ubuntu"):
        return _debian_valid(version)
    return False


# univers (and attrs under it) costs 10-15 ms to import: only a run that compares a Debian or RPM
# version with a knowledge range pays it


def _debian_class() -> Any:
    from univers.debian import Version

    return Version


def _debian_valid(version: str) -> bool:
    return bool(_debian_class().is_valid(version))


def _debian(version: str) -> DebianVersion:
    parsed: DebianVersion = _debian_class().from_string(version)
    return parsed


def _numeric(version: str) -> tuple[int, int, int]:
    match = _LEADING.match(version)
    if not match or not _NUMERIC.match(version):
        raise ValueError(f"not a kernel.org version: {version!r}")
    return _numbers(match)


def compare(stream: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b`` under ``stream``'s rules.

    >>> compare("debian", "6.1.76-1", "6.1.112-1")
    -1
    >>> compare("upstream", "5.10", "5.9.16")
    1
    """
    if stream in RPM_STREAMS:
        for version in (a, b):
            if not _RPM_VERSION.match(version):
                raise ValueError(f"not an RPM version: {version!r}")
        from univers.rpm import compare_rpm_versions

        return int(compare_rpm_versions(a, b))
    if stream in ("debian", "ubuntu"):
        left, right = _debian(a), _debian(b)
        return -1 if left < right else (1 if right < left else 0)
    if stream in ("upstream", "any"):
        x, y = _numeric(a), _numeric(b)
        return -1 if x < y else (1 if x > y else 0)
    raise ValueError(f"no version ordering for stream {stream!r}")


@dataclass(frozen=True)
class RangeCheck:
    """The outcome of checking a kernel against affected ranges, with what was compared."""

    affected: bool | None
    range: Range | None = None
    version: str | None = None


def check(identity: KernelIdentity, affected: list[Range] | tuple[Range, ...]) -> RangeCheck:
    """Whether the kernel is in one of the ranges (None: cannot be told), which range matched and
    which version string was compared.

    Ranges of the kernel's own stream decide; ``any`` ranges (kernel.org versions) are used only
    when the entry lists none for the stream and the kernel's upstream version is exact. Ubuntu
    ranges are per series: when none reaches the kernel's series (or it is a derivative kernel such
    as linux-aws) and its upstream version is exact, the ``any`` ranges decide.
    """
    own = [r for r in affected if r.stream == identity.stream]
    generic = [r for r in affected if r.stream == "any"]
    exact_generic = bool(generic) and identity.upstream is not None and identity.upstream_exact
    if own and identity.stream == "ubuntu" and exact_generic and not _ubuntu_series_ranges(identity, own):
        own = []  # no Ubuntu range for this kernel's series: the exact upstream version decides
    if own:
        version = identity.distro_version
        if identity.stream == "upstream" and identity.upstream:
            version = dotted(identity.upstream)
        if version is None:
            return RangeCheck(None)
        return _first_hit(identity.stream, version, own)
    if exact_generic and identity.upstream is not None:
        return _first_hit("any", dotted(identity.upstream), generic)
    return RangeCheck(None)


def _ubuntu_series_ranges(identity: KernelIdentity, own: list[Range]) -> list[Range]:
    """The Ubuntu ranges that reach the kernel's series (its base version, 5.15.0 in 5.15.0-91.101).

    Ubuntu's own ranges are per series, from its CVE tracker's per-release fixed versions; a
    derivative kernel (linux-aws, -azure, -gcp, -oem ...: ABI 1000 and up, 5.15.0-1050.55) is
    numbered apart from the generic kernel of its series, so none reach it.
    """
    version = identity.distro_version or ""
    abi = re.match(r"^\d+\.\d+\.\d+-(\d+)", version)
    base = _leading(version)
    if base is None or (abi and int(abi.group(1)) >= 1000):
        return []

    def reaches(candidate: Range) -> bool:
        start = _leading(candidate.start) if candidate.start else None
        end = _leading(candidate.to_before) if candidate.to_before else None
        return (start is None or start <= base) and (end is None or base <= end)

    return [r for r in own if reaches(r)]


def _first_hit(stream: str, version: str, ranges: list[Range]) -> RangeCheck:
    for candidate in ranges:
        if candidate.start is not None and compare(stream, version, candidate.start) < 0:
            continue
        if candidate.to_before is not None and compare(stream, version, candidate.to_before) >= 0:
            continue
        return RangeCheck(True, candidate, version)
    return RangeCheck(False, None, version)
