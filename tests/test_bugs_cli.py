"""`kleak-runbook bugs`, `--knowledge DIR` and `validate` of knowledge files, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, run_cli

SITE = """\
- id: site-local-el8-kmalloc-64
  title: Our el8 fleet's kmalloc-64 growth (incident OPS-12)
  kind: slab-unreclaimable
  verified: true
  affected:
    - stream: el8
      from: "4.18.0-477"
      to_before: "4.18.0-513.11.1"
  signature: "'kmalloc-64' in slab.caches"
  workaround: Restart the agent that opens the sockets.
  fix: Update to 4.18.0-513.11.1.el8_9 or later.
  escalate_to: the platform team
  links:
    - https://example.org/ops-12
"""


def test_bugs_for_an_el8_kernel_includes_site_local_entries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ours.yaml").write_text(SITE)
    proc = run_cli("bugs", "--kernel", "4.18.0-513.5.1.el8_9.x86_64", "--knowledge", str(site), "--format", "json")
    assert proc.returncode == 1, proc.stderr  # something applies
    doc = json.loads(proc.stdout)
    ours = next(b for b in doc["known_bugs"] if b["id"] == "site-local-el8-kmalloc-64")
    assert ours["confidence"] == "version-only" and ours["source"] == str(site)
    assert "slabinfo" in " ".join(ours["needs"])
    # without the directory it is not there
    plain = json.loads(run_cli("bugs", "--kernel", "4.18.0-513.5.1.el8_9.x86_64", "--format", "json").stdout)
    assert all(b["id"] != ours["id"] for b in plain["known_bugs"])


def test_bugs_from_saved_evidence_and_a_version_file(tmp_path: Path) -> None:
    bundle = SAMPLES / "lab-debian-6.1/healthy"
    from_bundle = json.loads(run_cli("bugs", str(bundle), "--format", "json").stdout)
    assert from_bundle["kernel"] == "6.1.0-50-amd64"
    version = tmp_path / "version"
    version.write_text((bundle / "static/proc/version").read_text())
    from_file = json.loads(run_cli("bugs", "--kernel-version-file", str(version), "--format", "json").stdout)
    assert [b["id"] for b in from_file["known_bugs"]] == [b["id"] for b in from_bundle["known_bugs"]]


def test_bugs_bad_input_is_one_line(tmp_path: Path) -> None:
    for args in (["--kernel", "not a kernel"], [], ["--kernel", "6.1.0", str(tmp_path)]):
        proc = run_cli("bugs", *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def test_broken_site_local_entry_stops_a_replay_with_file_and_line(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "bad.yaml").write_text(SITE.replace("kind: slab-unreclaimable", "kind: nonsense"))
    proc = run_cli(
        "replay", str(SAMPLES / "lab-debian-6.1/healthy"), "--knowledge", str(site), "--out", str(tmp_path / "r")
    )
    assert proc.returncode == 2 and f"{site / 'bad.yaml'}:3" in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists()
    check = run_cli("validate", str(site))
    assert check.returncode == 2 and f"{site / 'bad.yaml'}:3" in check.stderr
    assert run_cli("validate", "runbooks/knowledge").returncode == 0


def _debian_version(abi: str, package: str) -> str:
    return (
        f"Linux version {abi} (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils"
        f" for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian {package} (2024-02-01)\n"
    )


# (kernel as the host shows it, an entry that applies, one that does not): a real release string of
# every stream, judged as the entries' ranges say (runbooks/knowledge/*.yaml; sources in their links)
STREAMS = [
    # el7 [3.10.0-514, 3.10.0-1075); vmallocused-reads-zero has kernel.org ranges only
    (["--kernel", "3.10.0-957.21.3.el7.x86_64"], "rhel7-memcg-kmem-accounting-leak", "vmallocused-reads-zero"),
    # el8 [4.18.0-478, 4.18.0-553.22.1.el8_10); mempolicy: el8 fixed in exactly 4.18.0-513.5.1.el8_9
    (
        ["--kernel", "4.18.0-513.5.1.el8_9.x86_64"],
        "nfs4-set-security-label-leak",
        "mempolicy-shared-policy-replace-leak",
    ),
    # el9 [5.14.0-285, 5.14.0-427.44.1.el9_4); nf-tables-gc: el9 fixed in exactly 5.14.0-427.13.1.el9_4
    (
        ["--kernel", "5.14.0-427.13.1.el9_4.x86_64"],
        "sched-deadline-task-struct-leak",
        "nf-tables-gc-255-expired-elements-leak",
    ),
    # Ubuntu 22.04: ubuntu [5.15.0-0, 5.15.0-121.131~); kernel.org [5.11, 5.15.7) is behind 5.15.131
    (
        ["--kernel", "5.15.0-91-generic", "--version-signature", "Ubuntu 5.15.0-91.101-generic 5.15.131"],
        "ext4-mbcache-entry-refcount-leak",
        "ipv6-fib6-rule-suppress-dst-leak",
    ),
    # Ubuntu 18.04: ubuntu [4.15.0-0, 4.15.1~) ("needed"); kernel.org [5.9, 5.14) only
    (
        ["--kernel", "4.15.0-213-generic", "--version-signature", "Ubuntu 4.15.0-213.224-generic 4.15.18"],
        "ext4-mbcache-entry-refcount-leak",
        "memcg-kmem-pages-pin-dying-cgroups",
    ),
    # Ubuntu 24.04: ubuntu [6.8.0-0, 6.8.0-48.48~); ext4-mbcache fixed in 6.8.0-44.44
    (
        ["--kernel", "6.8.0-45-generic", "--version-signature", "Ubuntu 6.8.0-45.45-generic 6.8.12"],
        "sched-deadline-task-struct-leak",
        "ext4-mbcache-entry-refcount-leak",
    ),
    # Debian 12 (6.1.76): kernel.org [5.1, 6.1.96); act-ct-ooo-frags fixed in 6.1.75
    (("6.1.0-18-amd64", "6.1.76-1"), "io-uring-sqpoll-audit-leak", "act-ct-ooo-frags-skb-leak"),
    # Debian 11 (5.10.209): kernel.org [5.1, 5.10.237); tun-dst-unclone fixed in 5.10.101
    (("5.10.0-28-amd64", "5.10.209-2"), "vfio-pci-d3hot-saved-state-leak", "tun-dst-unclone-metadata-dst-leak"),
    # Debian 10 (4.19.304): kernel.org [2.6.12, 5.10.253); nfs3-create-posix-acl fixed in 4.19.198
    (("4.19.0-26-amd64", "4.19.304-1"), "sunrpc-cache-release-request-leak", "nfs3-create-posix-acl-leak"),
    # SLES 15 SP5: suse [5.14.21-150500.55, 5.14.21-150500.55.97) (SUSE-SU-2025:0833-1); SUSE names
    # only an SP6 fix for the sched-deadline leak, and a SUSE kernel never takes kernel.org ranges
    (
        ["--kernel", "5.14.21-150500.55.39-default"],
        "mempolicy-shared-policy-replace-leak",
        "sched-deadline-task-struct-leak",
    ),
    # Amazon Linux 2 (5.10.205): kernel.org [2.6.12, 5.10.253); ipv6-fib6-rule fixed in 5.10.84
    (
        ["--kernel", "5.10.205-195.807.amzn2.x86_64"],
        "sunrpc-cache-release-request-leak",
        "ipv6-fib6-rule-suppress-dst-leak",
    ),
    # Amazon Linux 2023 (6.1.72): kernel.org [5.16, 6.1.75); af-unix-oob fixed in 6.1.20
    (["--kernel", "6.1.72-96.166.amzn2023.x86_64"], "act-ct-ooo-frags-skb-leak", "af-unix-oob-struct-pid-leak"),
]


@pytest.mark.parametrize(("kernel", "applies", "not_applies"), STREAMS, ids=[str(s[0][1]) for s in STREAMS])
def test_bugs_kernel_of_every_stream(
    kernel: list[str] | tuple[str, str], applies: str, not_applies: str, tmp_path: Path
) -> None:
    if isinstance(kernel, tuple):  # Debian: the package version is in /proc/version only
        version = tmp_path / "version"
        version.write_text(_debian_version(f"{kernel[0]}", kernel[1]))
        args = ["--kernel-version-file", str(version)]
    else:
        args = kernel
    proc = run_cli("bugs", *args, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    found = {b["id"]: b for b in json.loads(proc.stdout)["known_bugs"]}
    assert applies in found and not_applies not in found, sorted(found)
    assert found[applies]["confidence"] == "version-only" and found[applies]["fixed_in"], found[applies]
