"""``POST /hooks/jira``: an issue created with the configured label, or updated to carry it.

Authenticated by the shared secret: Jira's admin-webhook signature (``X-Hub-Signature:
sha256=<HMAC of the body>``) or, for senders that cannot sign (Jira Automation's "send web
request", Data Center), ``Authorization: Bearer <secret>``. Only the change that adds the
label starts a run, so the result's own comment (another ``issue_updated``) cannot loop.

Intrusive consents come from labels the issue carries when the run starts, ``<prefix><consent>``
(``kleak-allow-drop_caches``), and are given by the webhook's ``user`` (who created the issue or
added the label) only if that user is in a Jira group of ``jira.intrusive_groups`` that grants them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from kleak_runbook.deliver.targets import JIRA_KEY
from kleak_runbook.serve.hooks import source
from kleak_runbook.serve.policy import HOST_RE, Granted, Refused, check_host, parse_consents
from kleak_runbook.serve.policy import Request as RunRequest
from kleak_runbook.serve.service import Service

DELIVERY_WINDOW_S = 24 * 3600


def signed(secret: str, body: bytes, signature: str, authorization: str) -> bool:
    if signature:
        digest = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.encode(), digest.encode())
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), secret.encode())


def labelled(payload: dict[str, Any], label: str) -> bool:
    """Created with the label, or updated so that it now has it (and did not before)."""
    fields = (payload.get("issue") or {}).get("fields") or {}
    if label not in (fields.get("labels") or []):
        return False
    if payload.get("webhookEvent") == "jira:issue_created":
        return True
    for item in (payload.get("changelog") or {}).get("items") or []:
        if isinstance(item, dict) and item.get("field") == "labels":
            before = str(item.get("fromString") or "").split()
            after = str(item.get("toString") or "").split()
            return label in after and label not in before
    return False


def consents_of(fields: dict[str, Any], prefix: str) -> tuple[str, ...]:
    """The consents the issue's labels ask for (``kleak-allow-drop_caches``); Refused(400) for an unknown one."""
    labels = [str(x) for x in fields.get("labels") or []]
    return parse_consents([x[len(prefix) :] for x in labels if x.startswith(prefix) and len(x) > len(prefix)])


def host_of(fields: dict[str, Any], field: str | None, service: Service) -> str | None:
    """The configured field (text or a select's ``value``), else the first allowed host in the summary."""
    if field:
        value = fields.get(field)
        value = value.get("value") if isinstance(value, dict) else value
        return value.strip() if isinstance(value, str) and value.strip() else None
    for word in str(fields.get("summary") or "").replace(",", " ").split():
        word = word.strip(".:;()[]'\"")
        if HOST_RE.match(word):
            try:
                return check_host(word, service.settings.hosts)
            except Refused:
                continue
    return None


def router(service: Service) -> APIRouter:
    r = APIRouter()
    cfg = service.settings.jira

    @r.post("/hooks/jira", summary="Jira webhook (issue created or updated with the label)")
    async def jira(request: Request) -> dict[str, Any]:
        body, src = await request.body(), source(request)
        if cfg.secret is None:
            raise service.refuse("jira", "-", src, {}, Refused(404, "Jira is not configured here"))
        sig, auth = request.headers.get("x-hub-signature", ""), request.headers.get("authorization", "")
        if not signed(cfg.secret.get_secret_value(), body, sig, auth):
            raise service.refuse("jira", "-", src, {}, Refused(401, "bad Jira signature or secret"))
        delivery = request.headers.get("x-atlassian-webhook-identifier")
        if delivery and not service.store.first_time(f"jira:{delivery}", DELIVERY_WINDOW_S):
            return {"ignored": "delivery already handled"}
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("issue"), dict):
            raise service.refuse("jira", "-", src, {}, Refused(400, "expected a Jira issue webhook"))
        if not labelled(payload, cfg.label):
            return {"ignored": f"not an issue that just got the label {cfg.label}"}
        sender = payload.get("user")
        user: dict[str, Any] = sender if isinstance(sender, dict) else {}
        who = f"jira:{str(user.get('accountId') or user.get('name') or '-')[:80]}"
        key = str(payload["issue"].get("key", ""))
        service.limit("jira", who, src)
        host = host_of(payload["issue"].get("fields") or {}, cfg.host_field, service)
        if host is None:
            raise service.refuse("jira", who, src, {"issue": key[:40]}, Refused(422, "no allowed host in the issue"))
        if not JIRA_KEY.fullmatch(key):
            raise service.refuse("jira", who, src, {"issue": key[:40]}, Refused(400, "not a Jira issue key"))
        try:
            consents = consents_of(payload["issue"].get("fields") or {}, cfg.consent_label_prefix)
        except Refused as refusal:
            raise service.refuse("jira", who, src, {"issue": key, "host": host}, refusal) from None
        granted = Granted()
        if consents:  # a group's membership is a Jira API call: off the event loop
            granted = await run_in_threadpool(service.grants.jira, user, consents)
        req = RunRequest(host, consents=consents)
        run, joined = service.submit(req, "jira", who, src, (f"jira:{key}",), granted)
        return {"run": run.id, "url": service.link(run.id), "joined": joined}

    return r
