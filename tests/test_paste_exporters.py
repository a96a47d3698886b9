"""Monitoring agents' meminfo pasted into a ticket (parsers/exporter.py): node_exporter's
``node_memory_*`` lines and telegraf's ``mem`` line protocol. The telegraf line is from
https://github.com/influxdata/telegraf/issues/15663 (tests/cases/gh-telegraf-15663-mem-zfs); the
node_exporter lines and the two-line telegraf series are synthetic edge cases, labelled as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kleak_runbook.parsers.exporter import parse_node_memory, parse_telegraf_mem
from kleak_runbook.parsers.pasted import split_pasted

CASE = Path(__file__).parent / "cases" / "gh-telegraf-15663-mem-zfs" / "input.txt"
GiB = 1024**3

# synthetic: node_exporter 1.x exposition, as curl | grep node_memory_ prints it, for a 16 GiB host
# holding 9 GiB of unreclaimable slab
NODE = """# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 1.7179869184e+10
node_memory_MemFree_bytes 1.073741824e+09
node_memory_MemAvailable_bytes 2.147483648e+09
node_memory_Buffers_bytes 1.048576e+08
node_memory_Cached_bytes 1.073741824e+09
node_memory_Active_bytes 3.221225472e+09
node_memory_Inactive_bytes 1.073741824e+09
node_memory_Active_anon_bytes 2.68435456e+09
node_memory_Unevictable_bytes 0
node_memory_Slab_bytes 9.87842478e+09
node_memory_SReclaimable_bytes 2.68435456e+08
node_memory_SUnreclaim_bytes 9.663676416e+09
node_memory_KernelStack_bytes 1.6777216e+07
node_memory_PageTables_bytes 3.3554432e+07
node_memory_VmallocUsed_bytes 6.7108864e+07
node_memory_Percpu_bytes 8.388608e+06
node_memory_HugePages_Total 0
node_memory_Hugepagesize_bytes 2.097152e+06
"""


def _replay(text: str, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.txt"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(path) + ".out", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    doc: dict[str, object] = json.loads(run.stdout)
    return doc


def test_node_exporter_lines_are_meminfo(tmp_path: Path) -> None:
    mi = parse_node_memory(NODE)
    assert mi["MemTotal"] == 16 * GiB and mi["SUnreclaim"] == 9 * GiB and mi["Active(anon)"] == 2684354560
    blocks = split_pasted("Our node looks odd:\n\n" + NODE)
    assert blocks.meminfo_forms == ("node_exporter",) and len(blocks.meminfo) == 1
    doc = _replay("Our node looks odd:\n\n" + NODE, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    # another host's lines in the same paste are left out, not mixed in
    other = NODE.replace("node_memory_", "node_memory_").splitlines()
    mixed = "\n".join(
        [x.replace(" ", '{instance="a:9100"} ', 1) for x in other if x.startswith("node_")]
        + ['node_memory_SUnreclaim_bytes{instance="b:9100"} 1e+06']
    )
    assert parse_node_memory(mixed)["SUnreclaim"] == 9 * GiB


def test_telegraf_lines_are_timed_samples(tmp_path: Path) -> None:
    text = CASE.read_text(encoding="utf-8")
    blocks = split_pasted(text)
    assert blocks.meminfo_forms == ("telegraf",)
    assert blocks.times[0][1] == "2024-07-25T20:17:52Z"
    mi = parse_telegraf_mem(blocks.meminfo[0])
    assert mi["MemTotal"] == 270332604416 and mi["SUnreclaim"] == 57691877376 and mi["Hugepagesize"] == 2097152
    # synthetic: the same line again a minute later with SUnreclaim grown by 6 GiB: two timed samples
    line = next(x for x in text.splitlines() if x.startswith("mem,"))
    later = line.replace("sunreclaim=57691877376i", f"sunreclaim={57691877376 + 6 * GiB}i").replace(
        "1721938672000000000", "1721938732000000000"
    )
    two = split_pasted(line + "\n" + later + "\n")
    assert two.meminfo_forms == ("telegraf", "telegraf")
    assert [t[1] for t in two.times] == ["2024-07-25T20:17:52Z", "2024-07-25T20:18:52Z"]


def test_a_zfs_host_holds_its_arc_as_unreclaimable_slab_and_vmalloc(tmp_path: Path) -> None:
    # the telegraf case: SUnreclaim 54 GiB (21%) and vmalloc 11 GiB, on a host the ticket says runs ZFS
    doc = _replay(CASE.read_text(encoding="utf-8"), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    assert "ZFS" in str(doc["summary"]) and "arcstats" in str(doc["summary"])
    # without the words naming ZFS, the same figures are a suspected slab leak
    line = next(x for x in CASE.read_text(encoding="utf-8").splitlines() if x.startswith("mem,"))
    doc = _replay("Our monitoring shows:\n\n" + line + "\n", tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    # ... and so with ZFS named when the words say it grows
    doc = _replay("ZFS host. SUnreclaim keeps growing every day until OOM.\n\n" + line + "\n", tmp_path)
    assert doc["verdict"] == "suspected-leak"


def test_figures_no_memory_can_be_are_left_out() -> None:
    # synthetic edge cases: an agent's line damaged in a paste
    mi = parse_node_memory(
        "node_memory_MemTotal_bytes 1e999\nnode_memory_MemFree_bytes -5\nnode_memory_Cached_bytes 7\n"
    )
    assert dict(mi.fields) == {"Cached": 7}
    mi = parse_telegraf_mem("mem,host=a total=1e999,free=1i,cached=NaN 9999999999999999999\n")
    assert dict(mi.fields) == {"MemFree": 1}
