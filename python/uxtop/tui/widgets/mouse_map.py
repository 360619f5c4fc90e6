"""A session's mouse path and clicks on the page, as a half-block mini-map.

Moves are drawn as a density trail, clicks as bright cells; rage/dead/error evidence shows up as
hot spots where clicks pile up.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from uxtop.schema import Kind
from uxtop.tui.widgets.heatmap import half_block_strips


class MouseMap(Widget):
    DEFAULT_CSS = """
    MouseMap { height: 1fr; width: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._path: npt.NDArray[np.int32] = np.zeros((0, 3), dtype=np.int32)
        self._extent = (1, 1)
        self._strips: list[Strip] = []

    def clear(self) -> None:
        self._path = np.zeros((0, 3), dtype=np.int32)
        self._extent = (1, 1)
        self._strips = []
        self.refresh()

    def show(self, path: npt.NDArray[np.int32], page_w: int, page_h: int) -> None:
        self._path = path
        # page coordinates: scale to at least a laptop viewport so a short trail isn't stretched
        self._extent = (max(int(page_w * 1.05), 1024), max(int(page_h * 1.05), 768))
        self._strips = []
        self.refresh()

    def _grid(self, cols: int, rows: int) -> npt.NDArray[np.float64]:
        g = np.zeros((rows, cols))
        if not len(self._path):
            return g
        w, h = self._extent
        x = np.clip(self._path[:, 0].astype(np.int64) * cols // (w + 1), 0, cols - 1)
        y = np.clip(self._path[:, 1].astype(np.int64) * rows // (h + 1), 0, rows - 1)
        clicks = self._path[:, 2] != Kind.MOVE
        np.add.at(g, (y[~clicks], x[~clicks]), 1.0)
        # clicks outweigh a whole trail so they read as the hot spots
        np.add.at(g, (y[clicks], x[clicks]), max(1.0, float(g.max()) * 2 + 1))
        return g

    def render_line(self, y: int) -> Strip:
        w, h = self.size.width, self.size.height
        if not len(self._path):
            return Strip(
                [Segment("no pointer data" if y == h // 2 else "", Style(color="#6c6c6c"))]
            ).crop_extend(0, w, Style())
        if len(self._strips) != h or (self._strips and self._strips[0].cell_length != w):
            self._strips = half_block_strips(self._grid(w, 2 * h), w, h)
        return self._strips[y] if y < len(self._strips) else Strip.blank(w)

    def on_resize(self) -> None:
        self._strips = []
