"""Long windows for ``run``: Prometheus history and earlier runs as evidence, ``--watch``, the chart.

``session`` calls in at four places: the options are checked before anything runs
(``LongWindow.prepare``); each host's history is fetched while Ansible starts and added to its
store before its first rule is evaluated (``attach``); ``--watch`` writes a partial report every
few minutes and judges what it has when Ctrl-C ends it (``judge``); and the chart is drawn next
to report.md when there was history (``chart_for``). A Prometheus that does not answer is an
evidence gap: the live verdict stands.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError
from kleak_runbook.evidence import baseline, prometheus
from kleak_runbook.evidence.collector import Request, StoreFor
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import EvidenceStore

LOCAL = ("localhost", "127.0.0.1-local")
PARTIAL_EVERY_S = 300.0  # --watch: a partial report this often
MAX_WATCH_SAMPLES = 10_000


def add_options(run: argparse.ArgumentParser) -> None:
    g = run.add_argument_group("long windows (slow leaks)")
    g.add_argument(
        "--prometheus", metavar="URL", help="Prometheus with node_exporter history (also $KLEAK_PROMETHEUS_URL)"
    )
    g.add_argument("--history-window", default="7d", metavar="DURATION", help="how far back to read (default 7d)")
    g.add_argument(
        "--prometheus-selector",
        metavar="MATCHERS",
        help='PromQL label matchers for the host\'s series, e.g. job="node",instance="db7:9100" '
        "(default: the host in the instance label, or node_uname_info's nodename)",
    )
    g.add_argument(
        "--prometheus-ca", metavar="FILE", help="CA bundle for an https Prometheus (also $KLEAK_PROMETHEUS_CA)"
    )
    g.add_argument(
        "--prometheus-token-file",
        metavar="FILE",
        help="bearer token file (also $KLEAK_PROMETHEUS_TOKEN(_FILE); basic auth: $KLEAK_PROMETHEUS_USER "
        "with $KLEAK_PROMETHEUS_PASSWORD(_FILE))",
    )
    g.add_argument(
        "--prometheus-timeout", type=_seconds, default=10.0, metavar="S", help="give up after S s (default 10)"
    )
    g.add_argument(
        "--baseline",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="earlier report directories of the host, or directories of them (repeatable; default: beside this report)",
    )
    g.add_argument("--no-baseline", action="store_true", help="do not compare with earlier runs")
    g.add_argument(
        "--watch", metavar="DURATION", help="sample every interval for DURATION (30m, 2h), partial reports on the way"
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--prometheus-timeout takes seconds, not {text[:20]!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"--prometheus-timeout {text}: out of range (0 to 600 seconds)")
    return value


def _nodenames(host: str) -> tuple[str, ...]:
    """Names node_uname_info may carry for ``host``: the machine's own for localhost, the short name."""
    if host in LOCAL:
        name = socket.gethostname()
        return (name, name.split(".")[0], socket.getfqdn())
    return (host.split(".")[0],) if "." in host and not host.replace(".", "").isdigit() else ()


