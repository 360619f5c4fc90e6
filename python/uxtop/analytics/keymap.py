"""``KeyMap``: an insertion-ordered int64 → row map over numpy arrays, driven by numba kernels.

It replaces per-session Python dicts/OrderedDicts on the ingest path (session → funnel slot,
session → cohort columns, session → routes called, finished session → reach times). Semantics
are those of an ``OrderedDict`` used as ``d[k] = v`` / ``pop`` / ``popitem(last=False)``:
re-assigning a present key keeps its position; a popped and re-inserted key goes to the end;
``evict(cap)`` drops the oldest keys until at most ``cap`` are left. Values live in the caller's
arrays, indexed by the *row* this map hands out (rows are reused after a key leaves).

Open addressing with linear probing and backward-shift deletion (no tombstones); insertion order
is a FIFO of (key, sequence number) whose stale entries (popped keys) are skipped and compacted.
``tests/analytics/test_keymap.py`` checks it against an ``OrderedDict`` on hypothesis data.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

EMPTY = np.int64(-(2**63))  # the one key value that cannot be stored
# meta slots
_LIVE, _NFREE, _SEQ, _HEAD, _TAIL, _USED = range(6)


@njit(cache=True, nogil=True, inline="always")
def _home(k, mask):  # type: ignore[no-untyped-def]
    # splitmix64 finaliser: sequential ids spread over the table
    z = np.uint64(k) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.int64(z & np.uint64(mask))


@njit(cache=True, nogil=True)
def _find(tab, k):  # type: ignore[no-untyped-def]
    mask = tab.shape[0] - 1
    i = _home(k, mask)
    while True:
        v = tab[i, 0]
        if v == k:
            return i
        if v == EMPTY:
            return -1 - i  # where it would go
        i = (i + 1) & mask


@njit(cache=True, nogil=True)
def _get_kernel(tab, keys, out):  # type: ignore[no-untyped-def]
    for j in range(keys.shape[0]):
        i = _find(tab, keys[j])
        out[j] = tab[i, 1] if i >= 0 else -1


@njit(cache=True, nogil=True)
def _insert_kernel(tab, rseq, free, meta, ring_k, ring_s, keys, out_row, out_new):  # type: ignore[no-untyped-def]
    for j in range(keys.shape[0]):
        k = keys[j]
        i = _find(tab, k)
        if i >= 0:
            out_row[j] = tab[i, 1]
            out_new[j] = False
            continue
        i = -1 - i
        if meta[_NFREE] > 0:
            meta[_NFREE] -= 1
            r = free[meta[_NFREE]]
        else:
            r = meta[_USED]
            meta[_USED] += 1
        tab[i, 0] = k
        tab[i, 1] = r
        s = meta[_SEQ]
        meta[_SEQ] += 1
        rseq[r] = s
        t = meta[_TAIL]
        ring_k[t] = k
        ring_s[t] = s
        meta[_TAIL] = t + 1
        meta[_LIVE] += 1
        out_row[j] = r
        out_new[j] = True


@njit(cache=True, nogil=True)
def _delete_at(tab, i):  # type: ignore[no-untyped-def]
    mask = tab.shape[0] - 1
    j = i
    while True:
        j = (j + 1) & mask
        if tab[j, 0] == EMPTY:
            break
        h = _home(tab[j, 0], mask)
        if i <= j:
            stays = i < h <= j
        else:
            stays = h > i or h <= j
        if not stays:
            tab[i, 0] = tab[j, 0]
            tab[i, 1] = tab[j, 1]
            i = j
    tab[i, 0] = EMPTY
    tab[i, 1] = -1


@njit(cache=True, nogil=True)
def _pop_kernel(tab, rseq, free, meta, keys, out_row):  # type: ignore[no-untyped-def]
    for j in range(keys.shape[0]):
        i = _find(tab, keys[j])
        if i < 0:
            out_row[j] = -1
            continue
        r = tab[i, 1]
        _delete_at(tab, i)
        rseq[r] = -1
        free[meta[_NFREE]] = r
        meta[_NFREE] += 1
        meta[_LIVE] -= 1
        out_row[j] = r


@njit(cache=True, nogil=True)
def _evict_kernel(tab, rseq, free, meta, ring_k, ring_s, cap, out_row):  # type: ignore[no-untyped-def]
    n = 0
    while meta[_LIVE] > cap and meta[_HEAD] < meta[_TAIL]:
        h = meta[_HEAD]
        meta[_HEAD] = h + 1
        i = _find(tab, ring_k[h])
        if i < 0 or rseq[tab[i, 1]] != ring_s[h]:
            continue  # stale: popped (and maybe re-inserted later)
        r = tab[i, 1]
        _delete_at(tab, i)
        rseq[r] = -1
        free[meta[_NFREE]] = r
        meta[_NFREE] += 1
        meta[_LIVE] -= 1
        out_row[n] = r
        n += 1
    return n


@njit(cache=True, nogil=True)
def _ordered_kernel(tab, rseq, meta, ring_k, ring_s, out_key, out_row):  # type: ignore[no-untyped-def]
    n = 0
    for h in range(meta[_HEAD], meta[_TAIL]):
        i = _find(tab, ring_k[h])
        if i >= 0 and rseq[tab[i, 1]] == ring_s[h]:
            out_key[n] = ring_k[h]
            out_row[n] = tab[i, 1]
            n += 1
    return n


@njit(cache=True, nogil=True)
def _rehash_kernel(tab, new):  # type: ignore[no-untyped-def]
    for i in range(tab.shape[0]):
        if tab[i, 0] != EMPTY:
            j = -1 - _find(new, tab[i, 0])
            new[j, 0] = tab[i, 0]
            new[j, 1] = tab[i, 1]


def _i64(a: npt.ArrayLike) -> npt.NDArray[np.int64]:
    arr = np.asarray(a)
    if arr.dtype != np.int64:
        arr = arr.astype(np.int64)  # uint64 session ids: same bits as int64 (.astype wraps)
    return np.ascontiguousarray(arr)


class KeyMap:
    """Insertion-ordered int64 → row map (see module doc). ``rows_cap`` bounds valid rows."""

    def __init__(self, capacity: int = 1024) -> None:
        cap = max(16, int(capacity))
        # open addressing over (key, row) pairs: one cache line per probe
        self.tab = _empty_table(_pow2(2 * cap))
        self.rseq = np.full(cap, -1, np.int64)
        self.free = np.empty(cap, np.int64)
        self.meta = np.zeros(8, np.int64)
        self.ring_k = np.empty(cap, np.int64)
        self.ring_s = np.empty(cap, np.int64)

    def __len__(self) -> int:
        return int(self.meta[_LIVE])

    @property
    def rows_cap(self) -> int:
        return int(self.rseq.shape[0])

    def _reserve(self, k: int) -> None:
        # grown arrays are np.empty plus a copy of the used prefix: the tail is only written
        # (and its pages faulted in) when rows get used; rows past the used ones, table values
        # without a key and ring entries past the tail are never read
        live = int(self.meta[_LIVE])
        need = live + k
        if need > self.rseq.shape[0]:
            cap = max(need, 2 * self.rseq.shape[0])
            used = int(self.meta[_USED])
            self.rseq = _extend(self.rseq, cap, used)
            self.free = _extend(self.free, cap, int(self.meta[_NFREE]))
        if 2 * need > self.tab.shape[0]:
            new = _empty_table(_pow2(4 * need))
            _rehash_kernel(self.tab, new)
            self.tab = new
        if self.meta[_TAIL] + k > self.ring_k.shape[0]:
            # compacting (a full scan) only pays when evicted/popped entries fill much of the
            # ring; a map that only grows would rescan every live key on each doubling
            if 2 * (int(self.meta[_TAIL]) - live) >= self.ring_k.shape[0]:
                self._compact_ring()
            if self.meta[_TAIL] + k > self.ring_k.shape[0]:
                size = max(int(self.meta[_TAIL]) + k, 2 * self.ring_k.shape[0])
                tail = int(self.meta[_TAIL])
                self.ring_k = _extend(self.ring_k, size, tail)
                self.ring_s = _extend(self.ring_s, size, tail)

    def _compact_ring(self) -> None:
        keys, rows = self.items()
        m = keys.shape[0]
        self.ring_k[:m] = keys
        self.ring_s[:m] = self.rseq[rows]
        self.meta[_HEAD] = 0
        self.meta[_TAIL] = m

    def get(self, keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Row of each key, −1 where absent."""
        k = _i64(keys)
        out = np.empty(k.shape[0], np.int64)
        _get_kernel(self.tab, k, out)
        return out

    def insert(self, keys: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """(row, newly inserted) of each key, inserting absent ones at the end, in order."""
        k = _i64(keys)
        self._reserve(k.shape[0])
        rows = np.empty(k.shape[0], np.int64)
        new = np.empty(k.shape[0], np.bool_)
        _insert_kernel(
            self.tab,
            self.rseq,
            self.free,
            self.meta,
            self.ring_k,
            self.ring_s,
            k,
            rows,
            new,
        )
        return rows, new

    def pop(self, keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Remove keys; their former rows (−1 where absent). Rows are free for reuse."""
        k = _i64(keys)
        out = np.empty(k.shape[0], np.int64)
        _pop_kernel(self.tab, self.rseq, self.free, self.meta, k, out)
        if self.meta[_TAIL] - self.meta[_HEAD] > 4 * max(int(self.meta[_LIVE]), 1 << 16):
            self._compact_ring()
        return out

    def evict(self, cap: int) -> npt.NDArray[np.int64]:
        """Drop the oldest keys until at most ``cap`` are left; their rows."""
        out = np.empty(max(int(self.meta[_LIVE]) - cap, 0), np.int64)
        if out.shape[0] == 0:
            return out
        n = _evict_kernel(
            self.tab, self.rseq, self.free, self.meta, self.ring_k, self.ring_s, cap, out
        )
        return out[:n]

    def items(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(keys, rows) in insertion order."""
        m = int(self.meta[_TAIL] - self.meta[_HEAD])
        keys = np.empty(m, np.int64)
        rows = np.empty(m, np.int64)
        n = _ordered_kernel(self.tab, self.rseq, self.meta, self.ring_k, self.ring_s, keys, rows)
        return keys[:n], rows[:n]


def _extend(a: npt.NDArray[np.int64], size: int, keep: int) -> npt.NDArray[np.int64]:
    """``a`` grown to ``size`` entries, of which only the first ``keep`` are copied."""
    out = np.empty(size, np.int64)
    out[:keep] = a[:keep]
    return out


def _empty_table(size: int) -> npt.NDArray[np.int64]:
    tab = np.empty((size, 2), np.int64)
    tab[:, 0] = EMPTY  # rows of empty entries are never read
    return tab


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())
