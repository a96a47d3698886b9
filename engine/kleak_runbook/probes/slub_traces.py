"""SLUB allocation traces of the growing cache: who allocated the live objects (read-only).

Present when the kernel was booted with ``slub_debug=U,<cache>`` (``slab_debug=`` from 6.8):
``/sys/kernel/debug/slab/<cache>/alloc_traces`` from 5.14, ``/sys/kernel/slab/<cache>/alloc_calls``
before.
"""

from __future__ import annotations

from typing import Any

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
    module_of,
    start,
)

NAME = "slub_traces"
_MAX = 16 * 1024 * 1024


def build(b: ScriptBuilder, caches: Args, _consented: bool) -> None:
    for cache in caches:
        for path in (f"/sys/kernel/debug/slab/{cache}/alloc_traces", f"/sys/kernel/slab/{cache}/alloc_calls"):
            b.file(f"probe/{NAME}/data{path}", path, _MAX)
    b.command(f"probe/{NAME}/data/commands/debugfs", DEBUGFS_MOUNTED, 1024, 10)
    b.command(f"probe/{NAME}/data/commands/kconfig", KCONFIG, 1024 * 1024, 10)


def args(ctx: dict[str, Any]) -> Args:
    slab = ctx.get("slab")
    if slab is None:
        return ()
    growing = [c.name for c in slab.top_growing_unreclaimable] or [c.name for c in slab.top_growing]
    return tuple(growing[:2]) or tuple(c.name for c in slab.top_by_size[:1])


def interpret(probe: Probe | None, inputs: ProbeInputs) -> Attribution:
    a = start(NAME, probe)
    if probe is None or not probe.ran:
        return a
    from kleak_runbook.parsers.slub_traces import parse_alloc_traces  # when there are traces

    kernel, caches = inputs.kernel, probe.args
    objsize = {n: c.objsize for n, c in inputs.metrics.caches.items()}
    texts = data(probe)
    cfg = kconfig(texts)
    for cache in caches:
        text = (
            texts.get(kernel.alloc_traces_path(cache).lstrip("/"))
            or texts.get(f"sys/kernel/debug/slab/{cache}/alloc_traces")
            or texts.get(f"sys/kernel/slab/{cache}/alloc_calls")
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
                Site(name, module_of(name) or t.module, t.count * objsize.get(cache, 0), t.count, stack=tuple(t.stack))
            )
        a.details.setdefault("caches", []).append(cache)
    a.sites.sort(key=lambda s: -s.count)
    if not a.available:
        cache = caches[0] if caches else "<cache>"
        param = kernel.slab_debug_param(cache)
        if cfg is not None and not cfg.enabled("CONFIG_SLUB_DEBUG"):
            a.reason = "this kernel is built without CONFIG_SLUB_DEBUG"
            a.enable = "a kernel built with CONFIG_SLUB_DEBUG=y"
        elif texts.get("commands/debugfs", "0").strip() == "0" and (kernel.upstream is None or kernel.at_least(5, 14)):
            a.reason = "debugfs is not mounted"
            a.enable = f"mount -t debugfs none /sys/kernel/debug, and boot with {param}"
        else:
            cmdline = inputs.cmdline
            on = cmdline is not None and (cmdline.has("slub_debug") or cmdline.has("slab_debug"))
            a.reason = f"allocation tracking is not enabled for {cache}" + (
                " (slub_debug is set, but not U for this cache)" if on else ""
            )
            a.enable = f"boot with {param}, then read {kernel.alloc_traces_path(cache)}"
    return a


PROBE = ProbeDef(
    name=NAME,
    intrusive=False,
    description="SLUB allocation traces of the growing cache (needs slub_debug=U,<cache> at boot)",
    effect="reads debugfs/sysfs only",
    build=build,
    interpret=interpret,
    args=args,
)
