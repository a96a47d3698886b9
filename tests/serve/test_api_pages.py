"""The API, the run pages (in a real headless chromium), OpenAPI, health and metrics."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def artifacts() -> Path:
    """Where screenshots are kept for CI: $KLEAK_ARTIFACTS, else a fresh temporary directory."""
    root = Path(os.environ.get("KLEAK_ARTIFACTS") or tempfile.mkdtemp(prefix="kleak-artifacts-"))
    root.mkdir(parents=True, exist_ok=True)
    return root


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def test_api_runs_and_downloads(make_server):
    server = make_server()
    created = server.api("POST", "/api/runs", json={"host": "localhost", "samples": 1})
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    assert created.json()["url"] == f"{server.url}/runs/{run_id}"
    doc = server.wait_run(run_id)
    assert doc["result"]["host"] == "localhost" and doc["result"]["verdict"] == doc["verdict"]
    assert [r["id"] for r in server.api("GET", "/api/runs").json()] == [run_id]
    report = server.api("GET", f"/api/runs/{run_id}/report.md")
    assert report.status_code == 200 and report.text.startswith("#")
    assert server.api("GET", f"/api/runs/{run_id}/result.json").json()["verdict"] == doc["verdict"]
    bundle = server.api("GET", f"/api/runs/{run_id}/bundle.tar.gz")
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(bundle.content)) as tar:
        names = tar.getnames()
    assert any(n.endswith("/report.md") for n in names) and any("/evidence/manifest.json" in n for n in names)
    assert server.api("GET", "/api/runs/20260101T000000-00000000").status_code == 404
    bad = server.api("POST", "/api/runs", json={"host": "localhost", "runbook": "../../etc/x"})
    assert bad.status_code == 403
    assert server.api("POST", "/api/runs", json={"host": "localhost", "samples": 10_000}).status_code == 422
    spec = server.client.get("/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}", "/hooks/slack", "/hooks/alertmanager"} <= set(spec["paths"])
    assert server.client.get("/docs").status_code == 200
    metrics = server.client.get("/metrics").text
    assert re.search(rf'kleak_runs_total{{trigger="api",verdict="{doc["verdict"]}"}} 1.0', metrics), metrics
    assert 'kleak_rejected_requests_total{endpoint="api",reason="403"} 1.0' in metrics
    assert "kleak_run_duration_seconds_count 1.0" in metrics and "kleak_queue_depth 0.0" in metrics


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (CI installs it)")
def test_run_page_in_headless_chromium(make_server, tmp_path):
    server = make_server()
    run_id = server.api("POST", "/api/runs", json={"host": "localhost"}).json()["id"]
    doc = server.wait_run(run_id)
    shot = artifacts() / f"run-page-{run_id}.png"
    profile = tmp_path / "chromium-profile"
    page = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--window-size=1200,1600", f"--screenshot={shot}", "--dump-dom", f"{server.url}/runs/{run_id}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert page.returncode == 0, page.stderr[-2000:]
    dom = page.stdout
    assert 'class="badge verdict"' in dom and f">{doc['verdict']}</span>" in dom
    assert "<h2>Report</h2>" in dom and "Evidence files" in dom
    assert "<th>cache</th>" in dom  # the report's markdown tables rendered as tables
    assert shot.exists() and shot.stat().st_size > 5000
    parser = Links()
    parser.feed(dom)
    assert "/runs" in parser.hrefs and f"/runs/{run_id}/files/evidence/manifest.json" in parser.hrefs
    local = [h for h in parser.hrefs if h.startswith("/")]
    for href in local:
        assert server.client.get(href).status_code == 200, href
    listing = server.client.get("/runs").text
    assert f'href="/runs/{run_id}"' in listing and doc["verdict"] in listing
