"""Distinct values of integer keys, as ``np.unique`` gives them, without its cost.

On this project's numpy (2.x) ``np.unique(x)`` hashes 64-bit keys and then sorts the distinct
ones: ~12 ms for 100 k random ids, where ``np.sort`` takes ~0.4 ms. ``return_index`` takes a
stable argsort (~7 ms), ``return_counts`` the same hash. The engine, the detectors and the
analytics call these once or more per batch on arrays of 10⁴–10⁵ session ids or hashes, so each
helper does the same work by one (unstable) sort or argsort, or (``unique_inverse`` on a
narrow span) a presence table. ``tests/test_distinct.py`` checks
each against ``np.unique`` on hypothesis data.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _heads(s: npt.NDArray) -> npt.NDArray[np.bool_]:
    """True where a sorted array's value differs from the one before (and at 0)."""
    head = np.empty(s.shape[0], np.bool_)
    if s.shape[0]:
        head[0] = True
        np.not_equal(s[1:], s[:-1], out=head[1:])
    return head


def unique_ints(x: npt.NDArray) -> npt.NDArray:
    """``np.unique(x)`` for an integer array (sorted distinct values), by one sort."""
    s = np.sort(x)
    if s.shape[0] < 2:
        return s
    return s[_heads(s)]


def unique_counts(x: npt.NDArray) -> tuple[npt.NDArray, npt.NDArray[np.intp]]:
    """``np.unique(x, return_counts=True)`` for an integer array."""
    s = np.sort(x)
    at = np.flatnonzero(_heads(s))
    return s[at], np.diff(np.append(at, s.shape[0]))


def unique_first(x: npt.NDArray, counts: bool = False) -> tuple[npt.NDArray, ...]:
    """``np.unique(x, return_index=True)`` (and ``return_counts`` with ``counts``) for an
    integer array: the sorted distinct values, the index of each one's first occurrence (the
    least index among equal keys, which an unstable argsort leaves in any order)."""
    order = np.argsort(x)
    s = x[order]
    at = np.flatnonzero(_heads(s))
    first = np.minimum.reduceat(order, at) if at.shape[0] else order[:0]
    if counts:
        return s[at], first, np.diff(np.append(at, s.shape[0]))
    return s[at], first


def unique_inverse(x: npt.NDArray) -> tuple[npt.NDArray, npt.NDArray[np.intp]]:
    """``np.unique(x, return_inverse=True)`` for an integer array. Over a span of values not
    much wider than the array (string ids of a batch's flags, say) a table of the span marks
    the values present and numbers them, with no sort; otherwise ``np.unique``."""
    if x.shape[0] == 0:
        return x[:0], np.empty(0, np.intp)
    lo = x.min()  # of x's type: x - lo stays in it (uint64 ids past int64's range too)
    span = int(x.max()) - int(lo) + 1
    if span > 4 * x.shape[0] + (1 << 16):
        uniq, inv = np.unique(x, return_inverse=True)
        return uniq, inv.reshape(-1)
    signed = x.dtype.kind == "i"  # differences of signed values may not fit their type
    off = (x.astype(np.int64) - int(lo) if signed else x - lo).astype(np.intp)
    present = np.zeros(span, np.bool_)
    present[off] = True
    at = np.flatnonzero(present)
    number = np.cumsum(present, dtype=np.intp) - 1
    uniq = (at + int(lo)).astype(x.dtype) if signed else at.astype(x.dtype) + lo
    return uniq, number[off]
