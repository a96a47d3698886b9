"""Fixtures for the fleet tests: the integration tests' real sshd on 127.0.0.1 and CLI runner."""

from __future__ import annotations

from integration.conftest import cli_env, kleak, sshd, test_user

__all__ = ["cli_env", "kleak", "sshd", "test_user"]
