"""Replay of hostile or broken evidence: links out of the input, FIFOs and devices, corrupt
manifests, odd sample directories, bad timestamps, unparsable numbers.

Every case runs the real CLI. The bundles are copies of real captures
(tests/samples/lab-debian-6.1), corrupted in tmp_path: synthetic edge cases built from real data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli

BAD = Path(__file__).parent / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((BAD / "cases.yaml").read_text())
MARKER = "kleak-secret-4f1d9c"  # in files outside the input: must never show up


def replay(path: Path, out: Path, *extra: str, timeout: float = 60) -> tuple[int, str, dict[str, Any] | None]:
    proc = run_cli("replay", str(path), "--out", str(out), "--format", "json", "-q", *extra, timeout=timeout)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout) if proc.returncode != 2 else None
    return proc.returncode, proc.stderr, doc


def refused(path: Path, out: Path) -> str:
    """Replay must refuse ``path`` with exit 2 and one stderr line; the line, without the prefix."""
    code, err, _ = replay(path, out)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("kleak-runbook: "), err
    return err.strip()[len("kleak-runbook: ") :]


def gaps(doc: dict[str, Any]) -> dict[str, str]:
    return {g["item"]: g["reason"] for g in doc["evidence_gaps"]}


@pytest.fixture
def bundle(samples: Path, tmp_path: Path) -> Path:
    """A writable copy of the real kmalloc-leak bundle (no manifest, three timed samples)."""
    return Path(shutil.copytree(samples / "lab-debian-6.1" / "kmalloc-leak", tmp_path / "bundle"))


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret"
    path.parent.mkdir()
    path.write_text(f"MemTotal: 1 kB\n{MARKER}\n")
    return path


def assert_never_read(tmp_path: Path, out: Path, text: str) -> None:
    assert MARKER not in text
    if out.exists():
        for f in out.rglob("*"):
            assert not f.is_file() or MARKER not in f.read_text(errors="replace")


# --- 1. links: never followed in a bundle, never out of a snapshot ------------------------------
@pytest.mark.parametrize(
    "rel",
    [
        "samples/000/proc/slabinfo",
        "samples/001/proc/meminfo",
        "static/proc/version",
        "samples/002/timestamp",
        "manifest.json",
        "probes/kmemleak/data/kmemleak",
        "probes/kmemleak/after/proc/meminfo",
    ],
)
def test_a_link_in_a_bundle_is_refused(bundle: Path, secret: Path, tmp_path: Path, rel: str) -> None:
    link = bundle / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists():
        link.unlink()
    link.symlink_to(secret)
    line = refused(bundle, tmp_path / "out")
    assert line == f"{bundle}/{rel}: a symbolic link; replay does not follow links in a bundle"
    assert_never_read(tmp_path, tmp_path / "out", line)


def test_links_to_real_system_files_are_refused(bundle: Path, tmp_path: Path) -> None:
    (bundle / "samples/000/proc/meminfo").unlink()
    (bundle / "samples/000/proc/meminfo").symlink_to("/proc/meminfo")
    assert refused(bundle, tmp_path / "o1").startswith(f"{bundle}/samples/000/proc/meminfo: a symbolic link")
    (bundle / "samples/000/proc/meminfo").unlink()
    (bundle / "samples/000/proc/meminfo").write_text("MemTotal: 1 kB\n")
    (bundle / "static/proc/version").unlink()
    (bundle / "static/proc/version").symlink_to("/etc/shadow")
    assert refused(bundle, tmp_path / "o2").startswith(f"{bundle}/static/proc/version: a symbolic link")


def test_linked_directories_are_refused(bundle: Path, tmp_path: Path) -> None:
    shutil.copytree(bundle / "samples/002", tmp_path / "elsewhere")
    (bundle / "samples/003").symlink_to(tmp_path / "elsewhere")
    assert (
        refused(bundle, tmp_path / "o1")
        == f"{bundle}/samples/003: a symbolic link; replay does not follow links in a bundle"
    )
    (bundle / "samples/003").unlink()
    (bundle / "samples").rename(tmp_path / "real-samples")
    (bundle / "samples").symlink_to(tmp_path / "real-samples")
    assert refused(bundle, tmp_path / "o2").startswith(f"{bundle}/samples: a symbolic link")
    report = tmp_path / "report"
    report.mkdir()
    (report / "evidence").symlink_to(bundle)
    assert refused(report, tmp_path / "o3").startswith(f"{report}/evidence: a symbolic link")


def test_a_snapshot_link_out_of_the_input_is_not_read(samples: Path, secret: Path, tmp_path: Path) -> None:
    # sosreports hold links (etc/os-release -> ../usr/lib/os-release): inside ones are followed
    sos = Path(shutil.copytree(samples / "sosreport" / "sosreport-vm-2026-11-24", tmp_path / "sos"))
    (sos / "proc" / "cmdline").unlink()
    (sos / "proc" / "cmdline").symlink_to(secret)
    (sos / "usr" / "lib").mkdir(parents=True)
    (sos / "etc" / "os-release").rename(sos / "usr" / "lib" / "os-release")
    (sos / "etc" / "os-release").symlink_to("../usr/lib/os-release")
    code, err, doc = replay(sos, tmp_path / "out")
    assert code == 0 and doc is not None, err
    assert doc["kernel"]["distro_id"] == "debian"  # read through the link inside
    assert_never_read(tmp_path, tmp_path / "out", json.dumps(doc) + err)


# --- 2. FIFOs, devices, sockets, huge files: refused at once ------------------------------------
def test_fifo_device_and_socket_paths_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert refused(fifo, tmp_path / "o1").startswith(f"{fifo}: a FIFO, not a file or directory")
    assert refused(Path("/dev/zero"), tmp_path / "o2").startswith("/dev/zero: a character device")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        assert refused(tmp_path / "sock", tmp_path / "o3").startswith(f"{tmp_path / 'sock'}: a socket")


def test_fifo_in_a_bundle_does_not_block(bundle: Path, tmp_path: Path) -> None:
    (bundle / "samples/001/proc/vmallocinfo").unlink()
    os.mkfifo(bundle / "samples/001/proc/vmallocinfo")
    line = refused(bundle, tmp_path / "out")  # run_cli's timeout fails the test if it blocks
    assert line == f"{bundle}/samples/001/proc/vmallocinfo: a FIFO, not a regular file: replay reads only files"


def test_a_huge_file_is_refused(bundle: Path, tmp_path: Path) -> None:
    with open(bundle / "samples/000/proc/slabinfo", "r+b") as fh:
        fh.truncate(300 * 1024 * 1024)  # sparse: no disk used
    line = refused(bundle, tmp_path / "out")
    assert line == f"{bundle}/samples/000/proc/slabinfo: 314572800 bytes, larger than the 64 MiB replay reads"


# --- 3. corrupt manifests -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ([], "expected a JSON object, got a list"),
        ("bundle", "expected a JSON object, got a string"),
        ({"samples": {}}, "samples: expected a list, got an object"),
        ({"samples": "000"}, "samples: expected a list, got a string"),
        ({"gaps": "none"}, "gaps: expected a list, got a string"),
        ({"probes": [1]}, "probes: expected an object, got a list"),
        (
            {"samples": [{"index": 0, "uptime": "26.4"}]},
            "samples[0].uptime: expected a number of seconds, got a string",
        ),
        ({"host": ["vm"]}, "host: expected a string, got a list"),
        ({"unreachable": 1}, "unreachable: expected a string, got a number"),
    ],
)
def test_a_corrupt_manifest_names_the_field(bundle: Path, tmp_path: Path, manifest: Any, message: str) -> None:
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert refused(bundle, tmp_path / "out") == f"{bundle}/manifest.json: {message}"


def test_a_corrupt_manifest_in_a_report_directory(samples: Path, tmp_path: Path) -> None:
    report = Path(shutil.copytree(samples / "lab-runs" / "kmalloc-leak-trace", tmp_path / "report"))
    manifest = json.loads((report / "evidence/manifest.json").read_text())
    manifest["samples"][1]["uptime"] = "31.16"
    (report / "evidence/manifest.json").write_text(json.dumps(manifest))
    line = refused(report, tmp_path / "out")
    assert line == f"{report}/evidence/manifest.json: samples[1].uptime: expected a number of seconds, got a string"


# --- 4. odd sample names, huge and non-ASCII numbers --------------------------------------------
def test_odd_sample_directories_are_ignored_with_a_note(bundle: Path, tmp_path: Path) -> None:
    for name in ("²", "abc", "-1", "٣"):
        shutil.copytree(bundle / "samples/002", bundle / "samples" / name)
    code, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None and (code, doc["verdict"]) == (1, "leak"), err
    assert doc["samples"]["count"] == 3
    for name in ("²", "abc", "-1", "٣"):
        assert "not a sample directory" in gaps(doc)[f"samples/{name}"]


def test_a_400_digit_number_and_arabic_indic_digits_are_parse_errors(bundle: Path, tmp_path: Path) -> None:
    mi = bundle / "samples/001/proc/meminfo"
    mi.write_text(re.sub(r"(?m)^SUnreclaim:.*$", "SUnreclaim: " + "9" * 400 + " kB", mi.read_text()))
    mi0 = bundle / "samples/000/proc/meminfo"
    mi0.write_text(re.sub(r"(?m)^MemTotal:.*$", "MemTotal:  \u0669\u0668\u0661\u0664\u0667\u0662 kB", mi0.read_text()))
    code, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    reason = gaps(doc)["meminfo"]
    assert reason.startswith("samples/000/proc/meminfo: meminfo: MemTotal: expected a number of kB"), reason
    assert doc["samples"]["count"] == 2  # 000 has no meminfo left; 001 lost SUnreclaim only
    assert doc["verdict"] != "leak" and code in (1, 3)


def test_parse_errors_name_the_sample_directory(bundle: Path, tmp_path: Path) -> None:
    shutil.rmtree(bundle / "samples/000")  # samples 001 and 002 remain, under their own numbers
    (bundle / "samples/002/proc/slabinfo").write_text("slabinfo - version: 9.9\n")
    _, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    assert gaps(doc)["slabinfo"] == "samples/002/proc/slabinfo: slabinfo:1: unsupported slabinfo version '9.9'"


# --- 5. timestamps and empty samples ------------------------------------------------------------
def four_samples(bundle: Path) -> None:
    """A fourth sample: sample 002's evidence again, 5.3 s later (the leak's plateau)."""
    shutil.copytree(bundle / "samples/002", bundle / "samples/003")
    (bundle / "samples/003/timestamp").write_text("2026-11-24T16:53:22.000000000Z\n")


@pytest.mark.parametrize(
    "garbage", ["not a time", "2026-13-45T99:99:99Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", ""]
)
def test_one_bad_timestamp_leaves_the_others_timed(bundle: Path, tmp_path: Path, garbage: str) -> None:
    four_samples(bundle)
    (bundle / "samples/001/timestamp").write_text(garbage + "\n")
    code, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    assert (code, doc["verdict"], doc["kind"]) == (1, "leak", "slab-unreclaimable")
    assert doc["samples"]["count"] == 3 and len(doc["samples"]["times_s"]) == 3
    assert "the sample is left out; the other 3 samples are timed" in gaps(doc)["samples/001"]


def test_one_bad_timestamp_of_three_still_gives_a_rate(bundle: Path, tmp_path: Path) -> None:
    (bundle / "samples/001/timestamp").write_text("yesterday\n")
    code, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    # two timed samples: growth is seen, but two points always look steady: suspected, not leak
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["samples"]["times_s"][0] == 0.0 and doc["samples"]["window_s"] > 10


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-11-24T16:53:05Z"] * 3,  # a zero window
        ["2026-11-24T16:53:15Z", "2026-11-24T16:53:10Z", "2026-11-24T16:53:05Z"],  # backwards
        ["9999-12-31T23:59:57Z", "9999-12-31T23:59:58Z", "9999-12-31T23:59:59Z"],
        ["0001-01-01T00:00:00Z", "0001-01-01T00:00:05Z", "0001-01-01T00:00:10Z"],
    ],
)
def test_unusable_times_are_untimed_not_a_bogus_rate(bundle: Path, tmp_path: Path, stamps: list[str]) -> None:
    for i, stamp in enumerate(stamps):
        (bundle / f"samples/{i:03d}/timestamp").write_text(stamp + "\n")
    _, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    assert doc["samples"]["times_s"] == [] and doc["verdict"] != "leak"
    assert all(c["growth_bytes_per_s"] == 0 for c in doc.get("culprits", []) if "growth_bytes_per_s" in c)
    assert any(g["status"] == "error" and "untimed" in g["reason"] for g in doc["evidence_gaps"]), doc["evidence_gaps"]


def test_samples_without_evidence_are_gaps_never_no_leak(bundle: Path, tmp_path: Path) -> None:
    for i in range(3):
        shutil.rmtree(bundle / f"samples/{i:03d}/proc")
    (bundle / "samples/004").mkdir()
    code, err, doc = replay(bundle, tmp_path / "out")
    assert doc is not None, err
    assert (code, doc["verdict"]) == (3, "inconclusive")
    for i in (0, 1, 2, 4):
        assert gaps(doc)[f"samples/{i:03d}"].startswith(f"sample {i:03d} holds no evidence")


# --- 8. the corpus ------------------------------------------------------------------------------
def _setup(root: Path, steps: list[dict[str, Any]]) -> None:
    for step in steps:
        (action, rel), *rest = step.items()
        path = root if rel == "." else root / rel
        options = dict(rest)
        if action == "symlink":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(options["to"])
        elif action == "remove":
            path.unlink()
        elif action == "rename":
            path.rename(root / options["to"])
        elif action == "mkdir":
            path.mkdir(parents=True, exist_ok=True)
        elif action == "fifo":
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(path)
        elif action == "socket":
            path.parent.mkdir(parents=True, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()  # the socket file stays
        elif action == "sparse":
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.truncate(options["size"])
        else:
            raise AssertionError(f"unknown setup step {step}")


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bad_input_corpus(case: dict[str, Any], tmp_path: Path) -> None:
    work = tmp_path / "w"  # short: a socket path must stay under 108 bytes
    work.mkdir()
    if "input" in case:
        path = Path(case["input"])
    else:
        path = work / case["case"]
        source = BAD / case.get("copy", case["case"])
        if source.is_dir():
            shutil.copytree(source, path, symlinks=True)
        elif source.is_file():
            shutil.copy(source, path)
        _setup(path, case.get("setup", []))
        path = path / case["path"] if "path" in case else path
    proc = run_cli("replay", str(path), "--out", str(tmp_path / "out"), "-q", timeout=10)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode == case["exit"], proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.search(case["stderr"].replace("{input}", re.escape(str(path))), lines[0]), lines[0]
    assert not [f for f in (tmp_path / "out").rglob("*") if f.is_file()]  # no report of refused evidence
