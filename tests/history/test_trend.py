"""Robust long-window rates (derive.trend) on SYNTHETIC series: spikes and gaps must neither make
nor hide a leak, and a reboot's drop is never read as a fall."""

from __future__ import annotations

import random

import pytest

from kleak_runbook.derive.trend import DAY, bin_points, fit

MiB = 1 << 20


def _series(rate_per_day: float, days: float = 7, step: float = 300, noise: float = 20 * MiB, seed: int = 1):
    rng = random.Random(seed)
    return [(t, 500 * MiB + rate_per_day * t / DAY + rng.gauss(0, noise)) for t in range(0, int(days * DAY), int(step))]


def _fit(points, boots=None):
    width = (points[-1][0] - points[0][0]) / 96
    segs = [bin_points(points, width)] if boots is None else [bin_points(p, width) for p in boots]
    t = fit(segs)
    assert t is not None
    return t


@pytest.mark.parametrize("rate", [10 * MiB, 100 * MiB, 1024 * MiB])
def test_a_slow_leak_is_measured_through_noise(rate: float) -> None:
    t = _fit(_series(rate))
    assert abs(t.rate_per_day - rate) < max(0.1 * rate, 5 * MiB)
    assert t.error_per_day < rate  # and its error says it is real


def test_a_spike_does_not_make_a_leak() -> None:
    pts = _series(0)
    last_day = 6 * DAY
    spiked = [(t, v + (4096 * MiB if last_day <= t < last_day + 1200 else 0)) for t, v in pts]
    late = [(t, v + (4096 * MiB if t >= 7 * DAY - 1200 else 0)) for t, v in pts]  # even at the very end
    for series in (spiked, late):
        t = _fit(series)
        assert abs(t.rate_per_day) < 10 * MiB and t.steadiness < 0.3, t


def test_a_spike_does_not_hide_a_leak() -> None:
    pts = _series(512 * MiB)
    dipped = [(t, v - (2048 * MiB if 6.5 * DAY <= t < 6.5 * DAY + 1800 else 0)) for t, v in pts]
    t = _fit(dipped)
    assert abs(t.rate_per_day - 512 * MiB) < 50 * MiB and t.steadiness > 0.8


def test_a_scrape_gap_changes_nothing_much() -> None:
    pts = [p for p in _series(256 * MiB) if not (2 * DAY <= p[0] < 3.5 * DAY)]
    t = _fit(pts)
    assert abs(t.rate_per_day - 256 * MiB) < 26 * MiB


def test_a_reboot_is_not_a_fall_when_boots_are_fitted_apart() -> None:
    pts = _series(1024 * MiB)
    reboot = 3.3 * DAY
    before = [p for p in pts if p[0] < reboot]
    after = [(t, v - 1024 * MiB * reboot / DAY) for t, v in pts if t >= reboot]  # the leak starts again at 0
    t = _fit(before + after, boots=[before, after])
    assert abs(t.rate_per_day - 1024 * MiB) < 50 * MiB and t.segments == 2
    one = _fit(before + after)  # read as one boot, the drop would hide most of it
    assert one.rate_per_day < t.rate_per_day


def test_too_few_points_give_no_rate() -> None:
    assert fit([[[(0.0, 1.0)]]]) is None
    assert fit([[[(0.0, 1.0)], []]]) is None
