"""Fixtures for the integration tests: a real sshd on 127.0.0.1 and the real CLI as a subprocess."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import Run, run_kleak
from support.sshd import (
    TEST_USER,
    Sshd,
    SshdError,
    SshdUnavailable,
    ensure_packages,
    ensure_user,
    grant_sudo,
    remove_user,
)


@pytest.fixture(scope="session")
def cli_env() -> dict[str, str]:
    """The environment a user would have: host keys of the throwaway sshd are not checked."""
    env = dict(os.environ)
    env.pop("KLEAK_DEBUG", None)
    env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
    # Keep the throwaway host keys out of ~/.ssh/known_hosts.
    env["ANSIBLE_SSH_COMMON_ARGS"] = "-o UserKnownHostsFile=/dev/null"
    return env


@pytest.fixture
def kleak(cli_env: dict[str, str], tmp_path: Path) -> Any:
    """Run ``python -m kleak_runbook.cli ARGS`` in tmp_path (nothing lands in the repo)."""

    def run(*args: str, timeout: float = 240) -> Run:
        return run_kleak(*args, env=cli_env, cwd=tmp_path, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def test_user() -> Iterator[str]:
    """A non-root account on this machine that the test sshd lets in with the test key; removed
    at the end when the tests created it."""
    try:
        ensure_packages()
        created = ensure_user(TEST_USER)
    except SshdUnavailable as exc:
        pytest.fail(f"SSH tests need a real sshd: {exc}")
    except (SshdError, OSError) as exc:
        pytest.fail(f"cannot create the non-root test user {TEST_USER!r}: {exc}")
    try:
        yield TEST_USER
    finally:
        if created:
            remove_user(TEST_USER)


@pytest.fixture(scope="session")
def sshd(test_user: str) -> Iterator[Sshd]:
    server = Sshd(users=("root", test_user))
    try:
        server.start()
    except SshdUnavailable as exc:
        pytest.fail(f"SSH tests need a real sshd: {exc}")
    except SshdError as exc:
        server.stop()
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sudo_user(test_user: str) -> Iterator[str]:
    """The non-root test user, with passwordless sudo for as long as the session lasts."""
    try:
        drop_in = grant_sudo(test_user)
    except (SshdUnavailable, SshdError) as exc:
        pytest.fail(f"--become tests need sudo: {exc}")
    try:
        yield test_user
    finally:
        drop_in.unlink(missing_ok=True)
