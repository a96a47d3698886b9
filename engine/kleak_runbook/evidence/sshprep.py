"""Open the SSH master connection while Ansible is still starting up.

``ansible-playbook`` spends about half a second importing before its worker runs ``ssh``; the
key exchange and authentication (~0.2 s on a LAN) can happen during that time instead of after
it. The master listens on the ControlPath that Ansible's ``ssh`` then finds and reuses: both
use ``<dir>/%C``, a hash of local host, remote host, port and user, which both give identically.

The master is never less strict than Ansible would be, and never differently routed: it takes
the settings Ansible takes for an SSH connection from the environment or the one ansible.cfg
Ansible reads (host key checking, remote user, port, key, ``ssh_common_args`` and
``ssh_extra_args``), runs in batch mode, and if it fails or is late Ansible connects on its own
as usual. It is only tried for a single ``--host`` whose connection options are all known.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

CONNECT_TIMEOUT_S = 10
# sun_path is 108 bytes; %C is 40 hex digits and ssh binds under a 17-character temporary suffix
_SUN_PATH = 104


def shared_control_path(control_dir: Path) -> str | None:
    """``<dir>/%C`` when such a socket path fits, else None (Ansible then names its own)."""
    if len(str(control_dir)) + 1 + 40 + 17 >= _SUN_PATH:
        return None
    return f"{control_dir}/%C"


def ansible_cfg(env: Mapping[str, str], cwd: Path | None = None) -> configparser.ConfigParser | None:
    """The one config file Ansible reads: $ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg."""
    candidates = [
        env.get("ANSIBLE_CONFIG", ""),
        str((cwd or Path.cwd()) / "ansible.cfg"),
        os.path.expanduser("~/.ansible.cfg"),
        "/etc/ansible/ansible.cfg",
    ]
    for path in candidates:
        if path and os.path.isfile(path):
            cfg = configparser.ConfigParser(interpolation=None, strict=False, inline_comment_prefixes=(";",))
            try:
                cfg.read(path)
            except (configparser.Error, OSError, UnicodeDecodeError):
                return None  # unreadable: do not guess what Ansible makes of it
            return cfg
    return configparser.ConfigParser()


def _setting(env: Mapping[str, str], cfg: configparser.ConfigParser, var: str, section: str, key: str) -> str | None:
    if var in env:
        return env[var]
    if cfg.has_option(section, key):
        return cfg.get(section, key)
    return None


def _false(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("0", "false", "no", "off", "n", "f")


def user_ssh_args(env: Mapping[str, str], cfg: configparser.ConfigParser | None) -> list[str]:
    """ssh_args the user gave Ansible (environment or ansible.cfg); ours replace Ansible's default
    and come first, since ssh keeps the first value it sees for an option (our ControlPath)."""
    text = _setting(env, cfg or configparser.ConfigParser(), "ANSIBLE_SSH_ARGS", "ssh_connection", "ssh_args")
    return shlex.split(text) if text else []


def master_command(
    host: str,
    *,
    ssh_args: list[str],
    user: str | None,
    port: int | None,
    private_key: str | None,
    env: Mapping[str, str],
    cfg: configparser.ConfigParser,
) -> list[str]:
    """The ``ssh`` command that opens the master as Ansible's connection would be made;
    ``ssh_args`` are exactly those Ansible is given (ANSIBLE_SSH_ARGS)."""
    cmd = [
        "ssh",
        *ssh_args,
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT_S}",
    ]
    if _false(_setting(env, cfg, "ANSIBLE_HOST_KEY_CHECKING", "defaults", "host_key_checking")):
        cmd += ["-o", "StrictHostKeyChecking=no"]
    port_text = str(port) if port else _setting(env, cfg, "ANSIBLE_REMOTE_PORT", "defaults", "remote_port")
    if port_text:
        cmd += ["-o", f"Port={port_text}"]
    user = user or _setting(env, cfg, "ANSIBLE_REMOTE_USER", "defaults", "remote_user")
    if user:
        cmd += ["-o", f"User={user}"]
    key = private_key or _setting(env, cfg, "ANSIBLE_PRIVATE_KEY_FILE", "defaults", "private_key_file")
    if key:
        cmd += ["-o", f"IdentityFile={os.path.expanduser(key)}"]
    for var, key_name in (("ANSIBLE_SSH_COMMON_ARGS", "ssh_common_args"), ("ANSIBLE_SSH_EXTRA_ARGS", "ssh_extra_args")):
        extra = _setting(env, cfg, var, "ssh_connection", key_name)
        if extra:
            cmd += shlex.split(extra)
    # `true` runs once the master is up; the master then stays behind (ControlPersist)
    return [*cmd, "--", host, "true"]


def start_master(
    host: str | None,
    control_dir: Path,
    *,
    user: str | None,
    port: int | None,
    private_key: str | None,
    overrides: Mapping[str, str],
    ssh_args: list[str],
    cfg: configparser.ConfigParser | None,
) -> subprocess.Popen[bytes] | None:
    """Start the master in the background; None where it is not tried (see the module docstring)."""
    if host is None or host in ("localhost", "127.0.0.1-local") or overrides:
        return None
    if shared_control_path(control_dir) is None or shutil.which("ssh") is None:
        return None
    env = dict(os.environ)
    if cfg is None:  # an ansible.cfg we could not read: do not guess what Ansible makes of it
        return None
    # passwords, ProxyCommand from inventory plugins and the like are beyond what we mirror
    if _setting(env, cfg, "ANSIBLE_SSH_EXECUTABLE", "ssh_connection", "ssh_executable") not in (None, "ssh"):
        return None
    cmd = master_command(host, ssh_args=ssh_args, user=user, port=port, private_key=private_key, env=env, cfg=cfg)
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
