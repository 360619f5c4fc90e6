"""Health and usage time series per bucket (10 s default), per route and per cohort.

Events are folded into *open* buckets; a bucket is *finished* once the watermark passes its end
(or on ``flush``) and becomes a ``Frame``: dense arrays over routes × cohort columns. Cohort
column 0 is the total; then, per dimension (dev, rel, geo), the first ``top_values`` values seen
get a column each and the rest share an "other" column, so the number of series grows linearly
with the number of dimensions. ``SeriesBank`` turns frames into rows of the anomaly detector and
keeps a history ring per row for screens.

Ingest cost: rows are grouped by bucket with one stable sort per batch; per bucket, requests are
folded into counts, error counts and latency histograms by ``_fold_requests_kernel`` and step
arrivals by ``_add_steps_kernel`` (numba; plain-Python twins in
``tests/analytics/test_kernels_equal_legacy.py``). Python touches each bucket, never each event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.analytics.anomaly import COUNT, LATENCY, RATIO, SeasonalDetector
from uxtop.analytics.config import COHORT_DIMS, AnalyticsConfig
from uxtop.analytics.grouping import first_occurrences
from uxtop.analytics.hist import N_BUCKETS, bucket_of, quantiles
from uxtop.analytics.matchers import string_of
from uxtop.schema import Kind

OTHER = "(other)"
_UNSEEN = -2


@njit(cache=True, nogil=True)
def _fold_requests_kernel(cnt, err, hist, route, hbin, is_err, cols):  # type: ignore[no-untyped-def]
    """Per request, +1 count, +is_err errors and +1 in latency bin ``hbin`` of each of its cohort
    columns (``cols[i, j] >= 0``) on its route: ``cnt``/``err`` [R, C], ``hist`` [R, C, bins]."""
    for i in range(route.shape[0]):
        r = route[i]
        h = hbin[i]
        e = is_err[i]
        for j in range(cols.shape[1]):
            c = cols[i, j]
            if c >= 0:
                cnt[r, c] += 1
                err[r, c] += e
                hist[r, c, h] += 1


@njit(cache=True, nogil=True)
def _add_steps_kernel(steps, gstep, cols):  # type: ignore[no-untyped-def]
    """``steps[g, c] += 1`` for each arrival's global step and each of its cohort columns."""
    for i in range(gstep.shape[0]):
        g = gstep[i]
        for j in range(cols.shape[1]):
            c = cols[i, j]
            if c >= 0:
                steps[g, c] += 1


