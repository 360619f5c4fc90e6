"""A headline number with a caption and an optional sparkline underneath."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.tui.format import sparkline
from uxtop.tui.widgets.set_text import set_text


class MetricTile(Static):
    DEFAULT_CSS = """
    MetricTile { height: 6; width: 1fr; padding: 0 1; border: round $primary-darken-2; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, title: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.border_title = title
        self._last: tuple[object, ...] | None = None

    def show(
        self, value: str, caption: str = "", spark: tuple[float, ...] = (), style: str = "bold"
    ) -> None:
        state = (value, caption, spark, style)
        if state == self._last:
            return  # unchanged: no repaint
        self._last = state
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(value, style=style)
        t.append("\n")
        t.append(caption, style="dim")
        if spark:
            width = max(4, self.content_size.width) if self.content_size.width else 24
            t.append("\n")
            t.append(sparkline(spark, width), style="cyan")
        set_text(self, t)
