"""Fetch a host's node_exporter history from Prometheus (``--prometheus URL``) for ``history/prometheus.json``.

The host's series are found by its name or address in the ``instance`` label (port stripped),
else by ``node_uname_info``'s ``nodename``, else by the selector the user gives. One
``query_range`` fetches every meminfo series at once; slab caches (node_exporter's optional
slabinfo collector) at a coarser step, since there can be hundreds. Credentials come from the
environment or from files, never from a command line, and never reach the saved document.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kleak_runbook.errors import KleakError, UsageError
from kleak_runbook.secrets import read_secret

# meminfo fields the kernel-memory components need (metrics.kmem_breakdown), plus MemAvailable for the forecast
FIELDS = (
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
    "Unevictable", "Slab", "SReclaimable", "SUnreclaim", "KReclaimable", "VmallocUsed", "Percpu",
    "KernelStack", "PageTables", "SecPageTables", "Hugetlb", "Hugepagesize", "Zswap",
)  # fmt: skip
# Points per series (Prometheus refuses more than 11,000 in one query_range). The fit reads ~96
# time bins, each as its median: 2,000 points (one each 5 minutes over a week) leave ~20 a bin,
# enough for a median to ignore a spike, at a fifth of what full resolution costs to move and read.
MAX_POINTS = 2_000
SLAB_POINTS = 200  # per cache: a host has hundreds of caches
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class PrometheusError(KleakError):
    """Prometheus could not be asked or did not answer: an evidence gap, not the end of the run."""


@dataclass(frozen=True)
class Auth:
    user: str | None = None
    password: str | None = None
    token: str | None = None
    ca_file: str | None = None


@dataclass(frozen=True)
class Config:
    url: str
    window_s: float
    auth: Auth
    timeout_s: float = 10.0
    selector: str | None = None  # PromQL label matchers, e.g. job="node",instance="db7:9100"
    nodename_label: str = "nodename"

    @property
    def public_url(self) -> str:
        """The URL without any user:password part: what reports and bundles show."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_duration(text: str, option: str) -> float:
    """``30m``, ``2h``, ``7d``, ``1w``, or seconds."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*", text or "")
    if not m:
        raise UsageError(f"{option} {text[:20]!r}: expected a duration such as 30m, 2h or 7d")
    value = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not 0 < value < math.inf:
        raise UsageError(f"{option} {text}: must be more than zero")
    return value


def _secret(env: dict[str, str], var: str, file_var: str, file_opt: str | None, option: str) -> str | None:
    """A secret from a file (option or ``*_FILE`` variable) or from the environment, never the command line."""
    path = file_opt or env.get(file_var)
    if path:
        return read_secret(path, f"{option} {path}")
    return env.get(var) or None


def config_of(args: Any, env: dict[str, str]) -> Config | None:
    """The Prometheus settings from the options and the environment; None without a URL."""
    url = args.prometheus or env.get("KLEAK_PROMETHEUS_URL")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--prometheus {Config(url, 0, Auth()).public_url or url[:40]}: expected an http(s) URL")
    if (parts.username or parts.password) and args.prometheus:
        raise UsageError(
            "--prometheus: no credentials in the URL (the process table shows them); use "
            "KLEAK_PROMETHEUS_USER with KLEAK_PROMETHEUS_PASSWORD(_FILE), or KLEAK_PROMETHEUS_TOKEN(_FILE)"
        )
    ca = args.prometheus_ca or env.get("KLEAK_PROMETHEUS_CA")
    if ca and not Path(ca).is_file():
        raise UsageError(f"--prometheus-ca {ca}: no such file")
    auth = Auth(
        user=parts.username or env.get("KLEAK_PROMETHEUS_USER") or None,
        password=parts.password
        or _secret(env, "KLEAK_PROMETHEUS_PASSWORD", "KLEAK_PROMETHEUS_PASSWORD_FILE", None, "--prometheus"),
        token=_secret(env, "KLEAK_PROMETHEUS_TOKEN", "KLEAK_PROMETHEUS_TOKEN_FILE", args.prometheus_token_file,
                      "--prometheus-token-file"),
        ca_file=ca,
    )  # fmt: skip
    if auth.user and auth.password is None:
        raise UsageError(
            "KLEAK_PROMETHEUS_USER is set without KLEAK_PROMETHEUS_PASSWORD or KLEAK_PROMETHEUS_PASSWORD_FILE"
        )
    return Config(
        url=url.rstrip("/"),
        window_s=parse_duration(args.history_window, "--history-window"),
        auth=auth,
        timeout_s=args.prometheus_timeout,
        selector=args.prometheus_selector,
    )


def _quote(value: str) -> str:
    return json.dumps(value)  # a PromQL string literal is a JSON string


class Client:
    def __init__(self, cfg: Config) -> None:
        import requests  # only runs with --prometheus pay for it

        self.cfg = cfg
        self.session = requests.Session()
        if cfg.auth.token:
            self.session.headers["Authorization"] = f"Bearer {cfg.auth.token}"
        elif cfg.auth.user:
            self.session.auth = (cfg.auth.user, cfg.auth.password or "")
        # per request, not on the session: requests lets $REQUESTS_CA_BUNDLE override a session's CA
        self.verify: str | bool = cfg.auth.ca_file or True
        self.deadline = time.monotonic() + cfg.timeout_s

    def get(self, path: str, params: dict[str, Any]) -> Any:
        import requests

        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PrometheusError(f"{self.cfg.public_url}: no answer within {self.cfg.timeout_s:g}s")
        try:
            resp = self.session.get(self.cfg.url + path, params=params, timeout=left, verify=self.verify)
        except requests.exceptions.SSLError:
            raise PrometheusError(f"{self.cfg.public_url}: TLS certificate not trusted (--prometheus-ca)") from None
        except requests.exceptions.Timeout:
            raise PrometheusError(f"{self.cfg.public_url}: no answer within {self.cfg.timeout_s:g}s") from None
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__.replace("Error", " error").lower()
            raise PrometheusError(f"{self.cfg.public_url}: unreachable ({reason})") from None
        if resp.status_code in (401, 403):
            raise PrometheusError(f"{self.cfg.public_url}: HTTP {resp.status_code}, credentials refused")
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(
                f"{self.cfg.public_url}{path}: HTTP {resp.status_code}, not a Prometheus API answer"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = str(body.get("error", ""))[:200] if isinstance(body, dict) else ""
            raise PrometheusError(f"{self.cfg.public_url}{path}: HTTP {resp.status_code}: {error or 'query failed'}")
        return body.get("data")

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        data = self.get("/api/v1/series", {"match[]": match, "start": start, "end": end})
        return data if isinstance(data, list) else []

    def query_range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        data = self.get("/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step})
        return data if isinstance(data, dict) else {}


def _host_names(host: str, nodenames: tuple[str, ...]) -> list[str]:
    names = [host, *nodenames]
    return [n for i, n in enumerate(names) if n and n not in names[:i]]


def find_selector(client: Client, host: str, nodenames: tuple[str, ...], start: float, end: float) -> tuple[str, str]:
    """(PromQL matchers for the host's series, how they were found)."""
    cfg = client.cfg
    if cfg.selector:
        return cfg.selector, "selector"
    for name in _host_names(host, nodenames):
        sel = f"instance=~{_quote(re.escape(name) + '(:[0-9]+)?')}"
        if client.series(f"node_memory_MemTotal_bytes{{{sel}}}", start, end):
            return sel, "instance"
    for name in _host_names(host, nodenames):
        found = client.series(f"node_uname_info{{{cfg.nodename_label}={_quote(name)}}}", start, end)
        instances = sorted({s["instance"] for s in found if s.get("instance")})
        if instances:
            return f"instance=~{_quote('|'.join(re.escape(i) for i in instances))}", cfg.nodename_label
    raise PrometheusError(
        f"{cfg.public_url}: no node_exporter series for {host} (instance label, or node_uname_info "
        f"{cfg.nodename_label}); name them with --prometheus-selector"
    )


def fetch(cfg: Config, host: str, nodenames: tuple[str, ...] = (), now: float | None = None) -> str:
    """The history document (``history/prometheus.json``) for ``host`` over the window ending now."""
    client = Client(cfg)
    end = now if now is not None else time.time()
    start = end - cfg.window_s
    selector, how = find_selector(client, host, nodenames, start, end)
    step = max(1.0, math.ceil(cfg.window_s / MAX_POINTS))  # a week: one point each 5 minutes
    names = "|".join(f for f in FIELDS)
    queries = {
        "memory": f'{{__name__=~"node_memory_({names})_bytes",{selector}}}',
        "boot_time": f"node_boot_time_seconds{{{selector}}}",
    }
    answers: dict[str, Any] = {}
    for key, q in queries.items():
        answers[key] = {"query": q, **client.query_range(q, start, end, step)}
    slab_step = max(step, math.ceil(cfg.window_s / SLAB_POINTS))
    slab_q = f'{{__name__=~"node_slabinfo_(objects|object_size_bytes)",{selector}}}'
    answers["slab"] = {"query": slab_q, "step": slab_step, **client.query_range(slab_q, start, end, slab_step)}
    if not answers["memory"].get("result"):
        raise PrometheusError(f"{cfg.public_url}: no meminfo series for {host} in the window ({selector})")
    doc = {
        "format": 1,
        "source": "prometheus",
        "url": cfg.public_url,
        "selector": selector,
        "matched_by": how,
        "start": start,
        "end": end,
        "step": step,
        "queries": answers,
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"
