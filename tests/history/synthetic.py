"""SYNTHETIC node_exporter history for the tests: a 64 GiB host over a week, in OpenMetrics.

Every series is labelled ``synthetic="true"``: this is made-up data, shaped like a real host
(a daily page-cache cycle, noise on every field, scrape gaps, a reboot, a short spike), with an
optional slow leak in SUnreclaim and its cache. Fields add up the way /proc/meminfo's do:
MemFree is what the rest leaves, so memory no field accounts for stays flat unless asked to grow.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

GiB, MiB = 1 << 30, 1 << 20
DAY = 86400


@dataclass(frozen=True)
class Shape:
    end: float  # unix time of the last scrape
    days: float = 7.0
    step: float = 60.0  # scrape interval
    leak_per_day: float = 0.0  # SUnreclaim growth, bytes/day
    reboot_at_day: float | None = 3.3  # days after the start
    spike_at_day: float | None = 5.5  # SUnreclaim +4 GiB for 20 minutes
    gap_at_day: float | None = 1.7  # no scrapes for 3 hours
    instance: str = "localhost:9100"
    nodename: str = "synthetic-64g"
    seed: int = 11


def _fields(s: Shape, t: float, since_boot: float, rng: random.Random) -> dict[str, float]:
    day_phase = math.sin(2 * math.pi * (t % DAY) / DAY)
    sunr = 600 * MiB + s.leak_per_day * since_boot / DAY + rng.gauss(0, 25 * MiB)
    if s.spike_at_day is not None and 0 <= t - (s.end - s.days * DAY) - s.spike_at_day * DAY < 1200:
        sunr += 4 * GiB
    f = {
        "MemTotal": 64 * GiB,
        "SUnreclaim": sunr,
        "SReclaimable": 2 * GiB + 600 * MiB * day_phase + rng.gauss(0, 40 * MiB),
        "KReclaimable": 2 * GiB + 600 * MiB * day_phase + 64 * MiB,
        "VmallocUsed": 310 * MiB + rng.gauss(0, 4 * MiB),
        "Percpu": 52 * MiB,
        "KernelStack": 21 * MiB + rng.gauss(0, 1 * MiB),
        "PageTables": 110 * MiB + rng.gauss(0, 5 * MiB),
        "Active": 14 * GiB + 3 * GiB * day_phase + rng.gauss(0, 200 * MiB),
        "Inactive": 18 * GiB + 2 * GiB * day_phase + rng.gauss(0, 200 * MiB),
        "Unevictable": 8 * MiB,
        "Hugetlb": 0,
        "Zswap": 0,
    }
    f["KReclaimable"] = f["SReclaimable"] + 64 * MiB
    unaccounted = 1.2 * GiB + rng.gauss(0, 30 * MiB)
    used = sum(f[k] for k in f if k not in ("MemTotal", "KReclaimable")) + 64 * MiB + unaccounted
    f["MemFree"] = f["MemTotal"] - used
    f["Slab"] = f["SUnreclaim"] + f["SReclaimable"]
    f["Cached"] = 0.8 * (f["Active"] + f["Inactive"])
    f["Buffers"] = 300 * MiB
    f["MemAvailable"] = f["MemFree"] + 0.6 * f["Cached"] + 0.5 * f["SReclaimable"]
    return {k: max(0.0, round(v / 1024) * 1024) for k, v in f.items()}  # the kernel counts in KiB


def openmetrics(s: Shape) -> str:
    """The OpenMetrics text ``promtool tsdb create-blocks-from openmetrics`` reads."""
    rng = random.Random(s.seed)
    start = s.end - s.days * DAY
    boot = start - 2 * DAY  # up two days when the window opens
    rows: list[tuple[float, float, dict[str, float]]] = []
    t = start
    while t <= s.end:
        day = (t - start) / DAY
        if s.reboot_at_day is not None and day >= s.reboot_at_day and boot < start:
            boot = start + s.reboot_at_day * DAY
        in_gap = s.gap_at_day is not None and 0 <= day - s.gap_at_day < 3 / 24
        if not in_gap and rng.random() > 0.01:  # one scrape in a hundred is lost
            rows.append((t, boot, _fields(s, t, t - boot, rng)))
        t += s.step
    labels = f'instance="{s.instance}",job="node",synthetic="true"'
    out: list[str] = []
    for name in rows[0][2]:
        metric = f"node_memory_{name}_bytes"
        out.append(f"# TYPE {metric} gauge")
        out += [f"{metric}{{{labels}}} {f[name]:.0f} {ts:.0f}" for ts, _, f in rows]
    out.append("# TYPE node_boot_time_seconds gauge")
    out += [f"node_boot_time_seconds{{{labels}}} {b:.0f} {ts:.0f}" for ts, b, _ in rows]
    out.append("# TYPE node_uname_info gauge")
    out += [f'node_uname_info{{{labels},nodename="{s.nodename}"}} 1 {ts:.0f}' for ts, _, _ in rows]
    out += _slab(s, rows, labels)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def _slab(s: Shape, rows: list[tuple[float, float, dict[str, float]]], labels: str) -> list[str]:
    """node_exporter's slabinfo collector: the leak lives in kmalloc-256, dentry follows the day."""
    out = ["# TYPE node_slabinfo_objects gauge"]
    for cache in ("kmalloc-256", "dentry", "kmalloc-64"):
        for ts, boot, f in rows[:: max(1, int(600 // s.step))]:
            if cache == "kmalloc-256":
                n = (80 * MiB + s.leak_per_day * (ts - boot) / DAY) / 256
            elif cache == "dentry":
                n = f["SReclaimable"] * 0.4 / 192
            else:
                n = 200_000
            out.append(f'node_slabinfo_objects{{{labels},slab="{cache}"}} {n:.0f} {ts:.0f}')
    out.append("# TYPE node_slabinfo_object_size_bytes gauge")
    for cache, size in (("kmalloc-256", 256), ("dentry", 192), ("kmalloc-64", 64)):
        out += [
            f'node_slabinfo_object_size_bytes{{{labels},slab="{cache}"}} {size} {ts:.0f}' for ts, _, _ in rows[::600]
        ]
    return out
