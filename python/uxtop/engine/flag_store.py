"""The kept sessions' flags, as columns.

A flagged session's flags used to be a deque of ``FlagRow`` objects on its record. Under an
incident, or with many sessions open at once, most flagged sessions are evicted again within a
snapshot or two (the ingest benchmark's file flags 110 k sessions, of which retention keeps
5 000), and making and freeing those objects was a third of the analysis thread there. Flags
now go into numpy columns a batch at a time (``flags.FLAG_FIELDS``); a session's ``FlagRow``s
are made when a drill-down asks for them.

Rows of evicted sessions are marked dead and dropped, with the rows past the per-session cap,
when the columns are full; the columns grow only if more than half of them is still live then.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from uxtop.engine.flags import FLAG_FIELDS, rows_of_columns
from uxtop.engine.records import member
from uxtop.snapshot import FlagRow

#: rows the columns start with (and never shrink below)
MIN_ROWS = 1 << 14


class FlagStore:
    """Flags of kept sessions in arrival order; at most ``per_session`` newest per session
    are given back (all are counted by the engine)."""

    def __init__(self, per_session: int) -> None:
        self.per_session = per_session
        self.cols: dict[str, npt.NDArray] = {
            k: np.empty(MIN_ROWS, dtype=t) for k, t in FLAG_FIELDS.items()
        }
        self.alive = np.zeros(MIN_ROWS, dtype=np.bool_)
        self.n = 0
        self.compactions = 0

    @property
    def capacity(self) -> int:
        return int(self.alive.shape[0])

    @property
    def live(self) -> int:
        return int(self.alive[: self.n].sum())

    def append(self, cols: dict[str, npt.NDArray]) -> None:
        m = int(cols["sid"].shape[0])
        if self.n + m > self.capacity:
            self._compact()
            if self.n + m > self.capacity // 2:  # at most half full after a compaction
                self._resize(max(2 * self.capacity, 2 * (self.n + m)))
        for k, v in cols.items():
            self.cols[k][self.n : self.n + m] = v
        self.alive[self.n : self.n + m] = True
        self.n += m

    def drop(self, sids: npt.NDArray[np.uint64]) -> None:
        """Forget the flags of the (evicted) sessions ``sids``."""
        if self.n and sids.size:
            self.alive[: self.n] &= ~member(self.cols["sid"][: self.n], np.sort(sids))

    def rows_of(self, sid: int, names: list[str]) -> list[FlagRow]:
        """Session ``sid``'s newest ``per_session`` flags, oldest first."""
        at = np.flatnonzero((self.cols["sid"][: self.n] == sid) & self.alive[: self.n])
        return rows_of_columns(self.cols, at[-self.per_session :], names)

    def _compact(self) -> None:
        """Keep the live rows, each session's newest ``per_session`` of them, in order."""
        n = self.n
        keep = np.flatnonzero(self.alive[:n])
        sid = self.cols["sid"][keep]
        # rank of each row from its session's newest (0 = newest): sort by session, stable
        order = np.argsort(sid, kind="stable")
        s = sid[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        ends = np.r_[starts[1:], s.size]
        from_end = np.empty(s.size, dtype=np.int64)
        from_end[order] = np.repeat(ends, ends - starts) - 1 - np.arange(s.size)
        keep = keep[from_end < self.per_session]
        m = int(keep.shape[0])
        for v in self.cols.values():
            v[:m] = v[keep]
        self.alive[:m] = True
        self.alive[m:n] = False
        self.n = m
        self.compactions += 1

    def _resize(self, rows: int) -> None:
        rows = max(rows, MIN_ROWS)
        for k, v in self.cols.items():
            grown = np.empty(rows, dtype=v.dtype)
            grown[: self.n] = v[: self.n]
            self.cols[k] = grown
        alive = np.zeros(rows, dtype=np.bool_)
        alive[: self.n] = self.alive[: self.n]
        self.alive = alive
