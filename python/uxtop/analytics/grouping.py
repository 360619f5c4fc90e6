"""Grouping helpers for the ingest path: distinct keys without ``np.unique``'s cost.

numpy 2's ``np.unique`` hashes 64-bit keys (~30× slower than a sort on a batch's keys) and
``return_index`` takes a stable argsort; these do the same work by one sort or one hash-set
pass in a kernel (the sort-based ones are in ``uxtop.distinct``). The tests in
``tests/analytics/test_ingest_kernels.py`` compare each with ``np.unique``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.analytics.keymap import EMPTY, _home


@njit(cache=True, nogil=True)
def _first_occurrences_kernel(keys, table, out, slots):  # type: ignore[no-untyped-def]
    """Indices of the first occurrence of each distinct key, ascending. ``table`` is all EMPTY
    on entry and again on return (the slots used are cleared), so it can be reused."""
    mask = table.shape[0] - 1
    n = 0
    for j in range(keys.shape[0]):
        k = keys[j]
        i = _home(k, mask)
        while True:
            v = table[i]
            if v == k:
                break
            if v == EMPTY:
                table[i] = k
                slots[n] = i
                out[n] = j
                n += 1
                break
            i = (i + 1) & mask
    for q in range(n):
        table[slots[q]] = EMPTY
    return n


def first_occurrences(
    keys: npt.NDArray[np.int64], scratch: list[npt.NDArray[np.int64]] | None = None
) -> npt.NDArray[np.int64]:
    """Row of the first occurrence of each distinct key, in row order (the set of indices
    ``np.unique(keys, return_index=True)[1]`` holds, sorted). ``EMPTY`` (−2⁶³) must not occur.
    ``scratch`` (a one-element list, empty at first) keeps the hash table between calls."""
    k = np.ascontiguousarray(keys, dtype=np.int64)
    size = 1 << max(4, int(2 * k.shape[0]).bit_length())
    if scratch is not None and scratch and scratch[0].shape[0] >= size:
        table = scratch[0]
    else:
        table = np.full(size, EMPTY, np.int64)
        if scratch is not None:
            scratch[:] = [table]
    out = np.empty(k.shape[0], np.int64)
    slots = np.empty(k.shape[0], np.int64)
    n = _first_occurrences_kernel(k, table, out, slots)
    return out[:n]


@njit(cache=True, nogil=True)
def _count_first_kernel(keys, cols, shift, table, slots, counts):  # type: ignore[no-untyped-def]
    """For the first occurrence of each distinct key, +1 in ``counts`` at each of its
    ``cols`` entries that is >= 0 (or, with no columns, at ``key >> shift``)."""
    mask = table.shape[0] - 1
    n = 0
    for j in range(keys.shape[0]):
        k = keys[j]
        i = _home(k, mask)
        while True:
            v = table[i]
            if v == k:
                break
            if v == EMPTY:
                table[i] = k
                slots[n] = i
                n += 1
                if cols.shape[1]:
                    for c_ in range(cols.shape[1]):
                        c = cols[j, c_]
                        if c >= 0:
                            counts[c] += 1
                else:
                    counts[k >> shift] += 1
                break
            i = (i + 1) & mask
    for q in range(n):
        table[slots[q]] = EMPTY


def count_first(
    keys: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64] | None,
    size: int,
    shift: int = 0,
    scratch: list[npt.NDArray[np.int64]] | None = None,
) -> npt.NDArray[np.int64]:
    """Counts over ``size`` bins of the distinct keys, each counted once, at its first
    occurrence: at each of that row's ``cols`` entries >= 0, or (``cols`` None) at
    ``key >> shift``. = ``np.bincount`` over ``cols[first_occurrences(keys)]``."""
    k = np.ascontiguousarray(keys, dtype=np.int64)
    c = (
        np.empty((k.shape[0], 0), np.int64)
        if cols is None
        else np.ascontiguousarray(cols, dtype=np.int64)
    )
    need = 1 << max(4, int(2 * k.shape[0]).bit_length())
    if scratch is not None and scratch and scratch[0].shape[0] >= need:
        table = scratch[0]
    else:
        table = np.full(need, EMPTY, np.int64)
        if scratch is not None:
            scratch[:] = [table]
    counts = np.zeros(size, np.int64)
    _count_first_kernel(k, c, shift, table, np.empty(k.shape[0], np.int64), counts)
    return counts
