"""The one ``Kernel``: what uname, /proc/version, version_signature and os-release say together.

Everything that depends on the kernel's version lives here as a property, so metrics, probes,
advice and the knowledge base ask the kernel instead of comparing version tuples themselves:
where tracefs is, ``slab_debug=`` or ``slub_debug=``, where SLUB allocation traces are, whether
``VmallocUsed`` can be trusted, which function vmalloc enters through.

>>> k = Kernel.of(proc_version="Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) "
...               "(gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)")
>>> k.release, k.upstream, k.stream, k.package_version
('6.1.0-50-amd64', (6, 1, 176), 'debian', '6.1.176-1')
>>> k.slab_debug_param("kmalloc-4k"), k.alloc_traces_path("kmalloc-4k"), k.vmallocused_is_zero
('slub_debug=U,kmalloc-4k', '/sys/kernel/debug/slab/kmalloc-4k/alloc_traces', False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.kversion import KernelIdentity, identify
from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.version import KernelVersion, OsRelease, parse_os_release, parse_proc_version, parse_uname

Version = tuple[int, int, int]
_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "armv7l", "riscv64", "ppc64", "loongarch64")


_BUILDER = re.compile(r"^Linux version \S+ \(([^()\s]+@[^()\s]*)\)")


# How each distribution names its kernel packages' releases (uname -r): os-release may name
# the kernel's origin only when the release looks like one of them
_RELEASE_NAMING = {
    "debian": re.compile(
        r"^\d+\.\d+\.\d+-\d+(?:-[a-z0-9]+)*-(?:amd64|arm64|armmp(?:-lpae)?|686(?:-pae)?|s390x|powerpc64le|loong64|riscv64|mips64r2el|octeon|marvell|rpi)$"
    ),
    "ubuntu": re.compile(r"^\d+\.\d+\.\d+-\d+-[a-z][a-z0-9-]*$"),
}


def _named_like(release: str, os_id: str | None) -> bool:
    pattern = _RELEASE_NAMING.get((os_id or "").lower())
    return pattern is None or bool(pattern.match(release))


def _builder(proc_version: str | None) -> str | None:
    match = _BUILDER.match(proc_version.strip()) if proc_version else None
    return match.group(1) if match else None


@dataclass(frozen=True)
class Kernel:
    release: str | None = None
    upstream: Version | None = None  # the kernel.org version it is built from, as far as can be told
    build: str | None = None  # uname -v
    distro: str | None = None  # os-release PRETTY_NAME (the userland: not necessarily the kernel's origin)
    distro_id: str | None = None
    distro_version: str | None = None  # the distribution's package version the kernel text carries
    version_signature: str | None = None
    arch: str | None = None
    identity: KernelIdentity | None = None  # stream (el8, debian, ubuntu, ...) for version comparison
    builder: str | None = None  # who compiled it, from /proc/version: "debian-kernel@lists.debian.org"

    @classmethod
    def of(
        cls,
        proc_version: str | None = None,
        uname: str | None = None,
        version_signature: str | None = None,
        os_release: str | None = None,
        errors: list[str] | None = None,
    ) -> Kernel:
        """Combine the raw texts; unparseable ones are skipped and described in ``errors``."""
        kv: KernelVersion | None = None
        for spec, text, parse in (("version", proc_version, parse_proc_version), ("uname", uname, parse_uname)):
            if text and kv is None:
                try:
                    kv = parse(text)
                except ParseError as exc:
                    if errors is not None:
                        errors.append(f"{spec}: {exc}")
        osr: OsRelease | None = None
        if os_release:
            try:
                osr = parse_os_release(os_release)
            except ParseError as exc:
                if errors is not None:
                    errors.append(f"os_release: {exc}")
        upstream = kv.upstream if kv else None
        sig = version_signature.strip() if version_signature else None
        if sig:
            parts = sig.split()
            nums = parts[2].split(".") if len(parts) >= 3 else []
            if len(nums) == 3 and all(n.isascii() and n.isdigit() for n in nums):
                upstream = (int(nums[0]), int(nums[1]), int(nums[2]))
        identity = None
        if kv is not None:
            os_id = osr.id if osr else None
            if not _named_like(kv.release, os_id):
                os_id = None  # the userland's name says nothing about where this kernel comes from
            # uname -a carries uname -v (Ubuntu's "#101-Ubuntu", Debian's package version) when
            # /proc/version is not there, as in a ticket that pasted uname -a alone
            build_text = proc_version or uname
            identity = identify(kv.release, proc_version=build_text, os_release_id=os_id, version_signature=sig)
        return cls(
            release=kv.release if kv else None,
            upstream=upstream,
            build=kv.build if kv else None,
            distro=osr.pretty_name if osr else None,
            distro_id=osr.id if osr else None,
            distro_version=kv.distro_version if kv else None,
            version_signature=sig,
            arch=next((w for w in (uname or "").split() if w in _ARCHES), None),
            identity=identity,
            builder=_builder(proc_version),
        )

    @classmethod
    def of_texts(cls, texts: Mapping[str, str], errors: list[str] | None = None) -> Kernel:
        """From a host's static evidence texts, by spec name (version, uname, version_signature, os_release)."""
        return cls.of(
            proc_version=texts.get("version"),
            uname=texts.get("uname"),
            version_signature=texts.get("version_signature"),
            os_release=texts.get("os_release"),
            errors=errors,
        )

    # --- identity --------------------------------------------------------------------------
    @property
    def stream(self) -> str:
        return self.identity.stream if self.identity else "unknown"

    @property
    def package_version(self) -> str | None:
        return self.identity.distro_version if self.identity else None

    @property
    def major(self) -> int | None:
        return self.upstream[0] if self.upstream else None

    @property
    def minor(self) -> int | None:
        return self.upstream[1] if self.upstream else None

    def at_least(self, *version: int) -> bool:
        return self.upstream is not None and self.upstream >= tuple(version)

    # --- version-dependent facts -----------------------------------------------------------
    @property
    def tracefs(self) -> str:
        """tracefs has its own mount point from 4.1; before, it lives under debugfs."""
        return "/sys/kernel/tracing" if self.upstream is None or self.at_least(4, 1) else "/sys/kernel/debug/tracing"

    def slab_debug_param(self, cache: str) -> str:
        """``slab_debug=`` is the name from 6.8 (``slub_debug=`` is still accepted)."""
        return f"{'slab_debug' if self.at_least(6, 8) else 'slub_debug'}=U,{cache}"

    def alloc_traces_path(self, cache: str) -> str:
        """SLUB allocation traces moved from sysfs ``alloc_calls`` to debugfs ``alloc_traces`` in 5.14."""
        if self.upstream is None or self.at_least(5, 14):
            return f"/sys/kernel/debug/slab/{cache}/alloc_traces"
        return f"/sys/kernel/slab/{cache}/alloc_calls"

    @property
    def vmallocused_is_zero(self) -> bool:
        """VmallocUsed reads 0 from 4.4 (a5ad88ce8c7f "mm: get rid of 'vmalloc_info' from /proc/meminfo") until
        5.3 ("mm: vmalloc: show number of vmalloc pages in /proc/meminfo")."""
        return self.upstream is not None and (4, 4, 0) <= self.upstream < (5, 3, 0)

    @property
    def vmalloc_entry(self) -> str:
        """The function every vmalloc passes through (renamed by the allocation-profiling work in 6.10)."""
        return "__vmalloc_node_range_noprof" if self.at_least(6, 10) else "__vmalloc_node_range"

    @property
    def dentry_negative_counted(self) -> bool:
        """dentry-state's fifth field counts negative dentries from 5.0 (a dummy 0 before)."""
        return self.upstream is None or self.at_least(5, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "upstream": ".".join(map(str, self.upstream)) if self.upstream else None,
            "build": self.build,
            "distro": self.distro,
            "distro_id": self.distro_id,
            "distro_version": self.distro_version,
            "version_signature": self.version_signature,
            "arch": self.arch,
            "stream": self.stream,
            "builder": self.builder,
        }
