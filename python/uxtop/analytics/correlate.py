"""Health → usage correlation with lag, on deseasonalised series (reference/analytics.md §3, rec 7).

Two series sharing a daily cycle correlate at r ≈ 0.8 with no causal link, so both sides are
first reduced to residuals against their seasonal expectation (the detector's z, or
``deseasonalise`` for raw arrays), rolled up to 1 minute, and only then cross-correlated at lags
0…max with health leading. A link is *claimed* only with |r| ≥ ``min_abs_r``, enough sessions,
and when health leading explains more than usage leading (a reversed lead is not health → usage).
"""

from __future__ import annotations

import warnings

import msgspec
import numpy as np
import numpy.typing as npt


class CorrelationLink(msgspec.Struct, frozen=True):
    """One health series against one usage series. ``lag_s`` > 0: usage follows health."""

    health: str
    usage: str
    lag_s: int
    r: float
    r_reverse: float
    journey: bool
    claimed: bool
    reason: str


def deseasonalise(
    x: npt.ArrayLike, period: int, days: int = 7, min_days: int = 1
) -> npt.NDArray[np.float64]:
    """Residual of each point against the median of the same slot over the previous ``days``
    periods (NaN until ``min_days`` periods of history exist)."""
    a = np.asarray(x, dtype=np.float64)
    out = np.full_like(a, np.nan)
    n = a.shape[0]
    lagged = np.full((days, n), np.nan)
    for d in range(1, days + 1):
        lagged[d - 1, d * period :] = a[: max(n - d * period, 0)]
    have = np.isfinite(lagged).sum(axis=0) >= min_days
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(lagged, axis=0)
    out[have] = a[have] - med[have]
    return out


def rollup(x: npt.ArrayLike, factor: int) -> npt.NDArray[np.float64]:
    """Mean over consecutive groups of ``factor`` points (NaN-aware; a trailing partial group is dropped)."""
    a = np.asarray(x, dtype=np.float64)
    m = a.shape[0] // factor
    g = a[: m * factor].reshape(m, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(g, axis=1)


def lagged_correlation(
    health: npt.ArrayLike, usage: npt.ArrayLike, max_lag: int
) -> npt.NDArray[np.float64]:
    """Pearson r of ``health[t]`` with ``usage[t + L]`` for L = 0…max_lag (FFT; NaN-tolerant).

    Each lag is normalised over its own overlap, so a short overlap is not shrunk towards 0.
    """
    h = np.asarray(health, dtype=np.float64)
    u = np.asarray(usage, dtype=np.float64)
    n = min(h.shape[0], u.shape[0])
    h, u = h[-n:], u[-n:]
    ok = np.isfinite(h) & np.isfinite(u)
    out = np.full(max_lag + 1, np.nan)
    if ok.sum() < 8:
        return out
    mh = np.isfinite(h).astype(np.float64)
    mu = np.isfinite(u).astype(np.float64)
    hc = np.where(mh > 0, h - np.nanmean(h), 0.0)
    uc = np.where(mu > 0, u - np.nanmean(u), 0.0)
    size = 1 << int(np.ceil(np.log2(2 * n)))

    def xc(a: npt.NDArray, b: npt.NDArray) -> npt.NDArray:
        # c[L] = Σ_t a[t]·b[t+L]
        return np.fft.irfft(np.conj(np.fft.rfft(a, size)) * np.fft.rfft(b, size), size)[
            : max_lag + 1
        ]

    num = xc(hc, uc)
    cnt = xc(mh, mu)
    sh = xc(hc * hc, mu)
    su = xc(mh, uc * uc)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / np.sqrt(sh * su)
    r[np.rint(cnt) < 8] = np.nan
    out[:] = np.clip(r, -1, 1)
    return out


def best_lag(health: npt.ArrayLike, usage: npt.ArrayLike, max_lag: int) -> tuple[int, float, float]:
    """(lag with the largest |r| health-leading, that r, the largest |r| with usage leading)."""
    fwd = lagged_correlation(health, usage, max_lag)
    rev = lagged_correlation(usage, health, max_lag)
    if not np.isfinite(fwd).any():
        return 0, 0.0, 0.0
    lag = int(np.nanargmax(np.abs(fwd)))
    rr = float(np.nanmax(np.abs(rev[1:]))) if max_lag > 0 and np.isfinite(rev[1:]).any() else 0.0
    return lag, float(fwd[lag]), rr


def link(
    health: npt.ArrayLike,
    usage: npt.ArrayLike,
    max_lag: int,
    step_s: int,
    health_name: str,
    usage_name: str,
    sessions_per_step: float,
    min_abs_r: float = 0.3,
    min_sessions: float = 30.0,
    journey: bool = False,
    co_alarm: bool = True,
) -> CorrelationLink:
    """Evaluate one pair of *deseasonalised, rolled-up* series and decide whether to claim a link.

    ``co_alarm``: both series alarmed, the usage one within the lag window after the health one
    (reference/analytics.md rec 7); without it r alone is reported but not claimed.
    """
    lag, r, rr = best_lag(health, usage, max_lag)
    if sessions_per_step < min_sessions:
        claimed, why = (
            False,
            f"insufficient volume ({sessions_per_step:.0f} sessions/{step_s}s < {min_sessions:.0f})",
        )
    elif abs(r) < min_abs_r:
        claimed, why = False, f"|r| {abs(r):.2f} < {min_abs_r}"
    elif rr > abs(r):
        claimed, why = False, "usage leads health (reverse lead is stronger)"
    elif not co_alarm:
        claimed, why = False, "no anomaly on both series within the lag window"
    else:
        claimed, why = True, "health leads usage"
    return CorrelationLink(
        health=health_name,
        usage=usage_name,
        lag_s=lag * step_s,
        r=round(r, 4),
        r_reverse=round(rr, 4),
        journey=journey,
        claimed=claimed,
        reason=why,
    )
