"""What the benchmarks share: timing a command's whole process tree, series, and the environment.

Every command is a fresh process run to completion; its wall time is measured around it and
its CPU is user + system time of the process and of every descendant it waited for (``wait4``),
which is the whole tree for our CLI (ansible-runner waits for ansible-playbook, which waits for
its workers and, on localhost, the shell that reads the files).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Timed:
    wall: float
    rc: int
    max_rss_kib: int
    cpu: float  # user + system of the child and everything it waited for


@dataclass
class Series:
    label: str
    runs: list[Timed] = field(default_factory=list)

    def walls(self) -> list[float]:
        return [r.wall for r in self.runs]

    def cpus(self) -> list[float]:
        return [r.cpu for r in self.runs]

    def median(self) -> float:
        return statistics.median(self.walls())

    def cpu(self) -> float:
        return statistics.median(self.cpus())


def timed(cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path | None = None) -> Timed:
    """Run cmd to completion: wall time, exit code, peak RSS and CPU of its tree (wait4)."""
    out_path = stdout or cwd / "last.stdout"
    with open(out_path, "wb") as out, open(cwd / "last.stderr", "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    return Timed(wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def check(t: Timed, what: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> Timed:
    if t.rc not in ok:
        err = (cwd / "last.stderr").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{what} failed with exit {t.rc}:\n{err}")
    return t


def tool(name: str) -> str:
    """The real console script next to this Python, as pip installed it (a pyenv shim adds ~0.1 s of bash)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found")
    return found


def bench_env(work: Path) -> dict[str, str]:
    """The environment every series runs in, ours and the yardsticks alike.

    Bytecode: a user's ``pip install`` leaves .pyc files next to every module. This sandbox sets
    PYTHONDONTWRITEBYTECODE=1, so an editable install here would compile our modules from source
    on every run (~0.07 s) while Ansible's came precompiled. Every series gets the same private
    cache instead (PYTHONPYCACHEPREFIX): filled by the warm-up round, nothing written to the tree.
    Our own memo of validation parses and compiled expressions and templates (``KLEAK_CACHE_DIR``,
    ``~/.cache/kleak-runbook`` for a user) starts empty in the work dir and is filled by the
    warm-up round too, as a user's is by their first run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
            "KLEAK_CACHE_DIR": str(work / "kleak-cache"),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_SSH_COMMON_ARGS": "-o UserKnownHostsFile=/dev/null",
            "ANSIBLE_NOCOLOR": "True",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spread(values: list[float]) -> str:
    """min-max and the runs, so a reader sees the noise, not just a median."""
    return f"{min(values):.2f}-{max(values):.2f} ({' '.join(f'{v:.2f}' for v in values)})"


def versions() -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError:
            return "n/a"
        text = (done.stdout or done.stderr).strip()
        return text.splitlines()[0] if text else "n/a"

    from importlib.metadata import version

    commit = out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = out(["git", "-C", str(REPO), "status", "--porcelain", "--", "engine", "playbooks", "runbooks"])
    return {
        "kleak-runbook": f"{version('kleak-runbook')} (commit {commit}{', work tree changed' if dirty != 'n/a' else ''})",
        "python": platform.python_version(),
        "ansible-core": version("ansible-core"),
        "ansible-runner": version("ansible-runner"),
        "openssh": out(["ssh", "-V"]),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
    }
