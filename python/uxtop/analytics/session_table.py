"""``SessionTable``: per-session values of the live sessions, at a row given by the session id.

The ingest core numbers sessions 0, 1, 2, ... as they start, so the sessions open at once hold
ids close together: row = id mod size needs no hashing, no probing, and a batch's sessions land
on neighbouring rows (a hash map's random rows cost ~50 ns a lookup each once it outgrows the
cache, and analytics looked every batch session up more than once). The table grows while two
live ids want the same row, up to ``max_size``; past that the newer id takes the row, so the
table keeps the newest ``max_size`` session ids at least (the memory bound), as the per-session
maps it replaces kept their newest 200 000 by first sight. Any int64 ids >= 0 work; ids far
apart only share rows sooner.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_EMPTY = -1  # session ids are >= 0


class SessionTable:
    """Session id → row, with value columns (``columns``: name → (trailing shape, dtype, fill))
    that belong to the row: reset to the fill when a session takes its row, moved on growth."""

    def __init__(
        self,
        columns: dict[str, tuple[tuple[int, ...], type, int]],
        size: int = 1024,
        max_size: int = 1 << 18,
    ) -> None:
        if size & (size - 1) or max_size & (max_size - 1):
            raise ValueError("SessionTable sizes must be powers of two")
        self.max_size = max_size
        self._spec = columns
        self.ids = np.full(size, _EMPTY, np.int64)
        self.cols: dict[str, npt.NDArray] = {
            name: np.full((size, *shape), fill, dtype)
            for name, (shape, dtype, fill) in columns.items()
        }

    def __len__(self) -> int:
        return int(np.count_nonzero(self.ids != _EMPTY))

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def insert(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows of ``sids`` (their values kept if present, reset if new). At ``max_size``, of
        ids that want one row the last one given holds it (the others' rows are its row)."""
        sids = np.asarray(sids, dtype=np.int64)
        while True:
            rows = sids & (self.size - 1)
            cur = self.ids[rows]
            full = self.size >= self.max_size
            if not full and ((cur != _EMPTY) & (cur != sids)).any():
                self._grow()  # a live id holds a row a new one wants
                continue
            new = cur != sids
            if new.any():
                fresh = rows[new]
                for name, (_, _, fill) in self._spec.items():
                    self.cols[name][fresh] = fill
                self.ids[fresh] = sids[new]
                if not full and (self.ids[rows] != sids).any():
                    self._grow()  # two new ids of this call want one row
                    continue
            return rows

    def get(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows of ``sids``, −1 for ids not held."""
        sids = np.asarray(sids, dtype=np.int64)
        rows = sids & (self.size - 1)
        return np.where(self.ids[rows] == sids, rows, -1)

    def pop(self, sids: npt.NDArray[np.int64]) -> None:
        """Forget ``sids`` (those not held are ignored)."""
        rows = self.get(sids)
        self.ids[rows[rows >= 0]] = _EMPTY

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
