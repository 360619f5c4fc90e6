"""Health and usage time series per bucket (10 s default), per route and per cohort.

Events are folded into *open* buckets; a bucket is *finished* once the watermark passes its end
(or on ``flush``) and becomes a ``Frame``: dense arrays over routes × cohort columns. Cohort
column 0 is the total; then, per dimension (dev, rel, geo), the first ``top_values`` values seen
get a column each and the rest share an "other" column, so the number of series grows linearly
with the number of dimensions. ``SeriesBank`` turns frames into rows of the anomaly detector and
keeps a history ring per row for screens.

Ingest cost: open buckets keep their counts in slot arrays (``BucketAggregator.cnt`` …), so a
batch is folded into all its buckets by one kernel pass (``_fold_batch_kernel``: counts, error
counts, latency bins, and the rows grouped by bucket for the evidence lists); flags and step
arrivals likewise (``_fold_flags_kernel``, ``_add_steps_kernel``). Python touches each bucket,
never each event. ``tests/analytics/test_ingest_kernels.py`` compares the kernels with
plain-Python references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.analytics.anomaly import COUNT, LATENCY, RATIO, SeasonalDetector
from uxtop.analytics.config import COHORT_DIMS, AnalyticsConfig
from uxtop.analytics.hist import LO_MS, N_BUCKETS, STEPS_PER_OCTAVE, quantiles
from uxtop.analytics.matchers import string_of
from uxtop.distinct import unique_first, unique_ints
from uxtop.schema import Kind

OTHER = "(other)"
_UNSEEN = -2


_LATE = np.int64(-(2**63))  # bucket of a row that came after its bucket was closed
#: a session not counted active in any bucket yet (``add_batch``'s ``last_bucket``)
NO_BUCKET = -(2**63)


@njit(cache=True, nogil=True)
def _buckets_kernel(ts, bucket_ms, finished_until, b):  # type: ignore[no-untyped-def]
    """``b[j]`` = bucket of row j, ``_LATE`` where that bucket is closed already;
    returns (late rows, lowest and highest open bucket)."""
    late = 0
    lo = np.int64(2**62)
    hi = -np.int64(2**62)
    inv = 1.0 / bucket_ms
    for j in range(ts.shape[0]):
        t = ts[j]
        if -(2**52) < t < 2**52:
            # a float multiply instead of an integer division; the product is within 1 of
            # t / bucket_ms (bucket_ms >= 1000), so one correction each way makes it exact
            bj = np.int64(np.floor(t * inv))
            if bj * bucket_ms > t:
                bj -= 1
            elif (bj + 1) * bucket_ms <= t:
                bj += 1
        else:
            bj = t // bucket_ms
        if bj * bucket_ms < finished_until:
            b[j] = _LATE
            late += 1
        else:
            b[j] = bj
            lo = min(lo, bj)
            hi = max(hi, bj)
    return late, lo, hi


@njit(cache=True, nogil=True)
def _touched_kernel(b, lo, present):  # type: ignore[no-untyped-def]
    for j in range(b.shape[0]):
        if b[j] != _LATE:
            present[b[j] - lo] = True


@njit(cache=True, nogil=True)
def _index_kernel(b, lo, lut, gi):  # type: ignore[no-untyped-def]
    """``gi[j]`` = index of row j's bucket among the batch's open buckets (−1: late)."""
    for j in range(b.shape[0]):
        gi[j] = -1 if b[j] == _LATE else lut[b[j] - lo]


@njit(cache=True, nogil=True, inline="always")
def _latency_bin(d, n_bins):  # type: ignore[no-untyped-def]
    # hist.bucket_of for one duration: NaN, ≤ 0 and ±inf go to bin 0
    x = np.log2(d / LO_MS) * STEPS_PER_OCTAVE
    if not np.isfinite(x):
        return 0
    h = np.floor(x) + 1
    if h < 0:
        return 0
    if h > n_bins - 1:
        return n_bins - 1
    return np.int64(h)


@njit(cache=True, nogil=True)
def _new_routes_kernel(gi, kind, route, request, route_lut, unseen):  # type: ignore[no-untyped-def]
    """Whether an open request row calls a route the lookup table has not seen yet."""
    for j in range(gi.shape[0]):
        if gi[j] >= 0 and kind[j] == request and route[j] >= 0:
            r = route[j]
            if r >= route_lut.shape[0] or route_lut[r] == unseen:
                return True
    return False


@njit(cache=True, nogil=True)
def _fold_batch_kernel(  # type: ignore[no-untyped-def]
    gi,
    kind,
    srow,
    route,
    status,
    value,
    msg,
    request,
    big,
    sids,
    scols,
    bslot,
    route_lut,
    cnt,
    err,
    hist,
    buckets,
    table_row,
    last_bucket,
    active,
    route_bucket,
    route_seen,
    route_sessions,
    req_off,
    req_route,
    req_sid,
    req_score,
    req_err,
    req_msg,
    err_msgs,
    ret_srow,
    ret_route,
):
    """One batch into the open buckets, grouped by bucket in row order (a counting sort).

    Per open request row on a kept route: +1 count, +is_err errors and +1 in its latency bin of
    each of its session's cohort columns (``cnt``/``err`` [slot, route, column], ``hist``
    [slot, route, column, bin]), and its route, session id,
    evidence score (errors first, then slowest), error flag and message into ``req_*`` (bucket
    g at ``req_off[g]:req_off[g+1]``; ``err_msgs[g]`` counts its errors with a message) and, in
    row order, its session row and route into ``ret_srow``/``ret_route``.

    Active sessions: a session with a user (non-request) event in bucket ``buckets[g]`` adds 1
    at each of its cohort columns in ``active[slot]`` unless it was counted there already, as
    ``last_bucket`` says (per session-table row, ``table_row[session row]``). A session's
    events come in time order, across batches too (the core's per-session floor), so the last
    bucket it was counted in is all that needs remembering (a session without a row, −1,
    one the table had to drop, is not counted). Likewise a session adds 1 to
    ``route_sessions[slot, route]`` for each route it calls in a bucket, remembered as the
    bucket (``route_bucket``) and the routes called there (``route_seen``, a bitset per
    table row). Returns (requests kept, requests on dropped routes).
    """
    nb = bslot.shape[0]
    n_bins = hist.shape[3]
    req_n = np.zeros(nb, np.int64)
    for j in range(gi.shape[0]):
        g = gi[j]
        if g >= 0 and kind[j] == request and route[j] >= 0 and route_lut[route[j]] >= 0:
            req_n[g] += 1
    req_off[0] = 0
    for g in range(nb):
        req_off[g + 1] = req_off[g] + req_n[g]
        req_n[g] = req_off[g]
        err_msgs[g] = 0
    n_ret = 0
    dropped = 0
    ncols = scols.shape[1]
    for j in range(gi.shape[0]):
        g = gi[j]
        if g < 0:
            continue
        s = srow[j]
        if kind[j] != request:
            t = table_row[s]
            if t >= 0 and last_bucket[t] != buckets[g]:
                last_bucket[t] = buckets[g]
                slot = bslot[g]
                for c_ in range(ncols):
                    c = scols[s, c_]
                    if c >= 0:
                        active[slot, c] += 1
            continue
        if route[j] < 0:
            continue
        r = route_lut[route[j]]
        if r < 0:
            dropped += 1
            continue
        slot = bslot[g]
        e = status[j] >= 500
        d = np.float64(value[j])
        h = _latency_bin(d, n_bins)
        for c_ in range(ncols):
            c = scols[s, c_]
            if c >= 0:
                cnt[slot, r, c] += 1
                err[slot, r, c] += e
                hist[slot, r, c, h] += 1
        if d != d:
            d = 0.0
        elif d > big:
            d = big
        elif d < -big:
            d = -big
        k = req_n[g]
        req_n[g] = k + 1
        req_route[k] = r
        req_sid[k] = sids[s]
        # distinct sessions per route and bucket: the routes a session called in the last
        # bucket it called any (in time order, like its user events)
        t = table_row[s]
        if t >= 0:
            if route_bucket[t] != buckets[g]:
                route_bucket[t] = buckets[g]
                for w_ in range(route_seen.shape[1]):
                    route_seen[t, w_] = 0
            bit = np.uint64(1) << np.uint64(r & 63)
            if not route_seen[t, r >> 6] & bit:
                route_seen[t, r >> 6] |= bit
                route_sessions[slot, r] += 1
        req_score[k] = (1e12 if e else 0.0) + d
        req_err[k] = e
        req_msg[k] = msg[j]
        if e and msg[j] >= 0:
            err_msgs[g] += 1
        ret_srow[n_ret] = s
        ret_route[n_ret] = r
        n_ret += 1
    return n_ret, dropped


@njit(cache=True, nogil=True)
def _fold_flags_kernel(gi, kind, cols, route_bits, bslot, flags, flags_route):  # type: ignore[no-untyped-def]
    """Per open flag: +1 in ``flags[slot, kind]`` at the total and at each of its session's
    cohort columns (``cols[i, 1:] >= 0``), and +1 in ``flags_route[slot, r, kind]`` for each
    route r its session called (bit r % 64 of word r // 64 of ``route_bits[i]``)."""
    for i in range(kind.shape[0]):
        if gi[i] < 0:
            continue
        slot = bslot[gi[i]]
        k = kind[i]
        flags[slot, k, 0] += 1
        for j in range(1, cols.shape[1]):
            c = cols[i, j]
            if c >= 0:
                flags[slot, k, c] += 1
        for w in range(route_bits.shape[1]):
            word = route_bits[i, w]
            r = w * 64
            while word != 0:
                if word & np.uint64(1):
                    flags_route[slot, r, k] += 1
                word >>= np.uint64(1)
                r += 1


@njit(cache=True, nogil=True)
def _add_steps_kernel(steps, gi, bslot, gstep, cols):  # type: ignore[no-untyped-def]
    """``steps[slot, g, c] += 1`` for each open arrival's global step and cohort column."""
    for i in range(gstep.shape[0]):
        if gi[i] < 0:
            continue
        slot = bslot[gi[i]]
        g = gstep[i]
        for j in range(cols.shape[1]):
            c = cols[i, j]
            if c >= 0:
                steps[slot, g, c] += 1


def _bucket_order(b: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """``np.argsort(b, kind="stable")``; on a batch's few buckets a 16-bit key (radix sort)."""
    if b.size and int(b.max()) - int(b.min()) < 1 << 16:
        return np.argsort((b - b.min()).astype(np.uint16), kind="stable")
    return np.argsort(b, kind="stable")


def top_desc(score: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    """``np.argsort(-score)[:k]``, the same indices in the same order. When the ``k + 1``
    highest scores are distinct the answer is unique, so a partial selection finds it; with a
    tie among them the full (unstable) sort decides, as before."""
    if score.shape[0] <= 4 * k:
        return np.argsort(-score)[:k]
    neg = -score
    part = np.argpartition(neg, k)[: k + 1]
    vals = neg[part]
    o = np.argsort(vals)
    sv = vals[o]
    if (sv[1:] > sv[:-1]).all():
        return part[o][:k]
    return np.argsort(neg)[:k]


@njit(cache=True, nogil=True)
def _first_distinct_kernel(group, value, k, n_groups, out):  # type: ignore[no-untyped-def]
    picked = np.empty((n_groups, k), value.dtype)
    n_picked = np.zeros(n_groups, np.int64)
    m = 0
    for i in range(group.shape[0]):
        g = group[i]
        c = n_picked[g]
        if c == k:
            continue
        v = value[i]
        seen = False
        for q in range(c):
            if picked[g, q] == v:
                seen = True
                break
        if not seen:
            picked[g, c] = v
            n_picked[g] = c + 1
            out[m] = i
            m += 1
    return m


def first_distinct(
    group: npt.NDArray[np.int64], value: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.intp]:
    """Indices of each group's first ``k`` distinct values, in order of first appearance; the
    result in input order. ``group`` >= 0 (a small range: a list of ``k`` per group value).
    One pass that stops looking at a group once it is full, comparing with its few picks."""
    if group.shape[0] == 0 or k <= 0:
        return np.empty(0, np.intp)
    out = np.empty(group.shape[0], np.intp)
    m = _first_distinct_kernel(
        np.ascontiguousarray(group, dtype=np.int64),
        np.ascontiguousarray(value, dtype=np.int64),
        k,
        int(group.max()) + 1,
        out,
    )
    return out[:m]


class CohortColumns:
    """Maps a session's (dev, rel, geo) intern ids to cohort columns."""

    def __init__(self, top_values: int) -> None:
        self.k = top_values
        self.ncols = 1 + len(COHORT_DIMS) * (top_values + 1)
        self._maps: list[dict[int, int]] = [{} for _ in COHORT_DIMS]
        self._luts = [np.full(64, _UNSEEN, np.int64) for _ in COHORT_DIMS]  # the maps as arrays
        self.labels: list[tuple[str, str]] = [("total", "")] + [("", "")] * (self.ncols - 1)
        self._ids: list[int | None] = [None] * self.ncols
        for d, dim in enumerate(COHORT_DIMS):
            self.labels[self._other(d)] = (dim, OTHER)

    def _base(self, d: int) -> int:
        return 1 + d * (self.k + 1)

    def _other(self, d: int) -> int:
        return self._base(d) + self.k

    def columns(self, d: int, ids: npt.NDArray[np.int32], strings: object) -> npt.NDArray[np.int64]:
        """Column of each intern id of dimension ``d`` (−1 where absent); new values get
        columns in ascending intern id, through a lookup table instead of a dict per id."""
        out = np.empty(ids.shape[0], np.int64)
        self.columns_into(d, ids, strings, out)
        return out

    def columns_into(
        self, d: int, ids: npt.NDArray[np.int32], strings: object, out: npt.NDArray[np.int64]
    ) -> None:
        """``columns`` written into ``out`` (a column of the caller's array)."""
        m = self._maps[d]
        if _columns_kernel(ids, self._luts[d], out):
            return
        # values the table has not seen (or beyond it): register them, then look up again
        ids64 = ids.astype(np.int64)
        lut = self._luts[d]
        top = int(ids64.max()) + 1 if ids64.size else 0
        if top > lut.shape[0]:
            lut = self._luts[d] = np.concatenate(
                [lut, np.full(max(top, 2 * lut.shape[0]) - lut.shape[0], _UNSEEN, np.int64)]
            )
        unseen = (ids64 >= 0) & (lut[np.maximum(ids64, 0)] == _UNSEEN)
        for v in np.unique(ids64[unseen]).tolist():
            if len(m) < self.k:
                c = self._base(d) + len(m)
                self.labels[c] = (COHORT_DIMS[d], string_of(strings, COHORT_DIMS[d], v) or "?")
                self._ids[c] = v
            else:
                c = self._other(d)
            m[v] = c
            lut[v] = c
        _columns_kernel(ids, lut, out)


@njit(cache=True, nogil=True)
def _columns_kernel(ids, lut, out):  # type: ignore[no-untyped-def]
    """``out[j] = lut[ids[j]]`` (−1 for a negative id); False if an id is unseen or beyond."""
    ok = True
    for j in range(ids.shape[0]):
        v = ids[j]
        if v < 0:
            out[j] = -1
        elif v >= lut.shape[0] or lut[v] == _UNSEEN:
            out[j] = _UNSEEN
            ok = False
        else:
            out[j] = lut[v]
    return ok


@dataclass
class Frame:
    """One finished bucket. Arrays are indexed [route, column] unless said otherwise."""

    t0: int
    count: npt.NDArray[np.int64]
    errors: npt.NDArray[np.int64]
    q: npt.NDArray[np.float32]  # [route, column, (p50, p95, p99)] ms
    route_sessions: npt.NDArray[np.int64]  # [route] distinct sessions calling it
    active: npt.NDArray[np.int64]  # [column] distinct sessions with any event
    flags: npt.NDArray[np.int64]  # [flag kind, column]
    steps: npt.NDArray[np.int64]  # [global step, column] arrivals
    flags_route: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros((0, 0), np.int64)
    )  # [route, flag kind]
    flag_examples: dict[int, list[int]] = field(default_factory=dict)  # flag kind → session ids
    examples: dict[int, list[int]] = field(
        default_factory=dict
    )  # route → session ids (errors, slowest)
    messages: dict[int, dict[int, int]] = field(default_factory=dict)  # route → msg id → count


class _Open:
    """An open bucket: its ``slot`` in the aggregator's count arrays, and the evidence lists."""

    __slots__ = (
        "slot",
        "examples",
        "msgs",
        "flag_examples",
    )

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.examples: dict[int, list[tuple[float, int]]] = {}
        self.msgs: dict[int, dict[int, int]] = {}
        self.flag_examples: dict[int, list[int]] = {}


def _regrow(a: npt.NDArray, shape: tuple[int, ...]) -> npt.NDArray:
    """``a`` zero-padded to ``shape`` (each axis at least as long)."""
    if a.shape == shape:
        return a
    out = np.zeros(shape, a.dtype)
    out[tuple(slice(0, k) for k in a.shape)] = a
    return out


class BucketAggregator:
    """Folds batches (and flags, step arrivals) into per-bucket frames."""

    def __init__(self, cfg: AnalyticsConfig) -> None:
        self.cfg = cfg
        self.bucket_ms = cfg.bucket_s * 1000
        self.cohorts = CohortColumns(cfg.anomaly.top_values)
        self.route_of: dict[int, int] = {}  # route intern id → local index
        self._route_lut = np.full(64, _UNSEEN, np.int64)  # the same as an array
        self.route_labels: list[str] = []
        self.route_ids: list[int] = []
        self.flag_names: list[str] = []
        self.n_steps = 0
        self.open: dict[int, _Open] = {}
        # counts of the open buckets, one slot each (reused once a bucket closes): kernels fold
        # a whole batch into all its buckets at once. Axes past the slot grow with routes (R),
        # flag kinds (F) and funnel steps (S); cells beyond the current R/F/S stay zero.
        C = self.cohorts.ncols
        self.cnt = np.zeros((0, 0, C), np.int64)  # [slot, route, column]
        self.err = np.zeros((0, 0, C), np.int64)
        self.hist = np.zeros((0, 0, C, N_BUCKETS), np.int32)  # latency bins
        self.flags = np.zeros((0, 0, C), np.int64)  # [slot, flag kind, column]
        self.steps = np.zeros((0, 0, C), np.int64)  # [slot, global step, column]
        self.flags_route = np.zeros((0, 0, 0), np.int64)  # [slot, route, flag kind]
        self.active = np.zeros((0, C), np.int64)  # [slot, column]: sessions with a user event
        self.route_sessions = np.zeros((0, 0), np.int64)  # [slot, route]: sessions calling it
        self._free_slots: list[int] = []
        self._n_slots = 0
        self.finished_until = -(2**62)  # buckets starting before this are closed
        self.late_events = 0
        self.dropped_routes = 0

    def _bucket(self, b: int) -> _Open:
        o = self.open.get(b)
        if o is None:
            if self._free_slots:
                slot = self._free_slots.pop()
            else:
                slot = self._n_slots
                self._n_slots += 1
            o = _Open(slot)
            self.open[b] = o
        return o

    def _fit(self) -> None:
        """Count arrays long enough for every slot, route, flag kind and step in use."""
        K = max(self._n_slots, self.cnt.shape[0])
        if K > self.cnt.shape[0]:
            K = max(K, 2 * self.cnt.shape[0], 4)
        R = max(len(self.route_labels), self.cnt.shape[1])
        if R > self.cnt.shape[1]:
            R = max(R, 2 * self.cnt.shape[1], 4)
        F = max(len(self.flag_names), self.flags.shape[1])
        S = max(self.n_steps, self.steps.shape[1])
        C = self.cohorts.ncols
        self.cnt = _regrow(self.cnt, (K, R, C))
        self.err = _regrow(self.err, (K, R, C))
        self.hist = _regrow(self.hist, (K, R, C, N_BUCKETS))
        self.flags = _regrow(self.flags, (K, F, C))
        self.steps = _regrow(self.steps, (K, S, C))
        self.flags_route = _regrow(self.flags_route, (K, R, F))
        self.active = _regrow(self.active, (K, C))
        self.route_sessions = _regrow(self.route_sessions, (K, R))

    def _open_buckets(
        self, ts: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], list[_Open]]:
        """For each row the index of its bucket among the open buckets the rows fall in (−1 if
        the bucket is closed; counted in ``late_events``); those buckets ascending, their slots
        and their ``_Open`` records."""
        n = ts.shape[0]
        b = np.empty(n, np.int64)
        late, lo, hi = _buckets_kernel(
            np.ascontiguousarray(ts, dtype=np.int64), self.bucket_ms, self.finished_until, b
        )
        self.late_events += int(late)
        if late == n:
            return np.full(n, -1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), []
        gi = np.empty(n, np.int64)
        if hi - lo < 1 << 16:
            present = np.zeros(hi - lo + 1, np.bool_)
            _touched_kernel(b, lo, present)
            buckets = lo + np.flatnonzero(present)
            lut = np.cumsum(present) - 1
            _index_kernel(b, lo, lut, gi)
        else:
            buckets = unique_ints(b[b != _LATE])
            gi[:] = np.where(b == _LATE, -1, np.searchsorted(buckets, b))
        opens = [self._bucket(bk) for bk in buckets.tolist()]
        self._fit()
        return gi, buckets, np.array([o.slot for o in opens], np.int64), opens

    def session_columns(self, batch: Any, strings: object) -> npt.NDArray[np.int64]:
        """[n_sessions, 1 + dims] cohort columns of each session row of the batch (col 0 = total)."""
        ns = batch.n_sessions
        out = np.zeros((1 + len(COHORT_DIMS), ns), dtype=np.int64)
        for d, dim in enumerate(COHORT_DIMS):
            self.cohorts.columns_into(d, batch.sessions[dim], strings, out[d + 1])
        return np.ascontiguousarray(out.T)

    def _routes(self, ids: npt.NDArray[np.int32], strings: object) -> npt.NDArray[np.int64]:
        """Local index of each route intern id (−1: over ``max_routes``); new routes get indices
        in ascending intern id, via a lookup table instead of a dict per distinct id."""
        ids = ids.astype(np.int64)
        top = int(ids.max()) + 1 if ids.size else 0
        lut = self._route_lut
        if top > lut.shape[0]:
            lut = self._route_lut = np.concatenate(
                [lut, np.full(max(top, 2 * lut.shape[0]) - lut.shape[0], _UNSEEN, np.int64)]
            )
        out = lut[ids]
        unseen = out == _UNSEEN
        if unseen.any():
            for v in np.unique(ids[unseen]).tolist():
                if len(self.route_labels) >= self.cfg.max_routes:
                    r = -1
                else:
                    r = len(self.route_labels)
                    self.route_labels.append(string_of(strings, "route", v) or "(no route)")
                    self.route_ids.append(v)
                self.route_of[v] = r
                lut[v] = r
            out = lut[ids]
        return out

    def add_batch(
        self,
        batch: Any,
        strings: object,
        scols: npt.NDArray[np.int64],
        table_row: npt.NDArray[np.int64],
        per_session: Mapping[str, npt.NDArray],
    ) -> tuple[npt.NDArray, npt.NDArray]:
        """Fold a batch in; returns (session row, local route) of its requests, for evidence.

        One kernel folds the counts, error counts and latency histograms of every open bucket,
        the active sessions and the sessions per route, and groups the requests by bucket;
        Python then touches each bucket, never each event. ``scols`` are the batch sessions'
        cohort columns. ``per_session`` is state the caller keeps per session across batches,
        at row ``table_row[i]`` for batch session i: ``bucket``, the bucket it was last counted
        active in, and ``route_bucket``/``route_seen``, the last bucket it called a route in
        and those routes (a bitset, bit r of word r // 64); ``NO_BUCKET`` / 0 at first.
        """
        cols = batch.columns
        n = cols["ts"].shape[0]
        none = (np.empty(0, np.int64), np.empty(0, np.int64))
        if n == 0:
            return none
        gi, buckets, bslot, opens = self._open_buckets(cols["ts"])
        if not opens:
            return none
        kind, route = cols["kind"], cols["route"]
        if _new_routes_kernel(gi, kind, route, int(Kind.REQUEST), self._route_lut, _UNSEEN):
            # new routes get local indices in ascending intern id, as the lookup table's fill
            req = (gi >= 0) & (kind == Kind.REQUEST) & (route >= 0)
            self._routes(route[req], strings)
            self._fit()
        sids = batch.sessions["session_id"].astype(np.int64)
        nb = buckets.shape[0]
        scols = np.ascontiguousarray(scols, dtype=np.int64)
        req_off = np.empty(nb + 1, np.int64)
        req_route = np.empty(n, np.int64)
        req_sid = np.empty(n, np.int64)
        err_msgs = np.empty(nb, np.int64)
        req_score = np.empty(n, np.float64)
        req_err = np.empty(n, np.bool_)
        req_msg = np.empty(n, np.int64)
        ret_srow = np.empty(n, np.int64)
        ret_route = np.empty(n, np.int64)
        value = cols["value"]
        n_ret, dropped = _fold_batch_kernel(
            gi,
            kind,
            cols["session"],
            route,
            cols["status"],
            value,
            cols["msg"],
            int(Kind.REQUEST),
            float(np.finfo(value.dtype).max),
            sids,
            scols,
            bslot,
            self._route_lut,
            self.cnt,
            self.err,
            self.hist,
            buckets,
            np.ascontiguousarray(table_row, dtype=np.int64),
            per_session["bucket"],
            self.active,
            per_session["route_bucket"],
            per_session["route_seen"],
            self.route_sessions,
            req_off,
            req_route,
            req_sid,
            req_score,
            req_err,
            req_msg,
            err_msgs,
            ret_srow,
            ret_route,
        )
        self.dropped_routes += int(dropped)
        E = self.cfg.example_sessions
        for g, o in enumerate(opens):
            ra, re = int(req_off[g]), int(req_off[g + 1])
            if re == ra:
                continue
            rr, ss = req_route[ra:re], req_sid[ra:re]
            # evidence: the worst requests (errors first, then slowest) with their sessions and messages
            score = req_score[ra:re]
            top = top_desc(score, 4 * E)
            tops = zip(rr[top].tolist(), score[top].tolist(), ss[top].tolist(), strict=True)
            for r, sc_, s_ in tops:
                lst = o.examples.setdefault(r, [])
                if len(lst) < E * 2:
                    lst.append((sc_, s_))
            n_em = int(err_msgs[g])
            if n_em == 0:
                continue
            msg = req_msg[ra:re]
            em = req_err[ra:re] & (msg >= 0)
            if n_em <= 64:
                # (route, message) counts, in order of first appearance; a loop for a few
                for r, m in zip(rr[em].tolist(), msg[em].tolist(), strict=True):
                    d = o.msgs.setdefault(r, {})
                    d[m] = d.get(m, 0) + 1
            else:
                key = rr[em] * (1 << 32) + msg[em]
                uk, first, cnt = unique_first(key, counts=True)
                fo = np.argsort(first)
                for kk_, c in zip(uk[fo].tolist(), cnt[fo].tolist(), strict=True):
                    d = o.msgs.setdefault(kk_ >> 32, {})
                    mid = kk_ & 0xFFFFFFFF
                    d[mid] = d.get(mid, 0) + c
        return ret_srow[:n_ret], ret_route[:n_ret]

    def add_flags(
        self,
        kind: npt.NDArray,
        session_id: npt.NDArray,
        start_ts: npt.NDArray,
        names: list[str],
        cols: npt.NDArray[np.int64],
        route_bits: npt.NDArray[np.uint64],
    ) -> None:
        """Count flags per bucket, cohort column, and per route the flagged session called.

        ``cols`` [k, 1 + dims] are each flag's session cohort columns (−1: unknown session),
        ``route_bits`` [k, words] the routes its session called (bit r of word r // 64).
        """
        self.flag_names = list(names) if len(names) > len(self.flag_names) else self.flag_names
        kind = np.ascontiguousarray(kind, dtype=np.int64)
        sid = np.asarray(session_id).astype(np.int64)
        gi, _, bslot, opens = self._open_buckets(np.asarray(start_ts))
        if not opens:
            return
        _fold_flags_kernel(
            gi,
            kind,
            np.ascontiguousarray(cols, dtype=np.int64),
            np.ascontiguousarray(route_bits, dtype=np.uint64),
            bslot,
            self.flags,
            self.flags_route,
        )
        # examples: per bucket and kind, the first E distinct sessions, in flag order. A list
        # holding j already skips at most j of this batch's first E candidates and needs E − j.
        E = self.cfg.example_sessions
        inb = np.flatnonzero(gi >= 0)
        n_kinds = int(kind.max()) + 1 if kind.size else 1
        pick = inb[first_distinct(gi[inb] * n_kinds + kind[inb], sid[inb], E)]
        for g, k, s in zip(gi[pick].tolist(), kind[pick].tolist(), sid[pick].tolist(), strict=True):
            ex = opens[g].flag_examples.setdefault(k, [])
            if len(ex) < E and s not in ex:
                ex.append(s)

    def add_steps(self, ts: npt.NDArray, gstep: npt.NDArray, cols: npt.NDArray[np.int64]) -> None:
        """Funnel step arrivals: ``gstep`` is the global step index, ``cols`` [k, 1 + dims]."""
        if gstep.shape[0] == 0:
            return
        late_before = self.late_events
        gi, _, bslot, opens = self._open_buckets(np.asarray(ts))
        self.late_events = late_before  # late arrivals are not extra late events
        if not opens:
            return
        _add_steps_kernel(
            self.steps,
            gi,
            bslot,
            np.ascontiguousarray(gstep, dtype=np.int64),
            np.ascontiguousarray(cols, dtype=np.int64),
        )

    def finish(self, until_ms: int) -> list[Frame]:
        """Close every open bucket that ends at or before ``until_ms`` (and fill empty gaps)."""
        B = self.bucket_ms
        done = sorted(b for b in self.open if (b + 1) * B <= until_ms)
        if not done:
            return []
        frames = []
        start = self.finished_until // B if self.finished_until > -(2**61) else done[0]
        for b in range(max(start, done[0] - 10_000), done[-1] + 1):
            o = self.open.pop(b, None)
            frames.append(self._frame(b, o))
        self.finished_until = (done[-1] + 1) * B
        return frames

    def _frame(self, b: int, o: _Open | None) -> Frame:
        R, C = len(self.route_labels), self.cohorts.ncols
        F, S = len(self.flag_names), self.n_steps
        if o is None:
            o = _Open(-1)
            cnt, err = np.zeros((R, C), np.int64), np.zeros((R, C), np.int64)
            flags, steps = np.zeros((F, C), np.int64), np.zeros((S, C), np.int64)
            flags_route = np.zeros((R, F), np.int64)
            hist = np.zeros((R, C, N_BUCKETS), np.int32)
            active = np.zeros(C, np.int64)
            route_sessions = np.zeros(R, np.int64)
        else:
            self._fit()
            k = o.slot
            cnt, err = self.cnt[k, :R].copy(), self.err[k, :R].copy()
            flags, steps = self.flags[k, :F].copy(), self.steps[k, :S].copy()
            flags_route = self.flags_route[k, :R, :F].copy()
            hist = self.hist[k, :R]
            active = self.active[k].copy()
            route_sessions = self.route_sessions[k, :R].copy()
        examples = {
            r: [s for _, s in sorted(lst, reverse=True)][: self.cfg.example_sessions]
            for r, lst in o.examples.items()
        }
        # quantiles only where there were requests: most (route, cohort) cells of a bucket are empty
        q = np.full(cnt.shape + (3,), np.nan, dtype=np.float32)
        nz = cnt > 0
        if nz.any():
            q[nz] = quantiles(hist[nz])
        if o.slot >= 0:
            # the slot is reused by a later bucket: back to zero. Latency bins are counted only
            # with a request (cnt > 0), so only those cells of the slot's histograms need it
            k = o.slot
            hist[nz] = 0
            for a in (
                self.cnt,
                self.err,
                self.flags,
                self.steps,
                self.flags_route,
                self.active,
                self.route_sessions,
            ):
                a[k] = 0
            self._free_slots.append(k)
        return Frame(
            t0=b * self.bucket_ms,
            count=cnt,
            errors=err,
            q=q,
            route_sessions=route_sessions,
            active=active,
            flags=flags,
            steps=steps,
            flags_route=flags_route,
            flag_examples=o.flag_examples,
            examples=examples,
            messages=o.msgs,
        )


# -- series rows ---------------------------------------------------------------------------

#: family → (detector kind, direction, detect?) ; direction +1: only rises are bad, −1: only drops
FAMILIES: dict[str, tuple[int, int, bool]] = {
    "route.count": (COUNT, 0, True),
    "route.error_rate": (RATIO, +1, True),
    "route.p95": (LATENCY, +1, True),
    "route.p50": (LATENCY, +1, False),
    "route.p99": (LATENCY, +1, False),
    "sessions.active": (COUNT, 0, True),
    "flags": (COUNT, +1, True),
    "step.arrivals": (COUNT, 0, False),
    "step.conversion": (RATIO, -1, True),
}


@dataclass(frozen=True)
class SeriesKey:
    family: str
    entity: str  # route, flag kind, "funnel/step", or "" for sessions
    dim: str  # "total" or a cohort dimension
    value: str  # cohort value ("" for totals)

    def label(self) -> str:
        scope = f"{self.entity}" if self.entity else ""
        if self.dim != "total":
            scope = f"{scope} {self.dim}={self.value}".strip()
        return f"{self.family}[{scope}]" if scope else self.family


def _push_families(R: int, F: int, S: int) -> tuple[tuple[str, int], ...]:
    """The families ``_push_kernel`` fills, in its argument order, with their entity counts."""
    route = tuple((f, R) for f in ("route.count", "route.error_rate", "route.p50", "route.p95",
                                    "route.p99"))  # fmt: skip
    return route + (("sessions.active", 1), ("flags", F), ("step.arrivals", S),
                    ("step.conversion", S))  # fmt: skip


#: a series matrix cell whose row the bank refused (``max_series`` reached): never asked again
_REFUSED = -2


@njit(cache=True, nogil=True, inline="always")
def _put_cells(M, V, W, P, x, w):  # type: ignore[no-untyped-def]
    """``x[M] = V``, ``w[M] = W`` over the cells ``P`` marks; returns how many of those have
    no row yet (−1 in ``M``)."""
    need = 0
    for e in range(P.shape[0]):
        for c in range(P.shape[1]):
            if P[e, c]:
                r = M[e, c]
                if r >= 0:
                    x[r] = V[e, c]
                    w[r] = W[e, c]
                elif r == -1:
                    need += 1
    return need


@njit(cache=True, nogil=True)
def _push_kernel(  # type: ignore[no-untyped-def]
    count, errors, q, active, flags, steps, step_prev,
    m_count, m_err, m_p50, m_p95, m_p99, m_active, m_flags, m_arr, m_conv,
    is_count, x, w,
):  # fmt: skip
    """``SeriesBank.push_reference``'s values and weights of one frame, for series that all have
    a row already: returns the number of present cells without one (the caller then takes the
    reference path, which registers them). Routes: count, error rate, p95 per column, p50 and
    p99 on totals; active sessions; flags per kind; step arrivals and conversion."""
    for r in range(x.shape[0]):
        x[r] = 0.0 if is_count[r] else np.nan
        w[r] = 0.0
    R, C = count.shape
    cnt = count.astype(np.float64)
    present = cnt > 0
    total_only = present.copy()
    total_only[:, 1:] = False
    err = errors / np.maximum(cnt, 1.0)
    need = _put_cells(m_count, cnt, cnt, present, x, w)
    need += _put_cells(m_err, err, cnt, present, x, w)
    need += _put_cells(m_p50, q[:, :, 0], cnt, total_only, x, w)
    need += _put_cells(m_p95, q[:, :, 1], cnt, present, x, w)
    need += _put_cells(m_p99, q[:, :, 2], cnt, total_only, x, w)
    act = active.astype(np.float64).reshape(1, C)
    need += _put_cells(m_active, act, act, act > 0, x, w)
    f = flags.astype(np.float64)
    need += _put_cells(m_flags, f, f, f > 0, x, w)
    a = steps.astype(np.float64)
    base = np.zeros_like(a)
    for s_ in range(a.shape[0]):
        if step_prev[s_] >= 0:
            base[s_] = a[step_prev[s_]]
    conv = np.minimum(a / np.maximum(base, 1.0), 1.0)
    need += _put_cells(m_arr, a, a, a > 0, x, w)
    need += _put_cells(m_conv, conv, base, base > 0, x, w)
    return need


class SeriesBank:
    """Registry of series rows + their detector + a history ring per row for screens."""

    def __init__(self, cfg: AnalyticsConfig) -> None:
        self.cfg = cfg
        self.detector = SeasonalDetector(cfg.anomaly, cfg.bucket_s * 1000, capacity=512)
        self.keys: list[SeriesKey] = []
        self.detect: list[bool] = []
        self._rows: dict[tuple[str, int, int], int] = {}  # (family, entity index, column) → row
        self.entity_labels: dict[str, list[str]] = {}
        self.hist_len = cfg.history_buckets
        self.history = np.full((512, self.hist_len), np.nan, dtype=np.float32)
        self.hist_t0 = np.full(self.hist_len, -1, dtype=np.int64)
        self.n_frames = 0
        self.full = False
        self._mats: dict[str, npt.NDArray[np.int64]] = {}
        self.ncols = 1 + len(COHORT_DIMS) * (cfg.anomaly.top_values + 1)
        self._no_cells = np.full((0, self.ncols), -1, np.int64)  # a family without entities
        self._is_count = np.zeros(512, dtype=np.bool_)
        self._label_rows: dict[str, int] = {}
        self._labelled = 0

    @property
    def n(self) -> int:
        return len(self.keys)

    def label_rows(self) -> dict[str, int]:
        """Series label → row (the last row of a label), kept up to date as series are added:
        keys are frozen and only ever appended, so each is labelled once, not on every tick."""
        for i in range(self._labelled, len(self.keys)):
            self._label_rows[self.keys[i].label()] = i
        self._labelled = len(self.keys)
        return self._label_rows

    def row(
        self, family: str, entity: int, col: int, entity_label: str, col_label: tuple[str, str]
    ) -> int:
        k = (family, entity, col)
        r = self._rows.get(k)
        if r is not None:
            return r
        if self.n >= self.cfg.anomaly.max_series:
            self.full = True
            return -1
        kind, direction, detect = FAMILIES[family]
        parent = None
        if col:
            parent = self._rows.get((family, entity, 0))
            if parent is None:
                parent = self.row(family, entity, 0, entity_label, ("total", ""))
                self._matrix(family, entity + 1, self.ncols)[entity, 0] = parent
        min_vol = self.cfg.anomaly.min_sessions if family == "step.conversion" else None
        r = self.detector.add_row(kind, direction if detect else 0, parent, min_vol)
        if not detect:
            self.detector.direction[r] = 0
            self.detector.min_volume[r] = np.inf  # kept for screens, never alarmed
        assert r == self.n
        dim, val = col_label
        self.keys.append(
            SeriesKey(family, entity_label, dim if col else "total", val if col else "")
        )
        self.detect.append(detect)
        self._rows[k] = r
        if r >= self.history.shape[0]:
            self.history = np.concatenate([self.history, np.full_like(self.history, np.nan)])
            self._is_count = np.concatenate([self._is_count, np.zeros_like(self._is_count)])
        self._is_count[r] = kind == COUNT
        return r

    def lookup(self, family: str, entity: int, col: int = 0) -> int:
        return self._rows.get((family, entity, col), -1)

    def _matrix(self, family: str, E: int, C: int) -> npt.NDArray[np.int64]:
        m = self._mats.get(family)
        if m is None or m.shape[0] < E:
            new = np.full((max(E, 8) * 2, C), -1, dtype=np.int64)
            if m is not None:
                new[: m.shape[0]] = m
            m = self._mats[family] = new
        return m

    def _put(
        self,
        out: list,
        family: str,
        V: npt.NDArray,
        W: npt.NDArray,
        P: npt.NDArray[np.bool_],
        ent_labels: list[str],
        col_labels: list[tuple[str, str]],
    ) -> None:
        E, C = P.shape
        M = self._matrix(family, E, C)
        need = P & (M[:E] == -1)
        if need.any():
            # register totals before cohorts, so a cohort row can name its parent
            for e, c in sorted(
                map(tuple, np.argwhere(need).tolist()), key=lambda ec: (ec[1] != 0, ec)
            ):
                r = self.row(family, e, c, ent_labels[e], col_labels[c])
                M[e, c] = r if r >= 0 else _REFUSED
        sel = P & (M[:E] >= 0)
        if sel.any():
            out.append((M[:E][sel], V[sel], W[sel]))

    def push(
        self, frame: Frame, agg: BucketAggregator, step_labels: list[str], step_prev: list[int]
    ) -> tuple[npt.NDArray, npt.NDArray]:
        """Values and weights of every row for ``frame`` (NaN/0 where the row has no data),
        also written to the history ring. Once every present cell has its series row (all but
        the first buckets) one kernel call fills them; else ``values_reference`` registers."""
        xw = self._values_kernel(frame, agg, step_labels, step_prev)
        x, w = xw if xw is not None else self.values_reference(frame, agg, step_labels, step_prev)
        pos = self.n_frames % self.hist_len
        self.history[: self.n, pos] = x
        self.history[self.n :, pos] = np.nan
        self.hist_t0[pos] = frame.t0
        self.n_frames += 1
        return x, w

    def _values_kernel(
        self, frame: Frame, agg: BucketAggregator, step_labels: list[str], step_prev: list[int]
    ) -> tuple[npt.NDArray, npt.NDArray] | None:
        """``values_reference`` by ``_push_kernel``; None when some cell needs a new row."""
        R, C = len(agg.route_labels), agg.cohorts.ncols
        count, errors, q = frame.count[:R], frame.errors[:R], frame.q[:R]
        flags = frame.flags[: len(agg.flag_names)]
        steps = frame.steps[: len(step_labels)]
        x = np.empty(self.n, np.float32)
        w = np.empty(self.n, np.float32)
        args: list[npt.NDArray] = [count, errors, q, frame.active, flags, steps]
        args.append(np.asarray(step_prev, np.int64))
        for family, E in _push_families(R, flags.shape[0], steps.shape[0]):
            m = self._mats.get(family) if E else self._no_cells
            if m is None or m.shape[0] < E or m.shape[1] != C:
                return None
            args.append(m)
        args += [self._is_count[: self.n], x, w]
        return None if _push_kernel(*args) else (x, w)

    def values_reference(
        self, frame: Frame, agg: BucketAggregator, step_labels: list[str], step_prev: list[int]
    ) -> tuple[npt.NDArray, npt.NDArray]:
        """Values and weights of every row for ``frame``, registering the rows of cells seen for
        the first time: the numpy meaning of ``_push_kernel``."""
        labels = agg.cohorts.labels
        C = agg.cohorts.ncols
        out: list[tuple[npt.NDArray, npt.NDArray, npt.NDArray]] = []
        R = len(agg.route_labels)
        if R:
            cnt = frame.count[:R].astype(np.float64)
            present = cnt > 0
            total_only = present & (np.arange(C) == 0)[None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                err = frame.errors[:R] / np.maximum(cnt, 1)
            rl = agg.route_labels
            self._put(out, "route.count", cnt, cnt, present, rl, labels)
            self._put(out, "route.error_rate", err, cnt, present, rl, labels)
            self._put(out, "route.p50", frame.q[:R, :, 0], cnt, total_only, rl, labels)
            self._put(out, "route.p95", frame.q[:R, :, 1], cnt, present, rl, labels)
            self._put(out, "route.p99", frame.q[:R, :, 2], cnt, total_only, rl, labels)
        act = frame.active.astype(np.float64)[None, :]
        self._put(out, "sessions.active", act, act, act > 0, ["sessions"], labels)
        if agg.flag_names:
            f = frame.flags[: len(agg.flag_names)].astype(np.float64)
            self._put(out, "flags", f, f, f > 0, agg.flag_names, labels)
        if step_labels:
            a = frame.steps[: len(step_labels)].astype(np.float64)
            self._put(out, "step.arrivals", a, a, a > 0, step_labels, labels)
            prev = np.asarray(step_prev, dtype=np.int64)
            has = prev >= 0
            base = np.zeros_like(a)
            base[has] = a[prev[has]]
            with np.errstate(invalid="ignore", divide="ignore"):
                conv = np.minimum(a / np.maximum(base, 1), 1.0)
            self._put(out, "step.conversion", conv, base, base > 0, step_labels, labels)
        x = np.full(self.n, np.nan, dtype=np.float32)
        w = np.zeros(self.n, dtype=np.float32)
        # rows that exist but saw nothing this bucket: for counts that is a real zero
        x[self._is_count[: self.n]] = 0.0
        for rows, v, ww in out:
            x[rows] = v
            w[rows] = ww
        return x, w

    def tail(
        self, row: int, n: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(bucket start ms, value) of the last ``n`` finished buckets of ``row``, oldest first."""
        m = min(self.n_frames, self.hist_len) if n is None else min(n, self.n_frames, self.hist_len)
        idx = (self.n_frames - m + np.arange(m)) % self.hist_len
        return self.hist_t0[idx].copy(), self.history[row, idx].copy()
