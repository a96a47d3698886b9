"""What ``--prometheus`` costs: a week of 15 s scrapes for one host (~40,000 points a series) in a
real local Prometheus, a run with it against the same run without it, side by side.

The history is SYNTHETIC (tests/history/synthetic.py: a 64 GiB host leaking 1 GiB/day of
SUnreclaim, labelled synthetic="true"), backfilled into a real TSDB with promtool. Rows, each a
fresh process through the installed console script, rounds interleaved, one warm-up round not
counted:

  run                kleak-runbook run --host localhost --samples 2 --interval 1 --no-baseline --out NEW
  run --prometheus   the same with --prometheus URL (history fetched while Ansible starts)

and, in this process, the history step alone: the fetch (HTTP + JSON), the parse, and the
derivation (components per point, boots, robust fits). Target (issue 11): at most 1 s added.

    python bench/history.py [--repeat 5] [--step 15] [--days 7] [--json out.json] [--url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import Series, bench_env, check, load, spread, timed, tool
from history.conftest import Prom, backfill
from history.synthetic import Shape

from kleak_runbook.derive.history import from_prometheus, view
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.evidence import prometheus
from kleak_runbook.parsers.history import parse_prometheus_history

TARGET_S = 1.0
PARAMS = {
    "min_history_growth_bytes_per_day": 67108864,
    "min_history_unaccounted_growth_bytes_per_day": 268435456,
    "min_history_growth_bytes": 4194304,
    "min_history_steadiness": 0.5,
}


def _step_alone(url: str, repeat: int) -> dict[str, list[float]]:
    cfg = prometheus.Config(url=url, window_s=7 * 86400, auth=prometheus.Auth(), timeout_s=30)
    out: dict[str, list[float]] = {"fetch": [], "parse": [], "derive": [], "bytes": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        doc = prometheus.fetch(cfg, "localhost")
        t1 = time.perf_counter()
        hist = parse_prometheus_history(doc)
        t2 = time.perf_counter()
        src = from_prometheus(hist, Kernel())
        assert src is not None
        view(src, PARAMS, None)
        t3 = time.perf_counter()
        out["fetch"].append(t1 - t0)
        out["parse"].append(t2 - t1)
        out["derive"].append(t3 - t2)
        out["bytes"].append(float(len(doc)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--step", type=float, default=15.0, help="scrape interval of the synthetic history (s)")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--url", help="a Prometheus already holding this synthetic history (skips the backfill)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kleak-bench-history-") as tmp:
        work = Path(tmp)
        if args.url:
            return _report(_step_alone(args.url, args.repeat), _side_by_side(args.url, work, args.repeat), args.json)
        shape = Shape(end=time.time() - 60, days=args.days, step=args.step, leak_per_day=float(1 << 30))
        t0 = time.perf_counter()
        backfill(work / "tsdb", shape, work)
        print(f"backfilled {args.days:g} days at {args.step:g} s ({int(args.days * 86400 / args.step)} points a series) "
              f"in {time.perf_counter() - t0:.0f} s; load {load()}")  # fmt: skip
        prom = Prom(work)
        try:
            alone = _step_alone(prom.url, args.repeat)
            rows = _side_by_side(prom.url, work, args.repeat)
        finally:
            prom.stop()
    return _report(alone, rows, args.json)


def _side_by_side(url: str, work: Path, repeat: int) -> dict[str, Series]:
    env = bench_env(work)
    base = [
        tool("kleak-runbook"),
        "run",
        "--host",
        "localhost",
        "--samples",
        "2",
        "--interval",
        "1",
        "--no-baseline",
        "-q",
    ]
    rows = {"run": Series("run"), "run --prometheus": Series("run --prometheus")}
    for i in range(repeat + 1):  # round 0 warms caches and is not counted
        for label, extra in (("run", []), ("run --prometheus", ["--prometheus", url])):
            out = work / f"out-{i}-{len(extra)}"
            t = check(timed([*base, "--out", str(out), *extra], env, work), label, work, ok=(0, 1))
            if label == "run --prometheus" and not (out / "evidence" / "history" / "prometheus.json").is_file():
                raise SystemExit(f"{label}: no history was fetched (see {work}/last.stderr)")
            if i:
                rows[label].runs.append(t)
    return rows


def _report(alone: dict[str, list[float]], rows: dict[str, Series], json_out: Path | None) -> int:
    med = {k: statistics.median(v) for k, v in alone.items()}
    step = med["fetch"] + med["parse"] + med["derive"]
    print(f"history step alone (median of {len(alone['fetch'])}): fetch {med['fetch']:.3f} s "
          f"({med['bytes'] / 1e6:.1f} MB), parse {med['parse']:.3f} s, derive {med['derive']:.3f} s = {step:.3f} s")  # fmt: skip
    for s in rows.values():
        print(f"{s.label:<18} wall {s.median():6.2f} s ({spread(s.walls())})  cpu {s.cpu():6.2f} s")
    added = rows["run --prometheus"].median() - rows["run"].median()
    verdict = "met" if added <= TARGET_S else "MISSED"
    print(f"added by --prometheus: {added:+.2f} s wall (target at most {TARGET_S:.0f} s: {verdict})")
    if json_out is not None:
        doc: dict[str, Any] = {"alone": alone, "rows": {k: s.walls() for k, s in rows.items()}, "added_s": added}
        json_out.write_text(json.dumps(doc, indent=1))
    return 0 if added <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
