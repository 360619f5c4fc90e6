"""``SessionTable``: per-session values of the live sessions, at a row given by the session id.

The ingest core numbers sessions 0, 1, 2, ... as they start, so the sessions open at once hold
ids close together: row = id mod size needs no hashing, no probing, and a batch's sessions land
on neighbouring rows (a hash map's random rows cost ~50 ns a lookup each once it outgrows the
cache, and analytics looked every batch session up more than once). The table grows while two
live ids want the same row, up to ``max_size``. Past that, a session whose row is held by
another live one gets a row in an overflow part instead, found through a ``KeyMap`` (a long
session that stays open while ``max_size`` newer ones start): a session keeps its row, and its
values, from its first insert until it is popped, and never shares one. The overflow keeps at
most ``max_overflow`` sessions (``max_size`` by default; the oldest go first: the memory
bound, as the per-session maps this replaced kept their newest 200 000). A session dropped so
has no row (−1) until it comes again, and then it is a new one to the table (its values start
over).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from uxtop.analytics.keymap import KeyMap
from uxtop.distinct import unique_first, unique_ints

_EMPTY = -1  # session ids are >= 0


class SessionTable:
    """Session id → row, with value columns (``columns``: name → (trailing shape, dtype, fill))
    that belong to the row: reset to the fill when a session takes its row, moved on growth.
    Rows ``[0, size)`` are at id mod size; rows from ``size`` on are the overflow's."""

    def __init__(
        self,
        columns: dict[str, tuple[tuple[int, ...], type, int]],
        size: int = 1024,
        max_size: int = 1 << 18,
        max_overflow: int | None = None,
    ) -> None:
        if size & (size - 1) or max_size & (max_size - 1):
            raise ValueError("SessionTable sizes must be powers of two")
        self.max_size = max_size
        self.max_overflow = max_size if max_overflow is None else max_overflow
        self._spec = columns
        self.ids = np.full(size, _EMPTY, np.int64)
        self.cols: dict[str, npt.NDArray] = {
            name: np.full((size, *shape), fill, dtype)
            for name, (shape, dtype, fill) in columns.items()
        }
        self._over = KeyMap()  # (used once the table is at max_size)

    def __len__(self) -> int:
        return int(np.count_nonzero(self.ids != _EMPTY)) + len(self._over)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def insert(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows of ``sids`` (their values kept if present, reset if new); −1 for a session the
        overflow dropped (see the module doc)."""
        sids = np.asarray(sids, dtype=np.int64)
        while True:
            rows = sids & (self.size - 1)
            cur = self.ids[rows]
            full = self.size >= self.max_size
            if ((cur != _EMPTY) & (cur != sids)).any():
                if full:
                    return self._insert_full(sids)
                self._grow()  # a live id holds a row a new one wants
                continue
            new = cur != sids
            if new.any():
                if full and self._unsafe_at_bound(rows[new], sids[new]):
                    return self._insert_full(sids)
                self._reset(rows[new])
                self.ids[rows[new]] = sids[new]
                if (self.ids[rows] != sids).any():
                    self._grow()  # two new ids of this call want one row
                    continue
            return rows

    def _unsafe_at_bound(self, rows: npt.NDArray[np.int64], sids: npt.NDArray[np.int64]) -> bool:
        """At max_size, whether new ``sids`` taking their free ``rows`` directly would go
        wrong: one of them lives in the overflow, or two different ones want one row."""
        if len(self._over) and (self._over.get(sids) >= 0).any():
            return True
        return bool(unique_ints(rows).shape[0] != unique_ints(sids).shape[0])

    def _insert_full(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``insert`` at max_size: new sessions take their row if it is free (the first of
        this call's that want it), else an overflow row."""
        new = unique_ints(sids[self.get(sids) < 0])
        if new.shape[0]:
            rows = new & (self.size - 1)
            free = np.flatnonzero(self.ids[rows] == _EMPTY)
            _, first = unique_first(rows[free])
            take = free[first]
            self._reset(rows[take])
            self.ids[rows[take]] = new[take]
            rest = np.ones(new.shape[0], np.bool_)
            rest[take] = False
            if rest.any():
                krow, _ = self._over.insert(new[rest])
                need = self.size + self._over.rows_cap
                if self._cap_rows() < need:
                    self._extend(need)
                self._reset(self.size + krow)
                self._over.evict(self.max_overflow)
        return self.get(sids)

    def get(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows of ``sids``, −1 for ids not held."""
        sids = np.asarray(sids, dtype=np.int64)
        rows = sids & (self.size - 1)
        out = np.where(self.ids[rows] == sids, rows, -1)
        if len(self._over):
            miss = np.flatnonzero(out < 0)
            if miss.shape[0]:
                krow = self._over.get(sids[miss])
                out[miss] = np.where(krow >= 0, self.size + krow, -1)
        return out

    def pop(self, sids: npt.NDArray[np.int64]) -> None:
        """Forget ``sids`` (those not held are ignored)."""
        sids = np.asarray(sids, dtype=np.int64)
        rows = sids & (self.size - 1)
        mine = self.ids[rows] == sids
        self.ids[rows[mine]] = _EMPTY
        if len(self._over) and not mine.all():
            self._over.pop(sids[~mine])

    def _cap_rows(self) -> int:
        """Rows the value columns hold (``size``, then the overflow's)."""
        return min((int(c.shape[0]) for c in self.cols.values()), default=1 << 62)

    def _reset(self, rows: npt.NDArray[np.int64]) -> None:
        for name, (_, _, fill) in self._spec.items():
            self.cols[name][rows] = fill

    def _extend(self, rows: int) -> None:
        """Value columns long enough for ``rows`` rows (the overflow's, past ``size``)."""
        for name, (shape, dtype, fill) in self._spec.items():
            old = self.cols[name]
            col: npt.NDArray = np.full(
                (max(rows, 2 * old.shape[0] - self.size), *shape), fill, dtype
            )
            col[: old.shape[0]] = old
            self.cols[name] = col

    def _grow(self) -> None:
        live = np.flatnonzero(self.ids != _EMPTY)
        # by 4 (at most to max_size): a fresh table under 100 k+ open sessions moved its live
        # rows eight times when doubling
        size = min(4 * self.size, max(self.max_size, self.size))
        ids = np.full(size, _EMPTY, np.int64)
        at = self.ids[live] & (size - 1)  # distinct: more low bits keep distinct rows apart
        ids[at] = self.ids[live]
        for name, (shape, dtype, fill) in self._spec.items():
            col: npt.NDArray = np.full((size, *shape), fill, dtype)
            col[at] = self.cols[name][live]
            self.cols[name] = col
        self.ids = ids
