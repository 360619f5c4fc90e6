"""``flag_tally.SeenPairs``' two numba passes, in their own module: the engine imports the
flag tally when it starts, and numba's import (~0.3 s) belongs on the warm-up thread, not
before the first frame. The first flags come once the detectors are ready, numba loaded."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _lower_bound_from(a, lo, x):  # type: ignore[no-untyped-def]
    """First index >= ``lo`` with ``a[i] >= x`` (``a`` sorted): gallop, then bisect. Sorted
    queries each start where the last one ended, so a batch costs O(k log(n / k)) probes, and
    no more than a merge walk when the batch is as large as the set."""
    n = a.shape[0]
    if lo >= n or a[lo] >= x:
        return lo
    prev = lo  # a[prev] < x
    step = 1
    cur = lo + 1
    while cur < n and a[cur] < x:
        prev = cur
        step *= 2
        cur = prev + step
    hi = min(cur, n)
    lo = prev + 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def fresh_kernel(h, young, old, fresh):  # type: ignore[no-untyped-def]
    """``fresh[i]``: sorted unique ``h[i]`` is in neither sorted array. Returns how many are."""
    iy = 0
    io = 0
    n = 0
    for i in range(h.shape[0]):
        x = h[i]
        iy = _lower_bound_from(young, iy, x)
        io = _lower_bound_from(old, io, x)
        f = not (iy < young.shape[0] and young[iy] == x) and not (
            io < old.shape[0] and old[io] == x
        )
        fresh[i] = f
        n += f
    return n


@njit(cache=True, nogil=True)
def merge_into_kernel(buf, n, add):  # type: ignore[no-untyped-def]
    """Merge sorted ``add`` (none in ``buf[:n]``) into sorted ``buf[:n]`` in place, from the
    back: ``buf`` has room for both. Only the entries above the smallest new one move."""
    i = n - 1
    j = add.shape[0] - 1
    w = n + add.shape[0] - 1
    while j >= 0:
        if i >= 0 and buf[i] > add[j]:
            buf[w] = buf[i]
            i -= 1
        else:
            buf[w] = add[j]
            j -= 1
        w -= 1
