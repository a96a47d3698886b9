"""A real Prometheus behind TLS (a self-signed certificate made with openssl) and basic auth
(its own web config, a bcrypt hash): the password comes from a file named in the environment,
the CA bundle from --prometheus-ca, and no secret reaches a command line, stdout, stderr or the
report directory. The history is SYNTHETIC (one quiet day, labelled synthetic="true")."""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_kleak

from history.conftest import Prom, backfill
from history.synthetic import Shape

PASSWORD = "kleak-test-pw-7f3a"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():  # crypt is deprecated in 3.11; glibc's libxcrypt still hashes bcrypt
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


@pytest.fixture(scope="module")
def tls_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prom, Path]]:
    tmp = tmp_path_factory.mktemp("prom-tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    web = tmp / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  kleak: '{_bcrypt(PASSWORD)}'\n",
        encoding="utf-8",
    )
    backfill(tmp / "tsdb", Shape(end=time.time() - 60, days=1, step=300, reboot_at_day=None, spike_at_day=None), tmp)
    prom = Prom(tmp, web_config=web)
    try:
        yield prom, cert
    finally:
        prom.stop()


def _run(tmp_path: Path, prom: Prom, *args: str, **env: str) -> tuple[Any, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}
    out = tmp_path / "r"
    run = run_kleak(
        "run", "--host", "localhost", "--samples", "2", "--interval", "1", "--no-baseline", "--format", "json",
        "--quiet", "--out", str(out), "--prometheus", prom.url, *args,
        env={**base, "KLEAK_PROMETHEUS_USER": "kleak", **env}, cwd=tmp_path,
    )  # fmt: skip
    for path in [*out.rglob("*")]:
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert PASSWORD not in run.stdout + run.stderr
    return run, run.json()


def test_basic_auth_over_tls_with_the_password_from_a_file(tmp_path: Path, tls_prometheus: tuple[Prom, Path]) -> None:
    prom, cert = tls_prometheus
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    run, doc = _run(tmp_path, prom, "--prometheus-ca", str(cert), KLEAK_PROMETHEUS_PASSWORD_FILE=str(secret))
    assert doc.get("history", {}).get("source") == "prometheus", run.explain()
    assert not [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]


def test_a_wrong_password_is_a_gap(tmp_path: Path, tls_prometheus: tuple[Prom, Path]) -> None:
    prom, cert = tls_prometheus
    run, doc = _run(tmp_path, prom, "--prometheus-ca", str(cert), KLEAK_PROMETHEUS_PASSWORD="not-" + PASSWORD)
    gaps = [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]
    assert gaps and "credentials refused" in gaps[0]["reason"], run.explain()
    assert "history" not in doc and doc["verdict"] != "inconclusive"


def test_an_untrusted_certificate_is_a_gap(tmp_path: Path, tls_prometheus: tuple[Prom, Path]) -> None:
    prom, _ = tls_prometheus
    run, doc = _run(tmp_path, prom, KLEAK_PROMETHEUS_PASSWORD=PASSWORD)
    gaps = [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]
    assert gaps and "--prometheus-ca" in gaps[0]["reason"], run.explain()
