"""The service object every router shares: settings, run store, queue, audit log, metrics, limits.

``submit`` is the one way a trigger becomes a run: rate limit, allowed host, consents, then a
new queued run or the running one for the same host; every outcome goes to the audit log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from kleak_runbook.decide import runbook as rbmod
from kleak_runbook.serve.audit import AuditLog
from kleak_runbook.serve.groups import Grants
from kleak_runbook.serve.jobs import Jobs
from kleak_runbook.serve.metrics import Metrics
from kleak_runbook.serve.policy import NO_GRANT, Granted, Refused, Request, check_consents, check_host
from kleak_runbook.serve.ratelimit import RateLimiter
from kleak_runbook.serve.replies import Replies
from kleak_runbook.serve.settings import Settings
from kleak_runbook.serve.store import Run, Store


class Service:
    def __init__(self, settings: Settings, base_url: str, node: str) -> None:
        self.settings = settings
        self.store = Store(settings.state_dir)
        self.audit = AuditLog(settings.state_dir / "audit.jsonl")
        self.metrics = Metrics()
        self.limiter = RateLimiter(settings.limits.rate_per_minute, settings.limits.rate_burst)
        self.replies = Replies(settings, self.store, self.metrics, base_url)
        self.jobs = Jobs(settings, self.store, self.metrics, self.audit, self.replies, node)
        self.runbooks = {p.stem for p in rbmod.bundled()} & set(settings.runs.runbooks)
        self.grants = Grants(settings, self.replies.sinks)

    def link(self, run_id: str) -> str:
        return self.replies.link(run_id)

    def refuse(self, endpoint: str, who: str, source: str, what: dict[str, Any], refusal: Refused) -> Refused:
        self.metrics.rejected.labels(endpoint, str(refusal.status)).inc()
        self.audit.record(endpoint, who, source, what, "refused", status=refusal.status, reason=refusal.reason)
        return refusal

    def limit(self, endpoint: str, who: str, source: str) -> None:
        if not self.limiter.allow(f"{endpoint}:{who}"):
            raise self.refuse(endpoint, who, source, {}, Refused(429, f"too many requests from {who}; try later"))

    def submit(
        self,
        req: Request,
        trigger: str,
        who: str,
        source: str,
        targets: tuple[str, ...] = (),
        granted: Granted = NO_GRANT,
    ) -> tuple[Run, bool]:
        """The run for ``req`` (new, or the active one for its host joined); Refused is audited and raised."""
        what = {k: v for k, v in asdict(req).items() if v not in (None, ())}
        try:
            check_host(req.host, self.settings.hosts)
            if req.runbook not in self.runbooks:
                raise Refused(403, f"runbook {req.runbook[:60]!r} is not offered here")
            check_consents(req.consents, granted, who)
        except Refused as refusal:
            raise self.refuse(trigger, who, source, what, refusal) from None
        run, joined = self.store.submit(req, trigger, who, targets)
        if not joined:
            self.jobs.enqueue(run.id)
        outcome = "joined" if joined else "queued"
        self.metrics.accepted.labels(trigger, outcome).inc()
        via = {"consented_via": list(granted.via)} if req.consents and granted.via else {}
        self.audit.record(trigger, who, source, what, outcome, run=run.id, **via)
        return run, joined
