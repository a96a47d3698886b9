"""Escalation advice: who to go to, what to attach, and the next commands for this kernel.

Commands depend on the kernel in the evidence; the version-dependent facts (where SLUB traces
are, ``slab_debug=`` or ``slub_debug=``, tracefs, vmalloc's entry point) come from ``Kernel``.
"""

from __future__ import annotations

from typing import Any

from kleak_runbook.derive.kernel import Kernel


def advise(
    kind: str,
    verdict: str,
    culprits: list[dict[str, Any]],
    kernel: Kernel,
    loaded_out_of_tree: list[str] | None = None,
) -> dict[str, Any]:
    commands: list[dict[str, Any]] = []
    tf = kernel.tracefs
    out_of_tree = [c["name"] for c in culprits if c.get("type") == "module" and c.get("out_of_tree")]
    first_cache = next((c for c in culprits if c.get("type") == "slab-cache"), None)
    first_caller = next((c for c in culprits if c.get("type") == "vmalloc-caller"), None)

    def cmd(why: str, command: str, intrusive: bool = False) -> None:
        commands.append({"why": why, "command": command, "intrusive": intrusive})

    if kind in ("slab-unreclaimable", "slab-reclaimable") and first_cache:
        cache = first_cache["name"]
        size = first_cache.get("object_size")
        cmd("watch the cache grow", f"watch -n 5 'grep -E \"^{cache} \" /proc/slabinfo'")
        cmd(
            "record who allocates from the cache: boot with this kernel parameter, then read the traces",
            f"{kernel.slab_debug_param(cache)}  →  cat {kernel.alloc_traces_path(cache)}",
            intrusive=True,
        )
        if cache.startswith("kmalloc-") and size:
            cmd(
                "without a reboot: rank kmalloc call sites of this size by bytes (Ctrl-C to stop)",
                "bpftrace -e 'tracepoint:kmem:kmalloc /args->bytes_alloc == "
                f"{size}/ {{ @[ksym(args->call_site)] = sum(args->bytes_alloc); }}'",
                intrusive=True,
            )
        else:
            cmd(
                "without a reboot: rank kmem_cache_alloc call sites by bytes (Ctrl-C to stop)",
                "bpftrace -e 'tracepoint:kmem:kmem_cache_alloc { @[ksym(args->call_site)] = sum(args->bytes_alloc); }'",
                intrusive=True,
            )
        cmd(
            "if the kernel has CONFIG_DEBUG_KMEMLEAK: scan for unreferenced objects",
            "echo scan > /sys/kernel/debug/kmemleak; cat /sys/kernel/debug/kmemleak",
            intrusive=True,
        )
        if kind == "slab-reclaimable":
            cmd(
                "see how many dentries are negative (lookups of missing files)",
                "cat /proc/sys/fs/dentry-state",
            )
            cmd("confirm the cache gives memory back", "kleak-runbook run --allow-intrusive drop_caches ...")
    elif kind == "vmalloc":
        cmd(
            "vmalloc bytes per caller, biggest first",
            "awk '{c[$3]+=$2} END {for (k in c) print c[k], k}' /proc/vmallocinfo | sort -rn | head -20",
        )
        fn = kernel.vmalloc_entry
        cmd(
            "stacks that call vmalloc, with bytes (Ctrl-C to stop)",
            f"bpftrace -e 'kprobe:{fn} {{ @[kstack(8)] = sum(arg0); }}'",
            intrusive=True,
        )
        if first_caller and first_caller.get("module"):
            cmd("the module behind the top caller", f"modinfo {first_caller['module']}")
        if not kernel.at_least(5, 3):
            cmd(
                "VmallocUsed reads 0 on this kernel: sum vmalloc pages from vmallocinfo",
                "grep -o 'pages=[0-9]*' /proc/vmallocinfo | awk -F= '{s+=$2} END {print s*4096}'",
            )
    elif kind == "page-allocator":
        cmd(
            "record the allocating stack of every page: boot with (needs CONFIG_PAGE_OWNER)",
            "page_owner=on  →  cat /sys/kernel/debug/page_owner > page_owner.txt; "
            "page_owner_sort page_owner.txt sorted.txt",
            intrusive=True,
        )
        cmd(
            "without a reboot: count page allocations by stack for 30 s with a tracing histogram",
            f"echo 'hist:keys=stacktrace:vals=hitcount:sort=hitcount.descending' > "
            f"{tf}/events/kmem/mm_page_alloc/trigger; sleep 30; cat {tf}/events/kmem/mm_page_alloc/hist; "
            f"echo '!hist:keys=stacktrace:vals=hitcount:sort=hitcount.descending' > "
            f"{tf}/events/kmem/mm_page_alloc/trigger",
            intrusive=True,
        )
        cmd(
            "compare allocations with frees per order",
            "perf stat -e kmem:mm_page_alloc -e kmem:mm_page_free -a sleep 10",
            intrusive=True,
        )
    elif kind == "percpu":
        cmd("per-CPU allocator statistics (CONFIG_PERCPU_STATS)", "cat /sys/kernel/debug/percpu_stats")
        cmd(
            "memory cgroups, including dying ones",
            "grep memory /proc/cgroups; cat /sys/fs/cgroup/cgroup.stat",
        )
        cmd(
            "stacks that allocate per-CPU memory (Ctrl-C to stop)",
            "bpftrace -e 'kprobe:pcpu_alloc { @[kstack(8)] = sum(arg0); }'",
            intrusive=True,
        )

    profiled = next((c for c in culprits if c.get("source") == "allocinfo" and c.get("location")), None)
    if kind in ("slab-unreclaimable", "vmalloc", "page-allocator", "percpu") and (
        profiled is not None or kernel.upstream is None or kernel.at_least(6, 10)
    ):
        # memory allocation profiling (CONFIG_MEM_ALLOC_PROFILING, 6.10+) counts what every place in the
        # code holds, whatever the allocator: the same tags an hour apart name the one that only grows
        where = f" | grep -F '{profiled['location'].rsplit(':', 1)[0]}'" if profiled else ""
        cmd(
            "on 6.10 and later with CONFIG_MEM_ALLOC_PROFILING: the code holding the most memory; run it again"
            " an hour later and compare (turning profiling on counts allocations from then on)",
            f"sysctl -w vm.mem_profiling=1; sort -g /proc/allocinfo{where} | tail -n 20 | numfmt --to=iec",
            intrusive=True,
        )

    who: list[str] = []
    if out_of_tree:
        who.append(
            f"the vendor of out-of-tree module {', '.join(out_of_tree)}: the leak is in its code, not in the "
            "distribution's kernel"
        )
    others = [m for m in loaded_out_of_tree or [] if m.split(" ")[0] not in out_of_tree]
    if others:
        who.append(
            f"the kernel is tainted by out-of-tree modules ({', '.join(others)}): distributions and upstream "
            "will ask for a reproduction without them, so rule them out (or ask their vendors) first"
        )
    who += _distribution(kernel)
    if not out_of_tree:
        source = profiled["location"].rsplit(":", 1)[0] if profiled else "<file>"
        who.append(
            "upstream: linux-mm@kvack.org and the maintainers of the culprit's code "
            f"(scripts/get_maintainer.pl -f {source}), once it reproduces on a current stable kernel"
        )
    attach = [
        "the whole report directory (report.md, result.json, evidence/): tar czf kleak-report.tgz <report dir>",
        "evidence/samples/*/proc/meminfo, slabinfo and vmallocinfo: the growth over time",
        "evidence/static/proc/version, cmdline, modules and sys/kernel/tainted: the exact kernel",
    ]
    if verdict == "no-leak":
        who, attach = [], []
    return {"who": who, "attach": attach, "commands": commands}


