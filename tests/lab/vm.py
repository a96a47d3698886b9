"""Boot the kernel lab VM (QEMU) and reach it over SSH; load the leaky test module.

One VM at a time: :class:`LabVM` boots the image that ``build-image.sh`` made, with
the disk opened ``snapshot=on`` so every boot starts clean, and :class:`LabPool`
keeps at most one of them running, rebooting only when other kernel parameters
are asked for. Every QEMU started here dies with this process (``PR_SET_PDEATHSIG``),
at exit, and on SIGTERM/SIGHUP, so none outlives a test run.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build-image.sh"
BASE_KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 net.ifnames=1 panic=-1"
# the guest kernel saying it is stuck, during boot
STALL_MARKERS = ("rcu: INFO: rcu_preempt detected stalls", "BUG: soft lockup", "Kernel panic")
SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=5",
)  # fmt: skip
LEAK_KINDS = ("kmalloc", "cache", "vmalloc", "pages", "percpu")
# One lab VM per machine: test runs in other processes wait here instead of booting a second VM.
LOCK_FILE = Path(os.environ.get("KLEAK_LAB_LOCK", "/tmp/kleak-lab.lock"))


class MachineLock:
    """An exclusive ``flock`` on LOCK_FILE, held while this process has a lab VM."""

    def __init__(self) -> None:
        self._fh: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when this process already holds it."""
        if self._fh is not None:
            return False
        fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lab VM: waiting for another test run's VM ({LOCK_FILE})", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._fh = fd
        return True

    def release(self) -> None:
        if self._fh is not None:
            os.close(self._fh)  # closing the descriptor drops the lock
            self._fh = None


MACHINE_LOCK = MachineLock()


class LabError(Exception):
    """The lab could not be built, booted or reached."""


@dataclass(frozen=True)
class LabImage:
    """A complete build of the lab image: one cache directory of build-image.sh."""

    path: Path

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs.img"

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"

    @property
    def private_key(self) -> Path:
        return self.path / "id_ed25519"

    @property
    def kernel_release(self) -> str:
        return (self.path / "kernel-release").read_text().strip()


