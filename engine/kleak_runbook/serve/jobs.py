"""The persisted queue (huey: SQLite in the state dir by default, Redis for several machines) and
what one job does: run the CLI, record the answer, post it to everyone waiting for it.

Restart-safety: huey keeps queued runs; at start-up a run still marked running is stopped if
its process survived, marked interrupted, and its partial report posted; a queued run whose
task was lost between dequeue and start is queued again.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from kleak_runbook.serve import runner
from kleak_runbook.serve.audit import AuditLog
from kleak_runbook.serve.metrics import Metrics
from kleak_runbook.serve.settings import Settings
from kleak_runbook.serve.store import Run, Store

Deliver = Callable[[str], None]


def make_huey(settings: Settings) -> Huey:
    if settings.queue.backend == "redis":
        return RedisHuey("kleak", url=settings.queue.redis_url, results=False, utc=True)
    path = settings.state_dir / "queue.db"
    return SqliteHuey("kleak", filename=str(path), results=False, utc=True)


class Jobs:
    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, audit: AuditLog, deliver: Deliver, node: str
    ) -> None:
        self.settings, self.store, self.metrics, self.deliver = settings, store, metrics, deliver
        self.audit = audit
        self.node = node  # this serving machine; with a shared queue, each settles only its own runs
        self.huey = make_huey(settings)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._consumer: Any = None

        def run_task(run_id: str) -> None:
            self.execute(run_id)

        self._task: Any = self.huey.task(name="kleak.run")(run_task)

    def enqueue(self, run_id: str) -> None:
        self._task(run_id)
        self.update_depth()

    def update_depth(self) -> None:
        self.metrics.queue_depth.set(self.huey.pending_count())

    def execute(self, run_id: str) -> None:
        out = self.store.report_dir(run_id)
        logfile = self.store.logs_dir / f"{run_id}.log"
        proc: subprocess.Popen[bytes] | None = None
        with self._lock:
            if self._stopping.is_set():  # dequeued while stopping: it stays queued and recover() requeues it
                return
            run = self.store.start(run_id, self.node)
            if run is None:  # a duplicate task, or a run already handled
                return
            try:
                proc = runner.start(run, self.settings, out, logfile)
            except OSError as exc:
                failed = runner.Outcome("failed", None, None, f"could not start the run: {exc.strerror or exc}")
            else:
                self._procs[run_id] = proc
        self.metrics.running.inc()
        began = time.monotonic()
        try:
            if proc is None:
                result = failed
            else:
                self.store.set_pid(run_id, proc.pid)
                interrupted = self._wait(proc)
                result = runner.outcome(out, proc.returncode, logfile, interrupted)
        finally:
            with self._lock:
                self._procs.pop(run_id, None)
            self.metrics.running.dec()
            self.update_depth()
        self._record(run, result, time.monotonic() - began)
        self.deliver(run_id)

    def _record(self, run: Run, result: runner.Outcome, seconds: float) -> None:
        self.metrics.duration.observe(seconds)
        verdict = str(result.doc.get("verdict", "none")) if result.doc else "none"
        self.metrics.runs.labels(verdict, run.trigger).inc()
        if result.state == "failed":
            self.metrics.failures.labels("run").inc()
        self.store.finish(run.id, result.state, result.exit_code, result.doc, result.error)
        what = {"host": run.host, "samples": run.samples, "consents": list(run.consents)}
        self.audit.record(run.trigger, run.who, self.node, what, result.state, run=run.id, verdict=verdict)

    def _wait(self, proc: subprocess.Popen[bytes]) -> bool:
        """Wait for the run; True when it was cut off (server stopping, or over its time limit)."""
        try:
            proc.wait(timeout=self.settings.runs.timeout_s)
        except subprocess.TimeoutExpired:
            runner.interrupt(proc.pid)
            proc.wait()
            return True
        return self._stopping.is_set()

    def recover(self) -> list[str]:
        """Before the workers start: settle what the last server left; returns runs to post."""
        to_post = []
        for run in self.store.in_state("running", node=self.node):
            out = self.store.report_dir(run.id)
            if run.pid and runner.alive(run.pid) and runner.is_run(run.pid, out):
                runner.interrupt(run.pid)
            logfile = self.store.logs_dir / f"{run.id}.log"
            result = runner.outcome(out, None, logfile, cut_off=True)
            error = "interrupted: the server stopped" if result.state == "interrupted" else result.error
            self.store.finish(run.id, result.state, result.exit_code, result.doc, error)
            to_post.append(run.id)
        pending = {t.args[0] for t in self.huey.pending() if t.args}
        for run in self.store.in_state("queued"):
            if run.id not in pending:
                self.enqueue(run.id)
        to_post += [r for r in self.store.untried(self.node) if r not in to_post]
        return to_post

    def start(self) -> None:
        to_post = self.recover()
        consumer = self.huey.create_consumer(
            workers=self.settings.queue.workers, periodic=False, initial_delay=0.1, backoff=1.15, max_delay=1.0
        )
        # huey's start() installs signal handlers for a consumer of its own; uvicorn owns them here
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        consumer.start()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        self._consumer = consumer
        self.update_depth()
        if to_post:
            threading.Thread(target=lambda: [self.deliver(r) for r in to_post], daemon=True).start()

    def stop(self, grace_s: float = 30) -> None:
        """Cut off runs in flight (each writes its partial report and is posted as interrupted)."""
        with self._lock:
            self._stopping.set()
            procs = list(self._procs.values())
        for proc in procs:
            threading.Thread(target=runner.interrupt, args=(proc.pid, grace_s), daemon=True).start()
        if self._consumer is not None:
            self._consumer.stop_flag.set()
            for _, worker in self._consumer.worker_threads:
                worker.join(grace_s + 30)
            self._consumer.scheduler.join(5)
        self.huey.storage.close()
