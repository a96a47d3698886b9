"""The shipped knowledge base loads, every entry is sourced, and entries match the right kernels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from kleak_runbook.decide.knowledge import Entry, bundled_knowledge_dir, load_knowledge
from kleak_runbook.decide.known_bugs import Match, match
from kleak_runbook.derive.kversion import KernelIdentity, identify
from kleak_runbook.errors import RunbookError

GIB = 1024**3
MIB = 1024**2


class Metric(int):
    """An evidence number with its growth, as the engine provides it."""

    growth_bytes_per_s: float
    delta: int

    def __new__(cls, value: int, growth: float = 0.0, delta: int = 0) -> Metric:
        metric = super().__new__(cls, value)
        metric.growth_bytes_per_s = growth
        metric.delta = delta
        return metric


class Cmdline:
    """Like the engine's parsed /proc/cmdline: ``has(name)`` or ``has(name, value)``."""

    def __init__(self, text: str) -> None:
        self.pairs = [(*arg.split("=", 1), None)[:2] for arg in text.split()]

    def has(self, name: str, value: str | None = None) -> bool:
        for key, found in reversed(self.pairs):
            if key == name:
                return value is None or found == value
        return False


def cache(objects: int, object_size: int) -> SimpleNamespace:
    return SimpleNamespace(objects=objects, bytes=objects * object_size, growth_bytes_per_s=0.0)


def context(
    kernel: KernelIdentity,
    *,
    num_cgroups: int = 80,
    cmdline: str = "ro quiet",
    caches: dict[str, SimpleNamespace] | None = None,
    percpu: int = 20 * MIB,
    vmalloc_used: int = 30 * MIB,
    nr_dentry: int = 200_000,
    nr_negative: int | None = 10_000,
    kind: str = "slab-unreclaimable",
) -> dict[str, Any]:
    return {
        "meminfo": SimpleNamespace(
            VmallocUsed=Metric(vmalloc_used), SReclaimable=Metric(2 * GIB), SUnreclaim=Metric(6 * GIB)
        ),
        "kmem": SimpleNamespace(
            slab_unreclaimable=Metric(6 * GIB),
            slab_reclaimable=Metric(2 * GIB),
            vmalloc=Metric(vmalloc_used),
            percpu=Metric(percpu),
            unaccounted=Metric(0),
        ),
        "mem_total": 32 * GIB,
        "samples": SimpleNamespace(count=3),
        "kernel": SimpleNamespace(upstream=kernel.upstream, release=kernel.release),
        "cgroups": SimpleNamespace(memory=SimpleNamespace(num_cgroups=num_cgroups)),
        "cmdline": Cmdline(cmdline),
        "slab": SimpleNamespace(caches=caches if caches is not None else {"dentry": cache(200_000, 192)}),
        "dentry": SimpleNamespace(nr_dentry=nr_dentry, nr_negative=nr_negative),
        "tainted": SimpleNamespace(out_of_tree=False),
        "kind": kind,
    }


def evaluator(ctx: dict[str, Any]) -> Callable[[str], object]:
    env = SandboxedEnvironment(undefined=StrictUndefined)

    def evaluate(expr: str) -> object:
        return env.compile_expression(expr)(**ctx)

    return evaluate


@pytest.fixture(scope="module")
def entries() -> tuple[Entry, ...]:
    return load_knowledge(bundled_knowledge_dir())


def matched(entries: tuple[Entry, ...], kernel: KernelIdentity, kind: str, **evidence: Any) -> dict[str, Match]:
    ctx = context(kernel, kind=kind, **evidence)
    return {m.id: m for m in match(entries, kernel, evaluator(ctx), kind)}


# -- loading --------------------------------------------------------------------------------------


def test_shipped_knowledge_loads(entries: tuple[Entry, ...]) -> None:
    assert len(entries) >= 10
    assert len({e.id for e in entries}) == len(entries)
    for required in (
        "rhel7-memcg-kmem-accounting-leak",
        "memcg-dying-cgroups-pinned-by-slab",
        "vmallocused-reads-zero",
        "negative-dentry-bloat",
    ):
        assert required in {e.id for e in entries}


def test_every_entry_is_sourced(entries: tuple[Entry, ...]) -> None:
    for entry in entries:
        assert entry.links, entry.id
        assert all(link.startswith(("https://", "http://")) for link in entry.links), entry.id
        assert entry.affected, entry.id
        assert entry.file.endswith(".yaml") and entry.line >= 1