def build_image() -> LabImage:
    """Build the image, or reuse the cached one; its output is streamed to stderr."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise LabError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    image = LabImage(Path(lines[-1]))
    if not (image.path / ".complete").is_file():
        raise LabError(f"{BUILD_SCRIPT} printed {image.path}, which holds no complete image")
    return image


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel kills QEMU if we die.
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


_running: set[LabVM] = set()


def _kill_all() -> None:
    for vm in list(_running):
        vm.kill()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_guards_installed = False


def _install_guards() -> None:
    """Kill every lab VM at exit and on SIGTERM/SIGHUP (done on first boot, not at import)."""
    global _guards_installed
    if _guards_installed:
        return
    _guards_installed = True
    atexit.register(_kill_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)


class LabVM:
    """One boot of the lab image under QEMU, reachable on 127.0.0.1:<port> over SSH."""

    def __init__(self, image: LabImage, workdir: Path) -> None:
        self.image = image
        self.workdir = workdir
        self.port = 0
        self.extra_kernel_args = ""
        self.memory_mib = 1024
        self.serial_log = workdir / "serial.log"
        self.boot_seconds = 0.0  # QEMU start to SSH answering (the successful attempt)
        self.boot_attempts = 0
        self.settle_seconds = 0.0  # then until boot is over and MemFree holds still
        self._proc: subprocess.Popen[bytes] | None = None
        self._cache_loads = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def private_key(self) -> Path:
        return self.image.private_key

    def qemu_command(self, extra_kernel_args: str, memory_mib: int, cpus: int) -> list[str]:
        accel = os.environ.get("KLEAK_LAB_ACCEL", "tcg")
        append = f"{BASE_KERNEL_ARGS} {extra_kernel_args}".strip()
        return [
            "qemu-system-x86_64",
            "-accel", accel,
            *(["-cpu", "host"] if accel == "kvm" else []),
            "-m", str(memory_mib),
            "-smp", str(cpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", f"file:{self.serial_log}",
            "-drive", f"file={self.image.rootfs},if=virtio,format=raw,snapshot=on",
            "-kernel", str(self.image.kernel),
            "-initrd", str(self.image.initrd),
            "-append", append,
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device", "virtio-net-pci,netdev=net0,romfile=",
        ]  # fmt: skip

    def start(
        self,
        extra_kernel_args: str = "",
        memory_mib: int = 1024,
        cpus: int = 2,
        timeout: float = 120,
        settle: bool = True,
        attempts: int = 3,
    ) -> None:
        """Boot, wait until root can log in over SSH, then (with settle) until memory is quiet.

        Under TCG the guest kernel now and then stalls early in boot (seen here once in about
        twenty boots: CPU 0 stuck in the idle loop right after "Switched to clocksource hpet",
        RCU stall reports every minute, never reaching userspace). A stall report on the serial
        console, or no SSH within ``timeout``, ends that attempt; the next one boots afresh (the
        disk is a snapshot, nothing carries over). Failed attempts keep their serial log.
        """
        if self.running:
            raise LabError("this VM is already running")
        if _running:
            raise LabError("another lab VM is running; the lab runs one VM at a time")
        _install_guards()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.extra_kernel_args = extra_kernel_args
        self.memory_mib = memory_mib
        self._cache_loads = 0
        failures: list[str] = []
        for attempt in range(1, attempts + 1):
            self.boot_attempts = attempt
            why = self._boot_once(extra_kernel_args, memory_mib, cpus, timeout)
            if why is None:
                break
            kept = self.workdir / f"serial.attempt{attempt}.log"
            with contextlib.suppress(OSError):
                self.serial_log.rename(kept)
            failures.append(f"attempt {attempt}: {why} (console: {kept})")
            print(f"lab VM: boot {why}; serial log kept in {kept}", file=sys.stderr)
        else:
            raise LabError(f"the lab VM did not boot in {attempts} attempts: " + "; ".join(failures))
        if settle:
            started = time.monotonic()
            try:
                self.settle()
            except BaseException:
                self.kill()
                raise
            self.settle_seconds = time.monotonic() - started

    def _boot_once(self, extra_kernel_args: str, memory_mib: int, cpus: int, timeout: float) -> str | None:
        """One boot up to SSH answering: None on success, else why it failed (QEMU then killed)."""
        self.port = free_port()
        cmd = self.qemu_command(extra_kernel_args, memory_mib, cpus)
        started = time.monotonic()
        with open(self.workdir / "qemu.log", "wb") as qemu_log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=qemu_log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        _running.add(self)
        deadline = started + timeout
        while True:
            if not self.running:
                diagnostics = self._diagnostics()
                self.kill()
                raise LabError(f"QEMU exited during boot\n{diagnostics}")
            probe = self.ssh("true", check=False, timeout=15)
            if probe.returncode == 0:
                self.boot_seconds = time.monotonic() - started
                return None
            stalled = self._serial_has(*STALL_MARKERS)
            if stalled or time.monotonic() > deadline:
                self.kill()
                return f"stalled ({stalled!r} on the console)" if stalled else f"no SSH after {timeout:.0f} s"
            time.sleep(2)

    def _serial_has(self, *markers: str) -> str | None:
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError:
            return None
        return next((m for m in markers if m in text), None)

    def settle(self, timeout: float = 120, window: int = 3, interval: float = 3, quiet_kib: int = 256) -> None:
        """Wait until boot is over and MemFree holds still.

        For ~10-15 s after SSH first answers, MemFree keeps falling by a few MiB that no
        meminfo field accounts for (boot finishing); a scenario sampling then would see a
        page-allocator "leak" on a healthy host.
        """
        deadline = time.monotonic() + timeout
        self.ssh("systemctl is-system-running --wait >/dev/null 2>&1 || true", check=False, timeout=timeout)
        readings: list[int] = []
        while time.monotonic() < deadline:
            out = self.ssh("grep MemFree: /proc/meminfo").stdout
            readings = [*readings, int(out.split()[1])][-window:]
            if len(readings) == window and max(readings) - min(readings) < quiet_kib:
                return
            time.sleep(interval)
        raise LabError(f"MemFree did not settle within {timeout:.0f} s: {readings} kB")

    def stop(self, timeout: float = 45) -> None:
        """Power off cleanly over SSH; kill QEMU if it does not exit in time."""
        if not self.running:
            self.kill()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ssh("systemctl --no-block poweroff", check=False, timeout=15)
        assert self._proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout)
        self.kill()

    def kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _running.discard(self)

    def ssh_command(self, cmd: str, user: str = "root") -> list[str]:
        return [
            "ssh", *SSH_OPTIONS, "-i", str(self.private_key), "-p", str(self.port),
            f"{user}@127.0.0.1", cmd,
        ]  # fmt: skip

    def ssh(
        self, cmd: str, user: str = "root", check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the VM; with check, fail on a non-zero exit."""
        proc = subprocess.run(self.ssh_command(cmd, user), capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise LabError(
                f"ssh {user}@vm {cmd!r} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def load_module(
        self,
        kind: str,
        rate_kib: int = 1024,
        total_kib: int = 65536,
        size: int = 4096,
        cache_name: str | None = None,
    ) -> str:
        """insmod /root/leaky.ko with these parameters; returns the slab cache name for kind=cache."""
        if kind not in LEAK_KINDS:
            raise ValueError(f"kind must be one of {LEAK_KINDS}, not {kind!r}")
        params = [f"kind={kind}", f"rate_kib={rate_kib}", f"total_kib={total_kib}", f"size={size}"]
        if kind == "cache":
            # A leaked cache cannot be destroyed, so each load in one boot needs its own name.
            self._cache_loads += 1
            if cache_name is None:
                cache_name = "leaky_obj" if self._cache_loads == 1 else f"leaky_obj{self._cache_loads}"
            params.append(f"cache_name={cache_name}")
        self.ssh("insmod /root/leaky.ko " + " ".join(shlex.quote(p) for p in params))
        return cache_name or ""

    def unload_module(self) -> None:
        """rmmod leaky if it is loaded; what it leaked stays allocated."""
        self.ssh("if grep -q '^leaky ' /proc/modules; then rmmod leaky; fi")

    @contextlib.contextmanager
    def leaking(self, kind: str, rate_kib: int = 1024, total_kib: int = 65536, size: int = 4096) -> Iterator[str]:
        """Leak while the block runs, then rmmod (the leak stops growing, the memory stays)."""
        name = self.load_module(kind, rate_kib=rate_kib, total_kib=total_kib, size=size)
        try:
            yield name
        finally:
            self.unload_module()

    @contextlib.contextmanager
    def negative_dentries(self, seconds: int = 180) -> Iterator[int]:
        """A user-space loop stat()ing missing paths: reclaimable dentry growth, not a leak."""
        script = (
            "import os, time\n"
            f"end = time.time() + {seconds}\n"
            "i = 0\n"
            "while i % 4096 or time.time() < end:\n"
            "    i += 1\n"
            "    try:\n"
            "        os.stat('/tmp/kleak-missing-%d' % i)\n"
            "    except FileNotFoundError:\n"
            "        pass\n"
        )
        out = self.ssh(f"setsid nohup python3 -c {shlex.quote(script)} </dev/null >/dev/null 2>&1 & echo $!").stdout
        pid = int(out.split()[-1])
        try:
            yield pid
        finally:
            self.ssh(f"kill {pid} 2>/dev/null || true", check=False)

    def _diagnostics(self) -> str:
        parts = []
        for log in (self.workdir / "qemu.log", self.serial_log):
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-40:]
                parts.append(f"--- last lines of {log} ---\n" + "\n".join(tail))
        return "\n".join(parts)


