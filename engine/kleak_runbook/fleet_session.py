"""Fleets: ``replay`` of several inputs at once, and the fleet summary that ends any fleet run.

An inventory run (``session.walk``) and a replay of several inputs both end here: every host's
report is written as it is judged, then ``fleet.md``, ``fleet.json`` and ``fleet.svg`` at the
root of ``--out`` and a short version on stdout. Exit code: 1 if any host leaks, else 3 if any
host (or input) has no verdict, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kleak_runbook import session
from kleak_runbook.decide import runbook as rbmod
from kleak_runbook.decide.finish import finish
from kleak_runbook.decide.knowledge import Entry, load_all
from kleak_runbook.decide.result import Result
from kleak_runbook.decide.walker import Walker
from kleak_runbook.deliver.directory import ReportDirectory
from kleak_runbook.errors import KleakError
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.progress import Progress
from kleak_runbook.report import fleet as fleetmod


def conclude(fleet: fleetmod.Fleet, fmt: str, docs: list[dict[str, Any]] | None = None) -> int:
    """Write the fleet summary; print it short (or the documents with ``--format json``)."""
    doc = fleetmod.write(fleet)
    if fmt == "json":
        print(json.dumps(docs or [], indent=2, ensure_ascii=False))
    else:
        print("\n".join(fleetmod.short(doc, fleet.root)))
    return fleet.exit_code


def _replay_one(rb: rbmod.Runbook, params: dict[str, Any], knowledge: Sequence[Entry], path: Path) -> Result:
    from kleak_runbook.evidence.replay import ReplayCollector

    replayer = ReplayCollector(path)
    stores: dict[str, EvidenceStore] = {}

    def store_for(host: str) -> EvidenceStore:
        return stores.setdefault(host, EvidenceStore(host, None))

    try:
        walker = Walker(rb, replayer, store_for, params, frozenset())
        walker.run([replayer.host])
    finally:
        replayer.close()
    host, walk = next(iter(walker.walks.items()))
    host_walk = walker.walk_for(host, walk.store)
    extra = {"replayed_from": str(path)}
    return finish(host_walk, rb.name, [], replayer.root, extra, knowledge=knowledge)


def _label(host: str, used: set[str]) -> str:
    """A host name unique in this fleet: the same host replayed twice gets ``#2``."""
    label, n = host, 1
    while label in used:
        n += 1
        label = f"{host}#{n}"
    used.add(label)
    return label


def replay_many(args: argparse.Namespace) -> int:
    """``kleak-runbook replay A B C``: one report per input under ``--out``, and the fleet summary."""
    rb = rbmod.load(rbmod.resolve(args.runbook))
    params, _ = session.params_of(args.extra_vars, rb)
    knowledge = load_all([Path(d) for d in args.knowledge])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    root: Path = args.out or Path("kleak-reports") / f"replay-{stamp}"
    session._check_out(root)
    progress = Progress(enabled=not args.quiet and (args.progress or sys.stderr.isatty()))
    fleet = fleetmod.Fleet(root)
    sink = ReportDirectory()
    docs: list[dict[str, Any]] = []
    used: set[str] = set()
    try:
        for i, path in enumerate(args.path, 1):
            try:
                result = _replay_one(rb, params, knowledge, path)
            except KleakError as exc:
                # one unusable input must not cost the others: named here and in fleet.md
                sys.stderr.write(f"kleak-runbook: {exc}\n")
                fleet.unreadable.append((str(path), str(exc).removeprefix(f"{path}: ")))
                continue
            label = _label(result.host, used)
            rdir = root / session.safe_name(label)
            sink.deliver(result, rdir)
            fleet.add(result, rdir, label)
            if args.format == "json":
                docs.append({**result.document(), "report_dir": str(rdir)})
            progress.say(f"replayed {i}/{len(args.path)}: {path} → {label}: {result.verdict}")
    except KeyboardInterrupt:
        sys.stderr.write(f"kleak-runbook: interrupted after {len(fleet.lines)} of {len(args.path)} inputs\n")
        conclude(fleet, args.format, docs)
        return 3
    finally:
        progress.done()
    if not fleet.lines:
        sys.stderr.write("kleak-runbook: replay: none of the inputs could be read\n")
        return 2
    return conclude(fleet, args.format, docs)
