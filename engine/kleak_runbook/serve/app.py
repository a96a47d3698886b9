"""``create_app(settings)``: the FastAPI application, one router per way in (hooks, API, pages).

A guard in front of every router reads the body first, with a size limit (413) and a deadline
for slow clients (408), so no handler sees a body that is too big or never arrives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kleak_runbook import __version__
from kleak_runbook.serve import api, pages
from kleak_runbook.serve.hooks import alertmanager, github, jira, slack
from kleak_runbook.serve.policy import Refused
from kleak_runbook.serve.service import Service
from kleak_runbook.serve.settings import Settings


def endpoint_of(path: str) -> str:
    """The trigger a path belongs to, for metrics and the audit log (never the raw path: it is unbounded)."""
    parts = path.strip("/").split("/")
    if parts[0] == "hooks" and len(parts) > 1 and parts[1] in ("slack", "alertmanager", "jira", "github"):
        return parts[1]
    return parts[0] if parts[0] in ("api", "runs") else "other"


class BodyGuard:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service
        self.limit = service.settings.limits.max_body_bytes
        self.timeout = service.settings.limits.body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, send, Refused(413, f"request body over {self.limit} bytes"))
            return
        body = await self._read(scope, receive, send)
        if body is None:
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        chunks = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.01, deadline - loop.time()))
            except asyncio.TimeoutError:
                await self._refuse(scope, send, Refused(408, f"request body not received within {self.timeout:g} s"))
                return None
            if message["type"] == "http.disconnect":
                return None
            chunks += message.get("body", b"")
            if len(chunks) > self.limit:
                await self._refuse(scope, send, Refused(413, f"request body over {self.limit} bytes"))
                return None
            if not message.get("more_body"):
                return bytes(chunks)

    async def _refuse(self, scope: Scope, send: Send, refusal: Refused) -> None:
        client = scope.get("client")
        source = client[0] if client else "-"
        self.service.refuse(endpoint_of(scope["path"]), "-", source, {}, refusal)
        body = json.dumps({"error": refusal.reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, base_url: str, node: str) -> FastAPI:
    service = Service(settings, base_url, node)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.jobs.start()
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, service.jobs.stop)
            service.store.close()

    app = FastAPI(title="kleak-runbook serve", version=__version__, lifespan=lifespan)
    app.state.service = service

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "queued": service.jobs.huey.pending_count()}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        service.jobs.update_depth()
        return PlainTextResponse(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for module in (slack, alertmanager, jira, github, api, pages):
        app.include_router(module.router(service))
    app.add_middleware(BodyGuard, service=service)
    return app
