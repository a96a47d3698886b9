"""Real Prometheus and node_exporter (Debian's packages), started by the tests on loopback ports
with their storage in a temporary directory; long history backfilled into a real TSDB with
``promtool tsdb create-blocks-from openmetrics``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from history.synthetic import Shape, openmetrics

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not ready after {timeout}s")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"port {port}: the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port}: nothing listens after {timeout}s")


def backfill(tsdb: Path, shape: Shape, work: Path) -> None:
    om = work / "synthetic.om"
    om.write_text(openmetrics(shape), encoding="utf-8")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(tsdb)], check=True, timeout=600
    )
    om.unlink()


class Prom:
    """One Prometheus on 127.0.0.1 with its own TSDB and config."""

    def __init__(self, work: Path, scrape: str | None = None, web_config: Path | None = None) -> None:
        self.work = work
        self.tsdb = work / "tsdb"
        self.tsdb.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"{'https' if web_config else 'http'}://127.0.0.1:{self.port}"
        self.web_config = web_config
        cfg = work / "prometheus.yml"
        jobs = (
            f"scrape_configs:\n  - job_name: node\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{scrape}']\n"
            if scrape
            else ""
        )
        cfg.write_text("global:\n  scrape_interval: 15s\n" + jobs, encoding="utf-8")
        self.cfg = cfg
        self.start()

    def start(self) -> None:
        """Start (or start again, on the same port and storage)."""
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.cfg}",
                f"--storage.tsdb.path={self.tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=30d",
                "--log.level=warn",
                *([f"--web.config.file={self.web_config}"] if self.web_config else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if self.web_config is None:
            wait_ready(f"{self.url}/-/ready", self.proc)
        else:  # TLS and basic auth: ready when it answers at all (401 without credentials)
            wait_port(self.port, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _backfilled(tmp: Path, shape: Shape) -> Iterator[Prom]:
    backfill(tmp / "tsdb", shape, tmp)
    prom = Prom(tmp)
    try:
        yield prom
    finally:
        prom.stop()


@pytest.fixture(scope="module")
def leak_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    """SYNTHETIC: a 64 GiB host leaking 1 GiB/day of SUnreclaim over a week, with noise, gaps, a reboot, a spike."""
    yield from _backfilled(
        tmp_path_factory.mktemp("prom-leak"), Shape(end=time.time() - 60, leak_per_day=float(1 << 30))
    )


@pytest.fixture(scope="module")
def flat_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    """SYNTHETIC: the same host without the leak (same noise, gaps, reboot and spike)."""
    yield from _backfilled(tmp_path_factory.mktemp("prom-flat"), Shape(end=time.time() - 60, leak_per_day=0.0))


@pytest.fixture(scope="module")
def live_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    """A real node_exporter on this machine, scraped every second by a real Prometheus."""
    tmp = tmp_path_factory.mktemp("prom-live")
    port = free_port()
    exporter = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.meminfo", "--collector.stat", "--collector.uname"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/metrics", exporter)
        prom = Prom(tmp, scrape=f"127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # a few scrapes: a rate needs two points
                r = requests.get(
                    f"{prom.url}/api/v1/query",
                    params={"query": "count_over_time(node_memory_MemTotal_bytes[1m])"},
                    timeout=5,
                )
                res = r.json()["data"]["result"]
                if res and float(res[0]["value"][1]) >= 10:
                    break
                time.sleep(0.5)
            yield prom
        finally:
            prom.stop()
    finally:
        exporter.terminate()
        exporter.wait(timeout=20)
