"""The flagged sessions the engine keeps for the Sessions screen and drill-down, as columns.

Under heavy flagging most flagged sessions pass through: on the ingest bench's file 110 k are
flagged and 5 000 kept, so the set turns over at every snapshot. An object per session (made,
updated per flag batch, read per window batch, deleted at eviction) was a quarter of the
analysis thread there. Here a session is a slot in numpy columns: flags, fields read from the
batches and eviction are array operations per batch, and Python runs per session only for what
a person sees: the session rows of a snapshot (cached until the session changes) and the key
of the sessions that survive an eviction.

Slots are reused (a free list); ``ids()`` is the sorted id index, rebuilt after a change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from uxtop.batch import NONE_ID
from uxtop.distinct import unique_inverse
from uxtop.snapshot import SessionRow

_I64 = np.int64
#: the columns a session's row is made from
_ROW_FIELDS = ("sid", "score", "n_flags", "url", "target", "start_ts", "first_ts",
               "last_flag_ts", "n_events", "n_kept", "dev", "rel", "geo", "closed", "seq")  # fmt: skip
#: numeric columns and their types (``kinds``/``kind_seen`` are 2-D, ``key``/``uid``/``row``
#: objects)
_COLUMNS: dict[str, type] = {
    "sid": np.uint64,
    "seq": np.int64,
    "first_ts": np.int64,
    "last_flag_ts": np.int64,
    "n_flags": np.int64,
    "score": np.float64,
    "url": np.int64,  # string codes (the engine's StringCodes) of the newest flag's page...
    "target": np.int64,  # ... and element
    "start_ts": np.int64,
    "n_events": np.int64,
    "closed": np.bool_,
    "dev": np.int64,  # ingest string ids (NONE_ID: not read yet)
    "rel": np.int64,
    "geo": np.int64,
    "n_kept": np.int64,  # rows copied to the record store
}
#: a free slot's values (string ids unset, the rest zero)
_EMPTY = {k: NONE_ID if k in ("dev", "rel", "geo") else 0 for k in _COLUMNS}


class KeptSessions:
    """Columns of the kept sessions; ``len()`` is how many are kept."""

    def __init__(self, cap: int = 1024) -> None:
        self.cap = 0
        self.cols: dict[str, npt.NDArray] = {k: np.empty(0, t) for k, t in _COLUMNS.items()}
        self.key = np.empty(0, object)  # str once read, else None
        self.uid = np.empty(0, object)
        self.row = np.empty(0, object)  # the cached SessionRow (None: rebuild)
        #: flag counts by kind column, and the flag number that first showed each kind (0: none)
        self.kinds = np.zeros((0, 0), np.int64)
        self.kind_seen = np.zeros((0, 0), np.int64)
        self.kind_codes: list[int] = []  # kind column -> string code
        self._kind_col = np.full(0, -1, np.int64)  # string code -> kind column
        self.alive = np.zeros(0, np.bool_)
        self._free = np.empty(0, _I64)  # released slots, a stack (top at _n_free)
        self._n_free = 0
        self._used = 0  # slots ever handed out (the rest of ``cap`` is fresh)
        self._n = 0
        self._seq = 0
        self._flag_no = 0
        self._ids: npt.NDArray[np.uint64] | None = None
        self._id_slots = np.empty(0, _I64)
        self._grow(cap)

    def __len__(self) -> int:
        return self._n

    # -- index -------------------------------------------------------------------------------
    def ids(self) -> npt.NDArray[np.uint64]:
        """The kept sessions' ids, sorted."""
        if self._ids is None:
            live = self.live_slots()
            sid = self.cols["sid"][live]
            order = np.argsort(sid)
            self._ids, self._id_slots = sid[order], live[order]
        return self._ids

    def slots_of(self, sids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The slot of each id in ``sids``, -1 where it is not kept."""
        ids = self.ids()
        out = np.full(sids.shape[0], -1, _I64)
        if ids.size and sids.size:
            at = np.searchsorted(ids, sids)
            inb = at < ids.size
            hit = np.flatnonzero(inb)[ids[at[inb]] == sids[inb]]
            out[hit] = self._id_slots[at[hit]]
        return out

    def slot_of(self, sid: int) -> int:
        return int(self.slots_of(np.array([sid], np.uint64))[0])

    # -- updates -----------------------------------------------------------------------------
    def add_flags(
        self,
        sid: npt.NDArray[np.uint64],
        n_flags: npt.NDArray[np.int64],
        severity: npt.NDArray[np.float64],
        last_end: npt.NDArray[np.int64],
        first_start: npt.NDArray[np.int64],
        url: npt.NDArray[np.int64],
        target: npt.NDArray[np.int64],
        pair_session: npt.NDArray[np.int64],
        pair_kind: npt.NDArray[np.int64],
        pair_count: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.uint64]:
        """One batch's flags, summed per session (``sid`` unique, in the order of each one's
        first flag in the batch), and per (session index, kind code) pair, each session's
        pairs in the order their kinds first appear. Returns the newly kept ids."""
        slots = self.slots_of(sid)
        new = np.flatnonzero(slots < 0)
        if new.size:
            fresh = self._alloc(int(new.size))
            slots[new] = fresh
            c = self.cols
            c["sid"][fresh] = sid[new]
            c["seq"][fresh] = self._seq + 1 + np.arange(new.size)
            self._seq += int(new.size)
            c["first_ts"][fresh] = first_start[new]
            self._ids = None
        c = self.cols
        c["n_flags"][slots] += n_flags
        c["score"][slots] += severity
        c["last_flag_ts"][slots] = np.maximum(c["last_flag_ts"][slots], last_end)
        c["url"][slots] = url
        c["target"][slots] = target
        if pair_session.size:
            ps = slots[pair_session]
            col = self._kind_columns(pair_kind)
            unseen = self.kinds[ps, col] == 0
            # kinds first seen now get increasing flag numbers, in pair order
            self.kind_seen[ps[unseen], col[unseen]] = self._flag_no + 1 + np.flatnonzero(unseen)
            self._flag_no += int(pair_session.size)
            np.add.at(self.kinds, (ps, col), pair_count)
        self.row[slots] = None
        return sid[new]

    def set_scores(self, sid: npt.NDArray[np.uint64], score: npt.NDArray[np.float64]) -> None:
        """The detector's current score of kept sessions (others are ignored)."""
        slots = self.slots_of(sid)
        ok = slots >= 0
        slots, score = slots[ok], score[ok]
        moved = self.cols["score"][slots] != score
        self.cols["score"][slots[moved]] = score[moved]
        self.row[slots[moved]] = None

    def read_fields(
        self,
        slots: npt.NDArray[np.int64],
        start_ts: npt.NDArray[np.int64],
        n_events: npt.NDArray[np.int64],
        closed: npt.NDArray[np.bool_],
        dev: npt.NDArray[np.int64],
        rel: npt.NDArray[np.int64],
        geo: npt.NDArray[np.int64],
    ) -> None:
        """Fields of the sessions' rows in a batch newer than the last one read. The cohort
        is taken from the first batch whose row names a device."""
        c = self.cols
        c["start_ts"][slots] = start_ts
        c["n_events"][slots] = n_events
        c["closed"][slots] = closed
        unset = c["dev"][slots] == NONE_ID
        for k, v in (("dev", dev), ("rel", rel), ("geo", geo)):
            c[k][slots[unset]] = v[unset]
        self.row[slots] = None

    def without_key(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Positions in ``slots`` of the sessions whose key is not read yet."""
        return np.flatnonzero(self.key[slots] == None)  # noqa: E711 (object array)

    def add_kept_rows(self, slots: npt.NDArray[np.int64], n: npt.NDArray[np.int64]) -> None:
        self.cols["n_kept"][slots] += n
        self.row[slots[n > 0]] = None

    def drop(self, slots: npt.NDArray[np.int64]) -> None:
        """Forget the sessions in ``slots`` (evicted)."""
        if not slots.size:
            return
        self.alive[slots] = False
        self.row[slots] = None
        self.key[slots] = None
        self.uid[slots] = None
        self.kinds[slots] = 0
        self.kind_seen[slots] = 0
        for k, empty in _EMPTY.items():
            self.cols[k][slots] = empty
        need = self._n_free + slots.size
        if need > self._free.shape[0]:
            grown = np.empty(max(need, 2 * self._free.shape[0]), _I64)
            grown[: self._n_free] = self._free[: self._n_free]
            self._free = grown
        self._free[self._n_free : need] = slots
        self._n_free = need
        self._n -= int(slots.size)
        self._ids = None

    # -- reading -----------------------------------------------------------------------------
    def live_slots(self) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.alive[: self._used])

    def newest_first(self) -> npt.NDArray[np.int64]:
        """Live slots, most recently first flagged first."""
        live = self.live_slots()
        return live[np.argsort(-self.cols["seq"][live], kind="stable")]

    def _kind_names(self, at: npt.NDArray[np.int64], names: list[str]) -> list[tuple[str, ...]]:
        """Each slot's flag kinds by name, most flags first, ties in the order first seen: one
        sort of all the slots' (count, first-seen) keys instead of a sort per slot."""
        counts, seen = self.kinds[at], self.kind_seen[at]
        has = counts > 0
        # first-seen flag numbers stay far below 2^40; counts are capped under 2^22
        key = np.where(has, -np.minimum(counts, 1 << 22) * (1 << 40) + seen, np.iinfo(_I64).max)
        order = np.argsort(key, axis=1).tolist()
        label = [names[code] for code in self.kind_codes]
        return [
            tuple(label[k] for k in o[:n])
            for o, n in zip(order, has.sum(axis=1).tolist(), strict=True)
        ]

    def session_rows(
        self, slots: list[int], names: list[str], text: Callable[[str, int], str]
    ) -> list[SessionRow]:
        """The sessions' rows (cached until a session changes), those not cached made together:
        each column is read once for all of them, kinds ordered and cohort ids named in bulk
        (under heavy flagging most of a snapshot's 2 000 rows are new each time, 4 times a
        second)."""
        rows = self.row
        missing = [s for s in slots if rows[s] is None]
        if missing:
            at = np.asarray(missing, dtype=_I64)
            c = {k: self.cols[k][at] for k in _ROW_FIELDS}
            col = {k: c[k].tolist() for k in ("sid", "score", "n_flags", "url", "target")}
            col |= {k: c[k].tolist() for k in ("last_flag_ts", "closed", "seq")}
            start = np.where(c["start_ts"] != 0, c["start_ts"], c["first_ts"]).tolist()
            n_events = np.maximum(c["n_events"], c["n_kept"]).tolist()
            dev, rel, geo = (_named(text, dim, c[dim]) for dim in ("dev", "rel", "geo"))
            keys = self.key[at].tolist()
            kinds = self._kind_names(at, names)
            for j, slot in enumerate(missing):
                sid = col["sid"][j]
                rows[slot] = SessionRow(
                    session_id=sid,
                    key=keys[j] or str(sid),
                    score=round(col["score"][j], 2),
                    n_flags=col["n_flags"][j],
                    kinds=kinds[j],
                    url=names[col["url"][j]],
                    target=names[col["target"][j]],
                    start_ts=start[j],
                    last_flag_ts=col["last_flag_ts"][j],
                    n_events=n_events[j],
                    dev=dev[j],
                    rel=rel[j],
                    geo=geo[j],
                    closed=col["closed"][j],
                    seq=col["seq"][j],
                )
        return [rows[s] for s in slots]  # type: ignore[misc]  # (all filled above)

    # -- storage -----------------------------------------------------------------------------
    def _alloc(self, k: int) -> npt.NDArray[np.int64]:
        take = min(k, self._n_free)
        # the order of popping ``take`` times from the top of the stack
        reused = self._free[self._n_free - take : self._n_free][::-1]
        self._n_free -= take
        rest = k - take
        if self._used + rest > self.cap:
            self._grow(max(2 * self.cap, self._used + rest))
        slots = np.concatenate(
            [np.asarray(reused, _I64), np.arange(self._used, self._used + rest, dtype=_I64)]
        )
        self._used += rest
        self.alive[slots] = True
        self._n += k
        return slots

    def _grow(self, cap: int) -> None:
        old = self.cap

        def grown(a: npt.NDArray, fill: object) -> npt.NDArray:
            out = np.full((cap,) + a.shape[1:], fill, dtype=a.dtype)
            out[:old] = a[:old]
            return out

        for k, empty in _EMPTY.items():
            self.cols[k] = grown(self.cols[k], empty)
        self.key = grown(self.key, None)
        self.uid = grown(self.uid, None)
        self.row = grown(self.row, None)
        self.alive = grown(self.alive, False)
        self.kinds = grown(self.kinds, 0)
        self.kind_seen = grown(self.kind_seen, 0)
        self.cap = cap

    def _kind_columns(self, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The kind column of each string code, adding columns for kinds not seen before."""
        top = int(codes.max()) + 1
        if top > self._kind_col.shape[0]:
            self._kind_col = np.concatenate(
                [self._kind_col, np.full(top - self._kind_col.shape[0], -1, _I64)]
            )
        col = self._kind_col[codes]
        if (col < 0).any():
            for code in np.unique(codes[col < 0]).tolist():
                self._kind_col[code] = len(self.kind_codes)
                self.kind_codes.append(code)
            k = len(self.kind_codes)
            extra = k - self.kinds.shape[1]
            pad = np.zeros((self.cap, extra), np.int64)
            self.kinds = np.concatenate([self.kinds, pad], axis=1)
            self.kind_seen = np.concatenate([self.kind_seen, pad], axis=1)
            col = self._kind_col[codes]
        return col


def _named(text: Callable[[str, int], str], table: str, ids: npt.NDArray[np.int64]) -> list[str]:
    """``text(table, id)`` for each of ``ids``, looked up once per distinct id."""
    uniq, inv = unique_inverse(ids)
    names = [text(table, v) for v in uniq.tolist()]
    return [names[i] for i in inv.tolist()]
