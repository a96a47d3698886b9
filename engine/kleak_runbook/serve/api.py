"""``/api/runs``: start runs and read them with a bearer token (OpenAPI at ``/docs``)."""

from __future__ import annotations

import hmac
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from kleak_runbook.deliver.targets import bundle_tarball
from kleak_runbook.serve.files import result_doc, safe_file, valid_id
from kleak_runbook.serve.hooks import source
from kleak_runbook.serve.policy import Granted, Refused, parse_consents
from kleak_runbook.serve.policy import Request as RunRequest
from kleak_runbook.serve.service import Service
from kleak_runbook.serve.settings import ApiToken
from kleak_runbook.serve.store import Run


class RunIn(BaseModel):
    host: str = Field(max_length=253, description="a host allowed by the server's host patterns")
    runbook: str = Field(default="kernel-memory-leak", max_length=100)
    samples: int | None = Field(default=None, ge=1, le=100)
    consents: list[str] = Field(default=[], max_length=5, description="intrusive probes, if the token may consent")


def bearer(request: Request) -> ApiToken:
    """The API token the request carries (constant-time compare), else 401 and an audit entry."""
    service: Service = request.app.state.service
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    for candidate in service.settings.api_tokens:
        secret = candidate.token.get_secret_value().encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), secret):
            return candidate
    raise service.refuse("api", "-", source(request), {}, Refused(401, "a valid bearer token is needed"))


Token = Annotated[ApiToken, Depends(bearer)]


def router(service: Service) -> APIRouter:
    r = APIRouter(prefix="/api")

    def run_of(run_id: str) -> Run:
        run = service.store.get(run_id) if valid_id(run_id) else None
        if run is None:
            raise Refused(404, "no such run")
        return run

    @r.post("/runs", status_code=202, summary="Start a run (or join the one running on the host)")
    def create(body: RunIn, request: Request, tok: Token) -> dict[str, Any]:
        who, src = f"api:{tok.name}", source(request)
        service.limit("api", who, src)
        try:
            req = RunRequest(body.host, body.samples, parse_consents(body.consents), body.runbook)
            if body.samples is not None and body.samples > service.settings.runs.max_samples:
                raise Refused(400, f"samples takes 1 to {service.settings.runs.max_samples}")
        except Refused as refusal:
            raise service.refuse("api", who, src, {"host": body.host[:80]}, refusal) from None
        run, joined = service.submit(req, "api", who, src, (), Granted(tok.consents, (f"api-token:{tok.name}",)))
        return {**run.public(), "joined": joined, "url": service.link(run.id)}

    @r.get("/runs", summary="Recent runs")
    def recent(tok: Token, limit: int = 100) -> list[dict[str, Any]]:
        return [run.public() for run in service.store.recent(max(1, min(limit, 1000)))]

    @r.get("/runs/{run_id}", summary="A run: its state, result document and replies")
    def one(run_id: str, tok: Token) -> dict[str, Any]:
        run = run_of(run_id)
        replies = [
            {"target": s["target"].split(":", 1)[0], "delivered": bool(s["delivered"]), "error": s["error"]}
            for s in service.store.subscribers(run.id)
        ]
        doc = result_doc(service.store.report_dir(run.id))
        return {**run.public(), "url": service.link(run.id), "result": doc, "replies": replies}

    @r.get("/runs/{run_id}/report.md", summary="The markdown report")
    def report(run_id: str, tok: Token) -> Response:
        return _file(service, run_of(run_id), "report.md", "text/markdown; charset=utf-8")

    @r.get("/runs/{run_id}/result.json", summary="The result document")
    def result(run_id: str, tok: Token) -> Response:
        return _file(service, run_of(run_id), "result.json", "application/json")

    @r.get("/runs/{run_id}/bundle.tar.gz", summary="Report and evidence as a tar.gz")
    def bundle(run_id: str, tok: Token) -> Response:
        run = run_of(run_id)
        report_dir = service.store.report_dir(run.id)
        if safe_file(report_dir, "result.json") is None:
            raise Refused(404, f"run {run.id} has no report (state {run.state})")
        handle, name = tempfile.mkstemp(suffix=".tar.gz")
        os.close(handle)
        bundle_tarball(report_dir, Path(name))
        return FileResponse(
            name,
            media_type="application/gzip",
            filename=f"kleak-{run.host}-{run.id}.tar.gz",
            background=BackgroundTask(Path(name).unlink, missing_ok=True),
        )

    return r


def _file(service: Service, run: Run, name: str, media_type: str) -> Response:
    path = safe_file(service.store.report_dir(run.id), name)
    if path is None:
        raise Refused(404, f"run {run.id} has no {name} (state {run.state})")
    return FileResponse(path, media_type=media_type)
