"""``kleak-runbook serve`` as a command: bad settings stop it at start with one line and exit 2,
its libraries stay out of ``run``, and without them it says how to install them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from serve.harness import free_port

SLACK_GROUP = "slack:\n  intrusive_groups: {S0614TZR7: [trace]}\n"  # membership needs the bot token
JIRA_GROUP = "jira:\n  intrusive_groups: {kernel-oncall: [trace]}\n"  # and the Jira credentials


def _serve(tmp_path, *args, env=None, timeout=30):
    full = {**os.environ, "KLEAK_SERVE_HOSTS": "localhost", **(env or {})}
    full.pop("KLEAK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "serve", "--state-dir", str(tmp_path / "state"), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "config", "message"),
    [
        (["--listen", "nonsense"], {}, None, "--listen nonsense: expected HOST:PORT"),
        (["--listen", "127.0.0.1:0x50"], {}, None, "expected HOST:PORT"),
        ([], {"KLEAK_SERVE_HOSTS": ""}, None, "no hosts may be run: set KLEAK_SERVE_HOSTS"),
        ([], {}, "runs:\n  samplez: 3\n", "setting runs.samplez: Extra inputs are not permitted"),
        ([], {}, "queue:\n  workers: 0\n", "setting queue.workers: Input should be greater than or equal to 1"),
        ([], {}, "[unclosed\n", "not valid YAML"),
        ([], {"KLEAK_SLACK_SIGNING_SECRET_FILE": "/nonexistent/secret"}, None, "KLEAK_SLACK_SIGNING_SECRET_FILE"),
        ([], {}, "slack:\n  signing_secret_file: /nonexistent/s\n", "slack.signing_secret_file /nonexistent/s"),
        ([], {"KLEAK_SLACK_INTRUSIVE_GROUPS": "oncall"}, None, "'oncall' is not a Slack user group ID"),
        ([], {"KLEAK_JIRA_INTRUSIVE_GROUPS": "ops=reboot"}, None, "group 'ops': expected a list of consents"),
        ([], {"KLEAK_SLACK_BOT_TOKEN": ""}, SLACK_GROUP, "slack.intrusive_groups: needs KLEAK_SLACK_BOT_TOKEN"),
        ([], {"KLEAK_JIRA_URL": ""}, JIRA_GROUP, "jira.intrusive_groups: needs KLEAK_JIRA_URL"),
    ],
)
def test_bad_settings_stop_the_server_with_one_line(tmp_path, args, env, config, message):
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
        args = [*args, "--config", str(tmp_path / "c.yaml")]
    done = _serve(tmp_path, "--listen", f"127.0.0.1:{free_port()}", *args, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = _serve(tmp_path, "--listen", f"127.0.0.1:{busy.getsockname()[1]}")
    assert done.returncode == 2 and "Address already in use" in done.stderr and done.stderr.count("\n") == 1


def test_secret_from_file_is_used_and_never_printed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("file-secret-value\n")
    done = _serve(
        tmp_path,
        "--listen",
        "bad",
        env={"KLEAK_SLACK_SIGNING_SECRET_FILE": str(secret), "KLEAK_API_TOKEN": "tok-on-env"},
    )
    assert done.returncode == 2 and "file-secret-value" not in done.stderr + done.stdout
    probe = (
        "from kleak_runbook.serve.settings import load; import os;"
        "s = load(None); print(s.slack.signing_secret.get_secret_value()); print(s)"
    )
    env = {**os.environ, "KLEAK_SLACK_SIGNING_SECRET_FILE": str(secret), "KLEAK_API_TOKEN": "tok-on-env"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout
    first, rest = out.split("\n", 1)
    assert first == "file-secret-value" and "file-secret-value" not in rest and "tok-on-env" not in rest


def test_run_never_imports_the_service_libraries():
    probe = (
        "import sys; from kleak_runbook import cli, session; cli._parser();"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'huey', 'starlette', 'prometheus_client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_extra_says_how_to_install_it(tmp_path):
    # a Python where fastapi cannot be imported, as without the extra
    probe = (
        "import sys; sys.modules['fastapi'] = None; from kleak_runbook import cli;"
        f"sys.exit(cli.main(['serve', '--listen', '127.0.0.1:{free_port()}', '--state-dir', {str(tmp_path)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == "kleak-runbook: kleak-runbook serve needs its extra: pip install 'kleak-runbook[serve]'\n"
