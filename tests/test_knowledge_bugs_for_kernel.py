"""``bugs_for_kernel``: what the knowledge base knows about a kernel release string alone
(``kleak-runbook bugs --kernel ...``), for a real kernel of each stream.

Each expectation follows from the entry's ``affected`` ranges (runbooks/knowledge/*.yaml); the
"absent" ids sit just outside a range, or in ranges the stream must not take (RHEL and SUSE are
judged on their own streams only, never on kernel.org ranges).
"""

from __future__ import annotations

from typing import Any

import pytest

from kleak_runbook.decide.knowledge import bundled_knowledge_dir, load_knowledge
from kleak_runbook.decide.known_bugs import bugs_for_kernel

ENTRIES = load_knowledge(bundled_knowledge_dir())
BY_ID = {e.id: e for e in ENTRIES}
DEBIAN_PROC_VERSION = (
    "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
    "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
)
# entries of every stream with an open-ended range: on every kernel that its streams cover
EVERYWHERE = {"memcg-dying-cgroups-percpu", "negative-dentry-bloat", "percpu-chunks-in-vmallocinfo"}


def bugs(release: str, **kw: Any) -> dict[str, dict[str, Any]]:
    return {b["id"]: b for b in bugs_for_kernel(release, entries=ENTRIES, **kw)}


