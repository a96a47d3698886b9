"""The prewarmed SSH master mirrors what Ansible would do (synthetic settings: edge cases of
configuration, no host involved). The real-sshd proof that Ansible reuses it is in
tests/integration/test_ssh.py::test_prewarmed_master_is_reused."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from kleak_runbook.evidence import sshprep
from kleak_runbook.evidence.ansible import AnsibleCollector, Target
from kleak_runbook.progress import Progress

CONTROL = ["-o", "ControlMaster=auto", "-o", "ControlPersist=120s", "-o", "ControlPath=/tmp/x/cp/%C"]


def cfg_of(text: str, tmp_path: Path) -> configparser.ConfigParser:
    (tmp_path / "ansible.cfg").write_text(text)
    cfg = sshprep.ansible_cfg({"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")})
    assert cfg is not None
    return cfg


def opts(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, w in enumerate(cmd) if w == "-o"]


def test_checks_host_keys_unless_ansible_would_not() -> None:
    empty = configparser.ConfigParser()
    strict = sshprep.master_command("h", ssh_args=CONTROL, user=None, port=None, private_key=None, env={}, cfg=empty)
    assert "StrictHostKeyChecking=no" not in opts(strict) and "BatchMode=yes" in opts(strict)
    assert strict[-3:] == ["--", "h", "true"]
    loose = sshprep.master_command(
        "h", ssh_args=CONTROL, user=None, port=None, private_key=None,
        env={"ANSIBLE_HOST_KEY_CHECKING": "False"}, cfg=empty,
    )  # fmt: skip
    assert "StrictHostKeyChecking=no" in opts(loose)


def test_takes_ansible_cfg_settings_and_environment_wins(tmp_path: Path) -> None:
    cfg = cfg_of(
        "[defaults]\nhost_key_checking = False\nremote_user = deploy\nremote_port = 2200\n"
        "private_key_file = ~/.ssh/fleet\n"
        "[ssh_connection]\nssh_common_args = -o ProxyJump=bastion\nssh_args = -o ServerAliveInterval=5\n",
        tmp_path,
    )
    # what the collector gives Ansible as ANSIBLE_SSH_ARGS, and the master too
    args = CONTROL + sshprep.user_ssh_args({}, cfg)
    cmd = sshprep.master_command("h", ssh_args=args, user=None, port=None, private_key=None, env={}, cfg=cfg)
    o = opts(cmd)
    assert {"StrictHostKeyChecking=no", "User=deploy", "Port=2200", "ProxyJump=bastion"} <= set(o)
    assert any(x.startswith("IdentityFile=/") and x.endswith("/.ssh/fleet") for x in o)
    assert o.index("ControlPath=/tmp/x/cp/%C") < o.index("ServerAliveInterval=5")  # in the order given
    # command-line options and the environment take precedence over the file
    cmd = sshprep.master_command(
        "h", ssh_args=args, user="root", port=22, private_key="/k",
        env={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_COMMON_ARGS": ""}, cfg=cfg,
    )  # fmt: skip
    o = opts(cmd)
    assert {"User=root", "Port=22", "IdentityFile=/k"} <= set(o)
    assert "StrictHostKeyChecking=no" not in o and "ProxyJump=bastion" not in o


@pytest.mark.parametrize(
    ("host", "overrides"),
    [("localhost", {}), (None, {}), ("h", {"ansible_ssh_common_args": "-o ProxyJump=x"})],
)
def test_not_tried_where_the_connection_is_not_ours_to_know(
    host: str | None, overrides: dict[str, str], tmp_path: Path
) -> None:
    p = sshprep.start_master(
        host,
        tmp_path,
        user=None,
        port=None,
        private_key=None,
        overrides=overrides,
        ssh_args=CONTROL,
        cfg=configparser.ConfigParser(),
    )
    assert p is None


def test_too_long_control_dir_falls_back_to_ansible_naming(tmp_path: Path) -> None:
    assert sshprep.shared_control_path(Path("/tmp/cp")) == "/tmp/cp/%C"
    assert sshprep.shared_control_path(Path("/" + "d" * 60)) is None


def test_collector_puts_our_control_options_before_the_users_ssh_args(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ssh keeps the first value it sees for an option: our ControlPath must win over the user's
    (tmp_path / "ansible.cfg").write_text("[ssh_connection]\nssh_args = -o ServerAliveInterval=5 -o ControlPath=/x\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "ansible.cfg"))
    collector = AnsibleCollector(Target(host="localhost"), Progress(enabled=False))
    try:
        o = opts(collector._ssh_args)
        assert o.index("ControlMaster=auto") == 0 and "ServerAliveInterval=5" in o
        assert next(x for x in o if x.startswith("ControlPath=")).endswith("/%C")
    finally:
        collector.close()


def test_unparsable_ansible_cfg_means_no_prewarm(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults\nbroken")
    assert sshprep.ansible_cfg({"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")}) is None
    p = sshprep.start_master(
        "h", tmp_path, user=None, port=None, private_key=None, overrides={}, ssh_args=CONTROL, cfg=None
    )
    assert p is None
