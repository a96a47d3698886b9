"""Prometheus metrics, one registry per app (instrumented at the edges: the routers and the job)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.runs = Counter("kleak_runs", "Finished runs by verdict and trigger", ["verdict", "trigger"], registry=r)
        self.duration = Histogram(
            "kleak_run_duration_seconds",
            "Wall time of a run",
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.queue_depth = Gauge("kleak_queue_depth", "Runs waiting in the queue", registry=r)
        self.running = Gauge("kleak_runs_running", "Runs in flight", registry=r)
        self.failures = Counter("kleak_run_failures", "Runs or deliveries that failed", ["stage"], registry=r)
        self.rejected = Counter(
            "kleak_rejected_requests", "Requests refused by endpoint and reason", ["endpoint", "reason"], registry=r
        )
        self.accepted = Counter(
            "kleak_triggers", "Accepted triggers by trigger and outcome", ["trigger", "outcome"], registry=r
        )