_REBUILDS = {"centos": "CentOS", "rocky": "Rocky Linux", "almalinux": "AlmaLinux", "ol": "Oracle Linux"}


def _distribution(kernel: Kernel) -> list[str]:
    """Who builds this kernel, as the kernel itself says (uname -r, /proc/version, version_signature):
    os-release names the userland, which may run a kernel from elsewhere."""
    release, stream, package = kernel.release or "$(uname -r)", kernel.stream, kernel.package_version
    if stream.startswith("el"):
        vendor = _REBUILDS.get(kernel.distro_id or "", "Red Hat")
        where = "Red Hat support (Bugzilla, product Red Hat Enterprise Linux, component kernel)"
        if vendor != "Red Hat":
            where = f"{vendor}'s bug tracker (a rebuild of Red Hat's kernel: Red Hat support if you have it)"
        return [f"{where} for kernel {package or release}"]
    if stream == "ubuntu":
        return [f"Ubuntu kernel team on Launchpad: `ubuntu-bug linux` (package linux, version {package or release})"]
    if stream == "debian":
        return [f"Debian kernel team: `reportbug linux-image-{release}` (bugs.debian.org; package version {package})"]
    if stream == "suse":
        return [f"SUSE support or bugzilla.suse.com, product SUSE Linux Enterprise, kernel {package or release}"]
    if stream == "amzn":
        return [f"AWS support, or the Amazon Linux kernel on GitHub (amazonlinux/linux), for kernel {release}"]
    if stream == "upstream":
        return []  # a kernel.org kernel: upstream, below
    built = f", built by {kernel.builder}" if kernel.builder else ""
    userland = f" (the userland is {kernel.distro}, but the kernel is not its package)" if kernel.distro else ""
    return [
        f"whoever builds this kernel ({release}{built}): it is a custom or vendor build{userland}, so no "
        "distribution tracker applies; give them this report, then upstream once it reproduces on a stable kernel"
    ]
