"""Tracing histograms (intrusive, ``--allow-intrusive trace``): who allocates, ranked, for a few seconds.

``trace_slab`` keys ``kmem:kmalloc``/``kmem:kmem_cache_alloc`` by call site (bytes);
``trace_pages`` keys ``kmem:mm_page_alloc`` by stack trace. The trigger is named so a leftover
one (a killed run) can be found, and it is always removed: at the end of the script, on error,
Ctrl-C or a dropped session (a shell trap), and by ``disarm`` after any run it may have outlived.
"""

from __future__ import annotations

import shlex
from typing import Any

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import Probe
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.probes.base import NOT_PROOF, Args, Attribution, ProbeDef, ProbeInputs, Site, data, module_of, start

TRIGGER_NAME = "kleak_runbook"
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PAGES_EVENT = "kmem/mm_page_alloc"
_HIST_MAX = 16 * 1024 * 1024


def trace_trigger(args: Args) -> tuple[str, str]:
    """(event path below tracefs, trigger text) for ``args`` = (event, filter)."""
    event, flt = args[0], args[1] if len(args) > 1 else ""
    if event == PAGES_EVENT:
        trig = f"hist:name={TRIGGER_NAME}:keys=stacktrace:vals=hitcount:sort=hitcount.descending:size=2048"
    else:
        trig = f"hist:name={TRIGGER_NAME}:keys=call_site.sym:vals=hitcount,bytes_alloc:sort=bytes_alloc.descending:size=2048"
    return f"events/{event}", trig + (f" if {flt}" if flt else "")


def build(b: ScriptBuilder, args: Args, _consented: bool) -> None:
    event, trig = trace_trigger(args)
    probe = "trace_pages" if args[:1] == (PAGES_EVENT,) else "trace_slab"
    seconds = args[2] if len(args) > 2 else "10"
    b.lines.append(
        f"T={TRACEFS[0]}; [ -d $T/events ] || T={TRACEFS[1]}; E=$T/{event}; export E; "
        f"KT={shlex.quote(trig)}; "
        # always disarm: normal exit, error, Ctrl-C (SIGINT), a dropped SSH session (SIGHUP)
        'kl_disarm() { echo "!$KT" >> $E/trigger 2>/dev/null; }; trap kl_disarm EXIT HUP INT TERM'
    )
    b.action("trace_arm", 'echo "$KT" >> $E/trigger')
    b.timestamp()
    b.sleep(float(seconds))
    b.command(f"probe/{probe}/data/hist", 'cat "$E/hist"', _HIST_MAX, 30)
    b.timestamp()
    b.action("trace_disarm", "kl_disarm")
    b.command(f"probe/{probe}/data/trigger_after", f'grep -c {TRIGGER_NAME} "$E/trigger" || true', 1024, 10)


def disarm(b: ScriptBuilder, probe: str = "trace_slab") -> None:
    """Remove any trigger this tool left armed (a run killed hard), on every kmem event."""
    b.lines.append(
        f'for T in {" ".join(TRACEFS)}; do for F in $T/events/kmem/*/trigger; do [ -w "$F" ] || continue; '
        f"grep {TRIGGER_NAME} \"$F\" 2>/dev/null | sed 's/ \\[active\\]$//; s/^/!/' | "
        'while read -r L; do echo "$L" >> "$F"; done; done; done'
    )
    b.command(
        f"probe/{probe}/data/leftover",
        f"cat /sys/kernel/tracing/events/kmem/*/trigger 2>/dev/null | grep -c {TRIGGER_NAME} || true",
        1024,
        10,
    )


def _slab_args(ctx: dict[str, Any]) -> Args:
    seconds = str(getattr(ctx.get("params"), "trace_seconds", 10))
    slab = ctx.get("slab")
    top = (slab.top_growing_unreclaimable or slab.top_growing) if slab is not None else []
    if top:
        c = top[0]
        event = "kmem/kmalloc" if c.name.startswith("kmalloc-") else "kmem/kmem_cache_alloc"
        return (event, f"bytes_alloc == {c.objsize}", seconds)
    return ("kmem/kmalloc", "", seconds)


