"""What the attribution probes brought back: the code behind a leak, or why it cannot be named.

Each ``interpret_*`` turns a probe's raw texts into a plain object for rule expressions
(``probes.<name>``), for the report and for culprits. A probe that cannot run on this kernel
says why and what would enable it (a config option, a boot parameter, a mount).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.decide.advice import alloc_traces_path, slab_debug_param
from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import Probe
from kleak_runbook.parsers.cmdline import KernelCmdline
from kleak_runbook.parsers.kconfig import KernelConfig, parse_kconfig
from kleak_runbook.parsers.kmemleak import first_site, group_by_backtrace, parse_frame, parse_kmemleak
from kleak_runbook.parsers.slub_traces import parse_alloc_traces
from kleak_runbook.parsers.trace_hist import parse_trace_hist, site_of

Version = tuple[int, int, int]
NOT_PROOF = (
    "Allocation volume is not proof of a leak: a site that allocates fast and frees as fast looks the same "
    "here; the site whose rate matches the measured growth is the first place to look for a missing free."
)


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


def _start(name: str, probe: Probe | None) -> Attribution:
    a = Attribution(name, ran=probe is not None and probe.ran)
    if probe is None or not probe.ran:
        a.reason = probe.reason if probe else "not run"
    return a


def _data(probe: Probe) -> dict[str, str]:
    return probe.phases.get("data", {})


def _config(data: dict[str, str]) -> KernelConfig | None:
    text = data.get("commands/kconfig")
    if not text:
        return None
    try:
        return parse_kconfig(text)
    except ParseError:
        return None


def _module_of(name: str) -> str | None:
    if name.endswith("]") and "[" in name:
        return name[name.rindex("[") + 1 : -1]
    return None


def interpret_slub_traces(
    probe: Probe | None,
    caches: tuple[str, ...],
    kernel: Version | None,
    cmdline: KernelCmdline | None,
    objsize: dict[str, int],
) -> Attribution:
    a = _start("slub_traces", probe)
    if probe is None or not probe.ran:
        return a
    data = _data(probe)
    cfg = _config(data)
    for cache in caches:
        text = (
            data.get(alloc_traces_path(cache, kernel).lstrip("/"))
            or data.get(f"sys/kernel/debug/slab/{cache}/alloc_traces")
            or data.get(f"sys/kernel/slab/{cache}/alloc_calls")
        )
        if not text:
            continue
        a.available = True
        try:
            traces = parse_alloc_traces(text)
        except ParseError as exc:
            a.reason = str(exc)
            continue
        for t in traces:
            site = t.site if getattr(t, "site", None) else t.caller
            name = f"{t.function} [{t.module}]" if t.function and t.module else (t.function or t.caller)
            if site and site != t.caller:
                name = site
            a.sites.append(
                Site(name, _module_of(name) or t.module, t.count * objsize.get(cache, 0), t.count, stack=tuple(t.stack))
            )
        a.details.setdefault("caches", []).append(cache)
    a.sites.sort(key=lambda s: -s.count)
    if not a.available:
        cache = caches[0] if caches else "<cache>"
        if cfg is not None and not cfg.enabled("CONFIG_SLUB_DEBUG"):
            a.reason = "this kernel is built without CONFIG_SLUB_DEBUG"
            a.enable = "a kernel built with CONFIG_SLUB_DEBUG=y"
        elif data.get("commands/debugfs", "0").strip() == "0" and (kernel is None or kernel >= (5, 14, 0)):
            a.reason = "debugfs is not mounted"
            a.enable = f"mount -t debugfs none /sys/kernel/debug, and boot with {slab_debug_param(cache, kernel)}"
        else:
            on = cmdline is not None and (cmdline.has("slub_debug") or cmdline.has("slab_debug"))
            a.reason = f"allocation tracking is not enabled for {cache}" + (
                " (slub_debug is set, but not U for this cache)" if on else ""
            )
            a.enable = f"boot with {slab_debug_param(cache, kernel)}, then read {alloc_traces_path(cache, kernel)}"
    return a


def interpret_kmemleak(probe: Probe | None, consented: bool) -> Attribution:
    a = _start("kmemleak", probe)
    if probe is None or not probe.ran:
        return a
    data = _data(probe)
    cfg = _config(data)
    text = data.get("sys/kernel/debug/kmemleak")
    scan = probe.actions.get("kmemleak_scan")
    a.details["scanned"] = bool(scan and scan.get("rc") == "0")
    if text is None:
        if cfg is not None and not cfg.enabled("CONFIG_DEBUG_KMEMLEAK"):
            a.reason = "this kernel is built without CONFIG_DEBUG_KMEMLEAK"
            a.enable = "a kernel built with CONFIG_DEBUG_KMEMLEAK=y (a debug kernel, e.g. kernel-debug on RHEL)"
        elif data.get("commands/debugfs", "1").strip() == "0":
            a.reason = "debugfs is not mounted"
            a.enable = "mount -t debugfs none /sys/kernel/debug"
        else:
            a.reason = "kmemleak is off or was disabled by an error"
            a.enable = "boot with kmemleak=on (CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=y kernels need it)"
        return a
    a.available = True
    if not consented:
        a.details["note"] = (
            "report read as left by kmemleak's periodic scan; --allow-intrusive kmemleak triggers a fresh scan"
        )
    try:
        objects = parse_kmemleak(text)
    except ParseError as exc:
        a.reason = str(exc)
        return a
    a.details["objects"] = len(objects)
    for g in group_by_backtrace(objects):
        a.sites.append(Site(g.key, g.module, g.bytes, g.count, stack=tuple(f.raw.strip() for f in g.backtrace)))
    return a


def interpret_page_owner(probe: Probe | None, growth: float | None) -> Attribution:
    a = _start("page_owner", probe)
    if probe is None or not probe.ran:
        return a
    data = _data(probe)
    cfg = _config(data)
    text = data.get("commands/page_owner_by_stack")
    if not text:
        if cfg is not None and not cfg.enabled("CONFIG_PAGE_OWNER"):
            a.reason = "this kernel is built without CONFIG_PAGE_OWNER"
            a.enable = "a kernel built with CONFIG_PAGE_OWNER=y, booted with page_owner=on"
        else:
            a.reason = "page_owner is not enabled (or debugfs is not mounted)"
            a.enable = "boot with page_owner=on, then: cat /sys/kernel/debug/page_owner > page_owner.txt"
        return a
    a.available = True
    lines = text.splitlines()
    records = int(lines[0].split()[1]) if lines and lines[0].startswith("records") else 0
    a.details["records"] = records
    for line in lines[1:]:
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        pages, count, stack = int(parts[0]), int(parts[1]), parts[2]
        frames = tuple(f for f in stack.split("|") if f)
        site = first_site([f for f in map(parse_frame, frames) if f is not None])
        name = site.key if site is not None else (frames[0] if frames else "?")
        a.sites.append(Site(name, site.module if site else None, pages * 4096, count, stack=frames))
    a.sites.sort(key=lambda s: -s.bytes)
    del a.sites[20:]
    return a


def interpret_trace(
    probe: Probe | None, growth: float | None, args: tuple[str, ...], name: str = "trace_slab"
) -> Attribution:
    a = _start(name, probe)
    if probe is None or not probe.ran:
        return a
    data = _data(probe)
    arm = probe.actions.get("trace_arm", {})
    a.details["event"] = args[0] if args else None
    a.details["filter"] = args[1] if len(args) > 1 else ""
    a.details["disarmed"] = (data.get("trigger_after", "0").strip() or "0") == "0"
    if arm.get("rc") not in (None, "0") or "hist" not in data:
        a.reason = (
            "the tracing histogram could not be armed (tracefs missing, no CONFIG_HIST_TRIGGERS, or no permission)"
        )
        a.enable = "a kernel with CONFIG_HIST_TRIGGERS=y and tracefs at /sys/kernel/tracing, as root"
        return a
    a.available = True
    seconds = _elapsed(probe) or (float(args[2]) if len(args) > 2 else 10.0)
    a.details["seconds"] = round(seconds, 2)
    try:
        hist = parse_trace_hist(data["hist"])
    except ParseError as exc:
        a.reason = str(exc)
        return a
    a.details["dropped"] = hist.dropped
    pages = args[:1] == ("kmem/mm_page_alloc",)
    for e in hist.entries:
        hits = e.values.get("hitcount", 0)
        nbytes = hits * 4096 if pages else e.values.get("bytes_alloc", 0)
        name = site_of(e)
        rate = nbytes / seconds if seconds else None
        s = Site(name, _module_of(name), nbytes, hits, rate_bytes_per_s=rate, stack=e.frames)
        if growth and rate:
            s.match = round(rate / growth, 2)
        a.sites.append(s)
    a.sites.sort(key=lambda s: -s.bytes)
    del a.sites[20:]
    a.details["note"] = NOT_PROOF
    return a


def _elapsed(probe: Probe) -> float | None:
    times = probe.actions.get("times", {})
    try:
        return float(times["after_uptime"]) - float(times["before_uptime"])
    except (KeyError, ValueError):
        return None


def culprits_from(attrs: list[Attribution]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in attrs:
        floor = a.sites[0].bytes * 0.1 if a.sites else 0  # background allocations are not culprits
        for s in [s for s in a.sites[:3] if s.bytes >= floor]:
            out.append(
                {
                    "type": "backtrace",
                    "name": s.name,
                    "bytes": s.bytes,
                    "growth_bytes_per_s": round(s.rate_bytes_per_s, 1) if s.rate_bytes_per_s else None,
                    "source": a.probe,
                    "count": s.count,
                    "module": s.module,
                    "stack": list(s.stack[:12]),
                    **({"rate_matches_growth": s.match} if s.match is not None else {}),
                }
            )
    return out
