"""Health → usage correlation with lag, on deseasonalised series (reference/analytics.md §3, rec 7).

Two series sharing a daily cycle correlate at r ≈ 0.8 with no causal link, so both sides are
first reduced to residuals against their seasonal expectation (the detector's z, or
``deseasonalise`` for raw arrays), rolled up to 1 minute, and only then cross-correlated at lags
0…max with health leading. A link is *claimed* only with |r| ≥ ``min_abs_r``, enough sessions,
and when health leading explains more than usage leading (a reversed lead is not health → usage).
"""

from __future__ import annotations

import warnings
from typing import Any

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


def _centred(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray, npt.NDArray]:
    """Per row: (1 where finite else 0, the row minus its NaN-mean with NaN → 0)."""
    m = np.isfinite(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=-1, keepdims=True)
    return m.astype(np.float64), np.where(m, x - mean, 0.0)


def lagged_correlations(
    health: npt.ArrayLike, usage: npt.ArrayLike, max_lag: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Every health row against every usage row at once: ``(fwd, rev)``, each of shape
    ``(n_health, n_usage, max_lag + 1)``; ``fwd[i, j, L]`` is Pearson r of ``health[i][t]`` with
    ``usage[j][t + L]``, ``rev[i, j, L]`` of ``usage[j][t]`` with ``health[i][t + L]`` (NaN-tolerant;
    rows of one length).

    Why batched: the live insight step scores ~20 routes against every step and flag kind each
    rolled-up minute; one FFT per row and one batched inverse replace ~7 000 small FFT calls.
    One circular cross-correlation of length ≥ 2n holds both directions (the reverse lead is
    the negative lags), and each lag is normalised over its own overlap, so a short overlap is
    not shrunk towards 0.
    """
    h = np.atleast_2d(np.asarray(health, dtype=np.float64))
    u = np.atleast_2d(np.asarray(usage, dtype=np.float64))
    n = h.shape[1]
    if u.shape[1] != n:
        raise ValueError(f"health rows have {n} points, usage rows {u.shape[1]}")
    size = 1 << int(np.ceil(np.log2(max(2 * n, 2))))
    mh, hc = _centred(h)
    mu, uc = _centred(u)
    # spectra per row: a[t] → conj(A) pairs with b[t + L]; [series kind, row, frequency]
    fh = np.conj(np.fft.rfft(np.stack([hc, mh, hc * hc, mh]), size))
    fu = np.fft.rfft(np.stack([uc, mu, mu, uc * uc]), size)
    lags = np.r_[0 : max_lag + 1]
    at = np.r_[lags, (-lags[1:]) % size]  # L = 0…max, then −1…−max (circular, no wrap)
    # c[k, i, j, ·] = Σ_t a_k,i[t] · b_k,j[t + L] at the lags in `at`; one inverse per health
    # row keeps the transient at 4 × n_usage × size
    c = np.empty((4, h.shape[0], u.shape[0], at.size))
    for i in range(h.shape[0]):
        c[:, i] = np.fft.irfft(fh[:, i, None, :] * fu, size)[..., at]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = c[0] / np.sqrt(c[2] * c[3])
    r[np.rint(c[1]) < 8] = np.nan
    # fewer than 8 points seen by both at lag 0: no figure at any lag
    r[np.rint(c[1, :, :, 0]) < 8] = np.nan
    r = np.clip(r, -1, 1)
    return r[..., : max_lag + 1], np.concatenate([r[..., :1], r[..., max_lag + 1 :]], axis=-1)


def lagged_correlation(
    health: npt.ArrayLike, usage: npt.ArrayLike, max_lag: int
) -> npt.NDArray[np.float64]:
    """Pearson r of ``health[t]`` with ``usage[t + L]`` for L = 0…max_lag (FFT; NaN-tolerant).
    Series of different lengths are aligned at their ends."""
    h = np.asarray(health, dtype=np.float64)
    u = np.asarray(usage, dtype=np.float64)
    n = min(h.shape[0], u.shape[0])
    return lagged_correlations(h[-n:], u[-n:], max_lag)[0][0, 0]


def best_lags(
    fwd: npt.NDArray[np.float64], rev: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per pair of ``lagged_correlations``: the lag with the largest |r| health-leading, that
    r, and the largest |r| with usage leading (lag ≥ 1); 0, 0, 0 where nothing is finite."""
    af = np.abs(fwd)
    seen = np.isfinite(af).any(axis=-1)
    lag = np.argmax(np.where(np.isfinite(af), af, -1.0), axis=-1)
    r = np.take_along_axis(fwd, lag[..., None], axis=-1)[..., 0]
    ar = np.abs(rev[..., 1:])
    rr = np.where(np.isfinite(ar), ar, 0.0).max(axis=-1, initial=0.0)
    return np.where(seen, lag, 0), np.where(seen, r, 0.0), np.where(seen, rr, 0.0)


def best_lag(health: npt.ArrayLike, usage: npt.ArrayLike, max_lag: int) -> tuple[int, float, float]:
    """(lag with the largest |r| health-leading, that r, the largest |r| with usage leading)."""
    h = np.asarray(health, dtype=np.float64)
    u = np.asarray(usage, dtype=np.float64)
    n = min(h.shape[0], u.shape[0])
    lag, r, rr = best_lags(*lagged_correlations(h[-n:], u[-n:], max_lag))
    return int(lag[0, 0]), float(r[0, 0]), float(rr[0, 0])


def link(
    health: npt.ArrayLike,
    usage: npt.ArrayLike,
    max_lag: int,
    step_s: int,
    health_name: str,
    usage_name: str,
    sessions_per_step: float,
    **rule: Any,
) -> CorrelationLink:
    """Evaluate one pair of *deseasonalised, rolled-up* series and decide whether to claim a
    link (``rule``: ``judge``'s min_abs_r, min_sessions, journey, co_alarm)."""
    lag, r, rr = best_lag(health, usage, max_lag)
    return judge(lag, r, rr, step_s, health_name, usage_name, sessions_per_step, **rule)


def judge(
    lag: int,
    r: float,
    rr: float,
    step_s: int,
    health_name: str,
    usage_name: str,
    sessions_per_step: float,
    min_abs_r: float = 0.3,
    min_sessions: float = 30.0,
    journey: bool = False,
    co_alarm: bool = True,
) -> CorrelationLink:
    """The claim for one pair given its best lag, r and the largest reverse r.

    ``co_alarm``: both series alarmed, the usage one within the lag window after the health one
    (reference/analytics.md rec 7); without it r alone is reported but not claimed.
    """
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
