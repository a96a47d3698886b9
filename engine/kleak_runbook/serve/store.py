"""The run records of the service, in SQLite in the state directory (``runs.db``).

huey owns the queue; this file owns what the web pages, the API and the replies need to know
about a run: its request, its state, its answer and who is waiting for it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kleak_runbook.serve.policy import Request

ACTIVE = ("queued", "running")
FINAL = ("done", "interrupted", "failed")
SCHEMA = """
create table if not exists runs (
  id text primary key, host text not null, runbook text not null, samples integer, consents text not null,
  trigger text not null, who text not null, state text not null, created real not null, started real,
  finished real, node text, pid integer, exit_code integer, verdict text, kind text, summary text, error text);
create index if not exists runs_host on runs(host, state);
create table if not exists subscribers (
  run_id text not null, target text not null, delivered integer not null default 0, error text,
  primary key (run_id, target));
create table if not exists seen (key text primary key, at real not null);
create table if not exists dedupe (key text primary key, run_id text not null, at real not null);
"""


@dataclass(frozen=True)
class Run:
    id: str
    host: str
    runbook: str
    samples: int | None
    consents: tuple[str, ...]
    trigger: str
    who: str
    state: str
    created: float
    started: float | None
    finished: float | None
    node: str | None
    pid: int | None
    exit_code: int | None
    verdict: str | None
    kind: str | None
    summary: str | None
    error: str | None

    def public(self) -> dict[str, Any]:
        """The record as the API shows it (times in ISO 8601 UTC)."""
        doc: dict[str, Any] = {k: v for k, v in self.__dict__.items() if k != "pid"}
        doc["consents"] = list(self.consents)
        for key in ("created", "started", "finished"):
            doc[key] = iso(doc[key])
        return doc


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


class Store:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir = state_dir / "runs"
        self.logs_dir = state_dir / "logs"
        self.runs_dir.mkdir(exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(state_dir / "runs.db", check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("pragma journal_mode=wal")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def report_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def _run(self, row: sqlite3.Row | None) -> Run | None:
        if row is None:
            return None
        data = dict(row)
        data["consents"] = tuple(json.loads(data["consents"]))
        return Run(**data)

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._run(self._db.execute("select * from runs where id = ?", (run_id,)).fetchone())

    def recent(self, limit: int = 100) -> list[Run]:
        with self._lock:
            rows = self._db.execute("select * from runs order by created desc limit ?", (limit,)).fetchall()
        return [r for r in map(self._run, rows) if r is not None]

    def in_state(self, *states: str, node: str | None = None) -> list[Run]:
        """Runs in ``states`` (of one serving machine, with ``node``), oldest first."""
        marks = ",".join("?" * len(states))
        where = f"state in ({marks})" + (" and node = ?" if node is not None else "")
        args = (*states, node) if node is not None else states
        with self._lock:
            rows = self._db.execute(f"select * from runs where {where} order by created", args).fetchall()
        return [r for r in map(self._run, rows) if r is not None]

    def submit(self, req: Request, trigger: str, who: str, targets: tuple[str, ...]) -> tuple[Run, bool]:
        """A new queued run, or the active run for the same host (joined). Returns (run, joined)."""
        with self._lock:
            self._db.execute("begin immediate")
            try:
                marks = ",".join("?" * len(ACTIVE))
                row = self._db.execute(
                    f"select * from runs where host = ? and state in ({marks}) order by created limit 1",
                    (req.host, *ACTIVE),
                ).fetchone()
                joined = row is not None
                run_id = row["id"] if row is not None else new_id()
                if row is None:
                    self._db.execute(
                        "insert into runs (id, host, runbook, samples, consents, trigger, who, state, created) "
                        "values (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                        (
                            run_id,
                            req.host,
                            req.runbook,
                            req.samples,
                            json.dumps(req.consents),
                            trigger,
                            who,
                            time.time(),
                        ),
                    )
                for target in targets:
                    self._db.execute(
                        "insert or ignore into subscribers (run_id, target) values (?, ?)", (run_id, target)
                    )
                self._db.execute("commit")
            except BaseException:
                self._db.execute("rollback")
                raise
            run = self._run(self._db.execute("select * from runs where id = ?", (run_id,)).fetchone())
        assert run is not None
        return run, joined

    def start(self, run_id: str, node: str) -> Run | None:
        """queued -> running on ``node``; None when the run is not queued (a duplicate task, or handled)."""
        with self._lock:
            cur = self._db.execute(
                "update runs set state = 'running', started = ?, node = ? where id = ? and state = 'queued'",
                (time.time(), node, run_id),
            )
            if cur.rowcount != 1:
                return None
            return self._run(self._db.execute("select * from runs where id = ?", (run_id,)).fetchone())

    def set_pid(self, run_id: str, pid: int | None) -> None:
        with self._lock:
            self._db.execute("update runs set pid = ? where id = ?", (pid, run_id))

    def finish(
        self, run_id: str, state: str, exit_code: int | None, doc: dict[str, Any] | None, error: str | None
    ) -> None:
        doc = doc or {}
        with self._lock:
            self._db.execute(
                "update runs set state = ?, finished = ?, exit_code = ?, verdict = ?, kind = ?, summary = ?, "
                "error = ?, pid = null where id = ?",
                (state, time.time(), exit_code, doc.get("verdict"), doc.get("kind"), doc.get("summary"), error, run_id),
            )

    def undelivered(self, run_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "select target from subscribers where run_id = ? and delivered = 0 order by rowid", (run_id,)
            ).fetchall()
        return [r["target"] for r in rows]

    def subscribers(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("select * from subscribers where run_id = ? order by rowid", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def delivered(self, run_id: str, target: str, error: str | None) -> None:
        with self._lock:
            self._db.execute(
                "update subscribers set delivered = ?, error = ? where run_id = ? and target = ?",
                (0 if error else 1, error, run_id, target),
            )

    def first_time(self, key: str, window_s: float) -> bool:
        """True the first time ``key`` is seen within ``window_s`` (replayed requests, redelivered hooks)."""
        now = time.time()
        with self._lock:
            self._db.execute("delete from seen where at < ?", (now - window_s,))
            cur = self._db.execute("insert or ignore into seen (key, at) values (?, ?)", (key, now))
            return cur.rowcount == 1

    def dedupe(self, key: str, run_id: str | None, window_s: float) -> str | None:
        """The run already started for ``key`` within the window; else remember ``run_id`` for it."""
        now = time.time()
        with self._lock:
            self._db.execute("delete from dedupe where at < ?", (now - window_s,))
            row = self._db.execute("select run_id from dedupe where key = ?", (key,)).fetchone()
            if row is not None:
                return str(row["run_id"])
            if run_id is not None:
                self._db.execute("insert into dedupe (key, run_id, at) values (?, ?, ?)", (key, run_id, now))
            return None

    def untried(self, node: str) -> list[str]:
        """Finished runs with a reply never attempted (the server stopped between the run and its post)."""
        marks = ",".join("?" * len(FINAL))
        with self._lock:
            rows = self._db.execute(
                f"select distinct s.run_id from subscribers s join runs r on r.id = s.run_id "
                f"where s.delivered = 0 and s.error is null and r.node = ? and r.state in ({marks})",
                (node, *FINAL),
            ).fetchall()
        return [r["run_id"] for r in rows]
