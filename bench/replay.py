"""``kleak-runbook replay`` of large synthetic bundles, against ``cat`` of the same files.

A real bundle is taken first (``kleak-runbook run --samples 1`` on localhost), then grown into
SYNTHETIC bundles of 3 samples, 5 s apart: slabinfo with N caches and vmallocinfo with M lines,
made from this machine's real lines (names suffixed ``-synth<k>``, made-up addresses, 500
synthetic caller variants, one synthetic cache growing 4 MiB per sample with SUnreclaim/Slab
following, so the walk goes all the way to a slab leak verdict). Each size is replayed through
the installed console script with a fresh ``--out``, interleaved with ``cat`` of every file of
the bundle (reading the input is the floor); peak RSS is ``ru_maxrss`` from ``wait4``.

    python bench/replay.py [--repeat 5] [--sizes 1000x50000,2000x200000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Series, bench_env, check, load, spread, timed, tool, versions

SAMPLES = 3
INTERVAL = 5
TARGETS = {(1000, 50_000): 0.5, (2000, 200_000): 2.0}  # issue 13, seconds
RSS_TARGET_MIB = 150


def synthetic_bundle(real: Path, dest: Path, caches: int, lines: int) -> dict[str, Any]:
    """A bundle whose slabinfo/vmallocinfo are large but shaped like the real ones in ``real``."""
    src = real / "evidence"
    ev = dest / "evidence"
    shutil.copytree(src / "static", ev / "static")
    s0 = src / "samples" / "000"
    slab_lines = (s0 / "proc" / "slabinfo").read_text().splitlines()
    header, rows0 = slab_lines[:2], [ln.split() for ln in slab_lines[2:] if ln.strip()]
    vm_real = [ln.split() for ln in (s0 / "proc" / "vmallocinfo").read_text().splitlines() if ln.strip()]
    meminfo = (s0 / "proc" / "meminfo").read_text()
    wall0 = datetime.fromisoformat((s0 / "timestamp").read_text().strip()[:19] + "+00:00")
    up0 = float((s0 / "proc" / "uptime").read_text().split()[0])
    leak_objsize, leak_per_sample = 512, 4 * 1024 * 1024
    for i in range(SAMPLES):
        d = ev / "samples" / f"{i:03d}" / "proc"
        d.mkdir(parents=True)
        for rel in ("sys/fs/dentry-state", "sys/fs/inode-state", "zoneinfo"):
            if (s0 / "proc" / rel).exists():
                (d / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(s0 / "proc" / rel, d / rel)
        rows = list(header)
        for k in range(caches):
            f = list(rows0[k % len(rows0)])
            name = f[0] if k < len(rows0) else f"{f[0]}-synth{k}"
            active, total, size, per_slab = int(f[1]), int(f[2]), int(f[3]), max(1, int(f[4]))
            if k == len(rows0):  # the one leaking synthetic cache
                name, size, per_slab = "synth-leaky-cache", leak_objsize, 8
                active = total = (i + 1) * leak_per_sample // leak_objsize
            slabs = -(-total // per_slab)
            rows.append(
                f"{name:<17} {active:6d} {total:6d} {size:6d} {per_slab:4d} {f[5]:>4} : tunables    0    0    0"
                f" : slabdata {slabs:6d} {slabs:6d}      0"
            )
        (d / "slabinfo").write_text("\n".join(rows) + "\n")
        with open(d / "vmallocinfo", "w") as out:
            addr = 0xFFFFB00000000000
            for k in range(lines):
                f = vm_real[k % len(vm_real)]
                size = int(f[1])
                caller = f[2] if k < len(vm_real) else re.sub(r"\+0x", f"_synth{k % 500}+0x", f[2], count=1)
                out.write(f"0x{addr:016x}-0x{addr + size:016x} {size:7d} {caller} {' '.join(f[3:])}\n")
                addr += size
        grown = i * leak_per_sample // 1024
        (d / "meminfo").write_text(_add_kib(_add_kib(meminfo, "SUnreclaim", grown), "Slab", grown))
        up = up0 + i * INTERVAL
        (d / "uptime").write_text(f"{up:.2f} {up:.2f}\n")
        stamp = (wall0 + timedelta(seconds=i * INTERVAL)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        (d.parent / "timestamp").write_text(stamp + "\n")
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    return {"files": [str(p) for p in files], "bytes": sum(p.stat().st_size for p in files)}


def _add_kib(meminfo: str, name: str, kib: int) -> str:
    return re.sub(rf"^({name}:\s+)(\d+)", lambda m: f"{m[1]}{int(m[2]) + kib}", meminfo, flags=re.M)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--sizes", default="1000x50000,2000x200000", help="CACHESxLINES, comma-separated")
    p.add_argument("--json", type=Path)
    p.add_argument("--before", type=Path, help="an engine directory (holding kleak_runbook/) to run side by side")
    args = p.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="kleak-replay-bench-"))
    env = bench_env(work)
    payload: dict[str, Any] = {"versions": versions()}
    try:
        real = work / "real"
        check(
            timed([tool("kleak-runbook"), "run", "--samples", "1", "--out", str(real), "-q"], env, work),
            "run",
            work,
            (0, 1),
        )
        bundles = {}
        for caches, lines in sizes:
            dest = work / f"synth-{caches}x{lines}"
            bundles[(caches, lines)] = (dest, synthetic_bundle(real, dest, caches, lines))
        series: dict[Any, tuple[Series, Series]] = {
            size: (
                Series(f"replay {size[0]} caches + {size[1]} vmallocinfo lines x {SAMPLES}"),
                Series("cat of the same files"),
            )
            for size in sizes
        }
        older = {size: Series(f"the same, engine of {args.before}") for size in sizes}
        code = f"import sys; sys.path.insert(0, {str(args.before)!r}); from kleak_runbook.cli import main; sys.exit(main())"
        verdicts: dict[Any, str] = {}
        before = load()
        for k in range(-1, args.repeat):  # round -1 warms caches and is not counted
            for size, (dest, shape) in bundles.items():
                out = work / f"out-{size[0]}-{k}"
                cmd = [tool("kleak-runbook"), "replay", str(dest), "--out", str(out), "-q", "--format", "json"]
                t = check(timed(cmd, env, work, work / "replay.json"), "replay", work, (0, 1, 3))
                doc = json.loads((work / "replay.json").read_text())
                verdicts[size] = (
                    f"{doc['verdict']}/{doc['kind']}, culprit {doc['culprits'][0]['name'] if doc['culprits'] else '-'}"
                )
                shutil.rmtree(out)
                c = check(timed(["cat", *shape["files"]], env, work, Path("/dev/null")), "cat", work)
                if args.before is not None:
                    cmd = [sys.executable, "-c", code, "replay", str(dest), "--out", str(out), "-q"]
                    then = check(timed(cmd, env, work), "replay (before)", work, (0, 1, 3))
                    shutil.rmtree(out)
                    if k >= 0:
                        older[size].runs.append(then)
                if k >= 0:
                    series[size][0].runs.append(t)
                    series[size][1].runs.append(c)
                    print(f"  [{k + 1}/{args.repeat}] {size}: {t.wall:.3f} s (cat {c.wall:.3f} s)", file=sys.stderr)
        after = load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n## Replay of SYNTHETIC bundles, {args.repeat} interleaved rounds (load average {before} before, {after} after)\n"
    )
    print("| bundle | wall median s | min-max (runs) | CPU median s | peak RSS MiB | target | verdict |")
    print("|---|---:|---|---:|---:|---|---|")
    for size, (ours, cat) in series.items():
        rss = max(r.max_rss_kib for r in ours.runs) / 1024
        goal = TARGETS.get(size)
        met = (
            ""
            if goal is None
            else f"<= {goal} s: {'met' if ours.median() <= goal else 'MISSED'}; RSS {'met' if rss <= RSS_TARGET_MIB else 'MISSED'}"
        )
        mb = bundles[size][1]["bytes"] / 1e6
        print(
            f"| {ours.label} ({mb:.0f} MB) | {ours.median():.3f} | {spread(ours.walls())} | {ours.cpu():.3f} | {rss:.0f} | {met} | {verdicts[size]} |"
        )
        print(
            f"| {cat.label} | {cat.median():.3f} | {spread(cat.walls())} | {cat.cpu():.3f} | {max(r.max_rss_kib for r in cat.runs) / 1024:.0f} | | |"
        )
        old = older[size]
        if old.runs:
            rss_old = max(r.max_rss_kib for r in old.runs) / 1024
            print(f"| {old.label} | {old.median():.3f} | {spread(old.walls())} | {old.cpu():.3f} | {rss_old:.0f} | | |")
        payload[f"{size[0]}x{size[1]}"] = {
            "replay": [r.__dict__ for r in ours.runs],
            "cat": [r.__dict__ for r in cat.runs],
            "before": [r.__dict__ for r in old.runs],
        }
    print("\n" + "\n".join(f"- {k}: {v}" for k, v in payload["versions"].items()))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
