"""Progress on stderr while a run goes: which host, which step, which sample, a countdown.

Quiet when stderr is not a terminal or with ``--quiet``; line-oriented when forced on in a
non-terminal (``--progress``), so CI logs stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

FLEET_EVERY_S = 1.0


class Progress:
    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._label = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # step, hosts in it (None: unknown), done, failed, start, last line printed
        self._fleet: list[Any] | None = None
        self._finished: set[str] = set()

    def say(self, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K")
            self.stream.write(message + "\n")
            self.stream.flush()

    def fleet(self, step: str, total: int | None) -> None:
        """A collection over several hosts begins: count them as they finish (``host_finished``)."""
        with self._lock:
            self._fleet = [step, total, 0, 0, time.monotonic(), 0.0]
            self._finished = set()

    def host_finished(self, host: str, failed: bool) -> None:
        """One host of the current collection is done (``failed``: unreachable or timed out)."""
        if not self.enabled or self._fleet is None:
            return
        with self._lock:
            if host in self._finished:
                return
            self._finished.add(host)
            f = self._fleet
            f[2 if not failed else 3] += 1
            now = time.monotonic()
            total, done = f[1], f[2] + f[3]
            last = total is not None and done >= total
            if now - f[5] < FLEET_EVERY_S and not last:
                return  # a thousand hosts: one line a second, not one per host
            f[5] = now
        self.say(self._fleet_line(now))

    def _fleet_line(self, now: float) -> str:
        step, total, ok, failed, start, _ = self._fleet or ["", None, 0, 0, now, 0.0]
        done = ok + failed
        line = f"step {step}: {done} hosts done, {failed} failed"
        if total:
            left = max(0, total - done)
            line += f", {left} remaining"
            if done and left:
                line += f", about {(now - start) / done * left:.0f}s left"
        return line

    def waiting(self, label: str, seconds: float) -> None:
        """Show a countdown for ``label`` until the next ``say``/``waiting``/``done``."""
        if not self.enabled:
            return
        if not self.tty:
            self.say(f"{label} (about {seconds:.0f}s)")
            return
        with self._lock:
            self._label, self._deadline = label, time.monotonic() + seconds
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if self._deadline is None:
                    continue
                left = max(0, self._deadline - time.monotonic())
                self.stream.write(f"\r\x1b[K{self._label} … {left:4.0f}s")
                self.stream.flush()

    def done(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.tty:
            with self._lock:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