class LabPool:
    """Keeps at most one lab VM running; reboots only for other kernel parameters."""

    def __init__(self, image: LabImage, workdir: Path) -> None:
        self.image = image
        self.workdir = workdir
        self.boots = 0
        self._vm: LabVM | None = None

    def vm(self, extra_kernel_args: str = "", memory_mib: int = 1024) -> LabVM:
        current = self._vm
        if (
            current is not None
            and current.running
            and current.extra_kernel_args == extra_kernel_args
            and current.memory_mib == memory_mib
        ):
            return current
        self.close()
        MACHINE_LOCK.acquire()
        self.boots += 1
        vm = LabVM(self.image, self.workdir / f"boot-{self.boots}")
        vm.start(extra_kernel_args, memory_mib=memory_mib)
        print(
            f"lab VM: SSH after {vm.boot_seconds:.1f} s (boot attempt {vm.boot_attempts}), "
            f"settled {vm.settle_seconds:.1f} s later "
            f"(port {vm.port}, kernel args {extra_kernel_args!r})",
            file=sys.stderr,
        )
        self._vm = vm
        return vm

    def close(self) -> None:
        if self._vm is not None:
            self._vm.stop()
            self._vm = None
        MACHINE_LOCK.release()


@contextlib.contextmanager
def booted(image: LabImage, workdir: Path, extra_kernel_args: str = "") -> Iterator[LabVM]:
    """A VM booted with extra kernel parameters (e.g. ``slub_debug=U,leaky_obj``) for one block."""
    vm = LabVM(image, workdir)
    mine = MACHINE_LOCK.acquire()
    try:
        vm.start(extra_kernel_args)
        yield vm
    finally:
        vm.stop()
        if mine:
            MACHINE_LOCK.release()
