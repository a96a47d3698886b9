"""Pytest fixtures for the stand-in API servers (registered by ``tests/conftest.py``).

Each yields a started server with ``.url``, ``.calls``, ``.violations``, ``.env()`` (the
KLEAK_* variables that point kleak-runbook at it), ``.fail(status, times=, headers=, body=)``
and ``.delay_s``; each server's own records: ``slack_api.messages``/``.uploads``/``.responses``
(and ``.response_url()`` to hand out a slash command's reply URL), ``jira_api.comments``/
``.attachments``, ``github_api.comments``, ``webhook_receiver.payloads`` (``.hook_url``);
group membership they answer: ``slack_api.usergroups`` (group ID -> user IDs) and
``jira_api.groups`` (accountId or username -> group names; ``jira_api.deployment`` is
``"cloud"`` or ``"datacenter"``, which decides the call it serves).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver


@pytest.fixture
def slack_api() -> Iterator[SlackAPI]:
    """A stand-in Slack Web API (chat.postMessage, the three-step upload flow, response_urls, usergroups.users.list)."""
    server = SlackAPI().start()
    yield server
    server.stop()


@pytest.fixture
def jira_api() -> Iterator[JiraAPI]:
    """A stand-in Jira REST v2 (issue attachments and comments, a user's groups)."""
    server = JiraAPI().start()
    yield server
    server.stop()


@pytest.fixture
def github_api() -> Iterator[GitHubAPI]:
    """A stand-in GitHub REST API (issue comments)."""
    server = GitHubAPI().start()
    yield server
    server.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A stand-in webhook receiver (kleak-runbook's JSON payload, bearer token)."""
    server = WebhookReceiver().start()
    yield server
    server.stop()