CASES: list[tuple[str, dict[str, str], set[str], set[str], set[str]]] = [
    # (release, more identity, present, absent, streams compared in)
    (
        "3.10.0-957.21.3.el7.x86_64",
        {},
        EVERYWHERE
        | {
            "rhel7-memcg-kmem-accounting-leak",  # el7 [3.10.0-514, 3.10.0-1075)
            "rhel7-negative-dentry-oom",  # el7 [3.10.0-0, 3.10.0-1127)
            "zfs-arc-not-in-meminfo",  # el7 [3.10.0-0, …)
        },
        {
            "vmallocused-reads-zero",  # kernel.org [4.4, 5.3) only: a RHEL base version is not exact
            "memcg-dying-cgroups-pinned-by-slab",  # kernel.org and ubuntu ranges only
            "meminfo-memavailable-absent-before-3-14",  # kernel.org only, and 3.10 is its base
        },
        {"el7"},
    ),
    (
        "4.18.0-513.5.1.el8_9.x86_64",
        {},
        EVERYWHERE
        | {
            "zfs-arc-not-in-meminfo",  # el8 [4.18.0-0, …)
            "nfs4-set-security-label-leak",  # el8 [4.18.0-478, 4.18.0-553.22.1.el8_10) (RHSA-2024:7000)
            "sched-deadline-task-struct-leak",  # el8 [4.18.0-478, 4.18.0-553.22.1.el8_10)
            "ext4-mbcache-entry-refcount-leak",  # el8 [4.18.0-0, 4.18.0-553.16.1.el8_10)
            "nf-tables-gc-255-expired-elements-leak",  # el8 [4.18.0-0, 4.18.0-553.el8_10)
            "overlayfs-metacopy-dentry-leak",  # el8 [4.18.0-0, 4.18.0-553.8.1.el8_10)
            "tcp-udp-zerocopy-tx-timestamp-sk-leak",  # el8 [4.18.0-0, …): Red Hat "Fix deferred"
            "nft-socket-sk-refcount-leak",  # el8 [4.18.0-0, …): Red Hat "Will not fix"
        },
        {
            "mempolicy-shared-policy-replace-leak",  # el8 fixed in exactly 4.18.0-513.5.1.el8_9 (RHSA-2023:7077)
            "perf-sigtrap-event-leak-on-exit",  # Red Hat: RHEL 8 not affected, so no el8 range
            "ipv6-fib6-rule-suppress-dst-leak",  # Red Hat: RHEL 8 not affected
            "rhel7-memcg-kmem-accounting-leak",  # el7 ranges only
            "rhel7-negative-dentry-oom",  # el7 range only (its el8 fix is no el8 range)
            "memcg-shrinker-skipped-with-cgroup-disable",  # kernel.org [4.19, 4.19.65) / [4.20, 5.3) only
            "io-uring-sqpoll-audit-leak",  # kernel.org [5.1, 6.1.96) only
        },
        {"el8"},
    ),
    (
        "5.14.0-427.13.1.el9_4.x86_64",
        {},
        EVERYWHERE
        | {
            "zfs-arc-not-in-meminfo",  # el9 [5.14.0-0, …)
            "sched-deadline-task-struct-leak",  # el9 [5.14.0-285, 5.14.0-427.44.1.el9_4) (RHSA-2024:9546)
            "nfs4-set-security-label-leak",  # el9 [5.14.0-285, 5.14.0-427.33.1.el9_4) (RHSA-2024:5928)
            "ext4-mbcache-entry-refcount-leak",  # el9 [5.14.0-0, 5.14.0-427.57.1.el9_4) (RHSA-2025:2270)
            "nfsd-nfs4-openowner-leak",  # el9 [5.14.0-0, 5.14.0-570.12.1.el9_6)
            "perf-sigtrap-event-leak-on-exit",  # el9 [5.14.0-0, …): Red Hat "Will not fix"
        },
        {
            "nf-tables-gc-255-expired-elements-leak",  # el9 fixed in exactly 5.14.0-427.13.1.el9_4 (RHSA-2024:2394)
            "mempolicy-shared-policy-replace-leak",  # el9 fixed in 5.14.0-284.11.1.el9_2
            "overlayfs-metacopy-dentry-leak",  # Red Hat: RHEL 9 not affected, so no el9 range
            "memcg-kmem-pages-pin-dying-cgroups",  # kernel.org [5.9, 5.14) only
            "rhel7-memcg-kmem-accounting-leak",
        },
        {"el9"},
    ),
    (
        "5.15.0-91-generic",
        {"version_signature": "Ubuntu 5.15.0-91.101-generic 5.15.131"},
        EVERYWHERE  # ubuntu [3.13.0-0, …)
        | {
            "zfs-arc-not-in-meminfo",  # ubuntu [3.13.0-0, …)
            "inet-del-ifa-promote-secondaries-leak",  # kernel.org [5.11, 5.15.132): 5.15.131 is the last one
            "perf-sigtrap-event-leak-on-exit",  # kernel.org [5.15.84, 5.15.165)
            "act-ct-ooo-frags-skb-leak",  # kernel.org [5.3, 5.15.148)
            "sched-deadline-task-struct-leak",  # ubuntu [5.15.0-0, 5.15.1~): jammy "needed"
            "ext4-mbcache-entry-refcount-leak",  # ubuntu [5.15.0-0, 5.15.0-121.131~)
        },
        {
            "nfs4-set-security-label-leak",  # ubuntu range for 6.8.0 only; kernel.org has no 5.15 range
            "memcg-dying-cgroups-pinned-by-slab",  # ubuntu [3.13.0-0, 5.9.0-0) decides, not kernel.org
            "ipv6-fib6-rule-suppress-dst-leak",  # kernel.org [5.11, 5.15.7)
            "tcp-udp-zerocopy-tx-timestamp-sk-leak",  # kernel.org [5.11, 5.15.111)
            "af-unix-oob-struct-pid-leak",  # kernel.org [5.15, 5.15.103)
            "tcp-conn-request-dst-leak",  # kernel.org [5.15.162, 5.15.176): introduced later
            "vmallocused-reads-zero",  # kernel.org [4.4, 5.3)
        },
        {"ubuntu", "any"},
    ),
    (
        "6.1.0-18-amd64",
        {"proc_version": DEBIAN_PROC_VERSION},
        EVERYWHERE  # kernel.org (negative-dentry-bloat, percpu-*: no debian range of their own)
        | {
            "zfs-arc-not-in-meminfo",  # debian [3.16, …)
            "io-uring-sqpoll-audit-leak",  # kernel.org [5.1, 6.1.96)
            "ipv6-rtm-getaddr-netns-leak",  # kernel.org [5.16, 6.1.81)
            "nfsd-nfs4-openowner-leak",  # kernel.org [5.16, 6.1.120)
            "perf-sigtrap-event-leak-on-exit",  # kernel.org [6.1, 6.1.103)
        },
        {
            "act-ct-ooo-frags-skb-leak",  # kernel.org [5.16, 6.1.75): 6.1.76 has the fix
            "af-unix-oob-struct-pid-leak",  # kernel.org [5.16, 6.1.20)
            "tcp-conn-request-dst-leak",  # kernel.org [6.1.97, 6.1.124): introduced later
            "padata-reorder-work-refcount-leak",  # kernel.org [6.1.129, 6.1.141)
            "seccomp-filter-leak-on-failed-fork",  # kernel.org [6.1, 6.1.2)
        },
        {"debian", "any"},
    ),
    (
        "5.14.21-150500.55.39-default",
        {},
        EVERYWHERE
        | {
            "zfs-arc-not-in-meminfo",  # suse [3.0.0-0, …)
            # SLES 15 SP5 kernel-default ranges from SUSE's advisories
            "mempolicy-shared-policy-replace-leak",  # suse [5.14.21-150500.55, …55.97) (SUSE-SU-2025:0833-1)
            "vfio-pci-d3hot-saved-state-leak",  # suse [5.14.21-150500.55, …55.100) (SUSE-SU-2025:1241-1)
            "virtio-net-xdp-tx-mergeable-page-leak",  # suse [5.14.21-150500.55, …55.113) (SUSE-SU-2025:02264-1)
        },
        {
            "sched-deadline-task-struct-leak",  # SUSE names an SP6 fix only; kernel.org ranges never apply to SUSE
            "io-uring-sqpoll-audit-leak",  # suse range for SP6 (6.4.0-150600.23) only
            "nfs3-create-posix-acl-leak",  # suse ranges for SLES 12 SP5, 15 SP2 and SP3 only
            "memcg-dying-cgroups-pinned-by-slab",
        },
        {"suse"},
    ),
    (
        "5.10.205-195.807.amzn2.x86_64",
        {},
        EVERYWHERE  # kernel.org, on the exact 5.10.205
        | {
            "sunrpc-cache-release-request-leak",  # kernel.org [2.6.12, 5.10.253)
            "act-ct-zone-switch-conntrack-leak",  # kernel.org [5.10.103, 5.10.258)
            "ext4-mbcache-entry-refcount-leak",  # kernel.org [5.5, 5.10.219)
            "ipv6-rtm-getaddr-netns-leak",  # kernel.org [5.5, 5.10.212)
            "memcg-kmem-pages-pin-dying-cgroups",  # kernel.org [5.9, 5.14)
        },
        {
            "tcp-udp-zerocopy-tx-timestamp-sk-leak",  # kernel.org [5.5, 5.10.180)
            "ipv6-fib6-rule-suppress-dst-leak",  # kernel.org [5.5, 5.10.84)
            "net-skb-tstamp-tx-clone-leak",  # kernel.org [5.10.180, 5.10.181)
            "padata-reorder-work-refcount-leak",  # kernel.org [5.10.235, 5.10.238): introduced later
            "memcg-dying-cgroups-pinned-by-slab",  # kernel.org [3.8, 5.9)
            "vmallocused-reads-zero",  # kernel.org [4.4, 5.3)
            "rhel7-memcg-kmem-accounting-leak",
        },
        {"any"},
    ),
]


