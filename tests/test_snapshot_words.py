"""What a ticket's words and a failed allocation add to the single-snapshot judge
(derive/snapshot.py ``_from_words`` and ``_alloc_failure``), called directly: the spec registry
does not carry a ticket's words or a warn_alloc warning into a replay yet. Inputs are the figures
and sentences of real cases in tests/cases (named in each test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from kleak_runbook.derive.metrics import CallerStat, Metrics
from kleak_runbook.derive.series import Series
from kleak_runbook.derive.snapshot import judge
from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure
from kleak_runbook.parsers.prose import read_prose

CASES = Path(__file__).parent / "cases"
PARAMS = yaml.safe_load((Path(__file__).parents[1] / "runbooks" / "kernel-memory-leak.yaml").read_text())["params"]
GiB = 1024**3


def _metrics(**kw: object) -> Metrics:
    m = Metrics(times=None, sample_count=0, window_s=0.0, mem_total=None)
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def _series(n: int) -> Series:
    return Series.of([n], None)


def test_words_name_the_cache_slabtop_summary_could_not() -> None:
    # gh-coreos-bugs-1927: slabtop's summary alone (5.1 GiB of slab, no rows) and "rkt run ... seems to
    # cause `kernfs_node_cache` allocations leak"
    words = read_prose("rkt run using default stage1 seems to cause `kernfs_node_cache` allocations leak")
    bare = judge(_metrics(slab_total=5 * GiB), PARAMS)
    assert bare.top is not None and (bare.top.kind, bare.top.name) == ("kernel", None)
    top = judge(_metrics(slab_total=5 * GiB), PARAMS, words=words).top
    assert top is not None and (top.kind, top.name) == ("slab-unreclaimable", "kernfs_node_cache")


def test_words_name_the_kind_of_a_meminfo_cut_before_slab() -> None:
    # gh-open-cas-892: 102 GiB outside the LRU lists, meminfo cut at Shmem, and "the kmalloc-2048
    # allocation is growing more and more until the system OOM"
    mi = {"MemTotal": 251 * GiB, "MemFree": 11 * GiB, "Active": 108 * GiB, "Inactive": 29 * GiB}
    metrics = _metrics(mem_total=251 * GiB, meminfo={k: _series(v) for k, v in mi.items()})
    words = read_prose(
        "With the IO running, the kmalloc-2048 allocation is growing more and more until the system OOM."
    )
    top = judge(metrics, PARAMS, words=words).top
    assert top is not None and (top.kind, top.name) == ("slab-unreclaimable", "kmalloc-2048")


def test_words_alone_are_the_reporters_observation() -> None:
    # gh-systemd-14639's title; gh-rsync-279's first sentence; gh-opensuse-sysconfig-4's Shmem
    cases = [
        ("scoket activation: Unreclaimable slab (cred_jar) grows continuously", ("slab-unreclaimable", "cred_jar")),
        ('Doing multiple rsyncs at the same time fills up "percpu" and crashes the server.', ("percpu", None)),
        ("after many hotplugs /proc/meminfo | grep Shmem increase much", ("user", None)),
    ]
    for text, want in cases:
        top = judge(_metrics(), PARAMS, words=read_prose(text)).top
        assert top is not None and (top.kind, top.name) == want, text


def test_cache_rows_decide_over_words() -> None:
    # words naming one cache never rename a candidate the evidence named, nor name a vmalloc module
    words = read_prose("the cas_cache memory leak keeps growing")
    caller = CallerStat("_raw_ram_init", "cas_cache", False, _series(3), _series(61440))
    assert judge(_metrics(callers=[caller]), PARAMS, words=words).top is None


def test_a_failed_vmalloc_names_its_caller() -> None:
    # gh-concourse-8739: "vmalloc: allocation failure: 12288 bytes" with module_alloc <- bpf_jit_binary_alloc
    text = (CASES / "gh-concourse-8739-bpf-jit-vmalloc-failure" / "input.txt").read_text()
    report = alloc_failure_report(text)
    assert report is not None
    top = judge(_metrics(), PARAMS, failure=parse_alloc_failure(report)).top
    assert top is not None and (top.kind, top.name) == ("vmalloc", "bpf_jit_binary_alloc")
    # when memory itself ran out (MemAvailable 1% of MemTotal), the failure names nothing
    mi = {"MemTotal": _series(8 * GiB), "MemAvailable": _series(80 * 1024**2)}
    low = _metrics(mem_total=8 * GiB, meminfo=mi)
    assert judge(low, PARAMS, failure=parse_alloc_failure(report)).top is None


def test_tmpfs_named_beside_a_claimed_leak_is_not_programs_memory() -> None:
    # a reporter who claims a kernel leak and mentions tmpfs in passing is not told it is tmpfs
    words = read_prose("The kernel has a memory leak. We keep /tmp on tmpfs.")
    top = judge(_metrics(), PARAMS, words=words).top
    assert top is not None and top.kind == "kernel"  # the claim stands, kind unknown; not programs' memory


def _replay_text(text: str, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "ticket.txt"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(out), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    doc: dict[str, object] = json.loads(run.stdout)
    return doc


def test_words_alone_claiming_a_kernel_leak_are_a_suspected_leak(tmp_path: Path) -> None:
    doc = _replay_text("Each blkid run would leak ~30MB inside the kernel, until it runs out of memory.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "unknown")
    doc = _replay_text("The kernel has a huge memory leak since 4.18. Here is the output of kmemleak.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    doc = _replay_text("HugePages_Free is 1022, which indicates that 2 pages are leaked by helloworld.\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