def test_traps_are_flagged(entries: tuple[Entry, ...]) -> None:
    traps = {e.id for e in entries if e.trap}
    assert {"vmallocused-reads-zero", "negative-dentry-bloat"} <= traps


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    return tmp_path


GOOD = """\
- id: example-bug
  title: An example
  kind: slab-unreclaimable
  verified: false
  affected:
    - stream: el8
      from: "4.18.0-305"
      to_before: "4.18.0-372"
  signature: "kmem.slab_unreclaimable > 1024"
  workaround: none
  fix: update
  escalate_to: Red Hat support
  links:
    - https://example.org/bug
"""


def test_minimal_file_loads(tmp_path: Path) -> None:
    (entry,) = load_knowledge(write(tmp_path, GOOD))
    assert (entry.id, entry.line, entry.affected[0].to_before) == ("example-bug", 1, "4.18.0-372")


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("stream: el8", "stream: rhel8", 6, "unknown stream 'rhel8'"),
        ('from: "4.18.0-305"', "from: 4.18", 7, "must be a quoted string"),
        ('from: "4.18.0-305"', 'from: "4.18 0"', 7, "not a valid el8 version"),
        ('to_before: "4.18.0-372"', 'to_before: "4.18.0-200"', 6, "empty range"),
        ('"kmem.slab_unreclaimable > 1024"', '"kmem.slab_unreclaimable >"', 9, "bad expression"),
        ('"kmem.slab_unreclaimable > 1024"', '"slabinfo.total > 1024"', 9, "unknown name(s) slabinfo"),
        ("  links:\n    - https://example.org/bug\n", "", 1, "missing required field 'links'"),
        ("    - https://example.org/bug", "    - see bugzilla", 13, "not a URL"),
        ("kind: slab-unreclaimable", "kind: slab", 3, "kind is one of"),
        ("verified: false", "verified: maybe", 4, "must be true or false"),
        ("fix: update", "fix: update\n  severity: high", 12, "unknown field"),
        ("fix: update", "fix: update\n  fix: again", 12, "duplicate key"),
        ("title: An example", "title: [unclosed", 3, "YAML syntax error"),
    ],
)
def test_broken_file_names_file_and_line(tmp_path: Path, old: str, new: str, line: int, reason: str) -> None:
    assert old in GOOD
    directory = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(RunbookError) as caught:
        load_knowledge(directory)
    error = caught.value
    assert error.file.endswith("bad.yaml")
    assert reason in error.reason
    assert error.line == line, str(error)
    assert f"bad.yaml:{line}" in str(error)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(RunbookError, match=r"b\.yaml:1: example-bug: duplicate id, first defined at .*a\.yaml:1"):
        load_knowledge(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="not found"):
        load_knowledge(tmp_path / "nope")


# -- matching: RHEL 7 kmem accounting --------------------------------------------------------------

KMEM = "rhel7-memcg-kmem-accounting-leak"


def test_rhel7_kmem_matches_with_numbers(entries: tuple[Entry, ...]) -> None:
    kernel = identify("3.10.0-957.el7.x86_64")
    found = matched(entries, kernel, "slab-unreclaimable", num_cgroups=12000)[KMEM]
    assert found.confidence == "matched"
    assert "kernel 3.10.0-957.el7 is in el7 [3.10.0-514, 3.10.0-1075)" in found.why
    assert "memory cgroups in /proc/cgroups: 12000 (> 1000)" in found.why
    assert "cgroup.memory=nokmem" in found.workaround
    assert found.verified and not found.trap


@pytest.mark.parametrize(
    ("release", "hit"),
    [
        ("3.10.0-327.36.3.el7.x86_64", False),
        ("3.10.0-514.el7.x86_64", True),
        ("3.10.0-1062.18.1.el7.x86_64", True),
        ("3.10.0-1075.el7.x86_64", False),
        ("4.18.0-80.el8.x86_64", False),
    ],
)
def test_rhel7_kmem_range_edges(entries: tuple[Entry, ...], release: str, hit: bool) -> None:
    assert (KMEM in matched(entries, identify(release), "slab-unreclaimable", num_cgroups=12000)) is hit