@pytest.mark.parametrize(
    ("release", "identity", "present", "absent", "streams"), CASES, ids=[case[0] for case in CASES]
)
def test_bugs_for_each_stream(
    release: str, identity: dict[str, str], present: set[str], absent: set[str], streams: set[str]
) -> None:
    found = bugs(release, **identity)
    assert present <= set(found), sorted(present - set(found))
    assert not absent & set(found), sorted(absent & set(found))
    assert {b["fixed_in_stream"] for b in found.values()} <= streams
    for bug in found.values():  # no evidence is read: only an entry without a signature is "matched"
        assert bug["confidence"] == ("version-only" if BY_ID[bug["id"]].signature else "matched")


def test_rhel7_document() -> None:
    bug = bugs("3.10.0-957.21.3.el7.x86_64")["rhel7-memcg-kmem-accounting-leak"]
    assert bug == {
        "id": "rhel7-memcg-kmem-accounting-leak",
        "title": bug["title"],
        "kind": "any",
        "why": "kernel 3.10.0-957.21.3.el7 is in el7 [3.10.0-514, 3.10.0-1075); "
        "version matches; evidence /proc/cmdline (cmdline), /proc/cgroups (cgroups) would confirm it",
        "confidence": "version-only",
        "needs": ["cmdline", "cgroups"],
        "fixed_in": ["3.10.0-1075.el7"],
        "fixed_in_stream": "el7",
        "fix": bug["fix"],
        "workaround": bug["workaround"],
        "escalate_to": bug["escalate_to"],
        "links": bug["links"],
        "verified": True,
        "trap": False,
        "source": "bundled",
    }
    assert "cgroup.memory=nokmem" in bug["workaround"] and bug["links"]


