"""``Series``: a number that remembers how it moved over the samples.

It is an ``int`` (the latest value), so rules compare it directly
(``meminfo.SUnreclaim > 0.2 * mem_total``), and it carries the motion as attributes
(``meminfo.SUnreclaim.growth_bytes_per_s``).

>>> s = Series.of([100, 150, 210], [0.0, 5.0, 10.0])
>>> int(s), s.delta, s.growth_bytes_per_s, s.steady
(210, 110, 11.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0.0 when it cannot be had)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


class Series(int):
    values: tuple[int, ...]
    times: tuple[float, ...] | None
    first: int
    last: int
    delta: int
    growth_bytes_per_s: float
    steady: bool
    min: int
    max: int
    grows: bool  # steady growth at the runbook's leak thresholds (set by the rule context)

    @classmethod
    def of(cls, values: Sequence[int], times: Sequence[float] | None) -> Series:
        if not values:
            raise ValueError("a series needs at least one value")
        obj = cls(values[-1])
        obj.values = tuple(values)
        obj.times = tuple(times) if times is not None and len(times) == len(values) else None
        obj.first, obj.last = values[0], values[-1]
        obj.grows = False
        if values.count(obj.first) == len(values):  # unchanged, as most caches and callers are
            obj.delta, obj.min, obj.max = 0, obj.first, obj.first
            obj.growth_bytes_per_s, obj.steady = 0.0, False
            return obj
        obj.delta = obj.last - obj.first
        obj.min, obj.max = min(values), max(values)
        obj.growth_bytes_per_s = round(slope(obj.times, values), 1) if obj.times else 0.0
        steps = [b - a for a, b in zip(values, values[1:])]
        # a dip of under 1% of the whole rise (a few hundred KiB freed between two samples of a
        # leak of GiBs) is noise, not memory given back
        noise = 0.01 * obj.delta if obj.delta > 0 else 0
        obj.steady = bool(steps) and all(d >= -noise for d in steps) and obj.delta > 0
        return obj

    def grows_at(self, rate_bytes_per_s: float, total_bytes: float) -> bool:
        """Steady growth of at least ``rate_bytes_per_s`` adding up to at least ``total_bytes``."""
        return self.growth_bytes_per_s >= rate_bytes_per_s and self.steady and self.delta >= total_bytes

    @property
    def count(self) -> int:
        return len(self.values)

    def __str__(self) -> str:  # templates print the value, not the history
        return int.__repr__(self)

    def __repr__(self) -> str:
        return f"Series({list(self.values)}, growth={self.growth_bytes_per_s}/s)"