def test_rhel7_kmem_needs_the_evidence(entries: tuple[Entry, ...]) -> None:
    kernel = identify("3.10.0-957.el7.x86_64")
    assert KMEM not in matched(entries, kernel, "slab-unreclaimable", num_cgroups=300)
    nokmem = matched(entries, kernel, "slab-unreclaimable", num_cgroups=12000, cmdline="ro cgroup.memory=nokmem")
    assert KMEM not in nokmem
    # kind any: the memory cgroup count confirms it whatever the verdict kind (percpu from /proc/cgroups)
    assert matched(entries, kernel, "percpu", num_cgroups=12000)[KMEM].confidence == "matched"


def test_missing_evidence_gives_version_only(entries: tuple[Entry, ...]) -> None:
    kernel = identify("3.10.0-957.el7.x86_64")
    ctx = context(kernel, num_cgroups=12000)
    del ctx["cgroups"]
    found = {m.id: m for m in match(entries, kernel, evaluator(ctx), "slab-unreclaimable")}[KMEM]
    assert found.confidence == "version-only"
    assert found.why == (
        "kernel 3.10.0-957.el7 is in el7 [3.10.0-514, 3.10.0-1075); "
        "version matches; evidence /proc/cgroups (cgroups) would confirm it"
    )
    assert found.needs == ("cgroups",)


# -- matching: dying memory cgroups pinned by slab -------------------------------------------------

DYING = "memcg-dying-cgroups-pinned-by-slab"


@pytest.mark.parametrize(
    ("kernel", "hit"),
    [
        (identify("5.8.18"), True),
        (identify("5.9"), False),
        (identify("3.7.10"), False),
        (identify("4.19.0-27-amd64", "#1 SMP Debian 4.19.316-1 (2024-06-25)"), True),
        (identify("5.10.0-28-amd64", "#1 SMP Debian 5.10.209-2 (2024-01-31)"), False),
        (identify("5.4.0-150-generic", version_signature="Ubuntu 5.4.0-150.167-generic 5.4.231"), True),
        (identify("5.15.0-91-generic", "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023"), False),
        (identify("4.18.0-80.el8.x86_64"), False),  # RHEL backports: not judged on the base version
    ],
)
def test_dying_cgroups_edges(entries: tuple[Entry, ...], kernel: KernelIdentity, hit: bool) -> None:
    assert (DYING in matched(entries, kernel, "slab-unreclaimable", num_cgroups=5000)) is hit


def test_dying_cgroups_kmem_cache_signature(entries: tuple[Entry, ...]) -> None:
    kernel = identify("5.4.0-150-generic", version_signature="Ubuntu 5.4.0-150.167-generic 5.4.231")
    caches = {"kmem_cache": cache(1_159_809, 384), "kmem_cache_node": cache(1_159_872, 64)}
    found = matched(entries, kernel, "slab-unreclaimable", caches=caches)[DYING]
    assert "kmem_cache objects (one per cache per cgroup): 1159809" in found.why
    assert "ubuntu [3.13.0-0, 5.9.0-0)" in found.why
    assert DYING not in matched(entries, kernel, "slab-unreclaimable", caches={"dentry": cache(10, 192)})


# -- matching: VmallocUsed reads 0 (trap) ----------------------------------------------------------

VMALLOC = "vmallocused-reads-zero"


@pytest.mark.parametrize(
    ("kernel", "hit"),
    [
        (identify("4.3.6"), False),
        (identify("4.4"), True),
        (identify("5.2.21"), True),
        (identify("5.3.0"), False),
        (identify("4.19.0-27-amd64", "#1 SMP Debian 4.19.316-1 (2024-06-25)"), True),
        (identify("4.15.0-213-generic", version_signature="Ubuntu 4.15.0-213.224-generic 4.15.18"), True),
    ],
)
def test_vmallocused_trap_edges(entries: tuple[Entry, ...], kernel: KernelIdentity, hit: bool) -> None:
    for kind in ("vmalloc", "slab-unreclaimable"):
        found = matched(entries, kernel, kind, vmalloc_used=0)
        assert (VMALLOC in found) is hit
        if hit:
            assert found[VMALLOC].trap
            assert "VmallocUsed: 0 B" in found[VMALLOC].why


def test_vmallocused_trap_needs_zero(entries: tuple[Entry, ...]) -> None:
    assert VMALLOC not in matched(entries, identify("4.19.300"), "vmalloc", vmalloc_used=80 * MIB)


