"""Fleet-side collection: later steps reach their hosts through a generated inventory group.

The walker hands each step the hosts still walking; passed as ``--limit h1,h2,...`` that
string grows with the fleet (a thousand host names on ansible-playbook's command line, in
every process listing). Instead each step's hosts are written to a small YAML inventory as a
group (``kleak_step_N``) next to the user's own inventories, and the limit is that group's name:
host variables still come from the user's inventory, since Ansible merges a host's entries
across sources. Progress counts the hosts of each step as they finish.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError
from kleak_runbook.evidence.collector import Request, StoreFor
from kleak_runbook.evidence.events import DISARMED
from kleak_runbook.progress import Progress


def inventory_hosts(inventory: Sequence[str], limit: str | None) -> list[str]:
    """The hosts an inventory (and ``--limit`` pattern) names, as ansible-playbook resolves them."""
    from ansible.inventory.manager import InventoryManager  # only fleets pay for this import
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(Path(i).resolve()) for i in inventory])
    if limit:
        manager.subset(limit)
    return [h.name for h in manager.get_hosts("all")]


def inventory_groups(inventory: Sequence[str]) -> dict[str, list[str]]:
    """Each inventory group (but ``all`` and ``ungrouped``) with its hosts."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(Path(i).resolve()) for i in inventory])
    return {
        name: [h.name for h in group.get_hosts()]
        for name, group in manager.groups.items()
        if name not in ("all", "ungrouped")
    }


def _scaled(request: Request, hosts: int | None, forks: int) -> Request:
    """The step's time limit covers one round of ``forks`` hosts; a fleet runs in several rounds.

    Each host still has its own limit (the play's per-item ``timeout``, ssh's ConnectTimeout),
    so one stuck host holds one fork for that long, never the others; the whole-run limit only
    catches Ansible itself hanging, and must not cut off the later rounds of a big fleet.
    """
    rounds = -(-hosts // max(1, forks)) if hosts else 1
    return replace(request, timeout=request.timeout * rounds) if rounds > 1 else request


def write_group(directory: Path, name: str, hosts: Sequence[str]) -> Path:
    """A YAML (here: JSON, which YAML reads) inventory holding ``hosts`` as group ``name``."""
    path = directory / f"{name}.yml"
    doc = {"all": {"children": {name: {"hosts": dict.fromkeys(hosts)}}}}
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return path


class HostGroups:
    """Wraps the Ansible collector of an inventory run (``AnsibleCollector``)."""

    live = True

    def __init__(self, inner: Any, progress: Progress) -> None:
        self.inner = inner
        self.progress = progress
        self._steps = 0
        self._total: int | None = None
        # hosts that gave no reply before their time limit: asking again in later steps would make
        # every later step wait that long once more (the walker takes steps one after another)
        self._stuck: dict[str, str] = {}

    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: StoreFor) -> list[str]:
        target = self.inner.target
        if hosts is None:
            total = self._first_total(target)
            self.progress.fleet(request.step, total)
            return self._note_stuck(
                request, self.inner.collect(_scaled(request, total, target.forks), None, store_for), store_for
            )
        skipped = [h for h in hosts if h in self._stuck]
        for host in skipped:
            store_for(host).add_gap(request.step, "timeout", f"not asked again: {self._stuck[host]}")
        hosts = [h for h in hosts if h not in self._stuck]
        if not hosts:
            return skipped
        return skipped + self._note_stuck(request, self._collect_group(request, hosts, store_for), store_for)

    def _note_stuck(self, request: Request, seen: Sequence[str], store_for: StoreFor) -> list[str]:
        for host in seen:
            store = store_for(host)
            if store.unreachable is None and any(g.item == request.step and g.status == "timeout" for g in store.gaps):
                self._stuck.setdefault(host, f"it timed out in step {request.step}")
        return list(seen)

    def _collect_group(self, request: Request, hosts: list[str], store_for: StoreFor) -> list[str]:
        target = self.inner.target
        self._steps += 1
        group = f"kleak_step_{self._steps}"
        path = write_group(self.inner.workdir, group, hosts)
        if any(c.name in DISARMED for c in request.probes):
            # the inner collector records these itself only from an explicit host list
            self.inner._trace_hosts.update(hosts)
        saved = (target.inventory, target.limit)
        target.inventory, target.limit = [*target.inventory, str(path)], group
        self.progress.fleet(request.step, len(hosts))
        try:
            return list(self.inner.collect(_scaled(request, len(hosts), target.forks), None, store_for))
        finally:
            target.inventory, target.limit = saved

    def _first_total(self, target: Any) -> int | None:
        """How many hosts the first step has: for 'remaining', 'time left' and the time limit."""
        try:
            self._total = len(inventory_hosts(target.inventory, target.limit))
        except Exception:  # progress only: ansible-playbook reports a broken inventory itself
            return None
        return self._total

    @property
    def incidents(self) -> list[dict[str, Any]]:
        """Execution nodes that died during the run, with the hosts they held."""
        return list(getattr(self.inner, "incidents", []))

    def close(self) -> None:
        self.inner.close()


def fleet_collector(inner: Any, progress: Progress, args: Any) -> Any:
    """The collector of an inventory run: execution nodes when given, generated groups always."""
    nodes = getattr(args, "execution_node", None)
    if nodes:
        from kleak_runbook.evidence.nodes import NodeCollector

        try:
            inner = NodeCollector(inner, nodes, getattr(args, "node_runner", "ansible-runner"), progress)
        except UsageError:
            inner.close()  # its temporary directory
            raise
    return HostGroups(inner, progress)
