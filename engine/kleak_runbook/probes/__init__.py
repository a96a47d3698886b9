"""Probes: evidence that is not a plain read of /proc, some of which change the host.

Each probe builds its part of a collection script from arguments chosen per host (e.g. the
cache that grows), and says whether it is intrusive. An intrusive probe runs only with the
user's consent (``--allow-intrusive NAME``) or the runbook's (``allow_intrusive``); without
it the step records the probe as skipped and the report says what it would have shown.
Interpretation of what a probe brought back lives in ``attribution.py``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.wire import ScriptBuilder

Args = tuple[str, ...]

# Tracing triggers carry this name so a leftover one (a killed run) can be recognised and removed.
TRIGGER_NAME = "kleak_runbook"
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


@dataclass(frozen=True)
class ProbeDef:
    name: str
    intrusive: bool
    description: str
    effect: str  # what it does to the host, in one line, for consent and the report
    build: Callable[[ScriptBuilder, Args, bool], None]
    args: Callable[[dict[str, Any]], Args] = lambda _ctx: ()
    consent: str | None = None  # the --allow-intrusive word: the whole probe (intrusive) or its intrusive part

    def script(self, builder: ScriptBuilder, args: Args, consented: bool) -> None:
        self.build(builder, args, consented)


def _snapshot(b: ScriptBuilder, probe: str, phase: str, specs: tuple[str, ...]) -> None:
    b.timestamp()
    for spec in specs:
        s = SPECS[spec]
        b.file(f"probe/{probe}/{phase}/{s.relpath}", s.host_path)


def _drop_caches(b: ScriptBuilder, _args: Args, _consented: bool) -> None:
    specs = ("meminfo", "slabinfo", "dentry_state")
    _snapshot(b, "drop_caches", "before", specs)
    b.action("drop_caches", "echo 2 > /proc/sys/vm/drop_caches")
    _snapshot(b, "drop_caches", "after", specs)


def _slub_traces(b: ScriptBuilder, caches: Args, _consented: bool) -> None:
    for cache in caches:
        for path in (f"/sys/kernel/debug/slab/{cache}/alloc_traces", f"/sys/kernel/slab/{cache}/alloc_calls"):
            b.file(f"probe/slub_traces/data{path}", path)
    b.command("probe/slub_traces/data/commands/debugfs", "grep -c ' debugfs ' /proc/mounts")
    b.command("probe/slub_traces/data/commands/kconfig", _KCONFIG)


def _kmemleak(b: ScriptBuilder, _args: Args, consented: bool) -> None:
    path = "/sys/kernel/debug/kmemleak"
    if consented:
        b.action("kmemleak_scan", f"echo scan > {path}")
    b.file(f"probe/kmemleak/data{path}", path)
    b.command("probe/kmemleak/data/commands/kconfig", _KCONFIG)
    b.command("probe/kmemleak/data/commands/debugfs", "grep -c ' debugfs ' /proc/mounts")


# page_owner can be gigabytes: cap what is read and the time spent, and aggregate by stack on
# the host (memory bounded by the number of distinct stacks), so only the summary travels.
_PAGE_OWNER_AWK = (
    'BEGIN{RS=""; FS="\\n"} '
    '{o=0; if (match($1, /order [0-9]+/)) o=substr($1, RSTART+6, RLENGTH-6)+0; s=""; '
    # stack frames are the indented lines; "PFN ...", "Page has been migrated", "Charged ...",
    # "Slab cache page" and the like start at column 0
    'for (i=2; i<=NF; i++) { l=$i; if (l !~ /^[ \\t]/) continue; sub(/^[ \\t]+/, "", l); '
    'if (l == "" || l == "...") continue; s = s "|" l } p[s]+=2^o; c[s]++; n++} '
    'END{print "records", n+0; for (k in p) print p[k] "\\t" c[k] "\\t" k}'
)


def _page_owner(b: ScriptBuilder, _args: Args, _consented: bool) -> None:
    path = "/sys/kernel/debug/page_owner"
    b.command(
        "probe/page_owner/data/commands/page_owner_by_stack",
        f"[ -r {path} ] && timeout 60 nice -n 19 head -c 268435456 {path} | LC_ALL=C awk "
        + shlex.quote(_PAGE_OWNER_AWK),
    )
    b.file(f"probe/page_owner/data{path}_exists", "/sys/kernel/debug/page_owner")  # only status matters
    b.command("probe/page_owner/data/commands/kconfig", _KCONFIG)


def trace_trigger(args: Args) -> tuple[str, str]:
    """(event path below tracefs, trigger text) for ``args`` = (event, filter)."""
    event, flt = args[0], args[1] if len(args) > 1 else ""
    if event == "kmem/mm_page_alloc":
        trig = f"hist:name={TRIGGER_NAME}:keys=stacktrace:vals=hitcount:sort=hitcount.descending:size=2048"
    else:
        trig = f"hist:name={TRIGGER_NAME}:keys=call_site.sym:vals=hitcount,bytes_alloc:sort=bytes_alloc.descending:size=2048"
    return f"events/{event}", trig + (f" if {flt}" if flt else "")


def _trace(b: ScriptBuilder, args: Args, _consented: bool) -> None:
    event, trig = trace_trigger(args)
    probe = "trace_pages" if args[:1] == ("kmem/mm_page_alloc",) else "trace_slab"
    seconds = args[2] if len(args) > 2 else "10"
    b.lines.append(
        f"T={TRACEFS[0]}; [ -d $T/events ] || T={TRACEFS[1]}; E=$T/{event}; "
        f"KT={shlex.quote(trig)}; "
        # always disarm: normal exit, error, Ctrl-C (SIGINT), a dropped SSH session (SIGHUP)
        'kl_disarm() { echo "!$KT" >> $E/trigger 2>/dev/null; }; trap kl_disarm EXIT HUP INT TERM'
    )
    b.action("trace_arm", 'echo "$KT" >> $E/trigger')
    b.timestamp()
    b.sleep(float(seconds))
    b.command(f"probe/{probe}/data/hist", "cat $E/hist")
    b.timestamp()
    b.action("trace_disarm", "kl_disarm")
    b.command(f"probe/{probe}/data/trigger_after", f"cat $E/trigger | grep -c {TRIGGER_NAME} || true")


def disarm_script(b: ScriptBuilder, probe: str = "trace_slab") -> None:
    """Remove any trigger this tool left armed (a run killed hard), on every kmem event."""
    b.lines.append(
        f'for T in {" ".join(TRACEFS)}; do for F in $T/events/kmem/*/trigger; do [ -w "$F" ] || continue; '
        f"grep {TRIGGER_NAME} \"$F\" 2>/dev/null | sed 's/ \\[active\\]$//; s/^/!/' | "
        'while read -r L; do echo "$L" >> "$F"; done; done; done'
    )
    b.command(
        f"probe/{probe}/data/leftover",
        f"cat /sys/kernel/tracing/events/kmem/*/trigger 2>/dev/null | grep -c {TRIGGER_NAME} || true",
    )


_KCONFIG = "cat /boot/config-$(uname -r) 2>/dev/null || zcat /proc/config.gz 2>/dev/null"


def _slub_args(ctx: dict[str, Any]) -> Args:
    slab = ctx.get("slab")
    if slab is None:
        return ()
    growing = [c.name for c in slab.top_growing_unreclaimable] or [c.name for c in slab.top_growing]
    return tuple(growing[:2]) or tuple(c.name for c in slab.top_by_size[:1])


def _trace_pages_args(ctx: dict[str, Any]) -> Args:
    return ("kmem/mm_page_alloc", "", str(getattr(ctx.get("params"), "trace_seconds", 10)))


def _trace_slab_args(ctx: dict[str, Any]) -> Args:
    seconds = str(getattr(ctx.get("params"), "trace_seconds", 10))
    slab = ctx.get("slab")
    top = (slab.top_growing_unreclaimable or slab.top_growing) if slab is not None else []
    if top:
        c = top[0]
        event = "kmem/kmalloc" if c.name.startswith("kmalloc-") else "kmem/kmem_cache_alloc"
        return (event, f"bytes_alloc == {c.objsize}", seconds)
    return ("kmem/kmalloc", "", seconds)


PROBES: dict[str, ProbeDef] = {
    p.name: p
    for p in (
        ProbeDef(
            name="drop_caches",
            intrusive=True,
            consent="drop_caches",
            description="reclaim test: `echo 2 > /proc/sys/vm/drop_caches` between two snapshots",
            effect=(
                "frees clean dentry and inode caches; safe, but the host re-reads what it needs "
                "from disk afterwards (a short I/O cost)"
            ),
            build=_drop_caches,
        ),
        ProbeDef(
            name="slub_traces",
            intrusive=False,
            description="SLUB allocation traces of the growing cache (needs slub_debug=U,<cache> at boot)",
            effect="reads debugfs/sysfs only",
            build=_slub_traces,
            args=_slub_args,
        ),
        ProbeDef(
            name="kmemleak",
            intrusive=False,
            description="kmemleak report (CONFIG_DEBUG_KMEMLEAK); a fresh scan with --allow-intrusive kmemleak",
            effect="a kmemleak scan walks all kernel memory: seconds to minutes of CPU on a large host",
            build=_kmemleak,
            consent="kmemleak",
        ),
        ProbeDef(
            name="page_owner",
            intrusive=False,
            description="page_owner records aggregated by stack on the host (needs page_owner=on at boot)",
            effect="reads /sys/kernel/debug/page_owner for at most 60 s / 256 MiB at nice 19",
            build=_page_owner,
        ),
        ProbeDef(
            name="trace_slab",
            consent="trace",
            intrusive=True,
            description="a tracing histogram of kmalloc/kmem_cache_alloc call sites (bytes) for a bounded time",
            effect=(
                "arms a histogram trigger on a kmem tracepoint for a few seconds (small overhead on every "
                "allocation while armed); always disarmed afterwards, also on error or Ctrl-C"
            ),
            build=_trace,
            args=_trace_slab_args,
        ),
        ProbeDef(
            name="trace_pages",
            consent="trace",
            intrusive=True,
            description="a tracing histogram of mm_page_alloc stack traces for a bounded time",
            effect=(
                "arms a histogram trigger on a kmem tracepoint for a few seconds (small overhead on every "
                "allocation while armed); always disarmed afterwards, also on error or Ctrl-C"
            ),
            build=_trace,
            args=_trace_pages_args,
        ),
    )
}
CONSENTS = tuple(sorted({p.consent for p in PROBES.values() if p.consent}))
