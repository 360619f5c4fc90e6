"""Where the engine keeps the events of flagged sessions for drill-down.

Rows are appended into large record slabs and each session holds views of its own rows; when
the rows no session holds any more (trimmed or evicted) outweigh the live ones, the live rows
are copied into one fresh block, session by session, and the old slabs are dropped whole.

Why not one small array per session per batch (the earlier design): sessions are evicted in a
different order than their rows arrive, so the freed arrays leave holes all over the malloc
heap that it cannot hand back. Measured in the 10-minute soak at 100 k events/s: RSS crept up
~2 MB/min while the bytes in use stayed flat, and with retention off it stayed flat. Slabs and
compacted blocks are large, so when they are dropped their pages go back to the OS whole (the
engine's periodic ``malloc_trim`` returns those below the mmap threshold).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np
import numpy.typing as npt

#: rows per slab: ~5 MB of records, well above malloc's mmap threshold
SLAB_ROWS = 1 << 16
#: compact when the rows written since the last compaction exceed the live ones by this share
#: (plus one slab): memory stays within ~1.25x the live rows (a smaller sawtooth), and each
#: compaction copies the live rows once per quarter of them appended since (at 100 k events/s,
#: ~100 MB every half minute: a few ms of memcpy per second)
SLACK = 0.25


class HoldsChunks(Protocol):
    """A retained session: its rows, oldest first, as views handed out by ``RecordStore``."""

    chunks: list[npt.NDArray]


class RecordStore:
    """Append-only slabs of event records with compaction (see the module docstring)."""

    def __init__(self, slab_rows: int = SLAB_ROWS, slack: float = SLACK) -> None:
        if slab_rows < 1 or slack <= 0:
            raise ValueError("RecordStore needs slab_rows >= 1 and slack > 0")
        self.slab_rows = slab_rows
        self.slack = slack
        self._slab: npt.NDArray | None = None
        self._pos = 0
        #: rows in the blocks sessions may still hold views of (since the last compaction)
        self.rows_held = 0
        self.compactions = 0

    def put(self, rec: npt.NDArray) -> npt.NDArray:
        """Copy the records ``rec`` into the store; returns the view of them there (slice it
        per session)."""
        n = int(rec.shape[0])
        slab = self._slab
        if slab is None or slab.dtype != rec.dtype or self._pos + n > slab.shape[0]:
            slab = self._slab = np.empty(max(self.slab_rows, n), dtype=rec.dtype)
            self._pos = 0
        view = slab[self._pos : self._pos + n]
        view[...] = rec
        self._pos += n
        self.rows_held += n
        return view

    def needs_compaction(self, live_rows: int) -> bool:
        return self.rows_held > live_rows * (1 + self.slack) + self.slab_rows

    def compact(self, sessions: Iterable[HoldsChunks]) -> int:
        """Copy every session's rows into one fresh block, in order, so the old slabs are
        dropped once nothing else holds them (a drill-down under way keeps its own views).
        Returns the rows moved."""
        holders = [s for s in sessions if s.chunks]
        total = sum(int(c.shape[0]) for s in holders for c in s.chunks)
        dtypes = {c.dtype for s in holders for c in s.chunks}
        self._slab = None
        self._pos = 0
        self.compactions += 1
        if total == 0 or len(dtypes) != 1:
            # nothing held, or records of a changed layout (never in one run): start over
            self.rows_held = total
            return 0
        block = np.empty(total, dtype=dtypes.pop())
        pos = 0
        for s in holders:
            n = sum(int(c.shape[0]) for c in s.chunks)
            mine = block[pos : pos + n]
            if len(s.chunks) == 1:
                mine[...] = s.chunks[0]
            else:
                np.concatenate(s.chunks, out=mine)
            s.chunks = [mine]
            pos += n
        self.rows_held = total
        return total

    def memory_bytes(self) -> int:
        """Bytes of the current slab (the compacted block is counted through the sessions)."""
        return 0 if self._slab is None else int(self._slab.nbytes)
