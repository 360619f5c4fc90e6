"""Journey map: which backend routes each funnel step (and page) calls.

Learned from co-occurrence inside sessions: a request is attributed to the latest funnel-step
arrival of the same session at most ``horizon_ms`` before it, and to the page (``url``) it was
made from. The latest arrival of each session is carried from batch to batch: on a live stream
a step's calls mostly come in later batches than its arrival (add to cart ~10 s after the
product page; the demo's batches hold ~0.2 s), and only the page's own load call came in the
same one. A route is linked to a step when at least ``min_share`` of the step's arrivals were
followed by a call to it (and at least ``min_count`` times). Config ``journey`` entries override:
a step whose ``url`` glob matches the entry's ``url`` glob is linked to the entry's routes.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.analytics.config import JourneyLink
from uxtop.analytics.keymap import KeyMap
from uxtop.distinct import unique_counts, unique_first
from uxtop.schema import Kind

#: sessions whose latest arrival is carried, per funnel; a session's entry goes when it closes,
#: and over this cap the entries made longest ago go first (closes lost to shedding)
MAX_CARRIED = 200_000
#: funnels whose arrivals are carried (a carried key is the session id and the funnel's index)
_FUNNEL_BITS = 6


class JourneyMap:
    def __init__(
        self,
        overrides: list[JourneyLink] | None = None,
        horizon_ms: int = 60_000,
        min_share: float = 0.1,
        min_count: int = 10,
    ) -> None:
        self.overrides = overrides or []
        self.horizon_ms = horizon_ms
        self.min_share = min_share
        self.min_count = min_count
        self.pair: dict[tuple[int, int], int] = {}  # (global step, route intern id) → count
        self.page: dict[tuple[int, int], int] = {}  # (url intern id, route intern id) → count
        self.arrivals: dict[int, int] = {}
        # each session's latest arrival seen so far, by (session id, funnel): step and ts
        self._carried = KeyMap()
        self._carried_step = np.empty(0, np.int64)
        self._carried_ts = np.empty(0, np.int64)

    @property
    def carried(self) -> int:
        """Sessions (per funnel) whose latest arrival is held for the next batches."""
        return len(self._carried)

    def update(
        self,
        batch: Any,
        arr_ts: npt.NDArray[np.int64],
        arr_step: npt.NDArray[np.int64],
        arr_sess: npt.NDArray[np.int64],
        funnel: int = 0,
    ) -> None:
        """Attribute the batch's requests. ``arr_*``: funnel ``funnel``'s step arrivals in this
        batch (ts, global step, the session's row in the batch)."""
        cols = batch.columns
        if arr_step.size:
            _add_counts(self.arrivals, *_counts_in_first_order(np.asarray(arr_step, np.int64)))
        a_sess = np.ascontiguousarray(arr_sess, dtype=np.int64)
        a_ts = np.ascontiguousarray(arr_ts, dtype=np.int64)
        a_step = np.ascontiguousarray(arr_step, dtype=np.int64)
        keys = None
        if 0 <= funnel < 1 << _FUNNEL_BITS and batch.n_sessions:
            sids = np.asarray(batch.sessions["session_id"]).astype(np.int64)
            keys = (sids << _FUNNEL_BITS) | funnel
            if len(self._carried):
                # the batch's sessions that arrived at a step in an earlier batch: that arrival
                # first (counted when it happened, so only here for attribution)
                rows = self._carried.get(keys)
                held = np.flatnonzero(rows >= 0)
                if held.size:
                    a_sess = np.concatenate([held, a_sess])
                    a_ts = np.concatenate([self._carried_ts[rows[held]], a_ts])
                    a_step = np.concatenate([self._carried_step[rows[held]], a_step])
        if a_ts.size and not _sorted_by_session_ts(a_sess, a_ts):
            # (session, ts) order, ties in arrival order
            span = np.int64(1) << np.int64(44)
            order = np.argsort(a_sess * span + (a_ts - a_ts.min()), kind="stable")
            a_sess, a_ts, a_step = a_sess[order], a_ts[order], a_step[order]
        n = cols["ts"].shape[0]
        page_url = np.empty(n, np.int64)
        page_route = np.empty(n, np.int64)
        pair_step = np.empty(n, np.int64)
        pair_route = np.empty(n, np.int64)
        n_req, n_page, n_pair = _journey_kernel(
            cols["kind"],
            cols["route"],
            cols["url"],
            cols["session"],
            cols["ts"],
            int(Kind.REQUEST),
            a_sess,
            a_ts,
            a_step,
            self.horizon_ms,
            page_url,
            page_route,
            pair_step,
            pair_route,
        )
        if n_page:
            _add_pair_counts(self.page, page_url[:n_page], page_route[:n_page])
        if n_pair:
            # count each (step, route) once per arrival would need dedupe; calls per arrival is fine for shares
            _add_pair_counts(self.pair, pair_step[:n_pair], pair_route[:n_pair])
        if keys is not None:
            self._carry(keys, a_sess, a_ts, a_step, np.asarray(batch.sessions["closed"], bool))

    def _carry(
        self,
        keys: npt.NDArray[np.int64],
        a_sess: npt.NDArray[np.int64],
        a_ts: npt.NDArray[np.int64],
        a_step: npt.NDArray[np.int64],
        closed: npt.NDArray[np.bool_],
    ) -> None:
        """Hold each session's latest arrival (``a_*`` sorted by session, then ts) for the
        next batches; closed sessions' go."""
        if a_sess.size:
            last = np.flatnonzero(np.append(a_sess[1:] != a_sess[:-1], True))
            rows, _ = self._carried.insert(keys[a_sess[last]])
            if self._carried_ts.shape[0] < self._carried.rows_cap:
                more = np.empty(self._carried.rows_cap - self._carried_ts.shape[0], np.int64)
                self._carried_ts = np.concatenate([self._carried_ts, more])
                self._carried_step = np.concatenate([self._carried_step, more])
            self._carried_ts[rows] = a_ts[last]
            self._carried_step[rows] = a_step[last]
        if closed.any() and len(self._carried):
            self._carried.pop(keys[closed])
        self._carried.evict(MAX_CARRIED)

    def routes_for_step(self, g: int, step_url: str | None, route_name: Any) -> dict[str, float]:
        """{route label: strength in [0, 1]} for global step ``g``; overrides have strength 1."""
        out: dict[str, float] = {}
        n = max(self.arrivals.get(g, 0), 1)
        for (gg, r), c in self.pair.items():
            if gg == g and c >= self.min_count and c / n >= self.min_share:
                out[route_name(r)] = min(1.0, c / n)
        if step_url:
            for o in self.overrides:
                if step_url == o.url or fnmatch.fnmatchcase(step_url, o.url):
                    for route in o.routes:
                        out[route] = 1.0
        return out

    def routes_for_page(self, url_id: int, route_name: Any) -> dict[str, int]:
        return {route_name(r): c for (u, r), c in self.page.items() if u == url_id}


@njit(cache=True, nogil=True)
def _sorted_by_session_ts(sess, ts):  # type: ignore[no-untyped-def]
    for i in range(1, sess.shape[0]):
        if sess[i] < sess[i - 1] or (sess[i] == sess[i - 1] and ts[i] < ts[i - 1]):
            return False
    return True


@njit(cache=True, nogil=True)
def _journey_kernel(  # type: ignore[no-untyped-def]
    kind,
    route,
    url,
    sess,
    ts,
    request,
    a_sess,
    a_ts,
    a_step,
    horizon,
    page_url,
    page_route,
    pair_step,
    pair_route,
):
    """Per request row (a route called): its (page, route) pair when it has a page, and its
    (step, route) pair when the latest funnel arrival of the same session at or before it (the
    last of equal ones) is at most ``horizon`` ms earlier. Arrivals are sorted by (session, ts).
    Returns (requests, page pairs, step pairs)."""
    m = a_sess.shape[0]
    n_req = 0
    n_page = 0
    n_pair = 0
    p = -1  # last arrival at or before the previous request
    ps = np.int64(-1)
    pt = np.int64(0)
    for j in range(kind.shape[0]):
        if kind[j] != request or route[j] < 0:
            continue
        n_req += 1
        r = np.int64(route[j])
        if url[j] >= 0:
            page_url[n_page] = url[j]
            page_route[n_page] = r
            n_page += 1
        if m == 0:
            continue
        s = np.int64(sess[j])
        t = ts[j]
        if s < ps or (s == ps and t < pt):
            # requests out of (session, ts) order: search from the start
            lo, hi = 0, m
            while lo < hi:
                mid = (lo + hi) // 2
                if a_sess[mid] < s or (a_sess[mid] == s and a_ts[mid] <= t):
                    lo = mid + 1
                else:
                    hi = mid
            p = lo - 1
        else:
            while p + 1 < m and (a_sess[p + 1] < s or (a_sess[p + 1] == s and a_ts[p + 1] <= t)):
                p += 1
        ps, pt = s, t
        if p >= 0 and a_sess[p] == s and t - a_ts[p] <= horizon:
            pair_step[n_pair] = a_step[p]
            pair_route[n_pair] = r
            n_pair += 1
    return n_req, n_page, n_pair


def _counts_in_first_order(v: npt.NDArray[np.int64]) -> tuple[list[int], list[int]]:
    """Distinct values of ``v`` in order of first appearance, with their counts."""
    u, first, c = unique_first(v, counts=True)
    o = np.argsort(first)
    return u[o].tolist(), c[o].tolist()


def _add_counts(d: dict[int, int], keys: list[int], counts: list[int]) -> None:
    for k, c in zip(keys, counts, strict=True):
        d[k] = d.get(k, 0) + c


def _add_pair_counts(d: dict[tuple[int, int], int], a: npt.NDArray, b: npt.NDArray) -> None:
    """``d[(a, b)] += count`` for each distinct non-negative pair, in ascending (a, b) order (the
    order ``np.unique(axis=1)`` gave): one 64-bit key per pair, a bincount when the ids are small."""
    amax, bmax = int(a.max()), int(b.max())
    width = bmax + 1
    key = a * width + b
    if (amax + 1) * width <= 1 << 22:
        cnt = np.bincount(key, minlength=0)
        uk = np.flatnonzero(cnt)
        uc = cnt[uk]
    else:
        uk, uc = unique_counts(key)
    for k, c in zip(uk.tolist(), uc.tolist(), strict=True):
        p = (k // width, k % width)
        d[p] = d.get(p, 0) + c
