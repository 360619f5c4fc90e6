"""HeatGrids' per-batch pass as one numba loop (``aggregates.HeatGrids.add`` is the reference).

The numpy version makes ~20 passes over the batch (masks, gathers, clips, bincounts) at ~50 ns
an event; this is one pass to find new pages (only while page slots are free) and one to count.
Imported by the warm-up thread, which compiles it and then hands it to ``HeatGrids``; until
then the analysis thread keeps the numpy path, so it never waits for the JIT.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.batch import INT_NA
from uxtop.schema import Kind

_CLICK = int(Kind.CLICK)
_DBLCLICK = int(Kind.DBLCLICK)
_CONTEXTMENU = int(Kind.CONTEXTMENU)
_MOVE = int(Kind.MOVE)
_SCROLL = int(Kind.SCROLL)
_NA = int(INT_NA)


@njit(cache=True, nogil=True, inline="always")
def _is_click(k: int) -> bool:
    return k == _CLICK or k == _DBLCLICK or k == _CONTEXTMENU


@njit(cache=True, nogil=True, inline="always")
def _usable_scroll(s: int, h: int, v: int) -> bool:
    """A scroll event the depth histogram can use (all three measures, a page height)."""
    return s != _NA and h != _NA and v != _NA and h > 0


@njit(cache=True, nogil=True)
def new_pages_kernel(
    kind: npt.NDArray[np.uint8],
    url: npt.NDArray[np.int32],
    x: npt.NDArray[np.int32],
    y: npt.NDArray[np.int32],
    sy: npt.NDArray[np.int32],
    sh: npt.NDArray[np.int32],
    vh: npt.NDArray[np.int32],
    slot_of_url: npt.NDArray[np.int32],
    new_pointer: npt.NDArray[np.bool_],
    new_scroll: npt.NDArray[np.bool_],
) -> None:
    """Mark urls without a slot seen on a pointer event / a usable scroll event."""
    for i in range(kind.shape[0]):
        u = url[i]
        if u < 0 or slot_of_url[u] >= 0:
            continue
        k = kind[i]
        if _is_click(k) or k == _MOVE:
            if x[i] != _NA and y[i] != _NA:
                new_pointer[u] = True
        elif k == _SCROLL:
            if _usable_scroll(sy[i], sh[i], vh[i]):
                new_scroll[u] = True


@njit(cache=True, nogil=True)
def count_kernel(
    kind: npt.NDArray[np.uint8],
    url: npt.NDArray[np.int32],
    x: npt.NDArray[np.int32],
    y: npt.NDArray[np.int32],
    sy: npt.NDArray[np.int32],
    sh: npt.NDArray[np.int32],
    vh: npt.NDArray[np.int32],
    slot_of_url: npt.NDArray[np.int32],
    cell_w: int,
    cell_h: int,
    grid_w: int,
    grid_h: int,
    depth_bins: int,
    clicks: npt.NDArray[np.int64],
    moves: npt.NDArray[np.int64],
    depth: npt.NDArray[np.int64],
    n_clicks: npt.NDArray[np.int64],
    n_moves: npt.NDArray[np.int64],
) -> None:
    for i in range(kind.shape[0]):
        u = url[i]
        if u < 0:
            continue
        slot = slot_of_url[u]
        if slot < 0:
            continue
        k = kind[i]
        is_click = _is_click(k)
        if is_click or k == _MOVE:
            xi, yi = x[i], y[i]
            if xi == _NA or yi == _NA:
                continue
            cx = min(max(xi // cell_w, 0), grid_w - 1)
            cy = min(max(yi // cell_h, 0), grid_h - 1)
            flat = (np.int64(slot) * grid_h + cy) * grid_w + cx
            if is_click:
                clicks[flat] += 1
                n_clicks[slot] += 1
            else:
                moves[flat] += 1
                n_moves[slot] += 1
        elif k == _SCROLL:
            s, h, v = sy[i], sh[i], vh[i]
            if not _usable_scroll(s, h, v):
                continue
            # int32 sum as numpy's reference does it, then true division
            frac = min(max(float(np.int32(s + v)) / float(h), 0.0), 0.9999)
            depth[np.int64(slot) * depth_bins + np.int64(frac * depth_bins)] += 1
