"""Derived numbers on real lab evidence, and version traps."""

from __future__ import annotations

from pathlib import Path

from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.metrics import Metrics, compute
from kleak_runbook.derive.series import Series, slope
from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.replay import ReplayCollector
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.parsers.host import HostParser


def load(path: Path) -> EvidenceStore:
    c = ReplayCollector(path)
    store = EvidenceStore(c.host)
    c.collect(Request(step="x", specs=("meminfo",)), None, lambda _h: store)
    return store


def metrics(store: EvidenceStore, upstream: tuple[int, int, int]) -> Metrics:
    """The parse and derive stages, as the walker runs them."""
    return compute(HostParser(store).parse(), Kernel(upstream=upstream))


def test_slope_is_least_squares_not_first_vs_last() -> None:
    # first-vs-last would say 0; the fit sees the middle
    assert slope([0, 1, 2, 3], [0, 10, 10, 0]) == 0.0
    assert slope([0, 5, 10], [0, 100, 100]) == 10.0
    s = Series.of([0, 10, 5], [0.0, 1.0, 2.0])
    assert not s.steady and s.delta == 5


def test_breakdown_on_the_kmalloc_leak(samples: Path) -> None:
    m = metrics(load(samples / "lab-debian-6.1/kmalloc-leak"), (6, 1, 176))
    assert m.sample_count == 3 and 10 < m.window_s < 13
    su = m.kmem["slab_unreclaimable"]
    # 1 MiB/s leak (tests/samples/README.md): SUnreclaim +11256 kB over ~11.4 s
    assert su.delta == (38984 - 27728) * 1024
    assert 900 * 1024 < su.growth_bytes_per_s < 1100 * 1024
    assert abs(m.kmem["unaccounted"].growth_bytes_per_s) < 64 * 1024
    cache = m.caches["kmalloc-4k"]
    assert cache.reclaimable is not True and cache.growth_bytes_per_s > 900 * 1024


def test_pages_leak_shows_only_as_unaccounted(samples: Path) -> None:
    m = metrics(load(samples / "lab-debian-6.1/pages-leak"), (6, 1, 176))
    assert m.kmem["unaccounted"].growth_bytes_per_s > 900 * 1024
    for quiet in ("slab_unreclaimable", "slab_reclaimable", "vmalloc", "percpu"):
        assert abs(m.kmem[quiet].growth_bytes_per_s) < 16 * 1024, quiet


def test_free_pages_on_per_cpu_lists_are_not_unaccounted(samples: Path) -> None:
    # Real lab run (tests/samples/lab-runs/README.md): a 1 MiB/s pages leak fed from the per-CPU
    # free lists, which MemFree does not count.
    store = load(samples / "lab-runs/pages-leak-pcp-drain/evidence")
    m = metrics(store, (6, 1, 176))
    pcp, unacc = m.kmem["pcp_free"], m.kmem["unaccounted"]
    assert pcp.delta < -5 * 1024 * 1024  # the lists drained ...
    assert unacc.steady and 900 * 1024 < unacc.growth_bytes_per_s < 1100 * 1024  # ... into the leak
    assert m.meminfo["MemFree"].delta > -1024 * 1024  # while MemFree hardly moved
    # without zoneinfo the same samples show no steady growth: what made CI say no-leak
    for s in store.samples:
        del s.texts["zoneinfo"]
    blind = metrics(store, (6, 1, 176))
    assert "pcp_free" not in blind.kmem and not blind.kmem["unaccounted"].steady
    assert any("zoneinfo was not collected" in n for n in blind.notes)


def test_vmalloc_callers_grouped_with_module(samples: Path) -> None:
    m = metrics(load(samples / "lab-debian-6.1/vmalloc-leak"), (6, 1, 176))
    top = m.callers[0]
    assert top.caller == "leaky_leak_4k [leaky]" and top.module == "leaky" and not top.percpu
    assert top.growth_bytes_per_s > 900 * 1024
    assert any(c.percpu for c in m.callers)  # pcpu_create_chunk areas are the per-CPU allocator's


def test_vmallocused_zero_trap_uses_vmallocinfo(samples: Path) -> None:
    """Synthetic edge case: the real 6.1 bundle read as if from a 4.9 kernel (VmallocUsed 0)."""
    store = load(samples / "lab-debian-6.1/vmalloc-leak")
    for s in store.samples:
        s.texts["meminfo"] = "\n".join(
            "VmallocUsed:           0 kB" if line.startswith("VmallocUsed:") else line
            for line in s.texts["meminfo"].splitlines()
        )
    assert Kernel(upstream=(4, 9, 0)).vmallocused_is_zero
    assert not Kernel(upstream=(5, 3, 0)).vmallocused_is_zero and not Kernel(upstream=(4, 3, 0)).vmallocused_is_zero
    m = metrics(store, (4, 9, 0))
    assert m.vmalloc_source.startswith("/proc/vmallocinfo")
    assert m.kmem["vmalloc"].growth_bytes_per_s > 900 * 1024
    assert any("4.4 to 5.2" in n for n in m.notes)


def test_missing_fields_are_gaps_not_zeros(samples: Path) -> None:
    """Synthetic edge case: Percpu and KReclaimable removed, as on a 4.14 kernel."""
    store = load(samples / "lab-debian-6.1/healthy")
    for s in store.samples:
        s.texts["meminfo"] = "\n".join(
            line for line in s.texts["meminfo"].splitlines() if not line.startswith(("Percpu:", "KReclaimable:"))
        )
    m = metrics(store, (4, 14, 0))
    assert "percpu" not in m.kmem and "other_reclaimable" not in m.kmem
    assert any("Percpu" in n for n in m.notes)
    assert "unaccounted" in m.kmem
