"""Numba kernel of the funnel state machine over unit *slots* (rows of state arrays).

It is ``funnels._UnitState.feed`` (the plain-Python twin and executable spec) translated to
arrays: ``NONE`` stands for Python's None. ``tests/analytics/test_funnels.py`` runs both on the
same hypothesis-generated rows and requires identical depth, removal, reach times and paths.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

NONE = np.int64(-(2**62))
START_CAP = 16  # = funnels.START_CAP
ORDER_CODES = {"ordered": 0, "strict": 1, "unordered": 2}


#: the per-slot arrays of ``FunnelState`` (first axis: slot)
_STATE_ARRAYS = (
    "U",
    "T",
    "pmin",
    "pmax",
    "ach",
    "dx",
    "reach",
    "last",
    "upath",
    "best",
    "bestlen",
    "S",
    "Sc",
)


class FunnelState:
    """State arrays for up to ``cap`` units of an ``n``-step funnel; slots are reused."""

    def __init__(self, n: int, cap: int = 1024) -> None:
        self.n = n
        self.cap = 0
        self.U = np.empty((0, n), np.int64)
        self.T = np.empty((0, n), np.int64)
        self.pmin = np.empty((0, n), np.int64)
        self.pmax = np.empty((0, n), np.int64)
        self.ach = np.empty((0, n), np.bool_)
        self.dx = np.empty(0, np.int64)
        self.reach = np.empty((0, n), np.int64)
        self.last = np.empty((0, n), np.int64)
        self.upath = np.empty((0, n, n), np.int64)
        self.best = np.empty((0, n), np.int64)
        self.bestlen = np.empty(0, np.int64)
        self.S = np.empty((0, n, START_CAP), np.int64)
        self.Sc = np.empty((0, n), np.int64)
        self._free = np.empty(64, np.int64)  # released slots, a stack
        self._nfree = 0
        self.used = 0
        self._grow(cap)

    def _grow(self, cap: int) -> None:
        # unfilled: ``alloc_many`` resets a slot before its first use (filling here cost a
        # tenth of the analytics with 200 k sessions open)
        def g(a: npt.NDArray) -> npt.NDArray:
            new = np.empty((cap,) + a.shape[1:], dtype=a.dtype)
            new[: a.shape[0]] = a
            return new

        for name in _STATE_ARRAYS:
            setattr(self, name, g(getattr(self, name)))
        self.cap = cap

    def alloc(self) -> int:
        return int(self.alloc_many(1)[0])

    def alloc_many(self, k: int) -> npt.NDArray[np.int64]:
        """``k`` fresh slots (the most recently released first), reset in one kernel pass."""
        take = min(k, self._nfree)
        # the order of popping ``take`` times from the end of the free stack
        reused = self._free[self._nfree - take : self._nfree][::-1]
        self._nfree -= take
        rest = k - take
        while self.used + rest > self.cap:
            # by 4: a fresh engine with 100 k+ sessions open grew 1 024 -> 65 536 slots (~1.2 KB
            # each) in six copies, a quarter of its funnel time; np.empty's untouched tail
            # costs no memory until slots are used
            self._grow(self.cap * 4)
        slots = np.concatenate([reused, np.arange(self.used, self.used + rest, dtype=np.int64)])
        self.used += rest
        self.reset(slots)
        return slots

    def reset(self, s: int | npt.NDArray[np.int64]) -> None:
        _reset_kernel(
            np.atleast_1d(np.asarray(s, dtype=np.int64)),
            self.U,
            self.T,
            self.pmin,
            self.pmax,
            self.reach,
            self.last,
            self.best,
            self.upath,
            self.ach,
            self.dx,
            self.bestlen,
            self.Sc,
        )

    def release(self, s: int) -> None:
        self.release_many(np.array([s], np.int64))

    def release_many(self, slots: npt.NDArray[np.int64]) -> None:
        need = self._nfree + slots.shape[0]
        if need > self._free.shape[0]:
            grown = np.empty(max(need, 2 * self._free.shape[0]), np.int64)
            grown[: self._nfree] = self._free[: self._nfree]
            self._free = grown
        self._free[self._nfree : need] = slots
        self._nfree = need

    def depth(self, slots: npt.NDArray[np.int64], order: str) -> npt.NDArray[np.int64]:
        return self.depth_removed(slots, order)[0]

    def depth_removed(
        self, slots: npt.NDArray[np.int64], order: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Depth of each unit (deepest uninterrupted level reached) and whether it is removed
        (an interrupted path went deeper)."""
        sl = np.ascontiguousarray(slots, dtype=np.int64)
        depth = np.empty(sl.shape[0], np.int64)
        removed = np.empty(sl.shape[0], np.bool_)
        _depth_kernel(
            order == "unordered", sl, self.ach, self.pmin, self.reach, self.dx, depth, removed
        )
        return depth, removed

    def feed(
        self,
        order: str,
        window_ms: int,
        slots: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        sb: npt.NDArray[np.uint32],
        xb: npt.NDArray[np.uint32],
    ) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
        """Run rows (in order); returns the arrivals (slot, step, ts) of first reaches."""
        return self.feed_rows(order, window_ms, slots, ts, sb, xb)[:3]

    def feed_rows(
        self,
        order: str,
        window_ms: int,
        slots: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
        sb: npt.NDArray[np.uint32],
        xb: npt.NDArray[np.uint32],
    ) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray, npt.NDArray]:
        """``feed``, and for each arrival the index of the row that made it."""
        m = slots.shape[0]
        out_slot = np.empty(m * self.n, np.int64)
        out_step = np.empty(m * self.n, np.int64)
        out_ts = np.empty(m * self.n, np.int64)
        out_row = np.empty(m * self.n, np.int64)
        k = _feed_kernel(
            ORDER_CODES[order],
            self.n,
            np.int64(window_ms),
            np.ascontiguousarray(slots, dtype=np.int64),
            np.ascontiguousarray(ts, dtype=np.int64),
            np.ascontiguousarray(sb, dtype=np.int64),
            np.ascontiguousarray(xb, dtype=np.int64),
            self.U,
            self.T,
            self.pmin,
            self.pmax,
            self.ach,
            self.dx,
            self.reach,
            self.last,
            self.upath,
            self.best,
            self.bestlen,
            self.S,
            self.Sc,
            out_slot,
            out_step,
            out_ts,
            out_row,
        )
        return out_slot[:k], out_step[:k], out_ts[:k], out_row[:k]


