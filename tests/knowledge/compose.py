"""Compose the synthetic full-match rehearsal inputs (tests/knowledge/evidence/<id>/input.txt).

No public text found carries both an exact kernel identity and the evidence a bundled signature
reads, so these inputs are composed from real captured text: /proc/meminfo and /proc/slabinfo of
the lab VM's kmalloc-leak scenario (tests/samples/lab-debian-6.1/kmalloc-leak/samples/002, Debian
6.1.176-1, 1 GiB RAM), and for some entries public text (named in tests/knowledge/rehearsals.yaml).
What each case changes is in ``CASES`` below and in its ``what`` in rehearsals.yaml: the kernel
identity line, the one cache the signature names grown (a row added where the capture has none),
and the meminfo counters moved by the same amount (MemFree and MemAvailable down, Slab and
SUnreclaim or SReclaimable up). Run ``python tests/knowledge/compose.py`` to rewrite the inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
LAB = HERE.parent / "samples" / "lab-debian-6.1"
SAMPLE = LAB / "kmalloc-leak" / "samples" / "002" / "proc"
MIB = 1024  # kB
# rows for caches the lab capture has none of: object size and objects per slab as a 6.1 x86_64
# SLUB kernel lays them out (pages per slab from the same geometry)
NEW_ROWS = {
    "nfsd4_openowners": (432, 18, 2),
    "cifs_mpx_ids": (96, 42, 1),
    "mbcache": (56, 73, 1),
    "ip_dst_cache": (256, 16, 1),
    "ip6_dst_cache": (256, 16, 1),
    "nf_conntrack": (320, 12, 1),
    "UDP": (1216, 13, 4),
}


@dataclass(frozen=True)
class Kernel:
    """How the paste names its kernel: a ``cat /proc/version`` line or ``uname -a``."""

    line: str
    command: str = "uname -a"


def debian(abi: str, package: str, date: str = "2024-02-01") -> Kernel:
    return Kernel(
        f"Linux version {abi}-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
        f"GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian {package} ({date})",
        "cat /proc/version",
    )


def uname(release: str, build: str = "#1 SMP PREEMPT_DYNAMIC Thu Feb  1 08:00:00 UTC 2024") -> Kernel:
    arch = "x86_64 x86_64 x86_64 GNU/Linux" if ".el" in release or "generic" in release else "x86_64 GNU/Linux"
    return Kernel(f"Linux node-7 {release} {build} {arch}")


def ubuntu(abi: str, build: str) -> Kernel:
    # /proc/version, not uname -a: the walker reads Ubuntu's build number ("#101-Ubuntu") from
    # /proc/version only, so a pasted uname -a alone leaves an Ubuntu kernel's stream unknown
    return Kernel(
        f"Linux version {abi}-generic (buildd@lcy02-amd64-045) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, "
        f"GNU ld (GNU Binutils for Ubuntu) 2.38) #{build}-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
        "cat /proc/version",
    )


@dataclass(frozen=True)
class Case:
    id: str
    kernel: Kernel
    boundary: dict[str, str]  # text of the kernel line -> the fixed version that replaces it
    grow: tuple[str, int, int] | None = None  # (cache, objects, kB added to SUnreclaim/SReclaimable)
    reclaimable: bool = False
    meminfo: dict[str, int] = field(default_factory=dict)  # field -> kB added (negative: taken)
    extra: str = ""  # more pasted text (a /proc/cgroups, a dentry-state line)
    slabinfo: bool = True


def _kb(cache: str, objects: int) -> int:
    size, per_slab, pages = NEW_ROWS.get(cache, (0, 0, 0))
    if not size:
        row = _row(cache)
        size, per_slab, pages = int(row[3]), int(row[4]), int(row[5])
    slabs = -(-objects // per_slab)
    return slabs * pages * 4


def _row(cache: str) -> list[str]:
    for line in (SAMPLE / "slabinfo").read_text().splitlines():
        if line.split()[0] == cache:
            return line.split()
    raise KeyError(cache)


def slab_growth(cache: str, at_least: int = 0, mib: int = 300) -> tuple[str, int, int]:
    """The cache grown to about ``mib`` MiB (a third of the host), or to ``at_least`` objects."""
    objects = max(at_least, mib * MIB * 1024 // _object_size(cache))
    return cache, objects, _kb(cache, objects)


def _object_size(cache: str) -> int:
    return NEW_ROWS[cache][0] if cache in NEW_ROWS else int(_row(cache)[3])


def _slabinfo(grow: tuple[str, int, int] | None) -> str:
    lines = (SAMPLE / "slabinfo").read_text().splitlines()
    if grow is None:
        return "\n".join(lines) + "\n"
    cache, objects, _ = grow
    if cache in NEW_ROWS:
        size, per_slab, pages = NEW_ROWS[cache]
    else:
        row = _row(cache)
        size, per_slab, pages = int(row[3]), int(row[4]), int(row[5])
    slabs = -(-objects // per_slab)
    new = (
        f"{cache:<17} {objects:>6} {slabs * per_slab:>6} {size:>6} {per_slab:>4} {pages:>4} : tunables    0    0    0"
        f" : slabdata {slabs:>6} {slabs:>6}      0"
    )
    out = [new if line.split()[0] == cache else line for line in lines]
    if cache in NEW_ROWS:
        out.insert(2, new)
    return "\n".join(out) + "\n"


def _meminfo(case: Case) -> str:
    add = dict(case.meminfo)
    if case.grow is not None:
        kb = case.grow[2]
        which = "SReclaimable" if case.reclaimable else "SUnreclaim"
        for name, delta in ((which, kb), ("Slab", kb), ("MemFree", -kb), ("MemAvailable", -kb)):
            add[name] = add.get(name, 0) + delta
        if case.reclaimable:
            add["KReclaimable"] = add.get("KReclaimable", 0) + kb
            add["MemAvailable"] += kb // 2  # the kernel counts half of it as available
    out = []
    for line in (SAMPLE / "meminfo").read_text().splitlines():
        m = re.match(r"^(\S+):(\s+)(\d+) kB$", line)
        if m and m.group(1) in add:
            value = int(m.group(3)) + add.pop(m.group(1))
            width = len(m.group(2)) + len(m.group(3))
            line = f"{m.group(1)}:{str(value).rjust(width)} kB"
        out.append(line)
    assert not add, add
    return "\n".join(out) + "\n"


def text(case: Case) -> str:
    parts = [f"$ {case.kernel.command}", case.kernel.line, "$ cat /proc/meminfo", _meminfo(case).rstrip("\n")]
    if case.slabinfo:
        parts += ["$ sudo cat /proc/slabinfo", _slabinfo(case.grow).rstrip("\n")]
    if case.extra:
        parts.append(case.extra.rstrip("\n"))
    return "\n".join(parts) + "\n"


def cgroups(memory: int) -> str:
    rows = ["$ cat /proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled"]
    for name in ("cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "pids"):
        rows.append(f"{name}\t{3 if name != 'memory' else 5}\t{memory if name == 'memory' else 45}\t1")
    return "\n".join(rows) + "\n"


D12 = debian("6.1.0-18", "6.1.76-1")
D11 = debian("5.10.0-28", "5.10.209-2")
GROW_4K = slab_growth("kmalloc-4k")  # the capture's own leak (kmalloc-4k), grown
CASES = [
    # kmem.slab_unreclaimable > 10% of MemTotal: the lab's kmalloc-4k leak, grown
    Case("sunrpc-cache-release-request-leak", D12, {"6.1.76-1": "6.1.167-1"}, GROW_4K),
    Case("sunrpc-svc-shutdown-rqst-leak", debian("6.1.0-6", "6.1.15-1"), {"6.1.15-1": "6.1.20-1"}, GROW_4K),
    Case("nfs3-create-posix-acl-leak", debian("4.19.0-17", "4.19.194-1"), {"4.19.194-1": "4.19.198-1"}, GROW_4K),
    Case(
        "nfs4-set-security-label-leak",
        uname("4.18.0-513.5.1.el8_9.x86_64", "#1 SMP Fri Sep 29 05:21:10 EDT 2023"),
        {"4.18.0-513.5.1.el8_9": "4.18.0-553.22.1.el8_10"},
        GROW_4K,
    ),
    Case("cifs-deferred-close-leak", uname("5.18.19-200.fc36.x86_64"), {"5.18.19-200": "5.19.4-200"}, GROW_4K),
    Case("cifs-sb-tlink-refcount-leak", D12, {"6.1.76-1": "6.1.158-1"}, GROW_4K),
    Case("ceph-mds-auth-match-path-leak", debian("6.12.12", "6.12.12-1"), {"6.12.12-1": "6.12.14-1"}, GROW_4K),
    Case("vfio-pci-d3hot-saved-state-leak", D11, {"5.10.209-2": "5.10.237-1"}, GROW_4K),
    Case("perf-sigtrap-event-leak-on-exit", D12, {"6.1.76-1": "6.1.103-1"}, GROW_4K),
    Case("io-uring-sqpoll-audit-leak", D12, {"6.1.76-1": "6.1.99-1"}, GROW_4K),
    Case("padata-reorder-work-refcount-leak", debian("6.1.0-32", "6.1.129-1"), {"6.1.129-1": "6.1.141-1"}, GROW_4K),
    Case("net-skb-tstamp-tx-clone-leak", uname("6.2.15-300.fc38.x86_64"), {"6.2.15-300": "6.3.5-200"}, GROW_4K),
    Case(
        "nf-tables-gc-255-expired-elements-leak",
        uname("5.14.0-362.8.1.el9_3.x86_64", "#1 SMP PREEMPT_DYNAMIC Tue Oct 3 11:12:36 EDT 2023"),
        {"5.14.0-362.8.1.el9_3": "5.14.0-427.13.1.el9_4"},
        GROW_4K,
    ),
    Case("tun-dst-unclone-metadata-dst-leak", debian("5.10.0-11", "5.10.92-1"), {"5.10.92-1": "5.10.103-1"}, GROW_4K),
    Case("bpf-sockmap-tcp-bpf-sendmsg-leak", debian("5.10.0-13", "5.10.106-1"), {"5.10.106-1": "5.10.113-1"}, GROW_4K),
    Case(
        "bridge-vlan-allowed-ingress-skb-leak", debian("5.10.0-11", "5.10.92-1"), {"5.10.92-1": "5.10.103-1"}, GROW_4K
    ),
    Case("act-ct-ooo-frags-skb-leak", debian("6.1.0-17", "6.1.69-1"), {"6.1.69-1": "6.1.76-1"}, GROW_4K),
    Case("skb-segment-list-gro-sk-leak", debian("6.1.0-21", "6.1.90-1"), {"6.1.90-1": "6.1.161-1"}, GROW_4K),
    Case(
        "inet-del-ifa-promote-secondaries-leak",
        debian("5.10.0-25", "5.10.191-1"),
        {"5.10.191-1": "5.10.197-1"},
        GROW_4K,
    ),
    Case("igmp-ip-mc-add1-src-leak", debian("5.10.0-7", "5.10.40-1"), {"5.10.40-1": "5.10.46-4"}, GROW_4K),
    Case("nexthop-error-route-refcount-leak", D12, {"6.1.76-1": "6.1.160-1"}, GROW_4K),
    Case(
        "vsock-zerocopy-error-queue-leak",
        uname("6.10.12-200.fc40.x86_64"),
        {"6.10.12-200.fc40": "6.11.10-200.fc41"},
        GROW_4K,
    ),
    # a named cache grown
    Case(
        "seccomp-filter-leak-on-failed-fork",
        uname("6.0.12-300.fc37.x86_64"),
        {"6.0.12-300": "6.0.16-300"},
        slab_growth("kmalloc-256"),
    ),
    Case("bpf-redirect-neigh-metadata-dst-leak", D12, {"6.1.76-1": "6.1.157-1"}, slab_growth("kmalloc-256")),
    Case(
        "nfsd-nfs4-openowner-leak",
        uname("5.14.0-427.13.1.el9_4.x86_64", "#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024"),
        {"5.14.0-427.13.1.el9_4": "5.14.0-570.12.1.el9_6"},
        slab_growth("nfsd4_openowners", 1100000),
    ),
    Case(
        "cifs-mid-leak-reconnect-timeout",
        uname("6.1.38-59.109.amzn2023.x86_64"),
        {"6.1.38-59.109": "6.1.42-61.115"},
        slab_growth("cifs_mpx_ids", 150000),
    ),
    Case(
        "mempolicy-shared-policy-replace-leak",
        uname("4.18.0-477.10.1.el8_8.x86_64", "#1 SMP Wed Apr 5 13:35:01 EDT 2023"),
        {"4.18.0-477.10.1.el8_8": "4.18.0-513.5.1.el8_9"},
        slab_growth("numa_policy", 1050000),
    ),
    Case(
        "sched-deadline-task-struct-leak",
        uname("5.14.0-427.13.1.el9_4.x86_64", "#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024"),
        {"5.14.0-427.13.1.el9_4": "5.14.0-427.44.1.el9_4"},
        slab_growth("task_struct"),
    ),
    Case(
        "ipv6-fib6-rule-suppress-dst-leak",
        ubuntu("5.4.0-91", "102"),
        {"5.4.0-91-generic": "5.4.0-100-generic", "#102-Ubuntu": "#113-Ubuntu"},
        slab_growth("ip6_dst_cache"),
    ),
    Case(
        "tcp-udp-zerocopy-tx-timestamp-sk-leak",
        debian("6.1.0-7", "6.1.20-2"),
        {"6.1.20-2": "6.1.28-1"},
        slab_growth("UDP"),
    ),
    Case(
        "tcp-conn-request-dst-leak",
        debian("6.1.0-26", "6.1.112-1"),
        {"6.1.112-1": "6.1.124-1"},
        slab_growth("ip_dst_cache"),
    ),
    Case("nf-reject-loopback-dst-leak", D12, {"6.1.76-1": "6.1.149-1"}, slab_growth("ip_dst_cache")),
    Case("ipv6-rtm-getaddr-netns-leak", D12, {"6.1.76-1": "6.1.82-1"}, slab_growth("net_namespace", 3000)),
    Case("ctnetlink-dump-conntrack-refcount-leak", D12, {"6.1.76-1": "6.1.149-1"}, slab_growth("nf_conntrack")),
    Case("act-ct-zone-switch-conntrack-leak", D11, {"5.10.209-2": "5.10.258-1"}, slab_growth("nf_conntrack")),
    Case(
        "bpf-sk-lookup-request-sock-leak",
        debian("5.10.0-15", "5.10.120-1"),
        {"5.10.120-1": "5.10.127-1"},
        slab_growth("request_sock_TCP", 150000),
    ),
    Case("bpf-sk-select-reuseport-sock-leak", D12, {"6.1.76-1": "6.1.128-1"}, slab_growth("TCP")),
    Case("nft-socket-sk-refcount-leak", D12, {"6.1.76-1": "6.1.112-1"}, slab_growth("TCP")),
    Case(
        "af-unix-oob-struct-pid-leak",
        debian("6.1.0-6", "6.1.15-1"),
        {"6.1.15-1": "6.1.20-1"},
        slab_growth("pid", 1100000),
    ),
    # reclaimable slab that is not given back
    Case(
        "ext4-mbcache-entry-refcount-leak",
        ubuntu("5.15.0-91", "101"),
        {"5.15.0-91-generic": "5.15.0-121-generic", "#101-Ubuntu": "#131-Ubuntu"},
        slab_growth("mbcache"),
        reclaimable=True,
    ),
    Case(
        "overlayfs-metacopy-dentry-leak",
        uname("4.18.0-513.5.1.el8_9.x86_64", "#1 SMP Fri Sep 29 05:21:10 EDT 2023"),
        {"4.18.0-513.5.1.el8_9": "4.18.0-553.8.1.el8_10"},
        slab_growth("dentry"),
        reclaimable=True,
    ),
    Case(
        "vfs-disconnected-dentry-umount-leak", D12, {"6.1.76-1": "6.1.158-1"}, slab_growth("dentry"), reclaimable=True
    ),
    Case(
        "thp-split-xarray-node-leak",
        uname("5.17.5-300.fc36.x86_64"),
        {"5.17.5-300": "5.17.15-300"},
        slab_growth("radix_tree_node"),
        reclaimable=True,
    ),
    # memory cgroups
    Case(
        "memcg-dying-cgroups-pinned-by-slab",
        ubuntu("4.15.0-213", "224"),
        {"4.15.0-213-generic": "5.11.0-16-generic", "#224-Ubuntu": "#17-Ubuntu"},
        slab_growth("kmem_cache"),
        extra=cgroups(2500),
    ),
    Case(
        "memcg-dying-cgroups-percpu",
        debian("5.10.0-28", "5.10.209-2"),
        {"5.10.209-2": "3.2.96-3"},
        meminfo={"Percpu": 300 * MIB, "MemFree": -300 * MIB, "MemAvailable": -300 * MIB},
        extra=cgroups(4200),
    ),
    # percpu
    Case(
        "x-tables-netns-percpu-counter-leak",
        debian("6.1.0-6", "6.1.15-1"),
        {"6.1.15-1": "6.1.20-2"},
        meminfo={"Percpu": 120 * MIB, "MemFree": -120 * MIB, "MemAvailable": -120 * MIB},
    ),
    Case(
        "nf-tables-addchain-percpu-stats-leak",
        debian("5.18.0-0.deb11.4", "5.18.16-1~bpo11+1"),
        {"5.18.16-1~bpo11+1": "5.19.12-1~bpo11+1"},
        meminfo={"Percpu": 120 * MIB, "MemFree": -120 * MIB, "MemAvailable": -120 * MIB},
    ),
    # pages that no counter holds
    Case(
        "sunrpc-tcp-record-marker-page-leak",
        debian("6.6.13+bpo", "6.6.13-1~bpo12+1"),
        {"6.6.13-1~bpo12+1": "6.6.26-1~bpo12+1"},
        meminfo={"MemFree": -400 * MIB, "MemAvailable": -400 * MIB},
    ),
    Case(
        "virtio-net-big-mode-page-leak",
        uname("5.13.19-200.fc34.x86_64"),
        {"5.13.19-200": "5.14.9-200"},
        meminfo={"MemFree": -400 * MIB, "MemAvailable": -400 * MIB},
    ),
    Case(
        "virtio-net-xdp-tx-mergeable-page-leak",
        debian("5.10.0-16", "5.10.127-2"),
        {"5.10.127-2": "5.10.140-1"},
        meminfo={"MemFree": -400 * MIB, "MemAvailable": -400 * MIB},
    ),
    # the same leak on a SUSE kernel, judged on its suse range (SUSE-SU-2025:0833-1)
    Case(
        "sles15-sp5-numa-policy-growth",
        uname("5.14.21-150500.55.39-default", "#1 SMP PREEMPT_DYNAMIC Tue Oct 31 08:37:43 UTC 2023 (e7a2e23)"),
        {"5.14.21-150500.55.39": "5.14.21-150500.55.97"},
        slab_growth("numa_policy", 1050000),
    ),
    # reading traps
    Case(
        "vmallocused-reads-zero",
        debian("4.19.0-26", "4.19.304-1"),
        {"4.19.304-1": "5.3.9-1"},
        meminfo={"VmallocUsed": -18484},
    ),
]


PUBLIC = HERE.parent / "samples" / "public"
EL7_VERSION = (
    "Linux version 3.10.0-957.21.3.el7.x86_64 (mockbuild@kbuilder.bsys.centos.org) (gcc version 4.8.5 20150623"
    " (Red Hat 4.8.5-36) (GCC) ) #1 SMP Tue Jun 18 16:35:19 UTC 2019\n"
)
# public text with a kernel identity line put in front: (case id, text, the line)
WITH_IDENTITY = [
    (
        "meminfo-memavailable-absent-before-3-14",
        PUBLIC / "perf-tools-78-centos7-big-slab.txt",
        "Linux version 3.2.0-4-amd64 (debian-kernel@lists.debian.org) (gcc version 4.6.3 (Debian 4.6.3-14) )"
        " #1 SMP Debian 3.2.96-3",
    ),
    (
        "negative-dentry-bloat",
        HERE.parent / "cases" / "gh-opencloudtouch-387-negative-dentries" / "input.txt",
        "Linux version 6.12.43+deb13-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-14 (Debian"
        " 14.2.0-19) 14.2.0, GNU ld (GNU Binutils for Debian) 2.44) #1 SMP PREEMPT_DYNAMIC Debian 6.12.43-1"
        " (2025-08-27)",
    ),
]
ZFS_MODULES = "zfs 3788800 6 - Live 0xffffffffc0600000 (POE)\nspl 110592 1 zfs, Live 0xffffffffc05e4000 (OE)\n"


def _bundle(folder: Path, static: dict[str, str], meminfo: str) -> None:
    for path, body in {**static, "samples/000/proc/meminfo": meminfo}.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)


def bundles() -> None:
    """Saved-bundle inputs, for evidence a paste cannot carry (/proc/cmdline, /proc/modules)."""
    healthy = LAB / "healthy"
    public_meminfo = (PUBLIC / "perf-tools-78-centos7-big-slab.txt").read_text().splitlines()
    centos7 = "\n".join(line for line in public_meminfo if re.match(r"^[A-Za-z_()0-9]+:\s+\d+( kB)?$", line)) + "\n"
    _bundle(
        HERE / "evidence" / "rhel7-memcg-kmem-accounting-leak",
        {
            "static/proc/version": EL7_VERSION,
            "static/proc/cmdline": "BOOT_IMAGE=/vmlinuz-3.10.0-957.21.3.el7.x86_64 root=/dev/mapper/centos-root ro"
            " crashkernel=auto rd.lvm.lv=centos/root rd.lvm.lv=centos/swap rhgb quiet LANG=en_US.UTF-8\n",
            # the memory row as kubernetes#61937 shows it (65535 memory cgroups, hierarchy 11)
            "static/proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
            "cpuset\t4\t9\t1\ncpu\t6\t104\t1\ncpuacct\t6\t104\t1\nmemory\t11\t65535\t1\n"
            "devices\t2\t104\t1\nfreezer\t9\t9\t1\nnet_cls\t5\t9\t1\nblkio\t3\t104\t1\n"
            "perf_event\t7\t9\t1\nhugetlb\t8\t9\t1\npids\t10\t104\t1\nnet_prio\t5\t9\t1\n",
        },
        centos7,
    )
    static = {
        f"static/{p.relative_to(healthy / 'static')}": p.read_text()
        for p in sorted((healthy / "static").rglob("*"))
        if p.is_file()
    }
    static["static/proc/modules"] = ZFS_MODULES + static["static/proc/modules"]
    _bundle(
        HERE / "evidence" / "zfs-arc-not-in-meminfo",
        static,
        (healthy / "samples" / "000" / "proc" / "meminfo").read_text(),
    )


def main() -> None:
    for case in CASES:
        folder = HERE / "evidence" / case.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "input.txt").write_text(text(case))
    for case_id, source, line in WITH_IDENTITY:
        folder = HERE / "evidence" / case_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "input.txt").write_text(f"$ cat /proc/version\n{line}\n{source.read_text()}")
    bundles()


if __name__ == "__main__":
    main()
