"""``POST /hooks/github``: an issue comment ``/kleak HOST [samples=N] [allow=…]``.

``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the webhook secret) is checked, in
constant time, before the body is parsed; a delivery id seen before is not run again. The
result is a reply comment on the same issue or pull request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request

from kleak_runbook.deliver.targets import GITHUB_ISSUE
from kleak_runbook.probes import CONSENTS
from kleak_runbook.serve.hooks import source
from kleak_runbook.serve.policy import Granted, Refused, parse_command
from kleak_runbook.serve.service import Service

DELIVERY_WINDOW_S = 7 * 24 * 3600


def command_text(payload: dict[str, Any]) -> str | None:
    """The text after ``/kleak`` on a new comment's first line, by a person (never a bot: no loops)."""
    comment = payload.get("comment") or {}
    sender = payload.get("sender") or {}
    if payload.get("action") != "created" or sender.get("type") == "Bot":
        return None
    first = str(comment.get("body") or "").strip().split("\n", 1)[0].strip()
    if first != "/kleak" and not first.startswith("/kleak "):
        return None
    return first[len("/kleak") :]


def router(service: Service) -> APIRouter:
    r = APIRouter()
    cfg = service.settings.github

    @r.post("/hooks/github", summary="GitHub issue_comment webhook")
    async def github(request: Request) -> dict[str, Any]:
        body, src = await request.body(), source(request)
        if cfg.secret is None:
            raise service.refuse("github", "-", src, {}, Refused(404, "GitHub is not configured here"))
        digest = "sha256=" + hmac.new(cfg.secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-hub-signature-256", "").encode(), digest.encode()):
            raise service.refuse("github", "-", src, {}, Refused(401, "bad GitHub signature"))
        delivery = request.headers.get("x-github-delivery")
        if delivery and not service.store.first_time(f"github:{delivery}", DELIVERY_WINDOW_S):
            return {"ignored": "delivery already handled"}
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return {"ok": "pong"}
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if event != "issue_comment" or not isinstance(payload, dict):
            return {"ignored": f"event {event[:40]!r} is not an issue comment"}
        text = command_text(payload)
        if text is None:
            return {"ignored": "not a /kleak command"}
        login = str((payload.get("sender") or {}).get("login") or "-")[:40]
        who = f"github:{login}"
        repo = str((payload.get("repository") or {}).get("full_name") or "")
        target = f"github:{repo}#{(payload.get('issue') or {}).get('number')}"
        service.limit("github", who, src)
        try:
            if not GITHUB_ISSUE.fullmatch(target[len("github:") :]):
                raise Refused(400, "not an issue comment of a repository")
            if cfg.repos and repo not in cfg.repos:
                raise Refused(403, f"repository {repo} is not allowed")
            req = parse_command(text, service.settings.runs.max_samples)
        except Refused as refusal:
            raise service.refuse("github", who, src, {"text": text[:200], "repo": repo[:140]}, refusal) from None
        granted = Granted(CONSENTS, ("github-user",)) if login in cfg.intrusive_users else Granted()
        run, joined = service.submit(req, "github", who, src, (target,), granted)
        return {"run": run.id, "url": service.link(run.id), "joined": joined}

    return r
