"""Running aggregates the engine keeps between publishes, all updated per batch with numpy.

Nothing here is per event in Python: heat grids use ``bincount`` over page slots, flags are
few (hundreds per second at most) and are folded into small dicts.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from uxtop.batch import INT_NA, EventBatch
from uxtop.schema import Kind
from uxtop.snapshot import DEPTH_BINS, FLAG_KINDS, SERIES_BUCKET_MS, SERIES_BUCKETS

#: heat grid geometry: page x in [0, GRID_W*CELL_W) px, y in [0, GRID_H*CELL_H) px
GRID_W, CELL_W = 64, 30  # 1920 px wide
GRID_H, CELL_H = 96, 50  # 4800 px tall
#: pages with their own heat grid; the rest are counted but not drawn (memory stays bounded)
MAX_HEAT_PAGES = 48
#: half-life of the "right now" page/element ranking, ms of event time
HEAT_HALF_LIFE_MS = 60_000

CLICK_KINDS = np.array([Kind.CLICK, Kind.DBLCLICK, Kind.CONTEXTMENU], dtype=np.uint8)
CLICK_FLAG_KINDS = ("rage_click", "dead_click", "error_click")


class RateMeter:
    """Events per wall-clock second over a sliding window, plus a per-second series."""

    def __init__(self, seconds: int = 60) -> None:
        self._seconds = seconds
        self._buckets: dict[int, int] = {}

    def add(self, n: int, now: float) -> None:
        sec = int(now)
        self._buckets[sec] = self._buckets.get(sec, 0) + n
        if len(self._buckets) > self._seconds + 2:
            cutoff = sec - self._seconds
            for k in [k for k in self._buckets if k < cutoff]:
                del self._buckets[k]

    def rate(self, now: float, window: float = 2.0) -> float:
        """Mean rate over the last ``window`` complete-ish seconds (the current one pro rata)."""
        sec = int(now)
        frac = max(now - sec, 0.05)
        full = int(window)
        total = sum(self._buckets.get(sec - i, 0) for i in range(1, full + 1))
        total += self._buckets.get(sec, 0)
        return total / (full + frac)

    def series(self, now: float, n: int = 60) -> tuple[float, ...]:
        sec = int(now)
        return tuple(float(self._buckets.get(s, 0)) for s in range(sec - n, sec))


@dataclass
class KindSeries:
    """Flags per kind in 10-s buckets of event time (a ring keyed by absolute bucket number)."""

    totals: dict[str, int] = field(default_factory=lambda: {k: 0 for k in FLAG_KINDS})
    buckets: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, kind: str, ts: int, n: int = 1) -> None:
        self.totals[kind] = self.totals.get(kind, 0) + n
        b = ts // SERIES_BUCKET_MS
        d = self.buckets[kind]
        d[b] = d.get(b, 0) + n

    def prune(self, now_ts: int) -> None:
        cutoff = now_ts // SERIES_BUCKET_MS - 4 * SERIES_BUCKETS
        for d in self.buckets.values():
            for b in [b for b in d if b < cutoff]:
                del d[b]

    def series(self, kind: str, now_ts: int) -> tuple[int, ...]:
        head = now_ts // SERIES_BUCKET_MS
        d = self.buckets.get(kind, {})
        return tuple(d.get(b, 0) for b in range(head - SERIES_BUCKETS + 1, head + 1))

    def per_min(self, kind: str, now_ts: int) -> float:
        # the last 6 complete-or-current buckets = one minute of event time
        return float(sum(self.series(kind, now_ts)[-6:]))


class Decayed:
    """Counters that halve every HEAT_HALF_LIFE_MS of event time: "worst right now"."""

    def __init__(self, cap: int = 2000) -> None:
        self.values: dict[object, float] = {}
        self.cap = cap
        self._at: int | None = None

    def decay_to(self, ts: int) -> None:
        """Age every value to event time ``ts``; call before adding at ``ts``."""
        if ts <= 0:
            return
        if self._at is None:
            self._at = ts
            return
        dt = ts - self._at
        if dt <= 0:
            return
        f = math.pow(0.5, dt / HEAT_HALF_LIFE_MS)
        self._at = ts
        dead = []
        for k, v in self.values.items():
            nv = v * f
            if nv < 0.01:
                dead.append(k)
            else:
                self.values[k] = nv
        for k in dead:
            del self.values[k]

    def add(self, key: object, w: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + w
        if len(self.values) > self.cap:
            # drop the coldest tenth; ranking only needs the top
            for k, _ in heapq.nsmallest(self.cap // 10, self.values.items(), key=_value):
                del self.values[k]

    def top(self, n: int) -> list[tuple[object, float]]:
        # a partial selection, not a sort of all `cap` values: every snapshot asks for it
        # (same order as a stable sort by descending value)
        return heapq.nlargest(n, self.values.items(), key=_value)


def _value(kv: tuple[object, float]) -> float:
    return kv[1]


class HeatGrids:
    """Click and move densities per page, scroll depth per page; bincount over page slots."""

    def __init__(self) -> None:
        self.slot_of_url = np.full(1024, -1, dtype=np.int32)  # url intern id -> slot
        self.urls: list[int] = []  # slot -> url id
        cells = MAX_HEAT_PAGES * GRID_H * GRID_W
        self.clicks = np.zeros(cells, dtype=np.int64)
        self.moves = np.zeros(cells, dtype=np.int64)
        self.depth = np.zeros(MAX_HEAT_PAGES * DEPTH_BINS, dtype=np.int64)
        self.n_clicks = np.zeros(MAX_HEAT_PAGES, dtype=np.int64)
        self.n_moves = np.zeros(MAX_HEAT_PAGES, dtype=np.int64)

    def _slots(self, url: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
        top = int(url.max(initial=-1))
        if top >= self.slot_of_url.shape[0]:
            grown = np.full(max(top + 1, 2 * self.slot_of_url.shape[0]), -1, dtype=np.int32)
            grown[: self.slot_of_url.shape[0]] = self.slot_of_url
            self.slot_of_url = grown
        slots = np.where(url >= 0, self.slot_of_url[np.maximum(url, 0)], -1)
        if len(self.urls) < MAX_HEAT_PAGES:
            new = np.unique(url[(slots < 0) & (url >= 0)])
            for u in new[: MAX_HEAT_PAGES - len(self.urls)]:
                self.slot_of_url[u] = len(self.urls)
                self.urls.append(int(u))
            if new.size:
                slots = np.where(url >= 0, self.slot_of_url[np.maximum(url, 0)], -1)
        return slots

    #: the numba pass (``uxtop.engine.heat_kernel``), set once the warm-up thread compiled it;
    #: until then ``add`` takes the numpy path, which is also the reference it is tested against
    kernels: ClassVar[Any] = None

    def add(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        if HeatGrids.kernels is not None:
            self._add_kernel(batch, HeatGrids.kernels)
        else:
            self.add_numpy(batch)

    def _add_kernel(self, batch: EventBatch, hk: Any) -> None:
        kind, url = batch.kind, batch.url
        cols = (kind, url, batch.x, batch.y, batch.sy, batch.sh, batch.vh)
        top = int(url.max(initial=-1))
        if top >= self.slot_of_url.shape[0]:
            grown = np.full(max(top + 1, 2 * self.slot_of_url.shape[0]), -1, dtype=np.int32)
            grown[: self.slot_of_url.shape[0]] = self.slot_of_url
            self.slot_of_url = grown
        if len(self.urls) < MAX_HEAT_PAGES:
            # new pages take slots in the reference's order: pointer pages first, each group
            # by ascending url id
            size = self.slot_of_url.shape[0]
            new_pointer = np.zeros(size, dtype=np.bool_)
            new_scroll = np.zeros(size, dtype=np.bool_)
            hk.new_pages_kernel(*cols, self.slot_of_url, new_pointer, new_scroll)
            for new in (np.flatnonzero(new_pointer), np.flatnonzero(new_scroll)):
                new = new[self.slot_of_url[new] < 0]
                for u in new[: MAX_HEAT_PAGES - len(self.urls)].tolist():
                    self.slot_of_url[u] = len(self.urls)
                    self.urls.append(u)
        hk.count_kernel(
            *cols,
            self.slot_of_url,
            CELL_W,
            CELL_H,
            GRID_W,
            GRID_H,
            DEPTH_BINS,
            self.clicks,
            self.moves,
            self.depth,
            self.n_clicks,
            self.n_moves,
        )

    def add_numpy(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        kind, url, x, y = batch.kind, batch.url, batch.x, batch.y
        is_click = np.isin(kind, CLICK_KINDS)
        is_move = kind == Kind.MOVE
        is_scroll = kind == Kind.SCROLL
        pointer = (is_click | is_move) & (x != INT_NA) & (y != INT_NA) & (url >= 0)
        if pointer.any():
            idx = np.flatnonzero(pointer)
            slots = self._slots(url[idx])
            keep = slots >= 0
            idx, slots = idx[keep], slots[keep]
            cx = np.clip(x[idx] // CELL_W, 0, GRID_W - 1)
            cy = np.clip(y[idx] // CELL_H, 0, GRID_H - 1)
            flat = (slots.astype(np.int64) * GRID_H + cy) * GRID_W + cx
            clicks = is_click[idx]
            size = self.clicks.shape[0]
            if clicks.any():
                self.clicks += np.bincount(flat[clicks], minlength=size)
                self.n_clicks += np.bincount(slots[clicks], minlength=MAX_HEAT_PAGES)
            if (~clicks).any():
                self.moves += np.bincount(flat[~clicks], minlength=size)
                self.n_moves += np.bincount(slots[~clicks], minlength=MAX_HEAT_PAGES)
        if is_scroll.any():
            idx = np.flatnonzero(is_scroll & (url >= 0))
            sy, sh, vh = batch.sy[idx], batch.sh[idx], batch.vh[idx]
            ok = (sy != INT_NA) & (sh != INT_NA) & (vh != INT_NA) & (sh > 0)
            if ok.any():
                idx, sy, sh, vh = idx[ok], sy[ok], sh[ok], vh[ok]
                slots = self._slots(url[idx])
                keep = slots >= 0
                frac = np.clip((sy[keep] + vh[keep]) / sh[keep], 0.0, 0.9999)
                bins = (frac * DEPTH_BINS).astype(np.int64)
                self.depth += np.bincount(
                    slots[keep].astype(np.int64) * DEPTH_BINS + bins, minlength=self.depth.shape[0]
                )

    def page(
        self, slot: int
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], tuple[int, ...]]:
        cells = GRID_H * GRID_W
        c = self.clicks[slot * cells : (slot + 1) * cells].reshape(GRID_H, GRID_W).astype(np.int32)
        m = self.moves[slot * cells : (slot + 1) * cells].reshape(GRID_H, GRID_W).astype(np.int32)
        d = tuple(int(v) for v in self.depth[slot * DEPTH_BINS : (slot + 1) * DEPTH_BINS])
        return c, m, d
