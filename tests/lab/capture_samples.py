"""Boot the lab, run each leak scenario, and save what /proc showed as evidence bundles.

Usage: python3 tests/lab/capture_samples.py [OUT_DIR]   (default tests/samples/lab)

Each scenario gets OUT_DIR/<scenario>/{samples/NNN/...,static/...} read with one `cat`
over SSH per sample, and the script prints how meminfo and the named slab cache moved,
which is the lab's own proof that each kind of leak looks as it should.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from vm import LabVM, build_image

SAMPLE_FILES = ("proc/meminfo", "proc/slabinfo", "proc/vmallocinfo", "proc/sys/fs/dentry-state")
STATIC_FILES = (
    "proc/version", "proc/cmdline", "proc/modules", "proc/cgroups",
    "proc/sys/kernel/tainted", "etc/os-release",
)  # fmt: skip
MARK = "@@kleak-lab-file@@"


def read_files(vm: LabVM, paths: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Read files in one SSH exec; returns the guest's UTC time and each file's text."""
    script = "date -u +%Y-%m-%dT%H:%M:%S.%NZ; " + "; ".join(f"echo '{MARK} {p}'; cat /{p}" for p in paths)
    out = vm.ssh(script).stdout
    head, *chunks = out.split(MARK + " ")
    files = {}
    for chunk in chunks:
        path, _, text = chunk.partition("\n")
        files[path] = text
    return head.strip(), files


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)


def meminfo(text: str) -> dict[str, int]:
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) * (1024 if rest.strip().endswith("kB") else 1)
    return fields


def slab_bytes(text: str, cache: str) -> int:
    for line in text.splitlines():
        cols = line.split()
        if cols and cols[0] == cache:
            return int(cols[2]) * int(cols[3])  # num_objs * objsize
    return 0


def capture(vm: LabVM, dest: Path, samples: int = 3, interval: float = 4.0) -> list[dict[str, str]]:
    _, static = read_files(vm, STATIC_FILES)
    write(dest / "static", static)
    taken = []
    for n in range(samples):
        began = time.monotonic()
        stamp, files = read_files(vm, SAMPLE_FILES)
        write(dest / "samples" / f"{n:03d}", files)
        (dest / "samples" / f"{n:03d}" / "timestamp").write_text(stamp + "\n")
        taken.append(files)
        if n + 1 < samples:
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
    return taken


def report(name: str, taken: list[dict[str, str]], cache: str | None) -> None:
    first, last = meminfo(taken[0]["proc/meminfo"]), meminfo(taken[-1]["proc/meminfo"])
    keys = ("MemFree", "Slab", "SReclaimable", "SUnreclaim", "VmallocUsed", "Percpu")
    deltas = ", ".join(f"{k} {(last[k] - first[k]) / 2**20:+.1f}" for k in keys)
    line = f"{name:15s} MiB over the samples: {deltas}"
    if cache:
        grew = slab_bytes(taken[-1]["proc/slabinfo"], cache) - slab_bytes(taken[0]["proc/slabinfo"], cache)
        line += f"; {cache} {grew / 2**20:+.1f}"
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "lab")
    parser.add_argument("--rate-kib", type=int, default=1024)
    args = parser.parse_args()
    image = build_image()
    vm = LabVM(image, Path(tempfile.mkdtemp(prefix="kleak-lab-capture-")))
    vm.start()
    print(
        f"SSH after {vm.boot_seconds:.1f} s, settled {vm.settle_seconds:.1f} s later; serial log {vm.serial_log}",
        flush=True,
    )

    def leak(kind: str) -> Callable[[], AbstractContextManager[str]]:
        return lambda: vm.leaking(kind, rate_kib=args.rate_kib, total_kib=65536)

    @contextmanager
    def dentries() -> Iterator[str]:
        with vm.negative_dentries(seconds=120):
            yield "dentry"

    scenarios: list[tuple[str, Callable[[], AbstractContextManager[str]], str | None]] = [
        ("healthy", lambda: nullcontext(""), None),
        ("kmalloc-leak", leak("kmalloc"), "kmalloc-4k"),
        ("cache-leak", leak("cache"), "leaky_obj"),
        ("vmalloc-leak", leak("vmalloc"), None),
        ("pages-leak", leak("pages"), None),
        ("percpu-leak", leak("percpu"), None),
        ("dentry-growth", dentries, "dentry"),
        # Everything above stays leaked but no longer grows: still no leak.
        ("quiet-after-leaks", lambda: nullcontext(""), None),
    ]
    try:
        for name, context, cache in scenarios:
            dest = args.out / name
            with context():
                time.sleep(1)
                taken = capture(vm, dest)
                if name == "dentry-growth":
                    _, before = read_files(vm, ("proc/meminfo", "proc/slabinfo"))
                    vm.ssh("sync; echo 2 > /proc/sys/vm/drop_caches")
                    _, after = read_files(vm, ("proc/meminfo", "proc/slabinfo"))
                    write(dest / "probes" / "drop_caches" / "before", before)
                    write(dest / "probes" / "drop_caches" / "after", after)
                    print(
                        f"{'':15s} drop_caches: SReclaimable "
                        f"{meminfo(before['proc/meminfo'])['SReclaimable'] / 2**20:.1f} -> "
                        f"{meminfo(after['proc/meminfo'])['SReclaimable'] / 2**20:.1f} MiB",
                        flush=True,
                    )
                if name == "vmalloc-leak":
                    callers = [ln for ln in taken[-1]["proc/vmallocinfo"].splitlines() if "[leaky]" in ln]
                    print(f"{'':15s} {len(callers)} vmallocinfo areas, e.g. {callers[0] if callers else None}")
            report(name, taken, cache)
        print(
            f"captured on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}, kernel "
            f"{image.kernel_release}, into {args.out}"
        )
    finally:
        vm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
