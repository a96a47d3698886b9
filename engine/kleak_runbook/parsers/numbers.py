"""Numbers as the kernel prints them: ASCII digits only, and no wider than 64 bits.

``int()`` also takes ``"٣"`` (Arabic-Indic digits), ``"1_000"``, ``" +5"``, and thousands of
digits (slowly, or not at all past 4300); ``str.isdigit()`` says yes to ``"²"``. Evidence is
hostile input, so every parser turns tokens into numbers here. Each function raises
``ValueError`` for a token that is not one, so callers keep their ``except ValueError``.

>>> uint("981472"), sint("-3"), hexint("0xffffffffc0b3d000") == 0xFFFFFFFFC0B3D000
(981472, -3, True)
>>> for bad in ("٣", "1_000", "+5", "1e3", "9" * 21, ""):
...     try:
...         uint(bad)
...     except ValueError:
...         pass
...     else:
...         print("accepted", bad)
"""

from __future__ import annotations

import re

_SINT = re.compile(r"-?[0-9]{1,20}")
_DECIMAL = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
LIMIT = 2**64  # /proc counters are at most u64


def uint(token: str) -> int:
    """A non-negative decimal below 2**64."""
    # isascii() and isdigit() together are exactly [0-9]+, and faster than a regex (the hot path)
    if token.isascii() and token.isdigit() and len(token) <= 20:
        value = int(token)
        if value < LIMIT:
            return value
    raise ValueError(f"not a number: {token[:40]!r}")


def sint(token: str) -> int:
    """A decimal, possibly negative (``%ld`` counters), within 64 bits."""
    if _SINT.fullmatch(token) is None or abs(int(token)) >= LIMIT:
        raise ValueError(f"not a number: {token[:40]!r}")
    return int(token)


def hexint(token: str) -> int:
    """A hexadecimal number of at most 64 bits, with or without ``0x``."""
    # isalnum() rules out the signs, spaces and underscores int() would accept
    if token.isascii() and token.isalnum() and len(token) <= 18:
        try:
            value = int(token, 16)
        except ValueError:
            pass
        else:
            if value < LIMIT:
                return value
    raise ValueError(f"not a hex number: {token[:40]!r}")


def decimal(token: str) -> float:
    """A plain decimal fraction (``0.19``, ``2048``): no exponent, sign, nan or inf."""
    if _DECIMAL.fullmatch(token) is None:
        raise ValueError(f"not a number: {token[:40]!r}")
    return float(token)


def is_uint(token: str) -> bool:
    try:
        uint(token)
    except ValueError:
        return False
    return True
