"""Half-block heatmaps: '▀' with a foreground (top cell) and background (bottom cell) colour
gives two density cells per character, in truecolour, with no plotting library.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

_STOPS = np.array(
    [
        (0.00, 0x16, 0x1B, 0x22),
        (0.15, 0x1F, 0x3A, 0x73),
        (0.40, 0x1F, 0x8A, 0xC0),
        (0.65, 0xF2, 0xD0, 0x3B),
        (0.85, 0xF2, 0x7A, 0x1F),
        (1.00, 0xE8, 0x1F, 0x2D),
    ],
    dtype=np.float64,
)
EMPTY = "#161b22"


def _axis(n_src: int, n_dst: int) -> npt.NDArray[np.int64]:
    """For each source index, the destination bin (downsampling), or for each destination, the
    source index (upsampling): callers use ``resample`` which handles both."""
    return (np.arange(n_src) * n_dst // max(n_src, 1)).astype(np.int64)


def resample(grid: npt.NDArray, rows: int, cols: int) -> npt.NDArray[np.float64]:
    """Sum when shrinking, repeat when growing, per axis."""
    g = np.asarray(grid, dtype=np.float64)
    r, c = g.shape
    if rows <= r:
        idx = _axis(r, rows)
        out = np.zeros((rows, c))
        np.add.at(out, idx, g)
        g = out
    else:
        g = g[(np.arange(rows) * r) // rows]
    if cols <= c:
        idx = _axis(c, cols)
        out = np.zeros((g.shape[0], cols))
        np.add.at(out.T, idx, g.T)
        g = out
    else:
        g = g[:, (np.arange(cols) * c) // cols]
    return g


def colours(values: npt.NDArray[np.float64]) -> list[str]:
    """Map 0..1 intensities to hex colours along the palette (0 exactly = empty)."""
    v = np.clip(values, 0.0, 1.0)
    out = []
    xs = _STOPS[:, 0]
    rgb = np.stack([np.interp(v, xs, _STOPS[:, k]) for k in (1, 2, 3)], axis=-1).astype(int)
    for val, (r, g, b) in zip(v.ravel().tolist(), rgb.reshape(-1, 3).tolist(), strict=True):
        out.append(EMPTY if val <= 0 else f"#{r:02x}{g:02x}{b:02x}")
    return out


def half_block_strips(
    grid: npt.NDArray, width: int, height: int, *, log: bool = True
) -> list[Strip]:
    """``height`` terminal lines × ``width`` columns showing ``grid`` (2 cells per character)."""
    if width <= 0 or height <= 0:
        return []
    g = resample(grid, height * 2, width)
    top = g.max()
    if top > 0:
        norm = np.log1p(g) / np.log1p(top) if log else g / top
        norm = np.where(g > 0, np.maximum(norm, 0.08), 0.0)  # a single event stays visible
    else:
        norm = g
    cols = colours(norm)
    strips = []
    cache: dict[tuple[str, str], Style] = {}
    for line in range(height):
        segs = []
        for x in range(width):
            fg = cols[(2 * line) * width + x]
            bg = cols[(2 * line + 1) * width + x]
            st = cache.get((fg, bg))
            if st is None:
                st = cache[(fg, bg)] = Style(color=fg, bgcolor=bg)
            segs.append(Segment("▀", st))
        strips.append(Strip(Segment.simplify(segs), width))
    return strips


def crop_rows(grid: npt.NDArray, min_rows: int = 8) -> npt.NDArray:
    """Drop the empty bottom of the page grid so the drawing uses the height that has data."""
    nz = np.flatnonzero(np.asarray(grid).sum(axis=1))
    last = int(nz[-1]) + 1 if nz.size else min_rows
    return np.asarray(grid)[: max(last, min_rows)]


class Heatmap(Widget):
    """Density of events over page coordinates; ``show(grid, caption)``."""

    DEFAULT_CSS = """
    Heatmap { height: 1fr; width: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._grid: npt.NDArray | None = None
        self._key: object = None
        self._strips: list[Strip] = []

    def show(self, grid: npt.NDArray | None, key: object = None) -> None:
        """``key`` identifies the data version: same key, no re-render."""
        if key is not None and key == self._key:
            return
        self._key = key
        self._grid = None if grid is None else crop_rows(grid)
        self._strips = []
        self.refresh()

    def render_line(self, y: int) -> Strip:
        w, h = self.size.width, self.size.height
        if self._grid is None or self._grid.sum() == 0:
            return Strip(
                [Segment("no pointer data yet" if y == h // 2 else "", Style(color="#6c6c6c"))]
            ).crop_extend(0, w, Style())
        if len(self._strips) != h or (self._strips and self._strips[0].cell_length != w):
            self._strips = half_block_strips(self._grid, w, h)
        return self._strips[y] if y < len(self._strips) else Strip.blank(w)

    def on_resize(self) -> None:
        self._strips = []


def legend() -> Text:
    t = Text("low ", style="dim")
    for c in colours(np.linspace(0.05, 1, 12)):
        t.append("█", style=c)
    t.append(" high (log)", style="dim")
    return t