def _pages_args(ctx: dict[str, Any]) -> Args:
    return (PAGES_EVENT, "", str(getattr(ctx.get("params"), "trace_seconds", 10)))


def _elapsed(probe: Probe) -> float | None:
    times = probe.actions.get("times", {})
    try:
        return float(times["after_uptime"]) - float(times["before_uptime"])
    except (KeyError, ValueError):
        return None


def _interpret(name: str, probe: Probe | None, growth: float | None) -> Attribution:
    a = start(name, probe)
    if probe is None or not probe.ran:
        return a
    from kleak_runbook.parsers.trace_hist import parse_trace_hist, site_of  # when there is a histogram

    args = probe.args
    texts = data(probe)
    arm = probe.actions.get("trace_arm", {})
    a.details["event"] = args[0] if args else None
    a.details["filter"] = args[1] if len(args) > 1 else ""
    a.details["disarmed"] = (texts.get("trigger_after", "0").strip() or "0") == "0"
    if arm.get("rc") not in (None, "0") or "hist" not in texts:
        a.reason = (
            "the tracing histogram could not be armed (tracefs missing, no CONFIG_HIST_TRIGGERS, or no permission)"
        )
        a.enable = "a kernel with CONFIG_HIST_TRIGGERS=y and tracefs at /sys/kernel/tracing, as root"
        return a
    a.available = True
    seconds = _elapsed(probe) or (float(args[2]) if len(args) > 2 else 10.0)
    a.details["seconds"] = round(seconds, 2)
    try:
        hist = parse_trace_hist(texts["hist"])
    except ParseError as exc:
        a.reason = str(exc)
        return a
    a.details["dropped"] = hist.dropped
    pages = args[:1] == (PAGES_EVENT,)
    for e in hist.entries:
        hits = e.values.get("hitcount", 0)
        nbytes = hits * 4096 if pages else e.values.get("bytes_alloc", 0)
        site = site_of(e)
        rate = nbytes / seconds if seconds else None
        s = Site(site, module_of(site), nbytes, hits, rate_bytes_per_s=rate, stack=e.frames)
        if growth and rate:
            s.match = round(rate / growth, 2)
        a.sites.append(s)
    a.sites.sort(key=lambda s: -s.bytes)
    del a.sites[20:]
    a.details["note"] = NOT_PROOF
    return a


def _interpret_slab(probe: Probe | None, inputs: ProbeInputs) -> Attribution:
    kmem = inputs.metrics.kmem
    growth = kmem["slab_unreclaimable"].growth_bytes_per_s if "slab_unreclaimable" in kmem else None
    if probe is not None and probe.args:
        # the histogram is filtered to one object size: compare with the caches of that size
        flt = probe.args[1] if len(probe.args) > 1 else ""
        size = flt.rsplit(" ", 1)[-1]
        same = [c.growth_bytes_per_s for c in inputs.metrics.caches.values() if flt and str(c.objsize) == size]
        growth = max(same, default=growth)
    return _interpret("trace_slab", probe, growth)


def _interpret_pages(probe: Probe | None, inputs: ProbeInputs) -> Attribution:
    kmem = inputs.metrics.kmem
    return _interpret("trace_pages", probe, kmem["unaccounted"].growth_bytes_per_s if "unaccounted" in kmem else None)


_EFFECT = (
    "arms a histogram trigger on a kmem tracepoint for a few seconds (small overhead on every "
    "allocation while armed); always disarmed afterwards, also on error or Ctrl-C"
)
SLAB = ProbeDef(
    name="trace_slab",
    consent="trace",
    intrusive=True,
    description="a tracing histogram of kmalloc/kmem_cache_alloc call sites (bytes) for a bounded time",
    effect=_EFFECT,
    build=build,
    interpret=_interpret_slab,
    args=_slab_args,
    disarm=disarm,
)
PAGES = ProbeDef(
    name="trace_pages",
    consent="trace",
    intrusive=True,
    description="a tracing histogram of mm_page_alloc stack traces for a bounded time",
    effect=_EFFECT,
    build=build,
    interpret=_interpret_pages,
    args=_pages_args,
    disarm=disarm,
)
