"""Mergeable log-bucket latency histogram (HdrHistogram/DDSketch-like, fixed layout).

Bucket b > 0 holds durations in [LO·G^(b−1), LO·G^b) with G = 2^(1/8) (≈ 9 % wide, so a
quantile read at the bucket's geometric middle is within ±4.5 %); bucket 0 holds < LO and the last
bucket everything ≥ the top edge. Histograms of any shape ``(..., N_BUCKETS)`` merge by addition,
so per-bucket, per-route and per-cohort histograms roll up to minutes or hours exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LO_MS = 0.25
STEPS_PER_OCTAVE = 8
OCTAVES = 20  # 0.25 ms … 262 s
N_BUCKETS = STEPS_PER_OCTAVE * OCTAVES + 2
_G = 2.0 ** (1.0 / STEPS_PER_OCTAVE)
#: representative value of each bucket (geometric middle; edges for under/overflow)
MIDS = np.empty(N_BUCKETS, dtype=np.float64)
MIDS[0] = LO_MS / 2
MIDS[1:-1] = LO_MS * _G ** (np.arange(N_BUCKETS - 2) + 0.5)
MIDS[-1] = LO_MS * _G ** (N_BUCKETS - 2)


def bucket_of(dur_ms: npt.NDArray[np.floating]) -> npt.NDArray[np.int64]:
    """Bucket index of each duration; NaN and negatives go to bucket 0."""
    d = np.asarray(dur_ms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.floor(np.log2(d / LO_MS) * STEPS_PER_OCTAVE) + 1
    b = np.where(np.isfinite(b), b, 0)
    return np.clip(b, 0, N_BUCKETS - 1).astype(np.int64)


def quantiles(
    hist: npt.NDArray, qs: tuple[float, ...] = (0.5, 0.95, 0.99)
) -> npt.NDArray[np.float32]:
    """Quantiles of histograms ``(..., N_BUCKETS)`` → ``(..., len(qs))``; NaN where empty.

    Nearest-rank on the cumulative counts, read at the bucket middle (no interpolation: the bucket
    width already bounds the error, and nearest-rank is what merging preserves exactly).
    """
    h = np.asarray(hist)
    cum = np.cumsum(h, axis=-1, dtype=np.float64)
    total = cum[..., -1:]
    out = np.empty(h.shape[:-1] + (len(qs),), dtype=np.float32)
    for j, q in enumerate(qs):
        rank = np.maximum(np.ceil(q * total), 1.0)
        idx = (cum < rank).sum(axis=-1)
        idx = np.minimum(idx, N_BUCKETS - 1)
        out[..., j] = MIDS[idx]
    out[(total[..., 0] == 0)] = np.nan
    return out


def histogram(dur_ms: npt.NDArray[np.floating]) -> npt.NDArray[np.int64]:
    """One histogram of a set of durations."""
    return np.bincount(bucket_of(dur_ms), minlength=N_BUCKETS).astype(np.int64)
