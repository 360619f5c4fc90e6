"""Where the engine keeps the events of flagged sessions for drill-down.

Rows are appended into large record slabs. Which rows belong to which session is a table of
segments (session id, slab, offset, length), numpy columns in write order, so a session's
segments read oldest first. When the slabs hold too many rows no session needs any more
(trimmed or evicted), the slabs that are mostly dead are emptied: their live rows are copied
into the current slab, each session's consecutive ones together as one segment, and the old
slabs are dropped whole. Slabs that are still mostly live stay where they are, so a compaction
copies little and its cost does not grow with everything retained.

Why a segment table and not a list of row views per session (the previous design): with most
flagged sessions' events retained, a compaction walked every view of every session in Python,
about 60 ms each at 5 000 sessions, one to two per 1.5 M events; that churn was what kept the
settled analysis thread under the 3 M events/s bar. The table does the same walk as a few
array operations (a drop, a compaction: one sort over ~30 k segments).

Why not one small array per session per batch (the design before that): sessions are evicted
in a different order than their rows arrive, so the freed arrays leave holes all over the
malloc heap that it cannot hand back. Measured in the 10-minute soak at 100 k events/s: RSS
crept up ~2 MB/min while the bytes in use stayed flat, and with retention off it stayed flat.
Each slab is a mapping of its own, so when it is dropped its pages go back to the OS at once.
A few emptied slabs are kept for reuse rather than dropped (POOL_SLABS), which is safe because
the store never hands out views of its slabs: ``rows_of`` returns a copy.
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop._core import gather_records
from uxtop.batch import segment_rows
from uxtop.distinct import unique_ints

#: rows per slab: ~5 MB of records, well above malloc's mmap threshold
SLAB_ROWS = 1 << 16
#: a slab with less than this share of its rows live is emptied by a compaction. Slabs only
#: empty as their sessions go, so the store drifts up towards 1/DENSE times the live rows; at
#: 2/3 that drift (to 1.5x) showed as RSS floors rising ~2.5 MB/min over a 10-minute soak.
#: Moving a slab costs at most DENSE/(1 - DENSE) = 4 live rows copied per dead row freed.
DENSE = 0.8
#: compact when the slabs' rows exceed the live ones by this share (plus one slab). With every
#: slab at least DENSE live after a compaction, the slabs hold at most 1/DENSE = 1.25x the live
#: rows, so the trigger is not met again until that much more has died.
SLACK = 1 / DENSE - 1
#: rows written since the last compaction, as a share of the live ones, before the next one
REGROW = 0.25
#: emptied slabs kept for reuse, in slabs' worth of rows (8: ~38 MB of the engine's records).
#: A fresh slab's first write faults in its pages, ~35 ns a record on this host: two thirds of
#: the gather into it. A reused slab's pages are already there.
POOL_SLABS = 8


def _new_slab(rows: int, dtype: np.dtype) -> npt.NDArray:
    """A slab in a private anonymous mapping of its own: it never shares the malloc heap with
    anything, so dropping it unmaps it (from the heap, a freed slab left a hole that smaller
    allocations split and pinned; measured: RSS floors rose ~4 MB/min). Its unwritten tail is
    never touched, so it costs no memory."""
    private = getattr(mmap, "MAP_PRIVATE", None)
    if private is None:  # not a POSIX system: the allocator's memory
        return np.empty(rows, dtype=dtype)
    mm = mmap.mmap(-1, max(rows * dtype.itemsize, 1), flags=private)
    return np.frombuffer(mm, dtype=dtype, count=rows)


def member(
    values: npt.NDArray[np.uint64], sorted_ids: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    """``np.isin(values, sorted_ids)`` by binary search. Session ids grow without bound, and
    isin's default table method allocates a bool array over the whole id range (millions of
    entries for one call once the stream has run a while)."""
    if not sorted_ids.size:
        return np.zeros(values.shape, dtype=bool)
    pos = np.searchsorted(sorted_ids, values)
    pos[pos == sorted_ids.size] = 0
    return sorted_ids[pos] == values


def gather_into(
    out: npt.NDArray, columns: Mapping[str, npt.NDArray], rows: npt.NDArray[np.int64]
) -> None:
    """``out[f][i] = columns[f][rows[i]]`` for every field ``f`` of the records ``out``.

    numpy does this a field at a time, each a strided write over the whole block (measured
    70-90 ns a record for the engine's 18 fields); the core fills the records a cache-sized
    block at a time (20-60 ns a record, fresh slab pages included). ``gather_into_reference``
    is the plain-numpy meaning, used in tests."""
    plan = _PLANS.get(out.dtype)
    if plan is None:
        fields: Mapping[str, tuple[Any, ...]] = out.dtype.fields or {}
        plan = _PLANS[out.dtype] = (
            tuple(fields),
            tuple(f[1] for f in fields.values()),
            tuple(f[0] for f in fields.values()),
        )
    names, offsets, dtypes = plan
    if len(columns) != len(names) or any(
        columns.get(k) is None or columns[k].dtype != t for k, t in zip(names, dtypes, strict=True)
    ):
        raise ValueError(
            f"record fields {[(k, str(t)) for k, t in zip(names, dtypes, strict=True)]} do not match "
            f"the columns {[(k, str(v.dtype)) for k, v in columns.items()]}"
        )
    if out.ndim != 1 or not out.flags.c_contiguous:
        raise ValueError("out must be a contiguous 1-D record array")
    cols = [np.ascontiguousarray(columns[k]) for k in names]
    gather_records(
        out.view(np.uint8).reshape(-1),
        out.dtype.itemsize,
        [(o, c.view(np.uint8).reshape(-1)) for o, c in zip(offsets, cols, strict=True)],
        [t.itemsize for t in dtypes],
        np.ascontiguousarray(rows, dtype=np.int64),
    )


#: per record dtype: its field names, offsets and dtypes (read once, not per batch)
_PLANS: dict[np.dtype, tuple[tuple[str, ...], tuple[int, ...], tuple[np.dtype, ...]]] = {}


def gather_into_reference(
    out: npt.NDArray, columns: Mapping[str, npt.NDArray], rows: npt.NDArray[np.int64]
) -> None:
    for k, v in columns.items():
        out[k] = v[rows]


class RecordStore:
    """Append-only slabs of one record layout, a segment table saying whose rows are where,
    and compaction (see the module docstring)."""

    def __init__(self, slab_rows: int = SLAB_ROWS, pool_slabs: int = POOL_SLABS) -> None:
        if slab_rows < 1:
            raise ValueError("RecordStore needs slab_rows >= 1")
        self.slab_rows = slab_rows
        self.pool_rows = max(pool_slabs, 0) * slab_rows
        #: emptied slabs to write into again (their pages are in memory already)
        self._pool: list[npt.NDArray] = []
        #: slabs mapped so far (not taken from the pool)
        self.slabs_made = 0
        self._dtype: np.dtype | None = None
        #: slabs by number, and the rows written into each: a slab's unwritten tail was never
        #: touched, so it holds no memory, and only written rows count as used or dead
        self._slabs: dict[int, npt.NDArray] = {}
        self._filled: dict[int, int] = {}
        self._next_slab = 0
        self._cur = -1  # the slab being written; -1 before the first or after a compaction
        self._pos = 0
        # the segment table: its first _n entries, in write order
        self._n = 0
        self._sid = np.empty(1024, dtype=np.uint64)
        self._slab = np.empty(1024, dtype=np.int64)
        self._off = np.empty(1024, dtype=np.int64)
        self._len = np.empty(1024, dtype=np.int64)
        #: rows some session still holds
        self.live_rows = 0
        #: rows written into the slabs still held (live rows and the dead among them)
        self.capacity = 0
        self.compactions = 0
        self.rows_moved = 0
        #: capacity right after the last compaction
        self._after = 0

    @property
    def segments(self) -> int:
        return self._n

    @property
    def slabs(self) -> int:
        return len(self._slabs)

    def write(
        self, sids: npt.NDArray[np.uint64], lens: npt.NDArray[np.int64], dtype: np.dtype
    ) -> npt.NDArray:
        """Room for ``lens[i]`` new rows of session ``sids[i]``, for every ``i``, as one block
        of records in that order, to be filled by the caller. The rows count as the sessions'
        newest from now on."""
        lens = np.asarray(lens, dtype=np.int64)
        total = int(lens.sum())
        block, slab, pos = self._reserve(total, dtype)
        some = lens > 0
        offs = pos + np.cumsum(lens) - lens
        self._push(np.asarray(sids, dtype=np.uint64)[some], slab, offs[some], lens[some])
        self.live_rows += total
        return block

    def put(self, sid: int, rec: npt.NDArray) -> None:
        """Copy the records ``rec`` in as session ``sid``'s newest rows."""
        n = np.array([rec.shape[0]], dtype=np.int64)
        self.write(np.array([sid], dtype=np.uint64), n, rec.dtype)[...] = rec

    def rows_of(self, sid: int) -> npt.NDArray:
        """A copy of session ``sid``'s rows, oldest first (a copy: slabs are reused)."""
        n = self._n
        at = np.flatnonzero(self._sid[:n] == sid)
        if self._dtype is None or not at.size:
            return np.empty(0, dtype=self._dtype if self._dtype is not None else np.uint8)
        slabs = self._slabs
        return np.concatenate(
            [
                slabs[k][o : o + m]
                for k, o, m in zip(
                    self._slab[at].tolist(),
                    self._off[at].tolist(),
                    self._len[at].tolist(),
                    strict=True,
                )
            ]
        )

    def drop(self, sids: npt.NDArray[np.uint64]) -> int:
        """Forget every row of the sessions ``sids``; returns the rows that became dead."""
        n = self._n
        if not n or not len(sids):
            return 0
        gone = member(self._sid[:n], unique_ints(np.asarray(sids, dtype=np.uint64)))
        dead = int(self._len[:n][gone].sum())
        if dead or gone.any():
            self._keep(~gone)
            self.live_rows -= dead
        return dead

    def trim(self, sid: int, max_rows: int) -> int:
        """Keep only session ``sid``'s newest ``max_rows`` rows; returns the rows dropped."""
        n = self._n
        at = np.flatnonzero(self._sid[:n] == sid)
        lens = self._len[at]
        excess = int(lens.sum()) - max(max_rows, 0)
        if excess <= 0:
            return 0
        csum = np.cumsum(lens)
        whole = int(np.searchsorted(csum, excess, side="right"))  # segments that go whole
        if whole < at.size:  # the oldest one kept loses its front
            cut = excess - (int(csum[whole - 1]) if whole else 0)
            self._off[at[whole]] += cut
            self._len[at[whole]] -= cut
        if whole:
            keep = np.ones(n, dtype=bool)
            keep[at[:whole]] = False
            self._keep(keep)
        self.live_rows -= excess
        return excess

    def needs_compaction(self) -> bool:
        # and not before a quarter of the live rows has been written since the last one: its
        # slabs may all have stayed just over DENSE, and a compaction that can move nothing
        # would otherwise run again after every slab
        live = self.live_rows
        floor = max(live * (1 + SLACK), self._after + live * REGROW)
        return self.capacity > floor + self.slab_rows

    def compact(self) -> int:
        """Empty the slabs that are less than DENSE live: copy their rows (each session's
        consecutive ones together, order kept) into the current slab. The emptied slabs are
        freed once nothing else holds them (a drill-down under way keeps its own views).
        Returns the rows moved."""
        n = self._n
        sid, slab, off, ln = self._sid[:n], self._slab[:n], self._off[:n], self._len[:n]
        held, where = np.unique(slab, return_inverse=True)
        live = np.bincount(where, weights=ln, minlength=held.size)
        filled = np.array([self._filled[k] for k in held.tolist()], dtype=np.int64)
        sparse = (live < DENSE * filled) & (held != self._cur)
        # slabs nothing lives in go whole, the current one too: the moved rows start a fresh one
        for k in set(self._slabs).difference(held.tolist()):
            self._free(k)
            if k == self._cur:
                self._cur = -1
        self.compactions += 1
        moving = sparse[where]
        moved = 0
        if moving.any():
            moved = self._move(sid, slab, off, ln, moving)
            for k in held[sparse].tolist():
                self._free(k)
        self.capacity = sum(self._filled.values())
        self.rows_moved += moved
        self._after = self.capacity
        return moved

    def _move(
        self,
        sid: npt.NDArray[np.uint64],
        slab: npt.NDArray[np.int64],
        off: npt.NDArray[np.int64],
        ln: npt.NDArray[np.int64],
        moving: npt.NDArray[np.bool_],
    ) -> int:
        """Copy the ``moving`` segments' rows into one new block, each session's consecutive
        moving segments as one run (its first segment's table entry, the others dropped)."""
        # each session's segments in its own order; a run is consecutive moving ones
        by_session = np.argsort(sid, kind="stable")
        m = moving[by_session]
        same = np.zeros(m.size, dtype=bool)
        same[1:] = (sid[by_session][1:] == sid[by_session][:-1]) & m[:-1]
        order = by_session[m]  # the moving segments, session by session, oldest first
        starts = ~same[m]  # where each run begins, in ``order``
        lens = ln[order]
        total = int(lens.sum())
        assert self._dtype is not None  # rows exist, so a layout was written
        block, dst_slab, dst_pos = self._reserve(total, self._dtype)
        dst = np.cumsum(lens) - lens
        src_slab, src_off = slab[order], off[order]
        # whole records as opaque bytes: numpy copies a structured dtype field by field
        # through fancy indexing (measured 250 ns a 72-byte record; as void, 6-30 ns)
        raw = np.dtype(f"V{self._dtype.itemsize}")
        out = block.view(raw)
        for k in np.unique(src_slab).tolist():
            mine = src_slab == k
            src = self._slabs[k].view(raw)
            out[segment_rows(dst[mine], lens[mine])] = src[segment_rows(src_off[mine], lens[mine])]
        # the runs: first segments take the whole run, the rest of each run goes
        first = order[starts]
        run_no = np.cumsum(starts) - 1
        self._slab[first] = dst_slab
        self._off[first] = dst_pos + dst[starts]
        self._len[first] = np.bincount(run_no, weights=lens).astype(np.int64)
        keep = np.ones(sid.size, dtype=bool)
        keep[order[~starts]] = False
        self._keep(keep)
        return total

    def memory_bytes(self) -> int:
        """Bytes of the rows written into slabs still held (live rows and the dead among them),
        and of the emptied slabs kept for reuse."""
        return (self.capacity + self._pooled_rows()) * (
            self._dtype.itemsize if self._dtype is not None else 0
        )

    def _free(self, k: int) -> None:
        """Drop slab ``k``: into the pool while it has room (oversized ones too: their pages
        are as good), else unmapped."""
        slab = self._slabs.pop(k)
        del self._filled[k]
        if self._pooled_rows() + slab.shape[0] <= self.pool_rows:
            self._pool.append(slab)

    def _pooled_rows(self) -> int:
        return sum(int(b.shape[0]) for b in self._pool)

    def _reserve(self, n: int, dtype: np.dtype) -> tuple[npt.NDArray, int, int]:
        """Room for ``n`` records: the view, its slab's number and its first row there."""
        if self._dtype is None:
            self._dtype = dtype
        elif dtype != self._dtype:
            raise ValueError(f"this store holds records {self._dtype}, not {dtype}")
        if n == 0:
            return np.empty(0, dtype=dtype), -1, 0
        slab = self._slabs.get(self._cur)
        if slab is None or self._pos + n > slab.shape[0]:
            self._cur = self._next_slab
            self._next_slab += 1
            slab = self._slabs[self._cur] = self._take(max(self.slab_rows, n), dtype)
            self._pos = 0
        pos = self._pos
        self._pos += n
        self._filled[self._cur] = self._pos
        self.capacity += n
        return slab[pos : self._pos], self._cur, pos

    def _take(self, rows: int, dtype: np.dtype) -> npt.NDArray:
        """A slab of at least ``rows``: a pooled one if one is big enough, else a new one."""
        for i, slab in enumerate(self._pool):
            if slab.shape[0] >= rows:
                return self._pool.pop(i)
        self.slabs_made += 1
        return _new_slab(rows, dtype)

    def _push(
        self,
        sids: npt.NDArray[np.uint64],
        slab: int,
        offs: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
    ) -> None:
        k = sids.size
        if not k:
            return
        n = self._n
        if n + k > self._sid.size:
            size = max(2 * self._sid.size, n + k)
            for name in ("_sid", "_slab", "_off", "_len"):
                old = getattr(self, name)
                new = np.empty(size, dtype=old.dtype)
                new[:n] = old[:n]
                setattr(self, name, new)
        self._sid[n : n + k] = sids
        self._slab[n : n + k] = slab
        self._off[n : n + k] = offs
        self._len[n : n + k] = lens
        self._n = n + k

    def _keep(self, keep: npt.NDArray[np.bool_]) -> None:
        """Keep only the table entries where ``keep`` (in order); the arrays shrink when
        mostly empty, so the table's memory follows the sessions held."""
        n = self._n
        k = int(keep.sum())
        for name in ("_sid", "_slab", "_off", "_len"):
            arr = getattr(self, name)
            kept = arr[:n][keep]
            if 4 * k < arr.size and arr.size > 1024:
                arr = np.empty(max(2 * k, 1024), dtype=arr.dtype)
                setattr(self, name, arr)
            arr[:k] = kept
        self._n = k
