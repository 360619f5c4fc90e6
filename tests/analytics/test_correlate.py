"""Correlation: a shared daily cycle is no link; an injected 2-minute lag is recovered."""

from __future__ import annotations

import numpy as np

from uxtop.analytics.correlate import (
    best_lag,
    best_lags,
    deseasonalise,
    lagged_correlation,
    lagged_correlations,
    link,
    rollup,
)

DAY_MIN = 1440


def _cycle(days: int) -> np.ndarray:
    t = np.arange(days * DAY_MIN)
    return 1 + 0.6 * np.sin(2 * np.pi * t / DAY_MIN) + 0.2 * np.sin(4 * np.pi * t / DAY_MIN)


def test_shared_daily_cycle_only_is_no_link() -> None:
    rng = np.random.default_rng(3)
    c = _cycle(8)
    health = 200 * c + rng.normal(0, 8, c.size)  # latency following traffic
    usage = 0.3 * c + rng.normal(0, 0.02, c.size)  # conversions following traffic
    raw = lagged_correlation(health[-DAY_MIN:], usage[-DAY_MIN:], 15)
    assert raw[0] > 0.7  # the trap: raw series look strongly linked
    h = deseasonalise(health, DAY_MIN)[-DAY_MIN:]
    u = deseasonalise(usage, DAY_MIN)[-DAY_MIN:]
    lag, r, _ = best_lag(h, u, 15)
    assert abs(r) < 0.1
    assert not link(h, u, 15, 60, "route.p95[POST /api/pay]", "step.conversion[pay]", 100).claimed


def test_injected_two_minute_lag_is_recovered_within_a_minute() -> None:
    rng = np.random.default_rng(4)
    c = _cycle(8)
    n = c.size
    # a shared cycle plus an independent health disturbance that usage follows 2 minutes later
    shock = np.convolve(rng.normal(0, 1, n), np.ones(5) / 5, mode="same")
    health = 200 * c + 40 * shock + rng.normal(0, 5, n)
    usage = 0.3 * c - 0.05 * np.roll(shock, 2) + rng.normal(0, 0.01, n)
    h = deseasonalise(health, DAY_MIN)[-DAY_MIN:]
    u = deseasonalise(usage, DAY_MIN)[-DAY_MIN:]
    lag, r, rr = best_lag(h, u, 15)
    assert abs(lag - 2) <= 1 and r < -0.3
    claimed = link(h, u, 15, 60, "h", "u", 100)
    assert claimed.claimed and abs(claimed.lag_s - 120) <= 60
    # a reversed lead (usage moves first) is not reported as health → usage
    rev = link(u, h, 15, 60, "u", "h", 100)
    assert not rev.claimed and "reverse" in rev.reason
    # and too few sessions is never a claim
    assert not link(h, u, 15, 60, "h", "u", 5).claimed


def test_lagged_correlation_matches_direct_computation() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=300), rng.normal(size=300)
    b[5:] += 0.5 * a[:-5]
    r = lagged_correlation(a, b, 10)
    for L in (0, 3, 5, 10):
        x, y = a[: 300 - L], b[L:]
        xm, ym = a.mean(), b.mean()  # global means, as the FFT form uses
        direct = ((x - xm) * (y - ym)).sum() / np.sqrt(
            ((x - xm) ** 2).sum() * ((y - ym) ** 2).sum()
        )
        assert abs(r[L] - direct) < 1e-9
    assert int(np.nanargmax(r)) == 5
    assert rollup(np.arange(12.0), 6).tolist() == [2.5, 8.5]


def _direct(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    """Pearson r of a[t] with b[t + lag] over the points both have, each centred on its own mean."""
    x, y = a[: a.size - lag], b[lag:]
    both = np.isfinite(x) & np.isfinite(y)
    if both.sum() < 8 or (np.isfinite(a) & np.isfinite(b)).sum() < 8:
        return float("nan")
    xc, yc = x[both] - np.nanmean(a), y[both] - np.nanmean(b)
    return float(np.clip((xc * yc).sum() / np.sqrt((xc**2).sum() * (yc**2).sum()), -1, 1))


def test_batched_correlations_match_each_pair_both_ways() -> None:
    rng = np.random.default_rng(6)
    h, u = rng.normal(size=(4, 120)), rng.normal(size=(3, 120))
    u[1, 4:] += 0.7 * h[2, :-4]  # usage 1 follows health 2 by 4
    h[rng.random(h.shape) < 0.2] = np.nan
    u[rng.random(u.shape) < 0.2] = np.nan
    u[2, :] = np.nan  # a series with nothing in it: no figure, never an error
    fwd, rev = lagged_correlations(h, u, 9)
    assert fwd.shape == rev.shape == (4, 3, 10)
    for i in range(4):
        for j in range(3):
            for lag in range(10):
                want_f, want_r = _direct(h[i], u[j], lag), _direct(u[j], h[i], lag)
                assert np.isnan(fwd[i, j, lag]) == np.isnan(want_f)
                assert np.isnan(rev[i, j, lag]) == np.isnan(want_r)
                if np.isfinite(want_f):
                    assert abs(fwd[i, j, lag] - want_f) < 1e-9
                if np.isfinite(want_r):
                    assert abs(rev[i, j, lag] - want_r) < 1e-9
    lag, r, rr = best_lags(fwd, rev)
    assert lag[2, 1] == 4 and r[2, 1] > 0.5 and rr[2, 1] < r[2, 1]
    assert not lag[:, 2].any() and not r[:, 2].any() and not rr[:, 2].any()
    # the single-pair forms are the batched one
    assert best_lag(h[2], u[1], 9) == (4, float(r[2, 1]), float(rr[2, 1]))