@njit(cache=True, nogil=True)
def _reset_kernel(slots, U, T, pmin, pmax, reach, last, best, upath, ach, dx, bestlen, Sc):  # type: ignore[no-untyped-def]
    """Slots back to the empty state (``NONE`` times, nothing achieved, no path)."""
    n = U.shape[1]
    for s in slots:
        for i in range(n):
            U[s, i] = NONE
            T[s, i] = NONE
            pmin[s, i] = NONE
            pmax[s, i] = NONE
            reach[s, i] = NONE
            last[s, i] = NONE
            best[s, i] = NONE
            ach[s, i] = False
            Sc[s, i] = 0
            for j in range(n):
                upath[s, i, j] = NONE
        dx[s] = 0
        bestlen[s] = 0


@njit(cache=True, nogil=True)
def _depth_kernel(unordered, slots, ach, pmin, reach, dx, depth, removed):  # type: ignore[no-untyped-def]
    n = ach.shape[1]
    for j in range(slots.shape[0]):
        s = slots[j]
        d = 0
        if unordered:
            for i in range(n):
                if reach[s, i] != NONE:
                    d += 1
        else:
            for i in range(n - 1, -1, -1):
                if ach[s, i] or pmin[s, i] != NONE:
                    d = i + 1
                    break
        depth[j] = d
        removed[j] = dx[s] > d


@njit(cache=True, nogil=True)
def _select_rows_kernel(  # type: ignore[no-untyped-def]
    sb, eb, pairs, strict, offsets, session, rows, out_sb, out_xb, srow, uniq, inv
):
    """Rows the state machine must see, with their step bits, exclusion pair bits and session
    row; and the runs of equal session rows among them (``uniq``, and ``inv``: each kept row's
    run). Returns (rows kept, runs, whether the session rows never decrease).

    A row matching a step is never an exclusion; a row is kept when it is a step or an
    exclusion, and under ``strict`` also the row after one, the first row and each session's
    first row (one row of each run of other rows is enough to clear progress).
    """
    k = 0
    s = 0
    last_s = offsets.shape[0] - 1  # offsets[:-1] are the session starts
    prev_kept = True
    nu = 0
    ordered = True
    for j in range(sb.shape[0]):
        b = np.int64(sb[j])
        x = np.int64(0)
        if b == 0:
            e = np.int64(eb[j])
            i = 0
            while e != 0:
                if e & 1:
                    x |= pairs[i]
                e >>= 1
                i += 1
        keep = b != 0 or x != 0
        take = keep
        if strict:
            while s < last_s and offsets[s] < j:
                s += 1
            take = keep or prev_kept or (s < last_s and offsets[s] == j)
            prev_kept = keep
        if take:
            rows[k] = j
            out_sb[k] = b
            out_xb[k] = x
            sr = np.int64(session[j])
            srow[k] = sr
            if k == 0 or sr != uniq[nu - 1]:
                if k > 0 and sr < uniq[nu - 1]:
                    ordered = False
                uniq[nu] = sr
                nu += 1
            inv[k] = nu - 1
            k += 1
    return k, nu, ordered