def _bucket_order(b: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """``np.argsort(b, kind="stable")``; on a batch's few buckets a 16-bit key (radix sort)."""
    if b.size and int(b.max()) - int(b.min()) < 1 << 16:
        return np.argsort((b - b.min()).astype(np.uint16), kind="stable")
    return np.argsort(b, kind="stable")


class CohortColumns:
    """Maps a session's (dev, rel, geo) intern ids to cohort columns."""

    def __init__(self, top_values: int) -> None:
        self.k = top_values
        self.ncols = 1 + len(COHORT_DIMS) * (top_values + 1)
        self._maps: list[dict[int, int]] = [{} for _ in COHORT_DIMS]
        self.labels: list[tuple[str, str]] = [("total", "")] + [("", "")] * (self.ncols - 1)
        self._ids: list[int | None] = [None] * self.ncols
        for d, dim in enumerate(COHORT_DIMS):
            self.labels[self._other(d)] = (dim, OTHER)

    def _base(self, d: int) -> int:
        return 1 + d * (self.k + 1)

    def _other(self, d: int) -> int:
        return self._base(d) + self.k

    def columns(self, d: int, ids: npt.NDArray[np.int32], strings: object) -> npt.NDArray[np.int64]:
        """Column of each intern id of dimension ``d`` (−1 where absent)."""
        m = self._maps[d]
        out = np.full(ids.shape[0], -1, dtype=np.int64)
        uniq, inv = np.unique(ids, return_inverse=True)
        cols = np.empty(uniq.shape[0], dtype=np.int64)
        for i, v in enumerate(uniq.tolist()):
            if v < 0:
                cols[i] = -1
                continue
            c = m.get(v)
            if c is None:
                if len(m) < self.k:
                    c = self._base(d) + len(m)
                    self.labels[c] = (COHORT_DIMS[d], string_of(strings, COHORT_DIMS[d], v) or "?")
                    self._ids[c] = v
                else:
                    c = self._other(d)
                m[v] = c
            cols[i] = c
        out[:] = cols[inv]
        return out


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
    __slots__ = (
        "cnt",
        "err",
        "hist",
        "sess",
        "sess_cols",
        "route_sess",
        "flags",
        "steps",
        "examples",
        "msgs",
        "flags_route",
        "flag_examples",
    )

    def __init__(self, R: int, C: int, F: int, S: int) -> None:
        self.cnt = np.zeros((R, C), np.int64)
        self.err = np.zeros((R, C), np.int64)
        self.hist = np.zeros((R, C, N_BUCKETS), np.int32)
        self.sess: list[npt.NDArray] = []
        self.sess_cols: list[npt.NDArray] = []
        self.route_sess: list[npt.NDArray] = []
        self.flags = np.zeros((F, C), np.int64)
        self.steps = np.zeros((S, C), np.int64)
        self.examples: dict[int, list[tuple[float, int]]] = {}
        self.msgs: dict[int, dict[int, int]] = {}
        self.flags_route = np.zeros((R, F), np.int64)
        self.flag_examples: dict[int, list[int]] = {}

    def grow(self, R: int, F: int, S: int) -> None:
        if R > self.cnt.shape[0]:
            pad = R - self.cnt.shape[0]
            self.cnt = np.pad(self.cnt, ((0, pad), (0, 0)))
            self.err = np.pad(self.err, ((0, pad), (0, 0)))
            self.hist = np.pad(self.hist, ((0, pad), (0, 0), (0, 0)))
        if F > self.flags.shape[0]:
            self.flags = np.pad(self.flags, ((0, F - self.flags.shape[0]), (0, 0)))
        fr = self.flags_route
        if R > fr.shape[0] or F > fr.shape[1]:
            self.flags_route = np.pad(
                fr, ((0, max(R - fr.shape[0], 0)), (0, max(F - fr.shape[1], 0)))
            )
        if S > self.steps.shape[0]:
            self.steps = np.pad(self.steps, ((0, S - self.steps.shape[0]), (0, 0)))


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
        self.finished_until = -(2**62)  # buckets starting before this are closed
        self.late_events = 0
        self.dropped_routes = 0

    def _bucket(self, b: int) -> _Open:
        o = self.open.get(b)
        if o is None:
            o = _Open(
                len(self.route_labels), self.cohorts.ncols, len(self.flag_names), self.n_steps
            )
            self.open[b] = o
        else:
            o.grow(len(self.route_labels), len(self.flag_names), self.n_steps)
        return o

    def session_columns(self, batch: Any, strings: object) -> npt.NDArray[np.int64]:
        """[n_sessions, 1 + dims] cohort columns of each session row of the batch (col 0 = total)."""
        ns = batch.n_sessions
        out = np.zeros((ns, 1 + len(COHORT_DIMS)), dtype=np.int64)
        for d, dim in enumerate(COHORT_DIMS):
            out[:, d + 1] = self.cohorts.columns(d, batch.sessions[dim], strings)
        return out

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
        self, batch: Any, strings: object, scols: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray, npt.NDArray]:
        """Fold a batch in; returns (session_id, local route) of its requests, for evidence.

        Rows are grouped by bucket once (stable sort); Python then touches each bucket, and the
        counts, error counts and latency histograms of a bucket are one kernel pass.
        """
        cols = batch.columns
        n = cols["ts"].shape[0]
        none = (np.empty(0, np.int64), np.empty(0, np.int64))
        if n == 0:
            return none
        B = self.bucket_ms
        ts = cols["ts"]
        b_all = ts // B
        late = b_all * B < self.finished_until
        self.late_events += int(late.sum())
        srow = cols["session"].astype(np.int64)
        sids = batch.sessions["session_id"].astype(np.int64)
        kind = cols["kind"]
        # active sessions: (bucket, session) pairs, with the session's cohort columns. Request
        # rows don't make a session active: access-log/OTLP pseudo-sessions are not users.
        ok_idx = np.flatnonzero(~late)
        if ok_idx.size == 0:
            return none
        order = ok_idx[_bucket_order(b_all[ok_idx])]
        bo = b_all[order]
        cut = np.flatnonzero(bo[1:] != bo[:-1]) + 1
        starts = np.concatenate([[0], cut])
        ends = np.concatenate([cut, [bo.shape[0]]])
        # per bucket, a session's rows in a run count once (the frame dedupes the rest)
        so = srow[order]
        is_user = kind[order] != Kind.REQUEST
        keep = is_user.copy()
        if keep.any():
            ui = np.flatnonzero(is_user)
            dup = np.zeros(ui.shape[0], np.bool_)
            dup[1:] = (so[ui[1:]] == so[ui[:-1]]) & (bo[ui[1:]] == bo[ui[:-1]])
            keep[ui[dup]] = False
        for a, e in zip(starts.tolist(), ends.tolist(), strict=True):
            o = self._bucket(int(bo[a]))
            kk = keep[a:e]
            if kk.any():
                rows = so[a:e][kk]
                o.sess.append(sids[rows])
                o.sess_cols.append(scols[rows])
        # requests
        req = (~late) & (kind == Kind.REQUEST) & (cols["route"] >= 0)
        if not req.any():
            return none
        idx = np.flatnonzero(req)
        r_loc = self._routes(cols["route"][idx], strings)
        keep_r = r_loc >= 0
        self.dropped_routes += int((~keep_r).sum())
        idx, r_loc = idx[keep_r], r_loc[keep_r]
        if idx.size == 0:
            return sids[srow[idx]], r_loc
        status = cols["status"][idx].astype(np.int64)
        dur = cols["value"][idx]
        hb = bucket_of(dur)
        is_err = status >= 500
        bb = b_all[idx]
        sc = np.ascontiguousarray(scols[srow[idx]])  # [k, 1 + dims]
        ss_all = sids[srow[idx]]
        msg_all = cols["msg"][idx].astype(np.int64)
        score_all = np.where(is_err, 1e12, 0) + np.nan_to_num(dur, nan=0.0)
        rorder = _bucket_order(bb)
        rb = bb[rorder]
        rcut = np.flatnonzero(rb[1:] != rb[:-1]) + 1
        E = self.cfg.example_sessions
        for grp in np.split(rorder, rcut):
            o = self._bucket(int(bb[grp[0]]))
            rr, ee = r_loc[grp], is_err[grp]
            _fold_requests_kernel(o.cnt, o.err, o.hist, rr, hb[grp], ee.astype(np.int64), sc[grp])
            ss = ss_all[grp]
            o.route_sess.append(rr * (1 << 40) + ss)
            # evidence: the worst requests (errors first, then slowest) with their sessions and messages
            score = score_all[grp]
            top = np.argsort(-score)[: 4 * E]
            for k in top.tolist():
                lst = o.examples.setdefault(int(rr[k]), [])
                if len(lst) < E * 2:
                    lst.append((float(score[k]), int(ss[k])))
            msg = msg_all[grp]
            em = ee & (msg >= 0)
            if em.any():
                # (route, message) counts, in order of first appearance
                key = rr[em] * (1 << 32) + msg[em]
                uk, first, cnt = np.unique(key, return_index=True, return_counts=True)
                fo = np.argsort(first)
                for kk_, c in zip(uk[fo].tolist(), cnt[fo].tolist(), strict=True):
                    d = o.msgs.setdefault(kk_ >> 32, {})
                    mid = kk_ & 0xFFFFFFFF
                    d[mid] = d.get(mid, 0) + c
        return ss_all, r_loc

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
        b_all = np.asarray(start_ts, dtype=np.int64) // self.bucket_ms
        kind = np.asarray(kind).astype(np.int64)
        sid = np.asarray(session_id).astype(np.int64)
        late = b_all * self.bucket_ms < self.finished_until
        self.late_events += int(late.sum())
        ok = np.flatnonzero(~late)
        if ok.size == 0:
            return
        # flag → routes: unpack the bitsets once
        bits = np.unpackbits(
            np.ascontiguousarray(route_bits[ok]).view(np.uint8), axis=1, bitorder="little"
        )
        f_i, f_r = np.nonzero(bits)
        order = _bucket_order(b_all[ok])
        bb = b_all[ok][order]
        cuts = np.flatnonzero(np.diff(bb)) + 1
        E = self.cfg.example_sessions
        for grp in np.split(order, cuts):
            g = ok[grp]
            o = self._bucket(int(b_all[g[0]]))
            kk = kind[g]
            np.add.at(o.flags[:, 0], kk, 1)
            cc = cols[g, 1:]
            v = cc >= 0
            np.add.at(o.flags, (np.broadcast_to(kk[:, None], cc.shape)[v], cc[v]), 1)
            sel = np.isin(f_i, grp)
            np.add.at(o.flags_route, (f_r[sel], kind[ok[f_i[sel]]]), 1)
            # examples: the first distinct sessions of each kind, in flag order
            ss = sid[g]
            _, first_k = np.unique(kk, return_index=True)
            for k in kk[np.sort(first_k)].tolist():
                ex = o.flag_examples.setdefault(k, [])
                if len(ex) >= E:
                    continue
                sk = ss[kk == k]
                _, first_s = np.unique(sk, return_index=True)
                for s in sk[np.sort(first_s)].tolist():
                    if len(ex) >= E:
                        break
                    if s not in ex:
                        ex.append(s)

    def add_steps(self, ts: npt.NDArray, gstep: npt.NDArray, cols: npt.NDArray[np.int64]) -> None:
        """Funnel step arrivals: ``gstep`` is the global step index, ``cols`` [k, 1 + dims]."""
        b_all = np.asarray(ts, dtype=np.int64) // self.bucket_ms
        g_all = np.ascontiguousarray(gstep, dtype=np.int64)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        ok = np.flatnonzero(b_all * self.bucket_ms >= self.finished_until)
        if ok.size == 0:
            return
        order = ok[_bucket_order(b_all[ok])]
        bo = b_all[order]
        for grp in np.split(order, np.flatnonzero(bo[1:] != bo[:-1]) + 1):
            o = self._bucket(int(b_all[grp[0]]))
            _add_steps_kernel(o.steps, g_all[grp], cols[grp])

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
            o = _Open(R, C, F, S)
        o.grow(R, F, S)
        active = np.zeros(C, np.int64)
        if o.sess:
            sid = np.concatenate(o.sess)
            sc = np.concatenate(o.sess_cols)
            sc = sc[first_occurrences(sid)]  # a session counts once, with its first columns
            active += np.bincount(sc[sc >= 0], minlength=C)[:C]
        route_sessions = np.zeros(R, np.int64)
        if o.route_sess:
            keys = np.concatenate(o.route_sess)
            u = keys[first_occurrences(keys)] >> 40
            route_sessions += np.bincount(u, minlength=R)[:R]
        examples = {
            r: [s for _, s in sorted(lst, reverse=True)][: self.cfg.example_sessions]
            for r, lst in o.examples.items()
        }
        # quantiles only where there were requests: most (route, cohort) cells of a bucket are empty
        q = np.full(o.cnt.shape + (3,), np.nan, dtype=np.float32)
        nz = o.cnt > 0
        if nz.any():
            q[nz] = quantiles(o.hist[nz])
        return Frame(
            t0=b * self.bucket_ms,
            count=o.cnt,
            errors=o.err,
            q=q,
            route_sessions=route_sessions,
            active=active,
            flags=o.flags,
            steps=o.steps,
            flags_route=o.flags_route,
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
        self._is_count = np.zeros(512, dtype=np.bool_)

    @property
    def n(self) -> int:
        return len(self.keys)

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
        need = P & (M[:E] < 0)
        if need.any():
            # register totals before cohorts, so a cohort row can name its parent
            for e, c in sorted(
                map(tuple, np.argwhere(need).tolist()), key=lambda ec: (ec[1] != 0, ec)
            ):
                M[e, c] = self.row(family, e, c, ent_labels[e], col_labels[c])
        sel = P & (M[:E] >= 0)
        if sel.any():
            out.append((M[:E][sel], V[sel], W[sel]))

    def push(
        self, frame: Frame, agg: BucketAggregator, step_labels: list[str], step_prev: list[int]
    ) -> tuple[npt.NDArray, npt.NDArray]:
        """Values and weights of every row for ``frame`` (NaN/0 where the row has no data)."""
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
        pos = self.n_frames % self.hist_len
        self.history[: self.n, pos] = x
        self.history[self.n :, pos] = np.nan
        self.hist_t0[pos] = frame.t0
        self.n_frames += 1
        return x, w

    def tail(
        self, row: int, n: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(bucket start ms, value) of the last ``n`` finished buckets of ``row``, oldest first."""
        m = min(self.n_frames, self.hist_len) if n is None else min(n, self.n_frames, self.hist_len)
        idx = (self.n_frames - m + np.arange(m)) % self.hist_len
        return self.hist_t0[idx].copy(), self.history[row, idx].copy()
