"""Parse kernel and distro identity: ``/proc/version``, ``uname``, ``version_signature``, os-release."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from kleak_runbook.errors import ParseError

_LEADING_VERSION = re.compile(r"([0-9]{1,9})\.([0-9]{1,9})(?:\.([0-9]{1,9}))?")
# Debian puts the upstream version in the build string: "#1 SMP Debian 6.1.176-1 (2026-07-02)"
_DEBIAN_BUILD = re.compile(r"\bDebian ([0-9]+\.[0-9]+(?:\.[0-9]+)?\S*)")
# Ubuntu's package version is the release ABI plus the build number: 5.15.0-91 + #101 -> 5.15.0-91.101
_UBUNTU_BUILD = re.compile(r"#([0-9]+)(~\S*)?-Ubuntu\b")
_UBUNTU_RELEASE = re.compile(r"([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-")
# RHEL and rebuilds: 3.10.0-1160.el7.x86_64 -> 3.10.0-1160.el7
_EL_RELEASE = re.compile(r"([0-9]+\.[0-9]+\.[0-9]+-[0-9.]+\.el[0-9]+(?:_[0-9]+)?)")
_UNAME_TAIL = frozenset(
    {"x86_64", "i386", "i486", "i586", "i686", "aarch64", "arm64", "armv7l", "armv6l", "ppc64", "ppc64le"}
    | {"s390x", "riscv64", "mips", "mips64", "loongarch64", "unknown"}
)


@dataclass(frozen=True)
class KernelVersion:
    release: str  # uname -r
    build: str | None  # uname -v, e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)"
    compiler: str | None
    upstream: tuple[int, int, int] | None  # the kernel.org version the distro kernel is based on
    distro_version: str | None  # the distro's package version, when the text carries it


@dataclass(frozen=True)
class VersionSignature:
    distro_release: str
    upstream: tuple[int, int, int]


@dataclass(frozen=True)
class OsRelease:
    id: str
    version_id: str | None
    pretty_name: str | None
    id_like: tuple[str, ...]


def _leading_version(text: str) -> tuple[int, int, int] | None:
    match = _LEADING_VERSION.match(text)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _kernel_version(release: str, build: str | None, compiler: str | None) -> KernelVersion:
    upstream, distro = None, None
    debian = _DEBIAN_BUILD.search(build) if build else None
    ubuntu = _UBUNTU_BUILD.search(build) if build else None
    abi = _UBUNTU_RELEASE.match(release)
    el = _EL_RELEASE.match(release)
    if debian:
        distro = debian[1]
        upstream = _leading_version(distro)
    elif ubuntu and abi:
        distro = f"{abi[1]}.{ubuntu[1]}{ubuntu[2] or ''}"
    elif el:
        distro = el[1]
    return KernelVersion(release, build, compiler, upstream or _leading_version(release), distro)


def _paren_group(text: str, pos: int) -> tuple[str, int]:
    """The balanced ``( ... )`` group starting at ``text[pos]``, and the index after it."""
    depth = 0
    for i in range(pos, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : i].strip(), i + 1
    return text[pos + 1 :].strip(), len(text)


def parse_proc_version(text: str) -> KernelVersion:
    """Parse ``/proc/version``.

    >>> kv = parse_proc_version(
    ...     "Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1)"
    ...     " 12.2.0, GNU ld (GNU Binutils for Debian) 2.40)"
    ...     " #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)"
    ... )
    >>> kv.release, kv.upstream, kv.distro_version
    ('6.1.0-50-amd64', (6, 1, 176), '6.1.176-1')
    >>> kv.build
    '#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)'
    """
    line = text.strip().split("\n", 1)[0].strip()
    prefix = "Linux version "
    if not line.startswith(prefix):
        raise ParseError("version", f"expected 'Linux version ...', got {line[:40]!r}", line=1)
    release, _, rest = line[len(prefix) :].partition(" ")
    groups: list[str] = []
    pos = 0
    while True:
        while pos < len(rest) and rest[pos] == " ":
            pos += 1
        if pos >= len(rest) or rest[pos] != "(":
            break
        group, pos = _paren_group(rest, pos)
        groups.append(group)
    # "(builder@host) (compiler)"; a hand-built kernel may lack either
    if len(groups) >= 2:
        compiler: str | None = groups[1]
    else:
        compiler = groups[0] if groups and "@" not in groups[0] else None
    build = rest[pos:].strip() or None
    return _kernel_version(release, build, compiler)


def parse_uname(text: str) -> KernelVersion:
    """Parse ``uname -a`` output, or a bare ``uname -r`` line.

    >>> parse_uname("Linux host 6.1.0-50-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02) x86_64 GNU/Linux").upstream
    (6, 1, 176)
    >>> parse_uname("Linux h 5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64 GenuineIntel x86_64 GNU/Linux").build
    '#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023'
    >>> parse_uname("6.1.0-50-amd64\\n")
    KernelVersion(release='6.1.0-50-amd64', build=None, compiler=None, upstream=(6, 1, 0), distro_version=None)
    """
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    tokens = line.split()
    if len(tokens) == 1:
        return _kernel_version(tokens[0], None, None)
    if len(tokens) < 3 or tokens[0] != "Linux":
        raise ParseError("uname", f"expected 'Linux <host> <release> ...' or a release, got {line[:40]!r}", line=1)
    tail = tokens[3:]
    if tail and tail[-1] in ("GNU/Linux", "Linux"):
        tail.pop()
    while tail and tail[-1] in _UNAME_TAIL:
        tail.pop()
    # `uname -a` may add -p/-i words after the build date (`GenuineIntel`, `unknown`, or a CPU
    # model): the build string (uname -v) ends with the year, or Debian's `(YYYY-MM-DD)`
    ends = [i for i, t in enumerate(tail) if re.fullmatch(r"[0-9]{4}|\([0-9]{4}-[0-9]{2}-[0-9]{2}\)", t)]
    if ends:
        del tail[ends[-1] + 1 :]
    return _kernel_version(tokens[2], " ".join(tail) or None, None)


def parse_version_signature_full(text: str) -> VersionSignature:
    """Parse Ubuntu's ``/proc/version_signature``: ``Ubuntu <package release> <upstream>``.

    >>> parse_version_signature_full("Ubuntu 5.15.0-91.101-generic 5.15.131\\n")
    VersionSignature(distro_release='5.15.0-91.101-generic', upstream=(5, 15, 131))
    """
    tokens = text.split()
    upstream = _leading_version(tokens[-1]) if len(tokens) >= 3 else None
    if upstream is None:
        raise ParseError("version_signature", f"expected 'Ubuntu <release> <upstream>', got {text[:60]!r}", line=1)
    return VersionSignature(distro_release=tokens[-2], upstream=upstream)


def parse_version_signature(text: str) -> str:
    """The upstream version string of ``/proc/version_signature``.

    >>> parse_version_signature("Ubuntu 5.15.0-91.101-generic 5.15.131")
    '5.15.131'
    """
    parse_version_signature_full(text)
    return text.split()[-1]


def parse_os_release(text: str) -> OsRelease:
    """Parse ``/etc/os-release`` (shell-style quoting; ``ID`` defaults to ``linux`` as the spec says).

    >>> parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nVERSION_ID="12"\\nID=debian\\n')
    OsRelease(id='debian', version_id='12', pretty_name='Debian GNU/Linux 12 (bookworm)', id_like=())
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.replace("_", "").isalnum():
            continue
        try:
            values[key] = " ".join(shlex.split(raw, comments=True))
        except ValueError:  # unbalanced quote: keep what is there
            values[key] = raw.strip("\"'")
    if not values:
        raise ParseError("os-release", "no KEY=value lines: not an os-release file")
    return OsRelease(
        id=values.get("ID") or "linux",
        version_id=values.get("VERSION_ID"),
        pretty_name=values.get("PRETTY_NAME"),
        id_like=tuple(values.get("ID_LIKE", "").split()),
    )
