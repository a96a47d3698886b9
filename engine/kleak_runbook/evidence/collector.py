"""Collectors: where evidence comes from. The engine talks to the ``Collector`` protocol only.

``AnsibleCollector`` reads live hosts through ansible-runner; ``ReplayCollector`` reads saved
evidence (a bundle, a snapshot directory). Both fill an ``EvidenceStore`` per host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kleak_runbook.evidence.store import EvidenceStore


@dataclass(frozen=True)
class ProbeCall:
    name: str
    args: tuple[str, ...] = ()
    consented: bool = False


@dataclass(frozen=True)
class Request:
    """What one runbook step needs from every host in ``hosts``."""

    step: str
    specs: tuple[str, ...] = ()  # sampled evidence
    samples: int = 1
    interval: float = 0.0
    static: tuple[str, ...] = ()  # once-per-host evidence not yet collected
    probes: tuple[ProbeCall, ...] = ()
    timeout: float = 120.0


StoreFor = Callable[[str], EvidenceStore]


class Collector(Protocol):
    live: bool

    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: StoreFor) -> list[str]:
        """Collect for ``hosts`` (None: every host of the target) and return the hosts seen."""
        ...

    def close(self) -> None: ...
