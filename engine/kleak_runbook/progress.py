"""Progress on stderr while a run goes: which host, which step, which sample, a countdown.

Quiet when stderr is not a terminal or with ``--quiet``; line-oriented when forced on in a
non-terminal (``--progress``), so CI logs stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


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

    def say(self, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K")
            self.stream.write(message + "\n")
            self.stream.flush()

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
