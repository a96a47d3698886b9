"""``POST /hooks/alertmanager``: Alertmanager's webhook (payload version 4).

Each firing alert names a host through the first configured label that it has (default
``instance`` with the port stripped, then ``nodename``, ``host``); resolved alerts are ignored;
a host runs once per group (and once per group within ``dedupe_s`` when Alertmanager resends).
Optional bearer token or basic auth, as Alertmanager's ``http_config`` sends them.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request

from kleak_runbook.serve.hooks import source
from kleak_runbook.serve.policy import Refused, strip_port
from kleak_runbook.serve.policy import Request as RunRequest
from kleak_runbook.serve.service import Service
from kleak_runbook.serve.settings import AlertmanagerSettings


def _authorized(cfg: AlertmanagerSettings, header: str) -> bool:
    scheme, _, value = header.partition(" ")
    if cfg.bearer_token and scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), cfg.bearer_token.get_secret_value().encode())
    if cfg.basic_user and cfg.basic_password and scheme.lower() == "basic":
        expected = f"{cfg.basic_user}:{cfg.basic_password.get_secret_value()}".encode()
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, expected)
    return not (cfg.bearer_token or cfg.basic_user)


def hosts_of(payload: dict[str, Any], labels: tuple[str, ...]) -> list[str]:
    """The hosts of the firing alerts, each once, in the order they come."""
    hosts: list[str] = []
    for alert in payload.get("alerts") or []:
        if not isinstance(alert, dict) or alert.get("status") != "firing":
            continue
        found = alert.get("labels")
        if not isinstance(found, dict):
            continue
        for label in labels:
            value = found.get(label)
            if isinstance(value, str) and value:
                host = strip_port(value) if label == "instance" else value
                if host not in hosts:
                    hosts.append(host)
                break
    return hosts


def router(service: Service) -> APIRouter:
    r = APIRouter()
    cfg = service.settings.alertmanager

    @r.post("/hooks/alertmanager", summary="Alertmanager webhook (version 4)")
    async def alertmanager(request: Request) -> dict[str, Any]:
        src = source(request)
        if not _authorized(cfg, request.headers.get("authorization", "")):
            raise service.refuse("alertmanager", "-", src, {}, Refused(401, "bad or missing Alertmanager credentials"))
        try:
            payload = json.loads(await request.body())
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or str(payload.get("version")) != "4":
            raise service.refuse("alertmanager", "-", src, {}, Refused(400, "expected an Alertmanager v4 payload"))
        who = f"alertmanager:{str(payload.get('receiver', '-'))[:60]}"
        service.limit("alertmanager", src, src)
        group = str(payload.get("groupKey", ""))
        runs: list[dict[str, Any]] = []
        refused: list[tuple[str, Refused]] = []
        for host in hosts_of(payload, cfg.host_labels):
            try:
                runs.append(_one(service, host, group, who, src))
            except Refused as refusal:
                refused.append((host[:80], refusal))
        if refused and not runs:
            raise Refused(refused[0][1].status, "; ".join(x.reason for _, x in refused))
        shown = [{"host": h, "status": x.status, "reason": x.reason} for h, x in refused]
        return {"runs": runs, "refused": shown}

    return r


def _one(service: Service, host: str, group: str, who: str, src: str) -> dict[str, Any]:
    cfg = service.settings.alertmanager
    key = f"{group}|{host}"
    earlier = service.store.dedupe(key, None, cfg.dedupe_s)
    if earlier is not None:
        service.audit.record("alertmanager", who, src, {"host": host}, "deduplicated", run=earlier)
        service.metrics.accepted.labels("alertmanager", "deduplicated").inc()
        return {"host": host, "run": earlier, "url": service.link(earlier), "deduplicated": True}
    run, joined = service.submit(RunRequest(host), "alertmanager", who, src, cfg.notify)
    service.store.dedupe(key, run.id, cfg.dedupe_s)
    return {"host": host, "run": run.id, "url": service.link(run.id), "joined": joined}
