"""The kmemleak report: unreferenced objects grouped by allocation backtrace.

Reading the report is not intrusive; a fresh scan (``echo scan``) walks all kernel memory and
needs ``--allow-intrusive kmemleak``. Needs ``CONFIG_DEBUG_KMEMLEAK`` and debugfs.
"""

from __future__ import annotations

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import Probe
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.probes.base import (
    DEBUGFS_MOUNTED,
    KCONFIG,
    Args,
    Attribution,
    ProbeDef,
    ProbeInputs,
    Site,
    data,
    kconfig,
    start,
)

NAME = "kmemleak"
PATH = "/sys/kernel/debug/kmemleak"


def build(b: ScriptBuilder, _args: Args, consented: bool) -> None:
    if consented:
        b.action("kmemleak_scan", f"echo scan > {PATH}")
    b.file(f"probe/{NAME}/data{PATH}", PATH, 64 * 1024 * 1024)
    b.command(f"probe/{NAME}/data/commands/kconfig", KCONFIG, 1024 * 1024, 10)
    b.command(f"probe/{NAME}/data/commands/debugfs", DEBUGFS_MOUNTED, 1024, 10)


def interpret(probe: Probe | None, _inputs: ProbeInputs) -> Attribution:
    a = start(NAME, probe)
    if probe is None or not probe.ran:
        return a
    from kleak_runbook.parsers.kmemleak import group_by_backtrace, parse_kmemleak  # when there is a report

    consented = "kmemleak_scan" in probe.actions
    texts = data(probe)
    cfg = kconfig(texts)
    text = texts.get(PATH.lstrip("/"))
    scan = probe.actions.get("kmemleak_scan")
    a.details["scanned"] = bool(scan and scan.get("rc") == "0")
    if text is None:
        if cfg is not None and not cfg.enabled("CONFIG_DEBUG_KMEMLEAK"):
            a.reason = "this kernel is built without CONFIG_DEBUG_KMEMLEAK"
            a.enable = "a kernel built with CONFIG_DEBUG_KMEMLEAK=y (a debug kernel, e.g. kernel-debug on RHEL)"
        elif texts.get("commands/debugfs", "1").strip() == "0":
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


PROBE = ProbeDef(
    name=NAME,
    intrusive=False,
    description="kmemleak report (CONFIG_DEBUG_KMEMLEAK); a fresh scan with --allow-intrusive kmemleak",
    effect="a kmemleak scan walks all kernel memory: seconds to minutes of CPU on a large host",
    build=build,
    interpret=interpret,
    consent="kmemleak",
)
