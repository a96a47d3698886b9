"""What every probe is: its collection script, its arguments, its interpretation, its consent.

A probe is evidence that is not a plain read of /proc, and some probes change the host. Each
probe module (``probes/<name>.py``) declares one ``ProbeDef``: ``build`` writes its part of the
collection script (files and commands, each with a size limit and a timeout), ``args`` picks
per-host arguments from the rule context (the cache that grows, ...), ``interpret`` turns what
came back into the object rules read as ``probes.<name>``, and ``disarm`` (when set) removes
whatever the probe armed on the host, after any run that may have been cut short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import Probe
from kleak_runbook.evidence.wire import ScriptBuilder

if TYPE_CHECKING:  # the judging modules are imported by whoever judges, not by every import of a probe
    from kleak_runbook.derive.kernel import Kernel
    from kleak_runbook.derive.metrics import Metrics
    from kleak_runbook.parsers.cmdline import KernelCmdline
    from kleak_runbook.parsers.kconfig import KernelConfig

Args = tuple[str, ...]
KCONFIG = "cat /boot/config-$(uname -r) 2>/dev/null || zcat /proc/config.gz 2>/dev/null"
DEBUGFS_MOUNTED = "grep -c ' debugfs ' /proc/mounts"
NOT_PROOF = (
    "Allocation volume is not proof of a leak: a site that allocates fast and frees as fast looks the same "
    "here; the site whose rate matches the measured growth is the first place to look for a missing free."
)


@dataclass(frozen=True)
class ProbeInputs:
    """What a probe's interpretation may use besides its own record."""

    kernel: Kernel
    metrics: Metrics
    cmdline: KernelCmdline | None


@dataclass(frozen=True)
class ProbeDef:
    name: str
    intrusive: bool
    description: str
    effect: str  # what it does to the host, in one line, for consent and the report
    build: Callable[[ScriptBuilder, Args, bool], None]
    interpret: Callable[[Probe | None, ProbeInputs], Any]
    args: Callable[[dict[str, Any]], Args] = lambda _ctx: ()
    consent: str | None = None  # the --allow-intrusive word: the whole probe (intrusive) or its intrusive part
    disarm: Callable[[ScriptBuilder, str], None] | None = None  # removes what the probe armed on the host
    attributes: bool = True  # names code (sites): its sites become culprits


@dataclass
class Site:
    """One place in the code that allocates: a culprit candidate."""

    name: str  # function [module]
    module: str | None
    bytes: int
    count: int
    rate_bytes_per_s: float | None = None
    match: float | None = None  # rate / measured growth
    stack: tuple[str, ...] = ()


@dataclass
class Attribution:
    """What an attribution probe brought back: the code behind a leak, or why it cannot be named."""

    probe: str
    ran: bool
    available: bool = False
    reason: str = ""
    enable: str = ""  # what would make it available
    sites: list[Site] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return not self.ran

    @property
    def top(self) -> Site | None:
        return self.sites[0] if self.sites else None

    @property
    def top_site(self) -> str | None:
        return self.sites[0].name if self.sites else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "available": self.available,
            "reason": self.reason,
            "enable": self.enable,
            "details": self.details,
            "sites": [
                {
                    "name": s.name,
                    "module": s.module,
                    "bytes": s.bytes,
                    "count": s.count,
                    "rate_bytes_per_s": s.rate_bytes_per_s,
                    "rate_matches_growth": s.match,
                    "stack": list(s.stack[:16]),
                }
                for s in self.sites[:10]
            ],
        }


def start(name: str, probe: Probe | None) -> Attribution:
    a = Attribution(name, ran=probe is not None and probe.ran)
    if probe is None or not probe.ran:
        a.reason = probe.reason if probe else "not run"
    return a


def data(probe: Probe) -> dict[str, str]:
    return probe.phases.get("data", {})


def kconfig(texts: dict[str, str]) -> KernelConfig | None:
    from kleak_runbook.parsers.kconfig import parse_kconfig

    text = texts.get("commands/kconfig")
    if not text:
        return None
    try:
        return parse_kconfig(text)
    except ParseError:
        return None


def module_of(name: str) -> str | None:
    if name.endswith("]") and "[" in name:
        return name[name.rindex("[") + 1 : -1]
    return None
