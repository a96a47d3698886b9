"""page_owner: which stacks hold the pages, aggregated on the host (read-only, bounded).

page_owner can be gigabytes: at most 60 s and 256 MiB are read, at nice 19, and ``awk`` sums the
records by stack on the host (memory bounded by the number of distinct stacks), so only the
summary travels. Needs ``CONFIG_PAGE_OWNER`` and a boot with ``page_owner=on``.
"""

from __future__ import annotations

import shlex

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import Probe
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.probes.base import (
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

NAME = "page_owner"
PATH = "/sys/kernel/debug/page_owner"
READ_BYTES = 256 * 1024 * 1024
READ_SECONDS = 60
AWK = (
    'BEGIN{RS=""; FS="\\n"} '
    '{o=0; if (match($1, /order [0-9]+/)) o=substr($1, RSTART+6, RLENGTH-6)+0; s=""; '
    # stack frames are the indented lines; "PFN ...", "Page has been migrated", "Charged ...",
    # "Slab cache page" and the like start at column 0
    'for (i=2; i<=NF; i++) { l=$i; if (l !~ /^[ \\t]/) continue; sub(/^[ \\t]+/, "", l); '
    'if (l == "" || l == "...") continue; s = s "|" l } p[s]+=2^o; c[s]++; n++} '
    'END{print "records", n+0; for (k in p) print p[k] "\\t" c[k] "\\t" k}'
)


def build(b: ScriptBuilder, _args: Args, _consented: bool) -> None:
    b.command(
        f"probe/{NAME}/data/commands/page_owner_by_stack",
        f"[ -r {PATH} ] && timeout {READ_SECONDS} nice -n 19 head -c {READ_BYTES} {PATH} | LC_ALL=C awk "
        + shlex.quote(AWK),
        64 * 1024 * 1024,
        READ_SECONDS + 30,
    )
    b.file(f"probe/{NAME}/data{PATH}_exists", PATH, 0)  # only its status matters
    b.command(f"probe/{NAME}/data/commands/kconfig", KCONFIG, 1024 * 1024, 10)


def interpret(probe: Probe | None, _inputs: ProbeInputs) -> Attribution:
    a = start(NAME, probe)
    if probe is None or not probe.ran:
        return a
    from kleak_runbook.parsers.page_owner import parse_page_owner_by_stack  # when there is a report

    texts = data(probe)
    cfg = kconfig(texts)
    text = texts.get("commands/page_owner_by_stack")
    if not text:
        if cfg is not None and not cfg.enabled("CONFIG_PAGE_OWNER"):
            a.reason = "this kernel is built without CONFIG_PAGE_OWNER"
            a.enable = "a kernel built with CONFIG_PAGE_OWNER=y, booted with page_owner=on"
        else:
            a.reason = "page_owner is not enabled (or debugfs is not mounted)"
            a.enable = "boot with page_owner=on, then: cat /sys/kernel/debug/page_owner > page_owner.txt"
        return a
    a.available = True
    try:
        summary = parse_page_owner_by_stack(text)
    except ParseError as exc:
        a.reason = str(exc)
        return a
    a.details["records"] = summary.records
    for s in summary.stacks[:20]:
        a.sites.append(Site(s.key, module_of(s.key), s.pages * 4096, s.count, stack=s.frames))
    return a


PROBE = ProbeDef(
    name=NAME,
    intrusive=False,
    description="page_owner records aggregated by stack on the host (needs page_owner=on at boot)",
    effect="reads /sys/kernel/debug/page_owner for at most 60 s / 256 MiB at nice 19",
    build=build,
    interpret=interpret,
)
