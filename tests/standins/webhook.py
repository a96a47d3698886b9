"""A stand-in webhook receiver. The contract is kleak-runbook's own (README, "Posting reports"):
a JSON POST of ``{"source": "kleak-runbook", "host", "verdict", "kind", "summary", "link",
"result": <the result document>}``, with ``Authorization: Bearer <token>`` when a token is set
(401 without it, as a receiver that checks tokens answers).
"""

from __future__ import annotations

import secrets
from typing import Any

from standins.base import Call, Reply, StandIn

FIELDS = ("source", "host", "verdict", "kind", "summary", "link", "result")


class WebhookReceiver(StandIn):
    service = "webhook"

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token or f"hook-standin-{secrets.token_hex(8)}"
        self.payloads: list[dict[str, Any]] = []

    def env(self) -> dict[str, str]:
        return {"KLEAK_WEBHOOK_TOKEN": self.token}

    @property
    def hook_url(self) -> str:
        """A URL with its secret in the path, like Slack's incoming webhooks."""
        return f"{self.url}/hooks/kleak/{self.token[-8:]}"

    def handle(self, call: Call) -> Reply:
        if call.method != "POST":
            self.violation(call, "webhooks are POSTed")
            return Reply(405, {"error": "method not allowed"})
        if call.header("Authorization") != f"Bearer {self.token}":
            self.violation(call, "missing or wrong bearer token")
            return Reply(401, {"error": "unauthorized"})
        if call.content_type != "application/json":
            self.violation(call, f"Content-Type {call.content_type!r}, not application/json")
            return Reply(415, {"error": "expected JSON"})
        try:
            body = call.json()
        except ValueError:
            self.violation(call, "body is not JSON")
            return Reply(400, {"error": "bad JSON"})
        missing = [f for f in FIELDS if not isinstance(body, dict) or f not in body]
        if missing:
            self.violation(call, f"payload without {missing}")
            return Reply(400, {"error": f"missing {missing}"})
        if not isinstance(body["result"], dict) or body["result"].get("verdict") != body["verdict"]:
            self.violation(call, "result is not the result document of this verdict")
        self.payloads.append(body)
        return Reply(204)
