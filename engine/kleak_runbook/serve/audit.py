"""The audit log: one JSON line per trigger (who, from where, what, when, outcome) in the state dir.

Only fields the service chose are written: never a header, a token or a request body.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from kleak_runbook.serve.store import iso


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, trigger: str, who: str, source: str, what: dict[str, Any], outcome: str, **extra: Any) -> None:
        entry = {"when": iso(time.time()), "trigger": trigger, "who": who, "from": source, "what": what}
        entry.update({"outcome": outcome, **extra})
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