class LongWindow:
    def __init__(
        self,
        prom: prometheus.Config | None,
        dirs: list[Path],
        auto: bool,
        watch_s: float | None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.prom = prom
        self.params = dict(params or {})
        self.charts: dict[Path, subprocess.Popen[bytes]] = {}  # report dir -> the child drawing its chart
        self.dirs = dirs
        self.auto = auto
        self.watch_s = watch_s
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kleak-history")
        self._pending: dict[str, Future[tuple[str | None, str | None, str | None]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def prepare(cls, args: argparse.Namespace, env: Mapping[str, str], params: Mapping[str, Any]) -> LongWindow:
        prom = prometheus.config_of(args, dict(env))
        baseline.check_dirs(args.baseline)
        watch = prometheus.parse_duration(args.watch, "--watch") if args.watch else None
        if watch is not None and args.samples is not None:
            raise UsageError("--watch and --samples are exclusive: --watch samples every interval for its duration")
        return cls(prom, list(args.baseline), not args.no_baseline, watch, params)

    # --- sampling ----------------------------------------------------------------------------
    def sampling(
        self, samples: int | None, interval: float | None, default_interval: float
    ) -> tuple[int | None, float | None]:
        if self.watch_s is None:
            return samples, interval
        step = interval if interval else default_interval
        count = max(3, int(self.watch_s // step) + 1)
        if count > MAX_WATCH_SAMPLES:  # replay reads at most this many samples
            raise UsageError(
                f"--watch {self.watch_s:g}s at --interval {step:g}: {count} samples, more than {MAX_WATCH_SAMPLES}; "
                "sample less often (a larger --interval)"
            )
        return count, step

    # --- history per host ------------------------------------------------------------------
    def start(self, host: str, report_dir: Path) -> None:
        """Begin fetching ``host``'s history (Prometheus and earlier runs) in the background."""
        if host not in self._pending:
            self._pending[host] = self._pool.submit(self._fetch, host, report_dir)

    def _fetch(self, host: str, report_dir: Path) -> tuple[str | None, str | None, str | None]:
        prom_doc = error = None
        if self.prom is not None:
            try:
                prom_doc = prometheus.fetch(self.prom, host, _nodenames(host))
            except prometheus.PrometheusError as exc:
                error = str(exc)
        return prom_doc, error, self._baseline(host, report_dir)

    def _baseline(self, host: str, report_dir: Path) -> str | None:
        from kleak_runbook.derive.baseline import summarize

        dirs = list(self.dirs) + ([report_dir.parent] if self.auto and report_dir.parent.is_dir() else [])
        runs = []
        for path in baseline.find_runs(host, dirs, exclude=report_dir):
            loaded = baseline.load_run(path)
            if loaded is not None:
                runs.append(summarize(loaded[0], loaded[1], str(path)))
        return json.dumps({"format": 1, "runs": runs}, separators=(",", ":")) + "\n" if runs else None

    def attach(self, host: str, store: EvidenceStore, report_dir: Path) -> None:
        """Add ``host``'s history to its store (waiting for the fetch), or the gap that stands for it."""
        self.start(host, report_dir)
        prom_doc, error, runs_doc = self._pending[host].result()
        if prom_doc is not None:
            store.add_history("prometheus_history", SPECS["prometheus_history"].relpath, prom_doc)
            if store.root is not None:  # the chart is drawn beside, while the run samples
                self.charts[report_dir] = subprocess.Popen(
                    [sys.executable, "-m", "kleak_runbook.report.chart", str(store.root / SPECS["prometheus_history"].relpath),
                     str(report_dir), json.dumps(self.params)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
        if error is not None:
            store.add_gap("prometheus", "unreachable", f"{error}: judged from the live samples alone")
        if runs_doc is not None:
            store.add_history("baseline_runs", SPECS["baseline_runs"].relpath, runs_doc)

    # --- --watch -----------------------------------------------------------------------------
    def watch_reports(
        self, write: Callable[[], None], say: Callable[[str], None], every_s: float = PARTIAL_EVERY_S
    ) -> None:
        """While the watch runs: the time left every minute or so, and ``write`` (a partial report) every ``every_s``."""
        if self.watch_s is None:
            return
        every = min(every_s, max(30.0, self.watch_s / 6))
        tick = min(60.0, every)
        start = time.monotonic()
        due = start + every

        def loop() -> None:
            nonlocal due
            while not self._stop.wait(tick):
                now = time.monotonic()
                left = max(0.0, (self.watch_s or 0) - (now - start))
                wrote = ""
                if now >= due:
                    due = now + every
                    wrote = "; the partial report could not be written"
                    for _ in range(3):  # the collector may add to a sample while it is read: try again
                        try:
                            write()
                        except Exception:  # a partial report is a courtesy: it must never end the watch
                            continue
                        wrote = "; partial report written"
                        break
                say(f"--watch: {left / 60:.1f} min left (Ctrl-C ends it with a report){wrote}")

        self._thread = threading.Thread(target=loop, name="kleak-watch", daemon=True)
        self._thread.start()

    def chart(self, context: Mapping[str, Any], report_dir: Path) -> str | None:
        """The chart for ``report_dir``: the child's when it drew this history, else drawn now."""
        child = self.charts.pop(report_dir, None)
        hist = context.get("history")
        if child is not None and hist is not None and hist.source == "prometheus":
            try:
                if child.wait(timeout=60) == 0 and (report_dir / "history.svg").is_file():
                    return "history.svg"
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return chart_for(context, report_dir)

    def close(self) -> None:
        """After the walk: the watch and the fetches end; chart children finish on their own (a second or two)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)


class SnapshotCollector:
    """Hands a walk the evidence a live store holds so far: the partial reports of ``--watch``."""

    live = False

    def __init__(self, stores: Mapping[str, EvidenceStore]) -> None:
        self.stores = stores

    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: StoreFor) -> list[str]:
        return [h for h in (hosts if hosts is not None else list(self.stores)) if h in self.stores]

    def close(self) -> None:
        return None


def judge(walker_args: dict[str, Any], stores: Mapping[str, EvidenceStore], host: str) -> Any:
    """Walk the runbook again over what ``host``'s store holds now; the HostWalk."""
    from kleak_runbook.decide.walker import Walker

    walker = Walker(collector=SnapshotCollector(stores), store_for=lambda h: stores[h], **walker_args)
    walker.run([host])
    return walker.walk_for(host, stores[host])


def chart_for(context: Mapping[str, Any], report_dir: Path) -> str | None:
    """Draw the long-window chart next to report.md when there was history; its file name."""
    hist = context.get("history")
    if hist is None or getattr(hist, "series", None) is None or not hist.series.components:
        return None
    from kleak_runbook.report import chart  # matplotlib: only when there is history to draw

    try:
        return chart.draw(hist, report_dir)
    except ImportError:  # matplotlib is an extra: the report stands without its chart
        _say_once("history.svg not drawn: matplotlib is not installed (pip install 'kleak-runbook[charts]')")
    except Exception as exc:  # a chart must never cost the report
        _say_once(f"history.svg not drawn: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    return None


_SAID: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        sys.stderr.write(f"kleak-runbook: {message}\n")


def partial_writer(
    walker_args: dict[str, Any],
    stores: Mapping[str, EvidenceStore],
    report_dir: Callable[[str], Path],
    finish_host: Callable[[Any, EvidenceStore, dict[str, Any]], Any],
) -> Callable[[], None]:
    """``--watch``'s partial report: the runbook walked over what each host's store holds now."""

    def write() -> None:
        from kleak_runbook.deliver.directory import ReportDirectory

        for host, store in list(stores.items()):
            if not store.samples:
                continue
            walk = judge(walker_args, stores, host)
            result = finish_host(
                walk, store, {"partial": f"--watch still running: {len(store.samples)} samples so far"}
            )
            ReportDirectory().deliver(result, report_dir(host))

    return write
