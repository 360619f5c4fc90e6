"""Journey map: which backend routes each funnel step (and page) calls.

Learned from co-occurrence inside sessions: a request is attributed to the latest funnel-step
arrival of the same session at most ``horizon_ms`` before it, and to the page (``url``) it was
made from. A route is linked to a step when at least ``min_share`` of the step's arrivals were
followed by a call to it (and at least ``min_count`` times). Config ``journey`` entries override:
a step whose ``url`` glob matches the entry's ``url`` glob is linked to the entry's routes.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.analytics.config import JourneyLink
from uxtop.schema import Kind


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

    def update(
        self,
        batch: Any,
        arr_ts: npt.NDArray[np.int64],
        arr_step: npt.NDArray[np.int64],
        arr_sess: npt.NDArray[np.int64],
    ) -> None:
        cols = batch.columns
        req = np.flatnonzero((cols["kind"] == Kind.REQUEST) & (cols["route"] >= 0))
        if arr_step.size:
            _add_counts(self.arrivals, *_counts_in_first_order(np.asarray(arr_step, np.int64)))
        if req.size == 0:
            return
        route = cols["route"][req].astype(np.int64)
        url = cols["url"][req].astype(np.int64)
        has_url = url >= 0
        if has_url.any():
            _add_pair_counts(self.page, url[has_url], route[has_url])
        if arr_ts.size == 0:
            return
        # latest arrival of the same session at or before each request (one composite sort key)
        span = np.int64(1) << np.int64(44)
        base = int(min(arr_ts.min(), cols["ts"][req].min()))
        a_key = arr_sess * span + (arr_ts - base)
        order = np.argsort(a_key, kind="stable")
        a_key, a_step, a_ts = a_key[order], arr_step[order], arr_ts[order]
        r_sess = cols["session"][req].astype(np.int64)
        r_ts = cols["ts"][req]
        r_key = r_sess * span + (r_ts - base)
        pos = np.searchsorted(a_key, r_key, side="right") - 1
        ok = pos >= 0
        pos_c = np.where(ok, pos, 0)
        ok &= (a_key[pos_c] // span) == r_sess
        ok &= (r_ts - a_ts[pos_c]) <= self.horizon_ms
        if ok.any():
            # count each (step, route) once per arrival would need dedupe; calls per arrival is fine for shares
            _add_pair_counts(self.pair, a_step[pos_c[ok]].astype(np.int64), route[ok])

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


def _counts_in_first_order(v: npt.NDArray[np.int64]) -> tuple[list[int], list[int]]:
    """Distinct values of ``v`` in order of first appearance, with their counts."""
    u, first, c = np.unique(v, return_index=True, return_counts=True)
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
        uk, uc = np.unique(key, return_counts=True)
    for k, c in zip(uk.tolist(), uc.tolist(), strict=True):
        p = (k // width, k % width)
        d[p] = d.get(p, 0) + c
