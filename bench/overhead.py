"""One host, one sample: ``kleak-runbook run --samples 1`` against a bare ``ansible -m raw`` of the same files.

Both through the installed console scripts, as a user runs them, each a fresh process with a
fresh ``--out``, on localhost (Ansible's local connection) and over loopback SSH to a real sshd
this script starts (tests/support/sshd.py). Every row of a target is run once per round, rounds
interleaved, so noise from whatever else the machine does hits all rows alike; one warm-up round
is not counted. Nothing is subtracted: the yardstick is the whole command against the whole command.

  kleak-runbook run   kleak-runbook run [--host 127.0.0.1 --port P -u root --private-key K] --samples 1 --out NEW
  bare ansible        ansible all -i HOST, [-c local] -m raw -a 'cat <every file ours collects>; uname -a; ...'
  bare ssh cat        ssh root@127.0.0.1 '<the same command>' (SSH only: what the wire itself costs)

The warm-up round also fills our cache directory (``KLEAK_CACHE_DIR`` in the work dir, as a
user's first run fills ``~/.cache/kleak-runbook``): the validation memo and compiled expressions,
so the counted rounds are a host's later runs with a fresh ``--out``.

Wall: median and min-max of the rounds. CPU: user + system of the whole process tree (wait4).
Needs root (sshd, /proc/slabinfo).

    python bench/overhead.py [--repeat 7] [--targets local,ssh] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import Series, Timed, bench_env, check, load, spread, timed, tool, versions
from support.sshd import Sshd

WALL_TARGET = 1.2  # issue 13: at most 1.2 x one bare `ansible -m raw` of the same files
CPU_TARGET = 1.5


def same_files_command() -> str:
    """A shell command that prints what one sample of ours reads: every spec, sampled and static."""
    from kleak_runbook.evidence.specs import SPECS

    files = [s.host_path for s in SPECS.values() if not s.command]
    commands = [s.command for s in SPECS.values() if s.command]
    return f"cat {' '.join(files)} 2>/dev/null; " + "; ".join(f"{c} 2>/dev/null" for c in commands) + "; true"


def close_masters(control_dir: Path) -> None:
    for sock in control_dir.iterdir() if control_dir.exists() else []:
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, check=False)


class Target:
    """One way of reaching the host: its rows, run once per round."""

    def __init__(self, name: str, work: Path, env: dict[str, str], sshd: Sshd | None, before: Path | None) -> None:
        self.name, self.work, self.env, self.sshd, self.before = name, work, env, sshd, before
        self.series = {
            "ours": Series(f"{name}: kleak-runbook run --samples 1"),
            "ansible": Series(f"{name}: bare ansible -m raw, same files"),
        }
        if before is not None:
            self.series["before"] = Series(f"{name}: the same, engine of {before}")
        if sshd is not None:
            self.series["ssh"] = Series(f"{name}: bare ssh cat, same files")
        self.paths: list[str] = []

    def ours(self, k: int, program: list[str] | None = None) -> Timed:
        out = self.work / f"{self.name}-ours-{k}"
        where = list(self.sshd.cli_args("root")) if self.sshd else []
        cmd = [*(program or [tool("kleak-runbook")]), "run", *where, "--samples", "1", "--out", str(out), "-q"]
        cmd += ["--format", "json"]
        t = check(timed(cmd, self.env, self.work, self.work / "ours.json"), "kleak-runbook run", self.work, (0, 1))
        doc = json.loads((self.work / "ours.json").read_text())
        self.paths.append(f"{doc['verdict']} via {' > '.join(v['step'] for v in doc['path'])}")
        if not (out / "report.md").exists():
            raise SystemExit(f"no report.md in {out}")
        shutil.rmtree(out)
        return t

    def ansible(self, k: int) -> Timed:
        cp = Path(tempfile.mkdtemp(prefix="cp-", dir=self.work))  # a fresh ControlPath: no master to reuse
        env = {**self.env, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(cp)}
        if self.sshd:
            where = ["-i", f"{self.sshd.host},", "-u", "root", "--private-key", str(self.sshd.key)]
            where += ["-e", f"ansible_port={self.sshd.port}"]
        else:
            where = ["-i", "localhost,", "-c", "local"]
        cmd = [tool("ansible"), "all", *where, "-m", "raw", "-a", same_files_command()]
        t = check(timed(cmd, env, self.work, self.work / "bare.out"), "ansible", self.work)
        if b"slabinfo - version" not in (self.work / "bare.out").read_bytes():
            raise SystemExit("bare ansible: no slabinfo in its output")
        close_masters(cp)
        return t

    def before_(self, k: int) -> Timed:
        """What the console script does (import main, run it), with another engine tree first on the path."""
        code = f"import sys; sys.path.insert(0, {str(self.before)!r}); from kleak_runbook.cli import main; sys.exit(main())"
        return self.ours(k, [sys.executable, "-c", code])

    def ssh(self, k: int) -> Timed:
        assert self.sshd is not None
        cmd = [*self.sshd.ssh_command("root"), same_files_command()]
        return check(timed(cmd, self.env, self.work, self.work / "ssh.out"), "ssh", self.work)

    def jobs(self) -> list[tuple[str, Callable[[int], Timed]]]:
        return [(key, getattr(self, "before_" if key == "before" else key)) for key in self.series]


def rounds(targets: list[Target], repeat: int) -> list[str]:
    """Warm-up, then ``repeat`` interleaved rounds of every row; the load average before each round."""
    loads = []
    for t in targets:
        for _key, job in t.jobs():
            job(-1)
    for k in range(repeat):
        loads.append(load())
        for t in targets:
            for key, job in t.jobs():
                t.series[key].runs.append(job(k))
                print(
                    f"  [{k + 1}/{repeat}] {t.series[key].label}: {t.series[key].runs[-1].wall:.3f} s", file=sys.stderr
                )
    return loads


def table(t: Target) -> tuple[list[str], dict[str, float]]:
    yard = t.series["ansible"]
    lines = [
        "| what | wall median s | wall min-max (runs) | CPU median s | / bare ansible: wall | CPU |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for s in t.series.values():
        lines.append(
            f"| {s.label} | {s.median():.3f} | {spread(s.walls())} | {s.cpu():.3f} "
            f"| {s.median() / yard.median():.2f} | {s.cpu() / yard.cpu():.2f} |"
        )
    ours = t.series["ours"]
    ratios = {"wall": ours.median() / yard.median(), "cpu": ours.cpu() / yard.cpu()}
    paired = [o.wall / a.wall for o, a in zip(ours.runs, yard.runs)]
    lines.append(
        f"\n{t.name}: wall {ratios['wall']:.2f} x (target <= {WALL_TARGET}: {'met' if ratios['wall'] <= WALL_TARGET else 'MISSED'}), "
        f"CPU {ratios['cpu']:.2f} x (target <= {CPU_TARGET}: {'met' if ratios['cpu'] <= CPU_TARGET else 'MISSED'}); "
        f"per-round ratios {spread(paired)}; peak RSS of ours {max(r.max_rss_kib for r in ours.runs) / 1024:.0f} MiB; "
        f"paths: {', '.join(sorted(set(t.paths)))}"
    )
    return lines, ratios


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--targets", default="local,ssh", help="comma-separated: local, ssh")
    p.add_argument("--json", type=Path, help="also write the raw numbers here")
    p.add_argument("--before", type=Path, help="an engine directory (holding kleak_runbook/) to run side by side")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark starts sshd and reads /proc/slabinfo")
    work = Path(tempfile.mkdtemp(prefix="kleak-bench-"))
    env = bench_env(work)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    payload: dict[str, Any] = {"versions": versions(), "repeat": args.repeat}
    try:
        with Sshd() as sshd:
            targets = [Target(n, work, env, sshd if n == "ssh" else None, args.before) for n in names]
            before = load()
            loads = rounds(targets, args.repeat)
            after = load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n## One host, one sample, {args.repeat} interleaved rounds (load average {before} before, {after} after)\n"
    )
    for t in targets:
        lines, ratios = table(t)
        print("\n".join(lines) + "\n")
        payload[t.name] = {
            "ratios": ratios,
            "series": {k: [r.__dict__ for r in s.runs] for k, s in t.series.items()},
            "paths": sorted(set(t.paths)),
        }
    print(f"load average at the start of each round: {'; '.join(loads)}")
    print(f"median of those 1-minute loads: {statistics.median(float(x.split()[0]) for x in loads):.2f}")
    print("\n" + "\n".join(f"- {k}: {v}" for k, v in payload["versions"].items()))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
