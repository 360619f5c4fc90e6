"""Update a Static without re-laying out the screen when its size cannot change.

``Static.update`` asks for a full layout pass by default (every widget arranged again, the
screen repainted: 30-60 ms on a full 160x48 screen). The status line, captions and panels here
are updated 4 times a second and on keys, and almost never change size: a fixed height (or
``fr``) cannot, and an ``auto`` height only does when the number of wrapped lines changes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

_HEIGHT_ATTR = "_uxtop_text_height"


def text_height(content: Any, width: int, console: Any) -> int | None:
    """Lines ``content`` takes at ``width`` cells, or None when that is not cheap to know."""
    if not isinstance(content, Text) or width <= 0:
        return None
    return len(content.wrap(console, width))


def set_text(widget: Static, content: Any) -> None:
    styles = widget.styles
    width, height = styles.width, styles.height
    if width is None or width.is_auto:
        widget.update(content)  # the content decides the width: lay out
        return
    if height is not None and not height.is_auto:
        widget.update(content, layout=False)
        return
    lines = text_height(content, widget.content_region.width, widget.app.console)
    same = lines is not None and getattr(widget, _HEIGHT_ATTR, None) == lines
    setattr(widget, _HEIGHT_ATTR, lines)
    widget.update(content, layout=not same)
