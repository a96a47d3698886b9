"""One router per trigger: Slack slash commands, Alertmanager, Jira and GitHub webhooks."""

from __future__ import annotations

from fastapi import Request


def source(request: Request) -> str:
    return request.client.host if request.client else "-"
