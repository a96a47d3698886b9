"""The networked queue: two serving machines on one Redis (huey's RedisHuey) and one shared
state dir take runs from one queue; each run is taken once, and a request through either
machine joins the run for its host."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.conftest import QUICK, base_env
from serve.harness import Server, free_port

HOSTS = ["localhost", "127.0.0.2", "db-a", "db-b"]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on a loopback port (Debian's redis-server; CI installs it)."""
    exe = shutil.which("redis-server")
    if exe is None or importlib.util.find_spec("redis") is None:
        pytest.skip("needs Debian's redis-server and the redis client (pip install redis)")
    import redis

    port = free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def test_two_serving_machines_share_one_queue(tmp_path: Path, redis_url: str) -> None:
    config = {**QUICK, "runs": {"samples": 2, "interval": 2}, "queue": {"backend": "redis", "workers": 1}}
    env = {**base_env(), "KLEAK_SERVE_QUEUE": redis_url}
    shared = tmp_path / "shared-state"
    one = Server(tmp_path / "one", env, config, state_dir=shared).start()
    two = Server(tmp_path / "two", env, config, state_dir=shared).start()
    try:
        ids = [one.api("POST", "/api/runs", json={"host": h}).json()["id"] for h in HOSTS]
        joined = two.api("POST", "/api/runs", json={"host": "localhost"}).json()
        assert joined["joined"] and joined["id"] == ids[0]  # one run per host, across machines
        docs = [one.wait_run(i) for i in ids]
        assert [d["state"] for d in docs] == ["done"] * len(HOSTS)
        nodes = {d["node"] for d in docs}
        assert nodes == {f"{n}:{s.port}" for s in (one, two) for n in {docs[0]["node"].rsplit(":", 1)[0]}}, nodes
        assert [two.run(i)["state"] for i in ids] == ["done"] * len(HOSTS)
    finally:
        for server in (one, two):
            server.stop()
            server.client.close()