@njit(cache=True, nogil=True)
def _feed_kernel(  # type: ignore[no-untyped-def]
    order,
    n,
    w,
    slots,
    tss,
    sbs,
    xbs,
    U,
    T,
    pmin,
    pmax,
    ach,
    dx,
    reach,
    last,
    upath,
    best,
    bestlen,
    S,
    Sc,
    out_slot,
    out_step,
    out_ts,
    out_row,
):
    k = 0
    marked = 0  # arrivals before this one have their row in out_row
    tmp = np.empty(n, np.int64)
    buf = np.empty(2 * START_CAP + 1, np.int64)
    cand = np.empty(START_CAP, np.int64)
    for r in range(slots.shape[0]):
        for q in range(marked, k):
            out_row[q] = r - 1
        marked = k
        s = slots[r]
        ts = tss[r]
        sbits = sbs[r]
        xbits = xbs[r]
        if order == 2:  # unordered
            if sbits == 0:
                continue
            for i in range(n):
                if (sbits >> i) & 1:
                    last[s, i] = ts
            c = 0
            for i in range(n):
                if last[s, i] != NONE and last[s, i] >= ts - w:
                    tmp[c] = last[s, i]
                    c += 1
            # insertion sort in place (c <= n): np.sort would allocate per row
            for a in range(1, c):
                v = tmp[a]
                b = a - 1
                while b >= 0 and tmp[b] > v:
                    tmp[b + 1] = tmp[b]
                    b -= 1
                tmp[b + 1] = v
            for j in range(c):
                if reach[s, j] == NONE:
                    reach[s, j] = ts
                    out_slot[k] = s
                    out_step[k] = j
                    out_ts[k] = ts
                    k += 1
            if c > bestlen[s]:
                bestlen[s] = c
                for j in range(c):
                    best[s, j] = tmp[j]
            continue
        if sbits != 0:
            # high -> low so that level i-1 is still the pre-row state: one row, one step
            for i in range(n - 1, -1, -1):
                if not (sbits >> i) & 1:
                    continue
                # a clean continuation reaches level i: the starts it brings (cand[:n_src]) and
                # the deadline range of the prefixes it finishes (dmin..dmax)
                n_src = 0
                dmin = NONE
                dmax = NONE
                if i == 0:
                    U[s, 0] = ts
                    upath[s, 0, 0] = ts
                    cand[0] = ts  # level 0 is the last level of the row: cand is free
                    n_src = 1
                    dmin = ts + w
                    dmax = ts + w
                else:
                    st = U[s, i - 1]
                    if st != NONE and ts - st <= w:
                        nc = 0
                        for j in range(Sc[s, i - 1]):
                            if ts - S[s, i - 1, j] <= w:
                                cand[nc] = S[s, i - 1, j]
                                nc += 1
                        if st > U[s, i]:
                            U[s, i] = st
                            for j in range(i):
                                upath[s, i, j] = upath[s, i - 1, j]
                            upath[s, i, i] = ts
                        n_src = nc
                        dmin = cand[0] + w
                        dmax = st + w
                if dmax != NONE:
                    # the twin's _merge and _pend, written out: a numba call passing the state
                    # arrays costs more per row (reference counting) than their work
                    lo = ts - w
                    a = 0
                    bb = 0
                    m = 0
                    na = Sc[s, i]
                    while a < na and S[s, i, a] < lo:
                        a += 1
                    prev = NONE
                    while a < na or bb < n_src:
                        if bb >= n_src or (a < na and S[s, i, a] <= cand[bb]):
                            v = S[s, i, a]
                            a += 1
                        else:
                            v = cand[bb]
                            bb += 1
                        if m == 0 or v != prev:
                            buf[m] = v
                            m += 1
                            prev = v
                    first = m - START_CAP if m > START_CAP else 0
                    for j in range(first, m):
                        S[s, i, j - first] = buf[j]
                    Sc[s, i] = m - first
                    if pmin[s, i] == NONE:
                        pmin[s, i] = dmin
                        pmax[s, i] = dmax
                    else:
                        if dmin < pmin[s, i]:
                            pmin[s, i] = dmin
                        if dmax > pmax[s, i]:
                            pmax[s, i] = dmax
                    if reach[s, i] == NONE:
                        reach[s, i] = ts
                        out_slot[k] = s
                        out_step[k] = i
                        out_ts[k] = ts
                        k += 1
                    if i + 1 > bestlen[s]:
                        bestlen[s] = i + 1
                        for j in range(i + 1):
                            best[s, j] = upath[s, i, j]
                if i == 0:
                    continue
                tt = T[s, i - 1]
                if tt != NONE and ts - tt <= w:
                    if tt > T[s, i]:
                        T[s, i] = tt
                    if i + 1 > dx[s]:
                        dx[s] = i + 1
        elif xbits != 0:
            for i in range(n):
                if not (xbits >> i) & 1:
                    continue
                if pmin[s, i] != NONE:
                    if pmin[s, i] < ts:
                        ach[s, i] = True  # a prefix whose window closed before x stays clean
                    if pmax[s, i] >= ts and i + 1 > dx[s]:
                        dx[s] = i + 1
                    pmin[s, i] = NONE
                    pmax[s, i] = NONE
                u = U[s, i]
                if u != NONE and u + w >= ts:
                    if u > T[s, i]:
                        T[s, i] = u
                U[s, i] = NONE
                Sc[s, i] = 0
        if order == 1:  # strict: a row that is not level i's step clears level i
            for i in range(n):
                if not (sbits >> i) & 1:
                    U[s, i] = NONE
                    T[s, i] = NONE
                    Sc[s, i] = 0
    for q in range(marked, k):
        out_row[q] = slots.shape[0] - 1
    return k