def test_why_names_release_and_upstream_for_kernel_org_ranges(entries: tuple[Entry, ...]) -> None:
    kernel = identify("4.19.0-27-amd64", "#1 SMP Debian 4.19.316-1 (2024-06-25)")
    why = matched(entries, kernel, "vmalloc", vmalloc_used=0)[VMALLOC].why
    assert why.startswith("kernel 4.19.0-27-amd64 (upstream 4.19.316) is in kernel.org [4.4, 5.3)")


# -- matching: negative dentries (trap) ------------------------------------------------------------

DENTRY = "negative-dentry-bloat"


def test_negative_dentries_trap(entries: tuple[Entry, ...]) -> None:
    kernel = identify("6.1.0-50-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2025-10-10)")
    found = matched(entries, kernel, "slab-reclaimable", nr_dentry=9_000_000, nr_negative=8_500_000)[DENTRY]
    assert found.trap and found.confidence == "matched"
    assert "negative dentries (nr_negative): 8500000" in found.why
    assert "SReclaimable: 2.0 GiB" in found.why


@pytest.mark.parametrize(
    ("release", "nr_dentry", "nr_negative", "kind", "hit"),
    [
        ("5.14.0-362.8.1.el9_3.x86_64", 9_000_000, 8_000_000, "slab-reclaimable", True),
        ("5.14.0-362.8.1.el9_3.x86_64", 9_000_000, 1_000_000, "slab-reclaimable", False),  # mostly positive
        ("5.14.0-362.8.1.el9_3.x86_64", 900_000, 800_000, "slab-reclaimable", False),  # small cache
        ("5.14.0-362.8.1.el9_3.x86_64", 9_000_000, 8_000_000, "slab-unreclaimable", False),  # wrong kind
        ("3.10.0-1160.el7.x86_64", 9_000_000, None, "slab-reclaimable", True),  # no nr_negative before 5.0
        ("2.6.18-408.el5", 9_000_000, None, "slab-reclaimable", False),  # unknown stream
    ],
)
def test_negative_dentries_edges(
    entries: tuple[Entry, ...], release: str, nr_dentry: int, nr_negative: int | None, kind: str, hit: bool
) -> None:
    kernel = identify(release)
    found = matched(entries, kernel, kind, nr_dentry=nr_dentry, nr_negative=nr_negative)
    assert (DENTRY in found) is hit


# -- the other entries ------------------------------------------------------------------------------


def test_rhel7_negative_dentry_oom(entries: tuple[Entry, ...]) -> None:
    big = {"dentry": cache(40_000_000, 192)}
    old = matched(entries, identify("3.10.0-1062.el7.x86_64"), "slab-reclaimable", caches=big)
    assert "rhel7-negative-dentry-oom" in old and not old["rhel7-negative-dentry-oom"].verified
    new = matched(entries, identify("3.10.0-1127.el7.x86_64"), "slab-reclaimable", caches=big)
    assert "rhel7-negative-dentry-oom" not in new


def test_percpu_zombie_memcgs(entries: tuple[Entry, ...]) -> None:
    kernel = identify("4.18.0-513.5.1.el8_9.x86_64")
    found = matched(entries, kernel, "percpu", num_cgroups=30_000, percpu=3 * GIB)
    assert "Percpu: 3.0 GiB (> 256 MiB)" in found["memcg-dying-cgroups-percpu"].why
    assert "memcg-dying-cgroups-percpu" not in matched(entries, kernel, "percpu", num_cgroups=30_000)


def test_cgroup_disable_shrinker_bug(entries: tuple[Entry, ...]) -> None:
    name = "memcg-shrinker-skipped-with-cgroup-disable"
    on = "cgroup_disable=memory quiet"
    assert name in matched(entries, identify("4.19.64"), "slab-reclaimable", cmdline=on)
    assert name not in matched(entries, identify("4.19.65"), "slab-reclaimable", cmdline=on)
    assert name not in matched(entries, identify("4.19.64"), "slab-reclaimable")


def test_percpu_chunks_note_has_no_signature(entries: tuple[Entry, ...]) -> None:
    found = matched(entries, identify("6.8.12"), "vmalloc")["percpu-chunks-in-vmallocinfo"]
    assert found.trap and "no evidence signature to check" in found.why


def test_selinux_ebitmap(entries: tuple[Entry, ...]) -> None:
    caches = {"ebitmap_node": cache(734_506_368, 64)}
    found = matched(entries, identify("4.19.86"), "slab-unreclaimable", caches=caches)
    assert "ebitmap_node slab: 43.8 GiB (> 1 GiB)" in found["selinux-ebitmap-node-growth"].why
