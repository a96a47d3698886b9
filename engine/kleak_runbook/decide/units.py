"""Byte units for rules and reports: the constants ``KiB``/``MiB``/``GiB`` and the ``bytes``,
``sbytes`` and ``pct`` filters."""

from __future__ import annotations

from typing import Any

CONSTANTS: dict[str, int] = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def human_bytes(value: Any, signed: bool = False) -> str:
    """1536 → '1.5 KiB' (binary units, as slabtop and the kernel docs use)."""
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    sign = "+" if signed and n > 0 else ("-" if n < 0 else "")
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return str(value)


def percent(value: Any, total: Any) -> str:
    try:
        return f"{100.0 * float(value) / float(total):.1f}%"
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return "n/a"
