"""The long-window chart (``history.svg`` next to report.md): kernel-memory components over the
history window, one line per boot, the leading component's fitted rate dashed, reboots marked.

Imported only when a run has history: matplotlib costs half a second to import, which a plain
single-host run must not pay.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from kleak_runbook.derive.history import Source

CHART = "history.svg"
_SHOWN = (
    ("slab_unreclaimable", "SUnreclaim"),
    ("slab_reclaimable", "SReclaimable"),
    ("vmalloc", "vmalloc"),
    ("percpu", "Percpu"),
    ("unaccounted", "in no field"),
)


def _x(src: Source, t: float) -> float:
    """Days before the end of the window (negative), or hours for a window of earlier runs."""
    return (t - src.end) / (86400.0 if src.unix else 3600.0)


def draw(hist: SimpleNamespace, report_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    src: Source = hist.series
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        for key, label in _SHOWN:
            segs = src.components.get(key)
            if not segs:
                continue
            colour = None
            for i, seg in enumerate(segs):
                pts = [
                    (_x(src, sorted(p[0] for p in b)[len(b) // 2]), sorted(p[1] for p in b)[len(b) // 2]) for b in seg
                ]
                if not pts:
                    continue
                line = ax.plot(
                    [p[0] for p in pts],
                    [p[1] / 2**20 for p in pts],
                    marker="." if len(pts) < 20 else None,
                    color=colour,
                    label=label if i == 0 else None,
                )
                colour = line[0].get_color()
        for seg in src.components.get("slab_unreclaimable", [])[1:]:
            if seg:
                ax.axvline(_x(src, seg[0][0][0]), color="grey", linestyle=":", linewidth=1)
        top = hist.top
        if top is not None:
            ax.set_title(
                f"{top.label} grows {top.growth_bytes_per_day / 2**20:.0f} MiB/day over {hist.window} ({src.name})",
                fontsize=9,
            )
        else:
            ax.set_title(f"kernel memory over {hist.window} ({src.name}): no steady growth", fontsize=9)
        ax.set_xlabel("days before now" if src.unix else "hours before now")
        ax.set_ylabel("MiB")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        report_dir.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(report_dir / CHART, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    return CHART


def main(argv: list[str]) -> int:
    """``python -m kleak_runbook.report.chart PROMETHEUS_JSON REPORT_DIR PARAMS_JSON``: the chart of a
    Prometheus history, drawn in a child process while the run still samples (importing matplotlib
    and drawing cost about a second, which the run then does not wait for)."""
    import json

    from kleak_runbook.derive.history import from_prometheus, view
    from kleak_runbook.derive.kernel import Kernel
    from kleak_runbook.parsers.history import parse_prometheus_history

    history, report_dir, params = Path(argv[0]), Path(argv[1]), json.loads(argv[2])
    src = from_prometheus(parse_prometheus_history(history.read_text(encoding="utf-8")), Kernel())
    if src is None or not src.components:
        return 1
    hist = view(src, params, None)
    hist.series = src
    draw(hist, report_dir)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
