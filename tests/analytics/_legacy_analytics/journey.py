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
        for g in arr_step.tolist():
            self.arrivals[g] = self.arrivals.get(g, 0) + 1
        if req.size == 0:
            return
        route = cols["route"][req].astype(np.int64)
        url = cols["url"][req].astype(np.int64)
        has_url = url >= 0
        if has_url.any():
            keys, counts = np.unique(
                np.stack([url[has_url], route[has_url]]), axis=1, return_counts=True
            )
            for (u, r), c in zip(keys.T.tolist(), counts.tolist(), strict=False):
                self.page[(u, r)] = self.page.get((u, r), 0) + c
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
            keys, counts = np.unique(
                np.stack([a_step[pos_c[ok]], route[ok]]), axis=1, return_counts=True
            )
            # count each (step, route) once per arrival would need dedupe; calls per arrival is fine for shares
            for (g, r), c in zip(keys.T.tolist(), counts.tolist(), strict=False):
                self.pair[(g, r)] = self.pair.get((g, r), 0) + c

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
