"""Robust growth rates over long windows: Theil–Sen slopes over bin medians, within boots only.

Points are grouped into bins (time bins of a scraped series, or the samples of one earlier run);
each bin is its median, so a spike or a burst of scrapes moves nothing, and a gap is just a
missing bin. The slope is the median of the slopes between every two bins of the same boot
(pooled Theil–Sen): the drop at a reboot is never a pair. Steadiness is Kendall's tau over the
same pairs: 1 when every later bin is higher, about 0 for noise.

>>> t = fit([[[(0.0, 100.0)], [(86400.0, 1100.0)], [(172800.0, 2050.0)]]])
>>> round(t.rate_per_day), t.steadiness, t.days
(975, 1.0, 2.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]  # (seconds, value)
Bin = Sequence[Point]
DAY = 86400.0
MAD_SIGMA = 1.4826  # a normal distribution's sigma from its median absolute deviation


@dataclass(frozen=True)
class Trend:
    rate_per_day: float
    error_per_day: float  # one standard error of the rate
    steadiness: float  # Kendall's tau over within-boot pairs of bins, -1 .. 1
    days: float  # time the bins span, boots added up
    points: int
    bins: int
    segments: int
    first: float  # the fitted line at the first bin of the last boot
    last: float  # the last bin's median

    @property
    def grown(self) -> float:
        """What the rate adds up to over the days covered."""
        return self.rate_per_day * self.days


def bin_points(points: Sequence[Point], width: float) -> list[list[Point]]:
    """Consecutive points (sorted by time) in bins ``width`` seconds wide; empty bins are left out."""
    bins: dict[int, list[Point]] = {}
    if not points:
        return []
    t0 = points[0][0]
    for t, v in points:
        bins.setdefault(int((t - t0) // width) if width > 0 else 0, []).append((t, v))
    return [bins[k] for k in sorted(bins)]


def _median_point(b: Bin) -> Point:
    return statistics.median(p[0] for p in b), statistics.median(p[1] for p in b)


def _pairs(segments: Sequence[Sequence[Point]]) -> tuple[list[float], int]:
    slopes: list[float] = []
    concordance = 0
    for seg in segments:
        for i, (ti, vi) in enumerate(seg):
            for tj, vj in seg[i + 1 :]:
                if tj > ti:
                    slopes.append((vj - vi) / (tj - ti))
                    concordance += (vj > vi) - (vj < vi)
    return slopes, concordance


def _spread(segments: Sequence[Sequence[Bin]]) -> float:
    """The noise of one bin median, from the scatter of points within bins (0 with one point a bin)."""
    deviations: list[float] = []
    sizes: list[int] = []
    for seg in segments:
        for b in seg:
            if len(b) > 1:
                mid = statistics.median(p[1] for p in b)
                deviations += [abs(p[1] - mid) for p in b]
                sizes.append(len(b))
    if not deviations:
        return 0.0
    return MAD_SIGMA * statistics.median(deviations) / math.sqrt(statistics.mean(sizes))


def _halves(medians: Sequence[Sequence[Point]]) -> float:
    times = sorted(t for seg in medians for t, _ in seg)
    if len(times) < 8:
        return 0.0
    mid = times[len(times) // 2]
    rates = []
    for part in (
        [[p for p in seg if p[0] < mid] for seg in medians],
        [[p for p in seg if p[0] >= mid] for seg in medians],
    ):
        slopes, _ = _pairs(part)
        if not slopes:
            return 0.0
        rates.append(statistics.median(slopes))
    return abs(rates[0] - rates[1]) / 2


def fit(segments: Sequence[Sequence[Bin]]) -> Trend | None:
    """One rate over boot ``segments``, each a list of bins in time order; None with fewer than two bins in one boot."""
    medians = [[_median_point(b) for b in seg if b] for seg in segments]
    slopes, concordance = _pairs(medians)
    if not slopes:
        return None
    slope = statistics.median(slopes)
    residuals: list[float] = []
    sxx = 0.0
    for seg in medians:
        if len(seg) < 2:
            continue
        tm = statistics.mean(t for t, _ in seg)
        sxx += sum((t - tm) ** 2 for t, _ in seg)
        icept = statistics.median(v - slope * t for t, v in seg)
        residuals += [v - (icept + slope * t) for t, v in seg]
    noise = max(MAD_SIGMA * statistics.median(abs(r) for r in residuals), _spread(segments))
    # noise on real hosts is not independent from bin to bin: a rate that differs between the
    # two halves of the window (a leak speeding up, a workload that changed) widens the error too
    error = max(noise / math.sqrt(sxx) if sxx > 0 else math.inf, _halves(medians))
    last_seg = next(seg for seg in reversed(medians) if seg)
    icept = statistics.median(v - slope * t for t, v in last_seg)
    return Trend(
        rate_per_day=slope * DAY,
        error_per_day=error * DAY,
        steadiness=round(concordance / len(slopes), 3),
        days=sum(seg[-1][0] - seg[0][0] for seg in medians if seg) / DAY,
        points=sum(len(b) for seg in segments for b in seg),
        bins=sum(len(seg) for seg in medians),
        segments=sum(1 for seg in medians if seg),
        first=icept + slope * last_seg[0][0],
        last=last_seg[-1][1],
    )
