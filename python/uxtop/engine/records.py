"""Where the engine keeps the events of flagged sessions for drill-down.

Rows are appended into large record slabs and each session holds views of its own rows. When
the slabs hold too many rows no session needs any more (trimmed or evicted), the slabs that are
mostly dead are emptied: their live rows are copied into the current slab, session by session,
and the old slabs are dropped whole. Slabs that are still mostly live stay where they are, so
a compaction copies little and its cost does not grow with everything retained.

Why not one small array per session per batch (the earlier design): sessions are evicted in a
different order than their rows arrive, so the freed arrays leave holes all over the malloc
heap that it cannot hand back. Measured in the 10-minute soak at 100 k events/s: RSS crept up
~2 MB/min while the bytes in use stayed flat, and with retention off it stayed flat. Each slab is
a mapping of its own, so when it is dropped its pages go back to the OS at once.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from uxtop._core import gather_records

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


class HoldsChunks(Protocol):
    """A retained session: its rows, oldest first, as views handed out by ``RecordStore``."""

    chunks: list[npt.NDArray]


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


def _slab_of(chunk: npt.NDArray) -> npt.NDArray:
    # numpy points every view, however sliced, at the array that owns the memory
    base = chunk.base
    return base if isinstance(base, np.ndarray) else chunk


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
    """Append-only slabs of event records with compaction (see the module docstring)."""

    def __init__(self, slab_rows: int = SLAB_ROWS) -> None:
        if slab_rows < 1:
            raise ValueError("RecordStore needs slab_rows >= 1")
        self.slab_rows = slab_rows
        self._slab: npt.NDArray | None = None
        self._pos = 0
        #: rows written into each slab (by id): a slab's unwritten tail was never touched, so it
        #: holds no memory, and only written rows count as used or dead
        self._filled: dict[int, int] = {}
        #: rows written into the slabs sessions may still hold views of
        self.capacity = 0
        self.compactions = 0
        self.rows_moved = 0
        #: bytes per record, of the rows last reserved (the slab in use may be none right after
        #: a compaction that found nothing to move into one)
        self._itemsize = 0
        #: capacity right after the last compaction
        self._after = 0

    def reserve(self, n: int, dtype: np.dtype) -> npt.NDArray:
        """Room for ``n`` records in the store, to be filled by the caller (slice it per
        session)."""
        slab = self._slab
        if slab is None or slab.dtype != dtype or self._pos + n > slab.shape[0]:
            slab = self._slab = _new_slab(max(self.slab_rows, n), dtype)
            self._pos = 0
        view = slab[self._pos : self._pos + n]
        self._itemsize = dtype.itemsize
        self._pos += n
        self._filled[id(slab)] = self._pos
        self.capacity += n
        return view

    def put(self, rec: npt.NDArray) -> npt.NDArray:
        """Copy the records ``rec`` into the store; returns the view of them there (slice it
        per session)."""
        view = self.reserve(int(rec.shape[0]), rec.dtype)
        view[...] = rec
        return view

    def needs_compaction(self, live_rows: int) -> bool:
        # and not before a quarter of the live rows has been written since the last one: its
        # slabs may all have stayed just over DENSE, and a compaction that can move nothing
        # would otherwise run again after every slab (each one a scan of every session)
        floor = max(live_rows * (1 + SLACK), self._after + live_rows * REGROW)
        return self.capacity > floor + self.slab_rows

    def compact(self, sessions: Iterable[HoldsChunks]) -> int:
        """Empty the slabs that are less than DENSE live: copy their rows (each session's
        consecutive ones together, order kept) into the current slab. The emptied slabs are
        freed once nothing else holds them (a drill-down under way keeps its own views).
        Returns the rows moved."""
        holders = [s for s in sessions if s.chunks]
        live: dict[int, int] = {}
        slabs: dict[int, npt.NDArray] = {}
        # each chunk's slab, found once: the scan over every chunk is most of a compaction
        slab_ids: list[list[int]] = []
        for s in holders:
            ids = []
            for c in s.chunks:
                b = _slab_of(c)
                k = id(b)
                live[k] = live.get(k, 0) + int(c.shape[0])
                slabs[k] = b
                ids.append(k)
            slab_ids.append(ids)
        cur = self._slab
        filled = {k: self._filled.get(k, int(b.shape[0])) for k, b in slabs.items()}
        sparse = {k for k, b in slabs.items() if b is not cur and live[k] < DENSE * filled[k]}
        if cur is not None and id(cur) not in slabs:
            self._slab = None  # nothing live in it: the moved rows start a fresh one
        keep = {k for k in slabs if k not in sparse}
        self._filled = {k: filled[k] for k in keep}
        self.capacity = sum(filled[k] for k in keep)
        self.compactions += 1
        moved = 0
        for s, ids in zip(holders, slab_ids, strict=True):
            flags = [k in sparse for k in ids]
            if not any(flags):
                continue
            out: list[npt.NDArray] = []
            i = 0
            while i < len(s.chunks):
                if not flags[i]:
                    out.append(s.chunks[i])
                    i += 1
                    continue
                j = i
                while j < len(s.chunks) and flags[j] and s.chunks[j].dtype == s.chunks[i].dtype:
                    j += 1
                run = s.chunks[i:j]
                n = sum(int(c.shape[0]) for c in run)
                dst = self.reserve(n, run[0].dtype)
                if len(run) == 1:
                    dst[...] = run[0]
                else:
                    np.concatenate(run, out=dst)
                out.append(dst)
                moved += n
                i = j
            s.chunks = out
        self.rows_moved += moved
        self._after = self.capacity
        return moved

    def memory_bytes(self) -> int:
        """Bytes of the rows written into slabs still held (live rows and the dead among them)."""
        return self.capacity * self._itemsize
