"""Fleet benchmark: ``kleak-runbook run -i`` over N inventory hosts against a bare ``ansible -m raw``
of the same files, side by side in one run, through the installed console scripts.

The hosts are aliases spread over several real sshd instances on loopback (``tests/support/sshd.py``),
each listening on 16 loopback addresses (127.0.0.1 and 127.0.K.1-15) with ``MaxStartups`` raised, so
that SSH masters are shared by about N/(16 x instances) aliases, as in both tools alike. Run as root:

    python bench/fleet.py --hosts 100 --repeat 3
    python bench/fleet.py --hosts 1000 --repeat 1 --json /tmp/fleet-1000.json

Each row: wall time, CPU (user + system of the command and everything it waited for, from
``wait4``), CPU per host, peak RSS of the command's own process (``VmHWM``: the controller, whose
memory grows with the fleet) and of the largest process of the tree (``ru_maxrss``), and how
many hosts answered (ours: hosts with a verdict in fleet.json; bare: ``| SUCCESS`` lines).
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
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.sshd import Sshd  # noqa: E402

PIN_PATH = ("-e", f"min_growth_bytes={1 << 40}")  # one collection round, as the bare call
EXTRA_ADDRESSES = 15  # sshd listens on at most 16 sockets


class FleetSshd(Sshd):
    """An sshd on 127.0.0.1 and 15 more loopback addresses, with MaxStartups raised for a fleet."""

    def __init__(self, index: int) -> None:
        super().__init__(users=("root",))
        self.addresses = ["127.0.0.1"] + [f"127.0.{index + 1}.{j}" for j in range(1, EXTRA_ADDRESSES + 1)]

    def _write_config(self) -> Path:
        config = super()._write_config()
        text = config.read_text(encoding="utf-8")
        text = text.replace("MaxStartups 100:30:200", "MaxStartups 1000:30:2000")
        extra = "".join(f"ListenAddress {a}\n" for a in self.addresses[1:])
        config.write_text(
            text.replace("ListenAddress 127.0.0.1\n", "ListenAddress 127.0.0.1\n" + extra), encoding="utf-8"
        )
        return config


@dataclass
class Row:
    what: str
    wall: float
    cpu: float
    max_rss_mib: float
    own_rss_mib: float  # the command's own process (the controller), not its forks
    answered: int
    rc: int
    missed: str = ""  # why hosts had no verdict (ours: fleet.json's groups)


def _peak_of(pid: int, peak: list[int], stop: threading.Event) -> None:
    """The controller process's own peak RSS (VmHWM), not its forks': read until it exits."""
    status = Path(f"/proc/{pid}/status")
    while not stop.wait(0.2):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, float, int, str]:
    """Wall, CPU of the tree, peak RSS of the tree's largest process and of the command itself
    (MiB), exit code; its stdout."""
    peak = [0]
    stop = threading.Event()
    with open(cwd / "out.txt", "wb") as out, open(cwd / "err.txt", "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        watcher = threading.Thread(target=_peak_of, args=(proc.pid, peak, stop), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join()
    rc = os.waitstatus_to_exitcode(status)
    text = (cwd / "out.txt").read_text(errors="replace")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 1024, rc, text


def same_files_command() -> str:
    """What one sample of ours reads: every spec, sampled and static (as bench/overhead.py)."""
    from kleak_runbook.evidence.specs import SPECS

    files = [s.host_path for s in SPECS.values() if not s.command]
    commands = [s.command for s in SPECS.values() if s.command]
    return f"cat {' '.join(files)} 2>/dev/null; " + "; ".join(f"{c} 2>/dev/null" for c in commands) + "; true"


def tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found")
    return found


def inventory(path: Path, servers: list[FleetSshd], hosts: int) -> None:
    endpoints = [(a, s.port) for s in servers for a in s.addresses]
    lines = [
        f"h{i:04d} ansible_host={endpoints[i % len(endpoints)][0]} ansible_port={endpoints[i % len(endpoints)][1]}"
        for i in range(hosts)
    ]
    path.write_text("[fleet]\n" + "\n".join(lines) + "\n", encoding="utf-8")


def ours(inv: Path, key: Path, forks: int, env: dict[str, str], work: Path, n: int) -> Row:
    out = work / f"ours-{n}"
    cmd = [tool("kleak-runbook"), "run", "-i", str(inv), "-u", "root", "--private-key", str(key)]
    cmd += ["--forks", str(forks), "--samples", "1", "--out", str(out), "-q", *PIN_PATH]
    wall, cpu, rss, own, rc, _ = timed(cmd, env, work)
    doc = json.loads((out / "fleet.json").read_text(encoding="utf-8")) if (out / "fleet.json").exists() else {}
    answered = doc.get("hosts", 0) - doc.get("verdicts", {}).get("inconclusive", 0)
    missed = "; ".join(f"{g['reason']}: {len(g['hosts'])}" for g in doc.get("no_verdict", []))
    shutil.rmtree(out, ignore_errors=True)
    return Row("kleak-runbook run -i (1 sample)", wall, cpu, rss, own, answered, rc, missed)


def bare(inv: Path, key: Path, forks: int, env: dict[str, str], work: Path) -> Row:
    cmd = [tool("ansible"), "all", "-i", str(inv), "-u", "root", "--private-key", str(key)]
    cmd += ["--forks", str(forks), "-m", "raw", "-a", same_files_command()]
    wall, cpu, rss, own, rc, text = timed(cmd, env, work)
    answered = sum(1 for line in text.splitlines() if " | SUCCESS" in line or " | CHANGED" in line)
    return Row("bare ansible all -m raw", wall, cpu, rss, own, answered, rc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--servers", type=int, default=4, help="sshd instances")
    ap.add_argument("--forks", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kleak-fleet-bench-"))
    servers = [FleetSshd(i) for i in range(args.servers)]
    try:
        for s in servers:
            s.start()
        key = servers[0].key
        for s in servers[1:]:  # one client key for every server
            (s.dir / "authorized_keys" / "root").write_text(key.with_name(key.name + ".pub").read_text())
        inv = work / "hosts.ini"
        inventory(inv, servers, args.hosts)
        env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False"}
        env["ANSIBLE_SSH_COMMON_ARGS"] = "-o UserKnownHostsFile=/dev/null"
        env.pop("KLEAK_DEBUG", None)
        rows: list[Row] = []
        for n in range(args.repeat):  # interleaved: the machine's load hits both alike
            rows.append(bare(inv, key, args.forks, env, work))
            rows.append(ours(inv, key, args.forks, env, work, n))
            print(f"round {n + 1}: bare {rows[-2].wall:.1f}s, ours {rows[-1].wall:.1f}s", file=sys.stderr)
        report(rows, args)
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\n{args.hosts} hosts over {args.servers} sshd x 16 addresses, --forks {args.forks}, {args.repeat} rounds")
    print(
        "\n| what | median wall s | runs | CPU s | CPU ms/host | peak RSS MiB, controller / largest | hosts answered |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    base = None
    for what in dict.fromkeys(r.what for r in rows):
        mine = [r for r in rows if r.what == what]
        wall = statistics.median(r.wall for r in mine)
        cpu = statistics.median(r.cpu for r in mine)
        base = base or wall
        print(
            f"| {what} | {wall:.1f} | {' '.join(f'{r.wall:.1f}' for r in mine)} | {cpu:.1f} | "
            f"{1000 * cpu / args.hosts:.0f} | {max(r.own_rss_mib for r in mine):.0f} / {max(r.max_rss_mib for r in mine):.0f} | "
            f"{min(r.answered for r in mine)}/{args.hosts} |"
        )
    for r in rows:
        if r.missed:
            print(f"\n{r.what}: hosts without a verdict: {r.missed}")
    walls = {w: statistics.median(r.wall for r in rows if r.what == w) for w in dict.fromkeys(r.what for r in rows)}
    a, b = list(walls.values())
    print(f"\nours / bare: {b / a:.2f} x wall")


if __name__ == "__main__":
    sys.exit(main())
