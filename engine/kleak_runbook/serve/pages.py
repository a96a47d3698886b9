"""``/runs`` and ``/runs/{id}``: the pages every chat and ticket message links to.

The report is rendered by markdown-it-py with raw HTML disabled (report text carries host data:
cache names, module names), every other value is escaped, and a strict CSP forbids scripts.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from markdown_it import MarkdownIt

from kleak_runbook.serve.files import listing, result_doc, safe_file, valid_id
from kleak_runbook.serve.policy import Refused
from kleak_runbook.serve.service import Service
from kleak_runbook.serve.store import Run, iso

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
COLOURS = {"leak": "#c62828", "suspected-leak": "#ef6c00", "no-leak": "#2e7d32", "inconclusive": "#616161"}
STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    ".badge{color:#fff;border-radius:4px;padding:2px 8px;font-weight:bold}"
    "pre{background:#f5f5f5;padding:8px;overflow-x:auto}"
)


def badge(run: Run) -> str:
    label = run.verdict or run.state
    colour = COLOURS.get(run.verdict or "", "#455a64")
    return f'<span class="badge verdict" style="background:{colour}">{escape(label)}</span>'


def page(title: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, headers=HEADERS)


def run_list(runs: list[Run]) -> str:
    rows = "".join(
        f'<tr><td><a href="/runs/{r.id}">{escape(r.host)}</a></td><td>{badge(r)}</td>'
        f"<td>{escape(r.kind or '')}</td><td>{escape(r.trigger)}</td><td>{escape(r.who)}</td>"
        f"<td>{iso(r.created)}</td><td>{escape(r.state)}</td></tr>"
        for r in runs
    )
    head = "<tr><th>host</th><th>verdict</th><th>kind</th><th>trigger</th><th>who</th><th>time</th><th>state</th></tr>"
    return f"<h1>kleak-runbook runs</h1><table>{head}{rows}</table>"


def run_page(run: Run, report_md: str | None, doc: dict[str, Any] | None, files: list[tuple[str, int]]) -> str:
    facts = [
        ("host", escape(run.host)),
        ("verdict", badge(run)),
        ("kind", escape(run.kind or "")),
        ("state", escape(run.state)),
        ("trigger", f"{escape(run.trigger)} by {escape(run.who)}"),
        ("started", escape(iso(run.started) or "not yet")),
        ("finished", escape(iso(run.finished) or "not yet")),
    ]
    if run.error:
        facts.append(("note", escape(run.error)))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    md = MarkdownIt("commonmark", {"html": False}).enable("table")  # the report is mostly tables
    report = md.render(report_md) if report_md else "<p>No report yet.</p>"
    downloads = " · ".join(
        f'<a href="/runs/{run.id}/files/{n}" download>{n}</a>' for n in ("report.md", "result.json") if doc
    )
    items = "".join(
        f'<li><a href="/runs/{run.id}/files/{escape(n)}">{escape(n)}</a> ({size} bytes)</li>' for n, size in files
    )
    return (
        f'<p><a href="/runs">all runs</a></p><h1>{escape(run.host)} {badge(run)}</h1><table>{table}</table>'
        f"<p>{downloads}</p><h2>Report</h2><div class=report>{report}</div>"
        f"<h2>Evidence files</h2><ul class=evidence>{items}</ul>"
    )


def router(service: Service) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    def run_of(run_id: str) -> Run:
        run = service.store.get(run_id) if valid_id(run_id) else None
        if run is None:
            raise Refused(404, "no such run")
        return run

    @r.get("/runs")
    def runs() -> HTMLResponse:
        return page("kleak-runbook runs", run_list(service.store.recent(200)))

    @r.get("/runs/{run_id}")
    def one(run_id: str) -> HTMLResponse:
        run = run_of(run_id)
        root = service.store.report_dir(run.id)
        path = safe_file(root, "report.md")
        text = path.read_text(encoding="utf-8", errors="replace") if path else None
        evidence = root / "evidence"
        files = listing(evidence) if evidence.is_dir() and not evidence.is_symlink() else []
        files = [(f"evidence/{n}", s) for n, s in files]
        return page(f"kleak {run.host} {run.verdict or run.state}", run_page(run, text, result_doc(root), files))

    @r.get("/runs/{run_id}/files/{name:path}")
    def download(run_id: str, name: str) -> Response:
        run = run_of(run_id)
        path = safe_file(service.store.report_dir(run.id), name)
        if path is None:
            raise Refused(404, "no such file in this run")
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{path.name}"'}
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers=headers)

    return r
