"""Seasonal robust anomaly detection for thousands of series at once (reference/analytics.md §1, recs 1–5).

Every series is a row; one ``update`` per finished bucket is a handful of vector operations.

* **Profile.** Each row keeps one week of 5-minute slot means (2 016 float32 = 8 KB, so 5 000
  series ≈ 40 MB). The baseline (expected, seasonal spread) is recomputed once per slot:
  with ≥ ``daily_after_days`` of history, the median and MAD of the same slot over the last 7
  days (times a learned weekday factor after ≥ ``weekly_after_weeks``); before that, the median
  and MAD of the last 12 slots (rolling 1 h).
* **Scale** = √(seasonal² + bucket noise²). Bucket noise is floored by the sampling noise of
  the kind (√expected for counts, √(p(1−p)/n) for ratios, 5 % for latency quantiles) and
  otherwise learned as an EWMA of |residual| on in-band buckets, because a 10-s bucket is far
  noisier than the 5-min slot means the profile holds.
* **Alarm** when ≥ k of the last n buckets have directional z > ``z_persist`` or one bucket
  > ``z_single``; recover after ``recover_n`` buckets in a row back within ``z_persist / 2``.
  While an alarm is on (for at most ``UNLEARNED_MS``), its buckets feed neither the level
  (slot means, warm-up median) nor the noise: an incident is not its own baseline. Volume
  gates: the window's volume ≥ ``min_events`` (``min_sessions`` for conversions) and a
  cohort's volume ≥ ``min_share`` of its total; gated alarms are reported as "insufficient
  volume" instead.
* **Drift**: an EWMA of z (λ, L) beyond L·σ for ``drift_buckets`` in a row.
* After ``mark_deploy`` the rolling baseline is used for an hour (a new release shifts levels).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from uxtop.analytics.anomaly_kernel import (
    I_BUCKET_MS,
    I_DRIFT_BUCKETS,
    I_PERSIST_K,
    I_RECOVER_N,
    I_UNLEARNED_MS,
    N_INT_PARAMS,
    bucket_kernel,
    float_params,
)
from uxtop.analytics.config import AnomalyConfig

SLOT_MS = 300_000
SLOTS_PER_DAY = 288
SLOTS_PER_WEEK = 2016
RECENT = 64  # buckets of (x, expected, weight) kept per row for RCA and screens
#: buckets inside an alarm stay out of the baseline (warm-up median, slot means) for at most
#: this long: an incident must not become its own "expected" a minute in, but a level that
#: stays is the new normal after this
UNLEARNED_MS = 30 * 60_000

COUNT, RATIO, LATENCY = 0, 1, 2


def exceed_soft(zd: npt.NDArray) -> npt.NDArray[np.bool_]:
    """The current bucket must itself be off (z > 1) for a pooled alarm, so it fires on the
    incident, not on the bucket after one lone outlier."""
    return zd > 1.0


def _natural(v: npt.NDArray, is_lat: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
    out = np.array(v, dtype=np.float32)
    out[is_lat] = np.exp(out[is_lat])
    return out


class Alarm(msgspec.Struct, frozen=True):
    """A fired alarm on row ``row``; ``onset`` is the first exceeding bucket of the run."""

    row: int
    kind: str  # "spike" | "drift" | "insufficient_volume"
    onset: int
    fired: int
    z: float
    value: float
    expected: float
    scale: float
    band_lo: float  # expected ± 3 scales (multiplicative for latency, which lives in log space)
    band_hi: float


def nanmedian_rows(v: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """``np.nanmedian(v, axis=1)`` for a 2-D array, bit for bit (the mean of the two middle
    values in ``v``'s dtype; NaN for an all-NaN row), by one sort: numpy takes a slow
    masked-array path for rows shorter than 600."""
    if v.shape[1] == 0:
        return np.full(v.shape[0], np.nan, v.dtype)
    s = np.sort(v, axis=1)  # NaN last
    c = np.count_nonzero(~np.isnan(v), axis=1)
    h = c // 2
    lo_i = np.where(c % 2 == 1, h, h - 1)
    rows = np.arange(v.shape[0])
    lo = s[rows, np.maximum(lo_i, 0)]
    hi = s[rows, np.minimum(h, v.shape[1] - 1)]
    out = ((lo + hi) / v.dtype.type(2)).astype(v.dtype)
    out[c == 0] = np.nan
    return out


class SeasonalDetector:
    """Rows are added with ``add_row``; ``update(t0, x, w)`` consumes one finished bucket."""

    # per-row state, allocated (and grown) by _alloc
    kind: npt.NDArray[np.int8]
    direction: npt.NDArray[np.int8]
    parent: npt.NDArray[np.int64]
    min_volume: npt.NDArray[np.float32]
    ring: npt.NDArray[np.float32]
    acc_sum: npt.NDArray[np.float64]
    acc_w: npt.NDArray[np.float64]
    acc_held: npt.NDArray[np.int32]
    exp: npt.NDArray[np.float32]
    seas: npt.NDArray[np.float32]
    noise: npt.NDArray[np.float32]
    noise_n: npt.NDArray[np.int32]
    bits: npt.NDArray[np.uint64]
    inband: npt.NDArray[np.int32]
    alarm: npt.NDArray[np.bool_]
    gated: npt.NDArray[np.bool_]
    gated_quiet: npt.NDArray[np.int32]
    since: npt.NDArray[np.int64]
    ewma: npt.NDArray[np.float32]
    drift_run: npt.NDArray[np.int32]
    drift: npt.NDArray[np.bool_]
    z: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    wk: npt.NDArray[np.float32]
    x_recent: npt.NDArray[np.float32]
    z_recent: npt.NDArray[np.float32]
    e_recent: npt.NDArray[np.float32]
    w_recent: npt.NDArray[np.float32]
    a_recent: npt.NDArray[np.bool_]
    seen_slots: npt.NDArray[np.int32]
    slot_ok: npt.NDArray[np.bool_]

    def __init__(
        self, cfg: AnomalyConfig | None = None, bucket_ms: int = 10_000, capacity: int = 256
    ) -> None:
        self.cfg = cfg or AnomalyConfig()
        self.bucket_ms = bucket_ms
        self.n = 0
        self.cur_slot = -1
        self.first_slot = -1
        self.deploy_until = -1
        self._alloc(capacity)
        self._mask = np.uint64((1 << self.cfg.persist_n) - 1)
        self.t_last = -1
        self._noise_alpha = 0.02
        self._fp = float_params(self.cfg, self._noise_alpha)
        self._ip = np.zeros(N_INT_PARAMS, np.int64)
        self._ip[I_PERSIST_K] = self.cfg.persist_k
        self._ip[I_RECOVER_N] = self.cfg.recover_n
        self._ip[I_DRIFT_BUCKETS] = self.cfg.drift_buckets
        self._ip[I_UNLEARNED_MS] = UNLEARNED_MS
        self._ip[I_BUCKET_MS] = bucket_ms

    def _alloc(self, cap: int) -> None:
        def grow(name: str, shape: tuple[int, ...], dtype: type, fill: float) -> None:
            new: npt.NDArray = np.full(shape, fill, dtype=dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[: old.shape[0]] = old
            setattr(self, name, new)

        self.cap = cap
        grow("kind", (cap,), np.int8, 0)
        grow("direction", (cap,), np.int8, 0)
        grow("parent", (cap,), np.int64, 0)
        grow("min_volume", (cap,), np.float32, 0)
        grow("ring", (cap, SLOTS_PER_WEEK), np.float32, np.nan)
        grow("acc_sum", (cap,), np.float64, 0)
        grow("acc_w", (cap,), np.float64, 0)
        grow("acc_held", (cap,), np.int32, 0)  # buckets of the slot kept out (in an alarm)
        grow("exp", (cap,), np.float32, np.nan)
        grow("seas", (cap,), np.float32, 0)
        grow("noise", (cap,), np.float32, 0)
        grow("noise_n", (cap,), np.int32, 0)
        grow("bits", (cap,), np.uint64, 0)
        grow("inband", (cap,), np.int32, 0)
        grow("alarm", (cap,), np.bool_, False)
        grow("gated", (cap,), np.bool_, False)
        grow("gated_quiet", (cap,), np.int32, 0)
        grow("since", (cap,), np.int64, -1)
        grow("ewma", (cap,), np.float32, 0)
        grow("drift_run", (cap,), np.int32, 0)
        grow("drift", (cap,), np.bool_, False)
        grow("z", (cap,), np.float32, 0)
        grow("scale", (cap,), np.float32, np.nan)
        grow("wk", (cap, 7), np.float32, 1.0)
        grow("x_recent", (cap, RECENT), np.float32, np.nan)
        grow("z_recent", (cap, RECENT), np.float32, 0)
        grow("e_recent", (cap, RECENT), np.float32, np.nan)
        grow("w_recent", (cap, RECENT), np.float32, 0)
        grow("a_recent", (cap, RECENT), np.bool_, False)
        grow("seen_slots", (cap,), np.int32, 0)
        grow("slot_ok", (cap,), np.bool_, False)

    def add_row(
        self, kind: int, direction: int, parent: int | None = None, min_volume: float | None = None
    ) -> int:
        """New series row; ``parent`` is its total's row (cohort share gate), itself if None."""
        if self.n == self.cap:
            self._alloc(self.cap * 2)
        r = self.n
        self.n += 1
        self.kind[r] = kind
        self.direction[r] = direction
        self.parent[r] = r if parent is None else parent
        self.min_volume[r] = self.cfg.min_events if min_volume is None else min_volume
        return r

    def mark_deploy(self, ts: int) -> None:
        """A release changed at ``ts``: use the rolling baseline for the next hour."""
        self.deploy_until = ts + 3_600_000

    # -- baseline -------------------------------------------------------------------------
    def _close_slots(self, slot: int) -> None:
        n = self.n
        if self.cur_slot < 0:
            self.cur_slot = self.first_slot = slot
            self._recompute(slot)
            return
        while self.cur_slot < slot:
            s = self.cur_slot
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(
                    self.acc_w[:n] > 0, self.acc_sum[:n] / np.maximum(self.acc_w[:n], 1e-12), np.nan
                )
            # counts with no observation at all in the slot really were zero (not when every
            # bucket of it was kept out, in an alarm: that slot stays unknown)
            zero = (self.kind[:n] == COUNT) & (self.acc_w[:n] == 0) & (self.acc_held[:n] == 0)
            mean = np.where(zero, 0.0, mean)
            self.ring[:n, s % SLOTS_PER_WEEK] = mean
            self.seen_slots[:n] += 1
            self.acc_sum[:n] = 0
            self.acc_w[:n] = 0
            self.acc_held[:n] = 0
            if (s + 1) % SLOTS_PER_DAY == 0:
                self._learn_weekday(s)
            self.cur_slot += 1
            if (
                slot - self.cur_slot > SLOTS_PER_WEEK
            ):  # a long gap: skip ahead, the ring is stale anyway
                self.ring[:n] = np.nan
                self.cur_slot = slot
        self._recompute(slot)

    def _learn_weekday(self, last_slot: int) -> None:
        n = self.n
        day = (last_slot // SLOTS_PER_DAY) % 7
        idx = (last_slot - np.arange(SLOTS_PER_DAY)) % SLOTS_PER_WEEK
        import warnings

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            today = np.nanmean(self.ring[:n, idx], axis=1)
            prev_days = [
                np.nanmean(self.ring[:n, (idx - d * SLOTS_PER_DAY) % SLOTS_PER_WEEK], axis=1)
                for d in range(1, 7)
            ]
            ref = np.nanmedian(np.stack(prev_days + [today], axis=1), axis=1)
            f = np.clip(today / ref, 0.2, 5.0)
        ok = np.isfinite(f)
        self.wk[:n, day] = np.where(
            ok, self.wk[:n, day] + (f - self.wk[:n, day]) / 3.0, self.wk[:n, day]
        )

    def _recompute(self, slot: int) -> None:
        n = self.n
        if n == 0:
            return
        hist_slots = slot - self.first_slot
        use_daily = (
            hist_slots >= self.cfg.daily_after_days * SLOTS_PER_DAY
            and slot * SLOT_MS >= self.deploy_until
        )
        if use_daily:
            days = min(7, hist_slots // SLOTS_PER_DAY)
            idx = (slot - SLOTS_PER_DAY * np.arange(1, days + 1)) % SLOTS_PER_WEEK
            min_obs = 3
        else:
            idx = (slot - 1 - np.arange(12)) % SLOTS_PER_WEEK
            min_obs = 6
        vals = self.ring[:n, idx]
        obs = np.isfinite(vals).sum(axis=1)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = nanmedian_rows(vals)
                mad = nanmedian_rows(np.abs(vals - med[:, None]))
        if use_daily and hist_slots >= self.cfg.weekly_after_weeks * SLOTS_PER_WEEK:
            med = med * self.wk[:n, (slot // SLOTS_PER_DAY) % 7]
        ok = obs >= min_obs
        self.slot_ok[:n] = ok
        self.exp[:n] = np.where(ok, med, self.exp[:n] if self.cur_slot >= 0 else np.nan)
        self.seas[:n] = np.where(ok, 1.4826 * mad, self.seas[:n])

    def _warmup(self, t0: int) -> None:
        """Rows without an hour of slots yet: median/MAD of their recent 10-s buckets (the last
        ``persist_n`` left out, so a starting incident is not its own baseline). The MAD already
        holds the bucket noise, so it seeds the noise estimate instead of the seasonal spread."""
        n = self.n
        rows = np.flatnonzero(~self.slot_ok[:n])
        if rows.size == 0:
            return
        pos = (t0 // self.bucket_ms) % RECENT
        idx = (pos - self.cfg.persist_n - np.arange(RECENT - self.cfg.persist_n - 1)) % RECENT
        # buckets spent in an alarm are not the baseline (the demo's 3-min incident had become
        # its own "expected" a minute in)
        alarmed = self.a_recent[rows][:, idx]
        vals = np.where(alarmed, np.nan, self.x_recent[rows][:, idx])
        w_rows = self.w_recent[rows][:, idx]
        is_lat = self.kind[rows] == LATENCY
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                vals = np.where(is_lat[:, None], np.log(np.maximum(vals, 1e-3)), vals)
                med = nanmedian_rows(vals)
                mad = nanmedian_rows(np.abs(vals - med[:, None]))
                # mean volume of the baseline's buckets: the unit of the noise seed below
                w_mean = np.nanmean(np.where(alarmed, np.nan, w_rows), axis=1)
        ok = np.isfinite(vals).sum(axis=1) >= 30
        # a ratio's baseline is the pooled ratio: the median of 1/1, 0/1 … buckets is 0 or 1
        wv = np.where(alarmed, 0, w_rows)
        is_ratio = self.kind[rows] == RATIO
        with np.errstate(all="ignore"):
            pooled = np.nansum(np.where(wv > 0, vals * wv, 0), axis=1) / np.maximum(
                wv.sum(axis=1), 1e-9
            )
        med = np.where(is_ratio, pooled, med)
        mad = np.where(is_ratio, 0.0, mad)  # the binomial floor is the ratio's bucket noise
        ok &= ~is_ratio | (wv.sum(axis=1) >= self.cfg.min_events)
        r = rows[ok]
        self.exp[r] = med[ok]
        self.seas[r] = 0.0
        kind = self.kind[r]
        ep = np.maximum(np.abs(med[ok]), 1.0)
        w = np.fmax(w_mean[ok], 1.0)
        unit = np.where(kind == COUNT, 1.0 / np.sqrt(ep), np.sqrt(w))
        seed = (1.4826 * mad[ok] * unit / 1.2533).astype(np.float32)
        fresh = self.noise_n[r] < 30
        self.noise[r] = np.where(fresh, seed, self.noise[r])
        self.noise_n[r] = np.where(fresh, 30, self.noise_n[r])

    # -- per bucket -----------------------------------------------------------------------
    def _begin_bucket(self, t0: int) -> None:
        slot = t0 // SLOT_MS
        if slot != self.cur_slot:
            self._close_slots(slot)
        if (t0 // self.bucket_ms) % 6 == 0:  # once a minute is enough for a warm-up baseline
            self._warmup(t0)
        self.t_last = t0

    def update(
        self, t0: int, x: npt.NDArray[np.floating], w: npt.NDArray[np.floating]
    ) -> list[Alarm]:
        """Consume the bucket starting at ``t0``: ``x`` value per row (NaN = no data), ``w`` its
        weight (events behind a ratio/quantile; ignored for counts). Returns newly fired alarms.

        One ``anomaly_kernel.bucket_kernel`` pass; ``update_reference`` is the same in numpy."""
        n = self.n
        if x.shape[0] < n or w.shape[0] < n:
            raise ValueError(f"a bucket needs a value and a weight for each of the {n} rows")
        self._begin_bucket(t0)
        x = np.ascontiguousarray(x[:n], dtype=np.float32)
        w = np.ascontiguousarray(w[:n], dtype=np.float32)
        pos = (t0 // self.bucket_ms) % RECENT
        win = (pos - np.arange(self.cfg.persist_n)) % RECENT
        x_t = np.empty(n, np.float32)
        e_old = np.empty(n, np.float32)
        vol = np.empty(n, np.float32)
        ready = np.empty(n, np.bool_)
        valid = np.empty(n, np.bool_)
        spike = np.empty(n, np.bool_)
        gated = np.empty(n, np.bool_)
        drift = np.empty(n, np.bool_)
        bucket_kernel(
            t0, pos, win, x, w,
            self.kind, self.direction, self.parent, self.min_volume, self._mask,
            self.exp, self.seas, self.noise, self.noise_n, self.bits, self.inband,
            self.alarm, self.gated, self.gated_quiet, self.since, self.ewma, self.drift_run,
            self.drift, self.z, self.scale,
            self.x_recent, self.z_recent, self.e_recent, self.w_recent, self.a_recent,
            self.acc_sum, self.acc_w, self.acc_held,
            self._fp, self._ip,
            x_t, e_old, vol, ready, valid, spike, gated, drift,
        )  # fmt: skip
        fired: list[Alarm] = []
        z, scale = self.z, self.scale
        for r in np.flatnonzero(spike | gated).tolist():
            b = int(self.bits[r])
            onset = t0 - (b.bit_length() - 1 if b else 0) * self.bucket_ms
            kind = "spike" if spike[r] else "insufficient_volume"
            fired.append(self._alarm(r, kind, onset, t0, float(z[r]), x_t, e_old, scale))
        for r in np.flatnonzero(drift).tolist():
            onset = t0 - (int(self.drift_run[r]) - 1) * self.bucket_ms
            fired.append(self._alarm(r, "drift", onset, t0, float(self.ewma[r]), x_t, e_old, scale))
        return fired

    def update_reference(
        self, t0: int, x: npt.NDArray[np.floating], w: npt.NDArray[np.floating]
    ) -> list[Alarm]:
        """``update`` as numpy expressions over all rows: the kernel's executable spec."""
        cfg = self.cfg
        n = self.n
        self._begin_bucket(t0)
        x = np.asarray(x[:n], dtype=np.float32)
        w = np.asarray(w[:n], dtype=np.float32)
        kind = self.kind[:n]
        is_count = kind == COUNT
        is_lat = kind == LATENCY
        # latency quantiles are compared in log space: their bucket noise is skewed, a ratio is not
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(is_lat, np.log(np.maximum(x, 1e-3)), x).astype(np.float32)
        e = self.exp[:n]
        valid = np.isfinite(x) & (is_count | (w > 0))
        ready = np.isfinite(e) & valid
        ep = np.where(np.isfinite(e), e, 0).astype(np.float32)
        nn = np.maximum(w, 1.0)
        pp = np.clip((ep * nn + 1.0) / (nn + 2.0), 0.0, 1.0)
        # sampling-noise floor per kind: Poisson, binomial, 5 % for a quantile
        floor = np.where(
            is_count,
            np.sqrt(np.maximum(ep, 1.0)),
            np.where(kind == RATIO, np.sqrt(pp * (1 - pp) / nn), 0.05),
        )
        # learned noise is kept per unit of volume (× √n), so quiet night buckets get wider bands
        unit = np.where(is_count, 1.0 / np.sqrt(np.maximum(ep, 1.0)), np.sqrt(nn)).astype(
            np.float32
        )
        learned = np.where(self.noise_n[:n] >= 30, 1.2533 * self.noise[:n] / unit, 0)
        noise = np.maximum(floor, learned)
        scale = np.sqrt(self.seas[:n] ** 2 + noise**2) + 1e-9
        resid = np.where(ready, x - ep, 0)
        z = np.where(ready, resid / scale, 0).astype(np.float32)
        d = self.direction[:n]
        zd = np.where(d == 0, np.abs(z), z * d)
        exceed = zd > cfg.z_persist
        self.z[:n] = z
        self.scale[:n] = scale
        self.bits[:n] = ((self.bits[:n] << np.uint64(1)) | exceed.astype(np.uint64)) & self._mask
        # learn bucket noise from in-band buckets only, so an incident does not widen its own band;
        # nor inside an alarm: its milder buckets (z under the threshold) fed the noise, which
        # lowered the next buckets' z, until the incident's band held it (demo: an error rate at
        # 30 % against 0.3 % expected ended as "in band" 60 s in)
        learn = ready & (np.abs(z) < cfg.z_persist) & ~self._held(t0)
        self.noise[:n] = np.where(
            learn,
            self.noise[:n] + self._noise_alpha * (np.abs(resid) * unit - self.noise[:n]),
            self.noise[:n],
        )
        self.noise_n[:n] += learn
        # recent window
        pos = (t0 // self.bucket_ms) % RECENT
        # the recent window is in natural units (RCA sums it)
        self.x_recent[:n, pos] = _natural(x, is_lat)
        self.e_recent[:n, pos] = np.where(ready, _natural(e, is_lat), np.nan)
        self.w_recent[:n, pos] = np.where(is_count, np.where(valid, x, 0), np.where(valid, w, 0))
        self.z_recent[:n, pos] = zd
        win = (pos - np.arange(cfg.persist_n)) % RECENT
        vol = self.w_recent[:n][:, win].sum(axis=1)
        # pooled evidence over the window (Stouffer): sparse series whose single buckets are too
        # noisy to pass z_persist still alarm when the whole minute is clearly off
        zwin = self.z_recent[:n][:, win].sum(axis=1) / np.sqrt(cfg.persist_n)
        share_ok = vol >= cfg.min_share * vol[self.parent[:n]]
        vol_ok = (vol >= self.min_volume[:n]) & share_ok
        hits = np.bitwise_count(self.bits[:n])
        # pooled only for ratios: their buckets are nearly independent draws, while counts of
        # overlapping sessions and quantiles are autocorrelated and would over-pool
        pooled = (zwin > cfg.z_window) & exceed_soft(zd) & (kind == RATIO)
        trigger = (hits >= cfg.persist_k) | (zd > cfg.z_single) | pooled
        trigger &= ready & (self.noise_n[:n] >= 30)
        fired: list[Alarm] = []
        new = trigger & ~self.alarm[:n] & vol_ok
        # a low-volume row is told "insufficient volume" when its window *looks* bad — a large
        # relative change — even though so few events can never be significant
        xw = self.x_recent[:n][:, win]
        ww_ = self.w_recent[:n][:, win]
        with np.errstate(invalid="ignore", divide="ignore"):
            xw = np.where(is_lat[:, None], np.log(np.maximum(xw, 1e-3)), xw)
            pooled = np.where(
                is_count,
                np.nanmean(np.where(ww_ > 0, xw, 0), axis=1),
                np.nansum(np.where(ww_ > 0, xw * ww_, 0), axis=1)
                / np.maximum(ww_.sum(axis=1), 1e-9),
            )
        eps = np.where(is_count, 1.0, np.where(kind == RATIO, 0.05, 0.3))
        dev = np.where(d == 0, np.abs(pooled - ep), (pooled - ep) * d)
        looks_bad = (
            ready
            & (dev > 0.5 * np.maximum(np.abs(ep), eps) + 3 * self.seas[:n])
            & (vol >= 3)
            & (zwin > 2.0)
        )
        suspicious = (trigger | looks_bad) & ~vol_ok
        gated = suspicious & ~self.gated[:n] & ~self.alarm[:n]
        # the "insufficient volume" note is cleared only after recover_n quiet buckets, so a
        # trickle of bad requests is reported once, not every few buckets
        self.gated_quiet[:n] = np.where(suspicious, 0, self.gated_quiet[:n] + 1)
        # recovery: in-band buckets in a row, in band meaning back within half the firing
        # threshold (hysteresis: on a low-volume ratio an incident's milder buckets fall under
        # z_persist by chance, and six of them in a row ended the alarm, which then fired again)
        self.inband[:n] = np.where(zd > 0.5 * cfg.z_persist, 0, self.inband[:n] + 1)
        recovered = self.alarm[:n] & (self.inband[:n] >= cfg.recover_n)
        self.alarm[:n] &= ~recovered
        self.gated[:n] &= ~(self.gated_quiet[:n] >= cfg.recover_n)
        for r in np.flatnonzero(new | gated).tolist():
            b = int(self.bits[r])
            back = b.bit_length() - 1 if b else 0
            onset = t0 - back * self.bucket_ms
            is_new = bool(new[r])
            if is_new:
                self.alarm[r] = True
                self.since[r] = onset
            else:
                self.gated[r] = True
            fired.append(
                self._alarm(
                    r,
                    "spike" if is_new else "insufficient_volume",
                    onset,
                    t0,
                    float(z[r]),
                    x,
                    e,
                    scale,
                )
            )
        # drift: EWMA of directional z
        lam, L = cfg.ewma_lambda, cfg.ewma_L
        self.ewma[:n] = np.where(
            ready, lam * np.where(d == 0, z, z * d) + (1 - lam) * self.ewma[:n], self.ewma[:n]
        )
        lim = L * np.sqrt(lam / (2 - lam))
        beyond = (np.abs(self.ewma[:n]) > lim) & ((d == 0) | (self.ewma[:n] > 0))
        # a spike alarm is not also a drift: the run restarts once the spike has recovered
        self.drift_run[:n] = np.where(beyond & ~self.alarm[:n], self.drift_run[:n] + 1, 0)
        new_drift = (
            (self.drift_run[:n] >= cfg.drift_buckets) & ~self.drift[:n] & vol_ok & ~self.alarm[:n]
        )
        self.drift[:n] = np.where(self.drift_run[:n] == 0, False, self.drift[:n] | new_drift)
        for r in np.flatnonzero(new_drift).tolist():
            onset = t0 - (int(self.drift_run[r]) - 1) * self.bucket_ms
            fired.append(self._alarm(r, "drift", onset, t0, float(self.ewma[r]), x, e, scale))
        # this bucket is kept out of the baselines if an alarm is on now (after this bucket's
        # firing and recovery)
        held = self._held(t0)
        self.a_recent[:n, pos] = held
        # fold into the current slot's mean
        ww = np.where(is_count, 1.0, w)
        learn_level = valid & ~held
        self.acc_sum[:n] += np.where(learn_level, x * ww, 0)
        self.acc_w[:n] += np.where(learn_level, ww, 0)
        self.acc_held[:n] += held
        return fired

    def _held(self, t0: int) -> npt.NDArray[np.bool_]:
        """Rows whose buckets stay out of the baselines (level and noise): in an alarm that
        began less than UNLEARNED_MS before ``t0``."""
        n = self.n
        return self.alarm[:n] & (t0 - self.since[:n] < UNLEARNED_MS)

    def _alarm(
        self,
        r: int,
        kind: str,
        onset: int,
        t0: int,
        z: float,
        x: npt.NDArray,
        e: npt.NDArray,
        scale: npt.NDArray,
    ) -> Alarm:
        v, ex, sc = float(x[r]), float(e[r]), float(scale[r])
        lo, hi = ex - 3 * sc, ex + 3 * sc
        if self.kind[r] == LATENCY:  # back from log space; the scale becomes a relative width
            lo, hi = float(np.exp(lo)), float(np.exp(hi))
            v, ex = float(np.exp(v)), float(np.exp(ex))
            sc = ex * (float(np.exp(sc)) - 1.0)
        elif self.kind[r] == RATIO:
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        else:
            lo = max(lo, 0.0)
        return Alarm(
            row=r,
            kind=kind,
            onset=onset,
            fired=t0,
            z=z,
            value=v,
            expected=ex,
            scale=sc,
            band_lo=lo,
            band_hi=hi,
        )

    def expected_values(self, rows: npt.ArrayLike | None = None) -> npt.NDArray[np.float32]:
        """Current expected value per row in natural units (NaN while the baseline warms up)."""
        r = np.arange(self.n) if rows is None else np.asarray(rows)
        return _natural(self.exp[r], self.kind[r] == LATENCY)

    def window(
        self, rows: npt.NDArray[np.int64] | list[int], buckets: int
    ) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
        """Last ``buckets`` (≤ 64) of (value, expected, weight) for ``rows``, oldest first."""
        pos = (self.t_last // self.bucket_ms) % RECENT
        idx = (pos - np.arange(buckets)[::-1]) % RECENT
        r = np.asarray(rows, dtype=np.int64)
        return self.x_recent[r][:, idx], self.e_recent[r][:, idx], self.w_recent[r][:, idx]

    def memory_bytes(self) -> int:
        return sum(
            getattr(self, k).nbytes for k in ("ring", "x_recent", "e_recent", "w_recent", "wk")
        )
