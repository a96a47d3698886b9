"""Replay of what users already have: a sosreport (directory or tarball) and text pasted from a ticket."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import run_cli

SOS = "sosreport-vm-2026-11-24"


def replay(path: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    proc = run_cli("replay", str(path), "--out", str(out), "--format", "json", "-q", *extra, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 2, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def gaps(doc: dict) -> dict[str, str]:
    return {g["item"]: g["status"] for g in doc["evidence_gaps"]}


@pytest.fixture
def sos(samples: Path, tmp_path: Path) -> Path:
    """A writable copy of the sosreport-shaped fixture (real capture, see tests/samples/README.md)."""
    return Path(shutil.copytree(samples / "sosreport" / SOS, tmp_path / SOS, symlinks=True))


# --- sosreport ----------------------------------------------------------------------------------
def test_sosreport_directory(samples: Path, tmp_path: Path) -> None:
    code, doc = replay(samples / "sosreport" / SOS, tmp_path / "r")
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert doc["host"] == "vm"  # no hostname file: the node name of sos_commands/kernel/uname_-a
    assert (doc["kernel"]["release"], doc["kernel"]["distro_id"], doc["kernel"]["arch"]) == (
        "6.18.44-fc-v669",
        "debian",
        "x86_64",
    )
    # proc/slabinfo, vmallocinfo, dentry-state were all read; sos's memory plugin does not copy
    # /proc/zoneinfo, and the report says what that costs (per-CPU free pages count as unaccounted)
    assert set(gaps(doc)) == {"uptime", "zoneinfo", "inode_state"}  # none of them is in this sosreport
    assert any("zoneinfo was not collected" in n for n in doc["notes"]), doc["notes"]


def test_sosreport_without_slabinfo_reads_slabtop(samples: Path, sos: Path, tmp_path: Path) -> None:
    _, full = replay(samples / "sosreport" / SOS, tmp_path / "full")
    (sos / "proc" / "slabinfo").unlink()  # sos run without root: slabinfo is root-only
    code, doc = replay(sos, tmp_path / "r", "-e", "max_unreclaimable_slab_fraction=0.0005")
    assert gaps(doc)["slabinfo"] == "approximate"
    note = next(g["reason"] for g in doc["evidence_gaps"] if g["item"] == "slabinfo")
    assert "sos_commands/memory/slabtop_-o" in note and "rounded" in note
    # SUnreclaim is 0.09% of MemTotal: with a 0.05% limit the culprits are the largest caches
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    _, strict_full = replay(
        samples / "sosreport" / SOS, tmp_path / "sf", "-e", "max_unreclaimable_slab_fraction=0.0005"
    )
    assert [c["name"] for c in doc["culprits"]] == [c["name"] for c in strict_full["culprits"]]
    assert full["verdict"] == "no-leak"


def test_sosreport_host_name_files_and_links_that_lead_out(sos: Path, tmp_path: Path) -> None:
    (sos / "etc" / "hostname").symlink_to("/etc/hostname")  # would name this machine: not followed
    (sos / "sos_commands" / "host").mkdir()
    (sos / "sos_commands" / "host" / "hostname").write_text("vm.lab.example\n")
    (sos / "hostname").symlink_to("sos_commands/host/hostname")  # as sos lays it out
    (sos / "proc" / "vmallocinfo").unlink()
    (sos / "proc" / "vmallocinfo").symlink_to("/proc/vmallocinfo")
    _, doc = replay(sos, tmp_path / "r")
    assert doc["host"] == "vm.lab.example"
    assert gaps(doc)["vmallocinfo"] == "missing"


def test_sosreport_dentry_state_from_sysctl(sos: Path, tmp_path: Path) -> None:
    # synthetic edge case: /proc/sys not copied, but `sysctl -a` saved (the values of the capture)
    (sos / "proc" / "sys" / "fs" / "dentry-state").unlink()
    (sos / "sos_commands" / "kernel" / "sysctl_-a").write_text(
        "fs.dentry-negative = 0\nfs.dentry-state = 23410\t22065\t45\t0\t2859\t0\nfs.dir-notify-enable = 1\n"
    )
    _, doc = replay(sos, tmp_path / "r")
    assert "dentry_state" not in gaps(doc)
    (sos / "sos_commands" / "kernel" / "sysctl_-a").unlink()
    _, without = replay(sos, tmp_path / "r3")
    assert gaps(without)["dentry_state"] == "missing"


@pytest.mark.parametrize("mode", ["w:xz", "w:gz", "w:bz2", "w"])
def test_sosreport_tarball(samples: Path, tmp_path: Path, mode: str) -> None:
    suffix = {"w:xz": ".tar.xz", "w:gz": ".tar.gz", "w:bz2": ".tar.bz2", "w": ".tar"}[mode]
    tarball = tmp_path / f"{SOS}{suffix}"
    with tarfile.open(tarball, mode) as tar:
        tar.add(samples / "sosreport" / SOS, arcname=SOS)
    _, direct = replay(samples / "sosreport" / SOS, tmp_path / "direct")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code, doc = replay(tarball, tmp_path / "r", env={"TMPDIR": str(tmp)})
    assert (code, doc["host"], doc["verdict"]) == (0, "vm", "no-leak")
    assert doc["kernel_memory"] == direct["kernel_memory"]
    assert doc["evidence_dir"] == str(tarball)
    assert list(tmp.iterdir()) == []  # the extraction is gone after the run


def _member(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def test_hostile_tarball_extracts_only_what_is_safe(samples: Path, tmp_path: Path) -> None:
    # synthetic edge case: a tarball crafted to write or read outside the extraction directory
    work = tmp_path / "work"
    work.mkdir()
    tarball = work / "sosreport-evil.tar.gz"
    meminfo = (samples / "sosreport" / SOS / "proc" / "meminfo").read_bytes()
    with tarfile.open(tarball, "w:gz") as tar:
        _member(tar, "sosreport-evil/proc/meminfo", meminfo)
        _member(tar, "../proc/cmdline", b"pwned\n")  # outside the destination
        _member(tar, "sosreport-evil/../../hostname", b"pwned\n")
        _member(tar, "sosreport-evil/proc/slabinfo", type=tarfile.SYMTYPE, linkname="/proc/slabinfo")
        _member(tar, "sosreport-evil/proc/vmallocinfo", type=tarfile.SYMTYPE, linkname="../../../../etc/passwd")
        _member(tar, "sosreport-evil/proc/version", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        _member(tar, "sosreport-evil/etc/os-release", type=tarfile.LNKTYPE, linkname="/etc/os-release")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code, doc = replay(tarball, tmp_path / "r", env={"TMPDIR": str(tmp)})
    assert (code, doc["host"]) == (0, "sosreport-evil")
    assert doc["verdict"] == "no-leak" and doc["samples"]["count"] == 1
    assert {"slabinfo", "vmallocinfo"} <= {i for i, s in gaps(doc).items() if s == "missing"}
    assert doc["kernel"]["release"] is None or doc["kernel"]["release"] != os.uname().release
    assert not (tmp_path / "proc").exists() and not (tmp_path / "hostname").exists()
    assert sorted(p.name for p in work.iterdir()) == ["sosreport-evil.tar.gz"]
    assert list(tmp.iterdir()) == []


def test_tarball_without_evidence(tmp_path: Path) -> None:
    tarball = tmp_path / "logs.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        _member(tar, "logs/var/log/messages", b"hello\n")
    proc = run_cli("replay", str(tarball), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert f"{tarball}: the archive holds no kleak-runbook bundle" in proc.stderr


# --- pasted text --------------------------------------------------------------------------------
def test_pasted_public_ticket_with_sunreclaim_at_46_percent(samples: Path, tmp_path: Path) -> None:
    # https://github.com/ROCm/legacy-rocm-build/issues/176
    code, doc = replay(samples / "public" / "rocm-176-kmalloc-leak.txt", tmp_path / "r")
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-1024"
    assert doc["culprits"][0]["bytes"] == 1069376 * 1024
    assert doc["host"] == "rocm-176-kmalloc-leak"  # no uname in the text: the file name
    assert gaps(doc)["slabinfo"] == "approximate"  # from slabtop: rounded


def test_pasted_public_ticket_with_reclaimable_slab_only(samples: Path, tmp_path: Path) -> None:
    # https://github.com/brendangregg/perf-tools/issues/78: 14 GiB of SReclaimable is cache; the
    # answer says where the memory is: reclaimable slab, not a leak
    code, doc = replay(samples / "public" / "perf-tools-78-centos7-big-slab.txt", tmp_path / "r")
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "slab-reclaimable")
    assert [v["step"] for v in doc["path"]] == ["measure", "snapshot_size", "reclaimable_large"]
    assert "reclaimable slab" in doc["summary"] and not doc["culprits"]


def test_pasted_public_ticket_without_meminfo(samples: Path, tmp_path: Path) -> None:
    # https://github.com/SELinuxProject/selinux/issues/220: slabtop and uname only; one
    # unreclaimable cache holds nearly all of 45 GiB of slab: suspected (never a confirmed) leak
    code, doc = replay(samples / "public" / "selinux-220-ebitmap-node.txt", tmp_path / "r")
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "ebitmap_node"
    assert any("judged from the slab" in n for n in doc["notes"])
    assert (doc["host"], doc["kernel"]["release"]) == ("cloud-worker-25", "4.19.86-coreos")
    assert gaps(doc)["meminfo"] == "missing"
    report = (tmp_path / "r" / "report.md").read_text()
    assert "`ebitmap_node` | 43.8 GiB" in report


PASTED_LEAK = """\
Customer says the node OOMs every few days. From the ticket:

> $ uname -a
> Linux node-17 5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64 x86_64 x86_64 GNU/Linux
> $ grep -E 'MemTotal|MemFree|^Active:|^Inactive:|Unevictable|Slab|SReclaimable|SUnreclaim' /proc/meminfo
> MemTotal:       16000000 kB
> MemFree:         6000000 kB
> Active:          3000000 kB
> Inactive:        1500000 kB
> Unevictable:           0 kB
> Slab:            5000000 kB
> SReclaimable:     200000 kB
> SUnreclaim:      4800000 kB
> $ sudo slabtop -o -s c | head -4
>   OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME
> 5832000 5832000 100%    0.62K 243000       24   3888000K kmalloc-cg-512
> 900000 850000  94%    0.19K  42857       21    171428K dentry
"""


def test_pasted_synthetic_ticket_with_sunreclaim_at_30_percent(tmp_path: Path) -> None:
    # synthetic edge case: a grep of meminfo (enough fields to judge by) and a slabtop head
    text = tmp_path / "ticket-4711.txt"
    text.write_text(PASTED_LEAK)
    code, doc = replay(text, tmp_path / "r")
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-cg-512"
    assert (doc["host"], doc["kernel"]["release"]) == ("node-17", "5.15.0-91-generic")


def test_pasted_twice_is_two_untimed_samples_never_a_leak(tmp_path: Path) -> None:
    # synthetic edge case: the same meminfo pasted an hour apart, SUnreclaim up by 1.6 GB
    # (MemFree's line alone: "6000000 kB" is also the tail of MemTotal's 16000000, and outputs with
    # another memory size are another machine's)
    later = PASTED_LEAK.replace("4800000 kB", "6400000 kB").replace(
        "MemFree:         6000000", "MemFree:         4400000"
    )
    text = tmp_path / "ticket.txt"
    text.write_text(PASTED_LEAK + "\nand an hour later:\n\n" + later)
    code, doc = replay(text, tmp_path / "r")
    assert doc["samples"]["count"] == 2 and doc["samples"]["times_s"] == []
    assert doc["verdict"] != "leak" and (code, doc["verdict"]) == (1, "suspected-leak")
    assert gaps(doc)["uptime"] == "missing"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, "a binary file, not text"),
        (b"", "empty file"),
        (b"  \n\n", "empty file"),
        (b"Hi,\nthe server is slow since Monday, please look.\n$ free -m\nMem: 7821 3400\n", "no meminfo, slabinfo"),
    ],
)
def test_bad_pasted_input_is_one_line_and_exit_2(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "comment.txt"
    bad.write_bytes(content)
    proc = run_cli("replay", str(bad), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"{bad}: {needle}" in proc.stderr, proc.stderr
