"""Numba kernel of one finished bucket of ``anomaly.SeasonalDetector`` (z, alarms, recovery,
drift, noise learning, the recent window, the slot accumulators), one loop over the rows.

``SeasonalDetector.update_reference`` is the same step as numpy expressions over all rows, the
executable spec: ``tests/analytics/test_anomaly.py`` runs both side by side on generated
series with incidents and requires the same alarms and the same state. The kernel exists for
its fixed cost: ~150 numpy calls a bucket were ~0.2 ms whatever the row count, and a replay
closes a bucket every few thousand events (the ingest bench's file: 389 in 2 M events).

Arithmetic follows the reference's dtypes: float32 where its arrays are float32 (numpy keeps
Python-float operands "weak"), float64 where it promotes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

COUNT, RATIO, LATENCY = 0, 1, 2  # = anomaly.COUNT / RATIO / LATENCY

#: float parameters (``fp``), as float32 where the reference compares float32 arrays with them
F_Z_PERSIST, F_Z_SINGLE, F_Z_WINDOW, F_MIN_SHARE, F_LAMBDA, F_LIM, F_ALPHA, F_SQRT_N = range(8)
N_FLOAT_PARAMS = 8
#: integer parameters (``ip``)
I_PERSIST_K, I_RECOVER_N, I_DRIFT_BUCKETS, I_UNLEARNED_MS, I_BUCKET_MS = range(5)
N_INT_PARAMS = 5

_F32 = np.float32


@njit(cache=True, nogil=True, inline="always")
def _fmax(a, b):
    """``np.maximum`` of two scalars: NaN if either is NaN."""
    if a != a or b != b:
        return a + b
    return a if a > b else b


@njit(cache=True, nogil=True, inline="always")
def _popcount(v):
    c = 0
    while v:
        v &= v - np.uint64(1)
        c += 1
    return c


@njit(cache=True, nogil=True, inline="always")
def _bit_length(v):
    b = 0
    while v:
        v >>= np.uint64(1)
        b += 1
    return b


@njit(cache=True, nogil=True)
def bucket_kernel(
    t0,
    pos,
    win,
    x_in,
    w_in,
    kind,
    direction,
    parent,
    min_volume,
    mask,
    exp,
    seas,
    noise,
    noise_n,
    bits,
    inband,
    alarm,
    gated,
    gated_quiet,
    since,
    ewma,
    drift_run,
    drift,
    z_out,
    scale_out,
    x_recent,
    z_recent,
    e_recent,
    w_recent,
    a_recent,
    acc_sum,
    acc_w,
    acc_held,
    fp,
    ip,
    x_t,
    e_old,
    vol,
    ready_out,
    valid_out,
    fired_spike,
    fired_gated,
    fired_drift,
):
    """One bucket for rows ``[0, len(x_in))``; state arrays are updated in place.

    Returns nothing; ``fired_spike`` / ``fired_gated`` / ``fired_drift`` flag the rows whose
    alarm fired (the caller makes the ``Alarm`` records), ``x_t`` holds the bucket's values as
    compared (log for latency) and ``e_old`` the expected values it was judged against."""
    n = x_in.shape[0]
    z_persist = _F32(fp[F_Z_PERSIST])
    z_single = _F32(fp[F_Z_SINGLE])
    z_window = fp[F_Z_WINDOW]
    min_share = _F32(fp[F_MIN_SHARE])
    lam = fp[F_LAMBDA]
    lam32 = _F32(lam)
    keep32 = _F32(1.0 - lam)
    lim = fp[F_LIM]  # (float64: the reference's np.sqrt makes it a float64 scalar)
    alpha = _F32(fp[F_ALPHA])
    sqrt_n = fp[F_SQRT_N]
    half_persist = _F32(0.5 * fp[F_Z_PERSIST])
    persist_k = ip[I_PERSIST_K]
    recover_n = ip[I_RECOVER_N]
    drift_buckets = ip[I_DRIFT_BUCKETS]
    unlearned = ip[I_UNLEARNED_MS]
    bucket_ms = ip[I_BUCKET_MS]
    nwin = win.shape[0]
    one = _F32(1.0)
    zero = _F32(0.0)
    nan32 = _F32(np.nan)
    # pass 1: this bucket's z per row, noise learning, the recent window and its volume
    for r in range(n):
        k = kind[r]
        is_count = k == COUNT
        is_lat = k == LATENCY
        x = x_in[r]
        if is_lat:
            x = _F32(np.log(_fmax(x, _F32(1e-3))))
        w = w_in[r]
        e = exp[r]
        x_t[r] = x
        e_old[r] = e
        valid = np.isfinite(x) and (is_count or w > zero)
        e_fin = np.isfinite(e)
        ready = e_fin and valid
        ep = e if e_fin else zero
        nn = _fmax(w, one)
        if is_count:
            floor = _F32(np.sqrt(_fmax(ep, one)))
            unit = _F32(one / _F32(np.sqrt(_fmax(ep, one))))
        else:
            if k == RATIO:
                pp = (ep * nn + one) / (nn + _F32(2.0))
                if pp < zero:  # (np.clip: NaN stays NaN)
                    pp = zero
                elif pp > one:
                    pp = one
                floor = _F32(np.sqrt(pp * (one - pp) / nn))
            else:
                floor = _F32(0.05)
            unit = _F32(np.sqrt(nn))
        learned = _F32(_F32(1.2533) * noise[r] / unit) if noise_n[r] >= 30 else zero
        nz = _fmax(floor, learned)
        sd = seas[r]
        scale = _F32(_F32(np.sqrt(sd * sd + nz * nz)) + _F32(1e-9))
        resid = _F32(x - ep) if ready else zero
        z = _F32(resid / scale) if ready else zero
        d = direction[r]
        zd = abs(z) if d == 0 else _F32(z * _F32(d))
        exceed = zd > z_persist
        z_out[r] = z
        scale_out[r] = scale
        bits[r] = ((bits[r] << np.uint64(1)) | np.uint64(exceed)) & mask
        held0 = alarm[r] and (t0 - since[r] < unlearned)
        if ready and abs(z) < z_persist and not held0:
            nr = noise[r]
            noise[r] = _F32(nr + alpha * _F32(_F32(abs(resid) * unit) - nr))
            noise_n[r] += 1
        x_recent[r, pos] = _F32(np.exp(x)) if is_lat else x
        if ready:
            e_recent[r, pos] = _F32(np.exp(e)) if is_lat else e
        else:
            e_recent[r, pos] = nan32
        if is_count:
            w_recent[r, pos] = x if valid else zero
        else:
            w_recent[r, pos] = w if valid else zero
        z_recent[r, pos] = zd
        v = zero
        for i in range(nwin):
            v += w_recent[r, win[i]]
        vol[r] = v
        ready_out[r] = ready
        valid_out[r] = valid
    # pass 2: triggers (a row's gate reads its total's volume), alarms, drift, slot means
    for r in range(n):
        k = kind[r]
        is_count = k == COUNT
        is_lat = k == LATENCY
        ready = ready_out[r]
        valid = valid_out[r]
        d = direction[r]
        zd = z_recent[r, pos]
        zs = zero
        for i in range(nwin):
            zs += z_recent[r, win[i]]
        zwin = np.float64(zs) / sqrt_n
        vr = vol[r]
        vol_ok = vr >= min_volume[r] and vr >= _F32(min_share * vol[parent[r]])
        hits = _popcount(bits[r])
        pooled_hit = zwin > z_window and zd > one and k == RATIO
        trigger = (hits >= persist_k or zd > z_single or pooled_hit) and ready
        trigger = trigger and noise_n[r] >= 30
        was_alarm = alarm[r]
        new = trigger and not was_alarm and vol_ok
        # the window's pooled value, for the "insufficient volume" note
        e = e_old[r]
        ep = e if np.isfinite(e) else zero
        s_x = zero
        s_w = zero
        for i in range(nwin):
            ww = w_recent[r, win[i]]
            xw = x_recent[r, win[i]]
            if is_lat:
                xw = _F32(np.log(_fmax(xw, _F32(1e-3))))
            if is_count:
                s_x += xw if ww > zero else zero
            else:
                s_x += _F32(xw * ww) if ww > zero else zero
            s_w += ww
        if is_count:
            pooled = _F32(s_x / _F32(nwin))
            eps = 1.0
        else:
            pooled = _F32(s_x / _fmax(s_w, _F32(1e-9)))
            eps = 0.05 if k == RATIO else 0.3
        dev = abs(pooled - ep) if d == 0 else _F32(_F32(pooled - ep) * _F32(d))
        bound = 0.5 * max(np.float64(abs(ep)), eps) + np.float64(_F32(_F32(3.0) * seas[r]))
        looks_bad = ready and np.float64(dev) > bound and vr >= _F32(3.0) and zwin > 2.0
        suspicious = (trigger or looks_bad) and not vol_ok
        new_gated = suspicious and not gated[r] and not was_alarm
        gated_quiet[r] = 0 if suspicious else gated_quiet[r] + 1
        inband[r] = 0 if zd > half_persist else inband[r] + 1
        alarm[r] = was_alarm and not inband[r] >= recover_n
        gated[r] = gated[r] and not gated_quiet[r] >= recover_n
        if new:
            b = bits[r]
            back = _bit_length(b) - 1 if b else 0
            alarm[r] = True
            since[r] = t0 - back * bucket_ms
        elif new_gated:
            gated[r] = True
        fired_spike[r] = new
        fired_gated[r] = new_gated and not new
        # drift: EWMA of directional z
        z = z_out[r]
        if ready:
            zdir = z if d == 0 else _F32(z * _F32(d))
            ewma[r] = _F32(_F32(lam32 * zdir) + _F32(keep32 * ewma[r]))
        ew = ewma[r]
        beyond = np.float64(abs(ew)) > lim and (d == 0 or ew > zero)
        drift_run[r] = drift_run[r] + 1 if (beyond and not alarm[r]) else 0
        new_drift = drift_run[r] >= drift_buckets and not drift[r] and vol_ok and not alarm[r]
        drift[r] = False if drift_run[r] == 0 else (drift[r] or new_drift)
        fired_drift[r] = new_drift
        # this bucket stays out of the baselines if an alarm is on now
        held = alarm[r] and (t0 - since[r] < unlearned)
        a_recent[r, pos] = held
        if valid and not held:
            ww = one if is_count else w_in[r]
            acc_sum[r] += np.float64(_F32(x_t[r] * ww))
            acc_w[r] += np.float64(ww)
        acc_held[r] += held


def float_params(cfg: object, noise_alpha: float) -> np.ndarray:
    """The config's float parameters as ``bucket_kernel`` reads them (``F_*``)."""
    p = np.zeros(N_FLOAT_PARAMS, np.float64)
    lam, big_l = cfg.ewma_lambda, cfg.ewma_L  # type: ignore[attr-defined]
    p[F_Z_PERSIST] = cfg.z_persist  # type: ignore[attr-defined]
    p[F_Z_SINGLE] = cfg.z_single  # type: ignore[attr-defined]
    p[F_Z_WINDOW] = cfg.z_window  # type: ignore[attr-defined]
    p[F_MIN_SHARE] = cfg.min_share  # type: ignore[attr-defined]
    p[F_LAMBDA] = lam
    p[F_LIM] = big_l * math.sqrt(lam / (2 - lam))
    p[F_ALPHA] = noise_alpha
    p[F_SQRT_N] = float(np.sqrt(cfg.persist_n))  # type: ignore[attr-defined]
    return p