def test_kernel_org_document_names_release_and_upstream_and_the_nearest_fix() -> None:
    bug = bugs("5.10.205-195.807.amzn2.x86_64")["sunrpc-cache-release-request-leak"]
    assert bug["why"] == (
        "kernel 5.10.205-195.807.amzn2.x86_64 (upstream 5.10.205) is in kernel.org [2.6.12, 5.10.253); "
        "version matches; evidence /proc/meminfo (kmem) would confirm it"  # kmem and mem_total: one file
    )
    assert bug["needs"] == ["meminfo"]
    nfsd = bugs("5.10.205-195.807.amzn2.x86_64")["nfsd-nfs4-openowner-leak"]
    assert nfsd["why"].endswith("[5.5, 5.10.231); version matches; evidence /proc/slabinfo (slab) would confirm it")
    assert nfsd["needs"] == ["slabinfo"]
    # every kernel.org release with the fix that is newer than 5.10.205, nearest first
    assert bug["fixed_in"] == ["5.10.253", "5.15.203", "6.1.167", "6.6.130", "6.12.78", "6.18.20", "6.19.10", "7.0"]
    debian = bugs("6.1.0-18-amd64", proc_version=DEBIAN_PROC_VERSION)["sunrpc-cache-release-request-leak"]
    assert debian["why"].startswith("kernel 6.1.0-18-amd64 (upstream 6.1.76) is in kernel.org [5.16, 6.1.167)")
    assert debian["fixed_in"][0] == "6.1.167" and "5.15.203" not in debian["fixed_in"]


def test_ubuntu_own_range_is_compared_as_the_package_version() -> None:
    found = bugs("5.15.0-91-generic", version_signature="Ubuntu 5.15.0-91.101-generic 5.15.131")
    assert found["memcg-dying-cgroups-percpu"]["why"].startswith("kernel 5.15.0-91.101 is in ubuntu [3.13.0-0, …)")
    assert found["inet-del-ifa-promote-secondaries-leak"]["fixed_in"][0] == "5.15.132"
    # without /proc/version_signature the stable level is unknown: kernel.org ranges do not apply
    bare = bugs("5.15.0-91-generic", os_release_id="ubuntu")
    assert "inet-del-ifa-promote-secondaries-leak" not in bare
    assert "memcg-dying-cgroups-percpu" in bare


def test_entry_without_signature_is_matched() -> None:
    bug = bugs("4.18.0-513.5.1.el8_9.x86_64")["percpu-chunks-in-vmallocinfo"]
    assert (bug["confidence"], bug["needs"], bug["trap"]) == ("matched", [], True)
    assert bug["why"] == "kernel 4.18.0-513.5.1.el8_9 is in el8 [4.18.0-0, …); no evidence signature to check"


def test_order_bugs_before_traps_verified_first_then_id() -> None:
    for release, kw in [
        ("3.10.0-957.21.3.el7.x86_64", {}),
        ("6.1.0-18-amd64", {"proc_version": DEBIAN_PROC_VERSION}),
    ]:
        listed = bugs_for_kernel(release, entries=ENTRIES, **kw)
        keys = [(b["trap"], not b["verified"], b["id"]) for b in listed]
        assert keys == sorted(keys)
    el7 = [b["id"] for b in bugs_for_kernel("3.10.0-957.21.3.el7.x86_64", entries=ENTRIES)]
    assert el7.index("rhel7-memcg-kmem-accounting-leak") < el7.index("rhel7-negative-dentry-oom")  # unverified last
    assert el7.index("rhel7-negative-dentry-oom") < el7.index("negative-dentry-bloat")  # traps after bugs


def test_unknown_kernel_gets_nothing() -> None:
    assert bugs_for_kernel("2.6.18-408.el5", entries=ENTRIES) == []
    assert bugs_for_kernel("5.15.0-200.131.27.el9uek.x86_64", entries=ENTRIES) == []
