"""``kleak-runbook history HOST``: a host's runs with their verdicts, and the rates across them.

Runs are the report directories of the host under ``--reports`` (default ``./kleak-reports``);
the rates per day are fitted across the runs of each boot (one point per run, robustly), the
same way a new run uses them as its baseline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("history", help="a host's earlier runs, their verdicts and the rates across them")
    p.add_argument("host", help="the host as runs name it (--host of the runs)")
    p.add_argument(
        "--reports",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="where the runs are (repeatable; default ./kleak-reports)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")


def _runs(host: str, dirs: list[Path]) -> list[dict[str, Any]]:
    from kleak_runbook.derive.baseline import summarize
    from kleak_runbook.evidence import baseline

    out = []
    for path in baseline.find_runs(host, dirs):
        loaded = baseline.load_run(path)
        if loaded is None:
            continue
        store, result = loaded
        run = summarize(store, result, str(path))
        run["kind"] = result.get("kind")
        hist = result.get("history") or {}
        run["history"] = {k: v.get("growth_bytes_per_day") for k, v in (hist.get("kernel_memory") or {}).items()}
        run["history_window"] = hist.get("window")
        out.append(run)
    return out


def _rates(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from kleak_runbook.derive.history import LEAK_KINDS
    from kleak_runbook.derive.trend import fit

    """Per boot: rate per day of each leak component across its runs."""
    boots: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        boots.setdefault(r["boot_id"] or "unknown", []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for boot, group in boots.items():
        rates: dict[str, Any] = {"runs": len(group)}
        for comp in LEAK_KINDS:
            bins = [
                [
                    (s["uptime"], float(s["kmem"][comp]))
                    for s in r["samples"]
                    if s.get("uptime") is not None and comp in s["kmem"]
                ]
                for r in group
            ]
            t = fit([[b for b in bins if b]]) if boot != "unknown" else None
            rates[comp] = round(t.rate_per_day) if t is not None else None
        out[boot] = rates
    return out


def run(args: argparse.Namespace) -> int:
    # the judging modules are imported here, not by every command that builds the parser
    from kleak_runbook.decide.units import human_bytes
    from kleak_runbook.derive.history import LEAK_KINDS

    dirs = args.reports or [Path("kleak-reports")]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"--reports {d}: not a directory")
    runs = _runs(args.host, dirs)
    rates = _rates(runs)
    if args.format == "json":
        print(json.dumps({"host": args.host, "runs": runs, "rates_per_day_by_boot": rates}, indent=2))
        return 0
    if not runs:
        print(f"{args.host}: no runs in {', '.join(str(d) for d in dirs)}")
        return 0
    print(f"{args.host}: {len(runs)} run(s)")
    for r in runs:
        last = r["samples"][-1]["kmem"] if r["samples"] else {}
        sunr = human_bytes(last["slab_unreclaimable"]) if "slab_unreclaimable" in last else "?"
        shown = ", ".join(
            f"{c} {human_bytes(v, signed=True)}/day" for c in LEAK_KINDS if (v := r["history"].get(c)) is not None
        )
        window = f", over {r['history_window']}: {shown}" if r["history_window"] else ""
        boot = (r["boot_id"] or "unknown")[:8]
        print(
            f"  {r['started_at']}  {r['verdict'] or '?':<15} {r['kind'] or '':<19} boot {boot}  SUnreclaim {sunr}{window}  {r['source']}"
        )
    for boot, rate in rates.items():
        shown = ", ".join(
            f"{c} {human_bytes(v, signed=True)}/day" for c in LEAK_KINDS if (v := rate.get(c)) is not None
        )
        print(f"  boot {boot[:8]} ({rate['runs']} run(s)): {shown or 'one run: no rate yet'}")
    return 0
