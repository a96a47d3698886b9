"""Per-source rate limits: a token bucket per source (Slack user, API token, remote address, ...)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, source: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(source, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[source] = (tokens, now)
                return False
            self._buckets[source] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget idle sources so the table cannot grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 3600}
            return True
