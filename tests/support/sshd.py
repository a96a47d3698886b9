"""A real OpenSSH sshd on 127.0.0.1 for the SSH tests and the benchmark (stdlib only).

:class:`Sshd` writes a config, a host key and a client ed25519 key into a private temp dir,
starts ``/usr/sbin/sshd -D -e -f <config>`` on a free port and waits until it answers with
an SSH banner. Keys are authorized for root and for the non-root :data:`TEST_USER`
(``AuthorizedKeysFile <dir>/authorized_keys/%u``, readable by that user, because sshd reads
it with the user's privileges). :func:`grant_sudo` gives that user passwordless sudo for
``--become`` tests. :func:`ensure_packages` installs openssh-server and sudo from Debian's
packages when they are missing (the README's test command must pass on a fresh machine, as the
lab installs QEMU for itself); where that cannot be done, :class:`SshdUnavailable` says what to
install.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SSHD = Path("/usr/sbin/sshd")
TEST_USER = "kleaktest"
SUDOERS_FILE = Path("/etc/sudoers.d/kleak-runbook-tests")
# sshd's privilege separation directory; Debian's package creates it only at boot (tmpfiles).
PRIVSEP_DIR = Path("/run/sshd")


class SshdUnavailable(RuntimeError):
    """A binary the SSH tests need is not installed (the message says what to install)."""


class SshdError(RuntimeError):
    """sshd did not start or did not answer; the message carries its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


PACKAGES = ("openssh-server", "openssh-client", "sudo")


def ensure_packages() -> None:
    """Install what the SSH tests need (sshd, ssh, sudo) when missing, as root with apt-get."""
    if SSHD.exists() and shutil.which("ssh") and shutil.which("sudo") and shutil.which("visudo"):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SshdUnavailable(f"the SSH tests need {', '.join(PACKAGES)} (apt-get install -y {' '.join(PACKAGES)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise SshdUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}")


def ensure_user(name: str = TEST_USER) -> bool:
    """Create the non-root test user if missing, with an account sshd will let in; True when
    this call created it (and so the caller removes it: :func:`remove_user`).

    ``useradd`` locks the password (``!`` in shadow) and sshd without PAM refuses locked
    accounts even for public keys; ``*`` means "no password" without the lock.
    """
    created = False
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "--system", "-m", "-s", "/bin/sh", name])
        created = True
    _run(["usermod", "-p", "*", name])
    return created


def remove_user(name: str = TEST_USER) -> None:
    """Remove the test user and its home directory (what ensure_user created)."""
    subprocess.run(["userdel", "-r", name], capture_output=True, timeout=60, check=False)


def grant_sudo(name: str = TEST_USER) -> Path:
    """Passwordless sudo for ``name``; returns the sudoers drop-in to remove afterwards."""
    if shutil.which("sudo") is None or shutil.which("visudo") is None:
        raise SshdUnavailable("sudo is not installed (apt-get install -y sudo; .ci/run does it)")
    staged = SUDOERS_FILE.with_name(".kleak-runbook-tests.tmp")
    staged.write_text(f"{name} ALL=(ALL) NOPASSWD: ALL\n", encoding="utf-8")
    staged.chmod(0o440)
    _run(["visudo", "-c", "-q", "-f", str(staged)])
    staged.replace(SUDOERS_FILE)
    return SUDOERS_FILE


class Sshd:
    """One sshd process on 127.0.0.1; use as a context manager or call start()/stop()."""

    host = "127.0.0.1"

    def __init__(self, users: tuple[str, ...] = ("root",)) -> None:
        self.users = users
        self.dir = Path(tempfile.mkdtemp(prefix="kleak-sshd-"))
        self.key = self.dir / "client_ed25519"
        self.port = 0
        self.log = self.dir / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sshd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 15.0) -> None:
        for tool in (str(SSHD), "ssh-keygen", "ssh"):
            if not (Path(tool).exists() if tool.startswith("/") else shutil.which(tool)):
                raise SshdUnavailable(
                    f"{tool} is not installed: the SSH tests need openssh-server and openssh-client "
                    "(apt-get install -y openssh-server; .ci/run does it)"
                )
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        # sshd reads authorized_keys as the logging-in user: the path must be traversable.
        self.dir.chmod(0o755)
        host_key = self.dir / "ssh_host_ed25519_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kleak-test-host", "-f", str(host_key)])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kleak-test-client", "-f", str(self.key)])
        keys = self.dir / "authorized_keys"
        keys.mkdir(mode=0o755)
        public = self.key.with_name(self.key.name + ".pub").read_text(encoding="utf-8")
        for user in self.users:
            path = keys / user
            path.write_text(public, encoding="utf-8")
            path.chmod(0o644)
        # A port can be taken between free_port() and sshd's bind(): try a few.
        for _attempt in range(5):
            self.port = free_port()
            config = self._write_config()
            _run([str(SSHD), "-t", "-f", str(config)])
            if self._spawn(config, timeout):
                return
        raise SshdError(f"sshd did not start on 127.0.0.1 after 5 attempts:\n{self.log_text()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def cli_args(self, user: str = "root") -> tuple[str, ...]:
        """``kleak-runbook run`` options that reach this sshd as ``user``."""
        return ("--host", self.host, "--port", str(self.port), "-u", user, "--private-key", str(self.key))

    def accepted(self, user: str) -> int:
        """How many logins of ``user`` this sshd has accepted so far (from its log)."""
        return self.log_text().count(f"Accepted publickey for {user} from {self.host}")

    def ssh_command(self, user: str = "root") -> list[str]:
        """A bare ``ssh`` command line to this sshd (no host key checks, no known_hosts writes)."""
        return [
            "ssh",
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"{user}@{self.host}",
        ]

    # --- internals -------------------------------------------------------------------------
    def _write_config(self) -> Path:
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {self.host}",
                    f"HostKey {self.dir / 'ssh_host_ed25519_key'}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}/%u",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "StrictModes no",
                    "UsePAM no",
                    # Several hosts (inventory aliases) and the benchmark connect at once.
                    "MaxStartups 100:30:200",
                    "MaxSessions 100",
                    "LogLevel INFO",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    def _spawn(self, config: Path, timeout: float) -> bool:
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                if "Address already in use" in self.log_text():
                    return False
                raise SshdError(f"sshd exited with status {proc.returncode}:\n{self.log_text()}")
            if _banner(self.host, self.port):
                self._proc = proc
                return True
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
        raise SshdError(f"sshd did not answer on {self.host}:{self.port} within {timeout:g}s:\n{self.log_text()}")


def _die_with_parent() -> None:
    # If the test run is killed (SIGKILL, SIGTERM) stop() never runs: the kernel ends sshd instead.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _banner(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SshdError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
