"""``fleet.svg``: verdicts by kernel release, one stacked bar per release, written by hand.

No plotting library: the chart is a few rectangles, and a fleet run should not pay for
importing matplotlib.
"""

from __future__ import annotations

from html import escape
from typing import Any

COLOURS = {"leak": "#d62728", "suspected-leak": "#ff7f0e", "no-leak": "#2ca02c", "inconclusive": "#9e9e9e"}
ROW_H, BAR_W, LABEL_W, TOP, MAX_ROWS = 22, 420, 260, 30, 40


def svg(rows: list[dict[str, Any]]) -> str:
    """One bar per kernel release (``by_kernel`` rows of fleet.json), leaks first, hosts to scale."""
    shown = rows[:MAX_ROWS]
    widest = max((r["hosts"] for r in shown), default=1) or 1
    height = TOP + ROW_H * len(shown) + 30
    width = LABEL_W + BAR_W + 60
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="4" y="16" font-weight="bold">Verdicts by kernel release (hosts)</text>',
    ]
    for i, row in enumerate(shown):
        y = TOP + i * ROW_H
        out.append(f'<text x="4" y="{y + 14}">{escape(str(row["release"]))[:40]}</text>')
        x = float(LABEL_W)
        for verdict, colour in COLOURS.items():
            n = row.get(verdict, 0)
            if not n:
                continue
            w = BAR_W * n / widest
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H - 6}" fill="{colour}">'
                f"<title>{escape(verdict)}: {n}</title></rect>"
            )
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{row["hosts"]}</text>')
    y = TOP + ROW_H * len(shown) + 16
    x = 4
    for verdict, colour in COLOURS.items():
        out.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{y}">{verdict}</text>')
        x += 24 + 8 * len(verdict)
    if len(rows) > MAX_ROWS:
        out.append(f'<text x="{x}" y="{y}">(+{len(rows) - MAX_ROWS} more releases in fleet.md)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
