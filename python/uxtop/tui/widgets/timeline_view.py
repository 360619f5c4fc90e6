"""A session's events as a virtual list (Line API): only visible lines are rendered, each once
per width/cursor state (LRU cache), so a 100k-event session scrolls like a 10-line one.
"""

from __future__ import annotations

from collections import OrderedDict

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from uxtop.snapshot import SessionDetail, TimelineEntry
from uxtop.tui.actions import bindings
from uxtop.tui.format import KIND_STYLE, rel_time
from uxtop.tui.messages import FlagSelected

_LEVEL_STYLE = {
    "error": Style(color="#ff5f5f", bold=True),
    "warn": Style(color="#ffaf00"),
    "slow": Style(color="#ff8700"),
    "flag": Style(color="#ffd75f"),
    "": Style(),
}
_KIND_COL = {
    "pageview": Style(color="#5fafff", bold=True),
    "request": Style(color="#87afaf"),
    "error": Style(color="#ff5f5f", bold=True),
    "move": Style(color="#6c6c6c"),
    "scroll": Style(color="#87af87"),
}
_CURSOR = Style(bgcolor="#303a4a", bold=True)
_DIM = Style(color="#808080")


class TimelineView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    TimelineView { height: 1fr; width: 1fr; overflow-x: hidden; }
    """
    BINDINGS = [
        *bindings("list"),
        Binding("down", "cursor_down", show=False),
        Binding("up", "cursor_up", show=False),
        Binding("home", "scroll_top", show=False),
        Binding("end", "scroll_bottom", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("pageup", "page_up", show=False),
    ]

    cursor = reactive(0)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.detail: SessionDetail | None = None
        self._entries: tuple[TimelineEntry, ...] = ()
        self._flag_lines: tuple[int, ...] = ()
        self._cache: OrderedDict[tuple[int, int, bool], Strip] = OrderedDict()
        self._t0 = 0

    def load(self, detail: SessionDetail) -> None:
        self.detail = detail
        self._entries = detail.entries
        self._flag_lines = detail.flag_entry_indices
        self._t0 = detail.start_ts
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._entries))
        self.cursor = 0
        self.refresh()

    def clear(self) -> None:
        """No session (while the next one loads)."""
        self.detail = None
        self._entries = ()
        self._flag_lines = ()
        self._t0 = 0
        self._cache.clear()
        self.virtual_size = Size(self.size.width, 0)
        self.cursor = 0
        self.refresh()

    @property
    def entries(self) -> tuple[TimelineEntry, ...]:
        return self._entries

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if index >= len(self._entries):
            return Strip.blank(width)
        key = (index, width, index == self.cursor)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_entry(index, width)
            self._cache[key] = strip
            if len(self._cache) > 400:  # a few screenfuls; each Strip is GC-tracked
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip

    def _render_entry(self, index: int, width: int) -> Strip:
        e = self._entries[index]
        selected = index == self.cursor
        kind_style = (
            Style.parse(KIND_STYLE.get(e.text.split()[1], "bold #ffd75f"))
            if e.kind == "flag" and len(e.text.split()) > 1
            else _KIND_COL.get(e.kind, Style())
        )
        segs = [
            Segment(f"{rel_time(e.ts - self._t0):>11} ", _DIM),
            Segment(f"{'⚑' if e.kind == 'flag' else ' '}", Style(color="#ffd75f", bold=True)),
            Segment(f" {e.kind[:9]:<9} ", kind_style),
            Segment(
                e.text if e.kind != "flag" else e.text.removeprefix("⚑ "),
                _LEVEL_STYLE.get(e.level, Style())
                + (Style(bold=True) if e.kind == "flag" else Style()),
            ),
        ]
        if e.row >= 0:
            segs.append(Segment(f"  #{e.row}", _DIM))
        strip = Strip(segs).crop_extend(0, width, Style())
        if e.kind == "flag":
            strip = strip.apply_style(Style(bgcolor="#3a2f00"))
        if selected:
            strip = strip.apply_style(_CURSOR)
        return strip

    # ------------------------------------------------------------------ cursor

    def watch_cursor(self, old: int, new: int) -> None:
        for key in [k for k in self._cache if k[0] in (old, new)]:
            del self._cache[key]
        self.refresh()
        self._scroll_to_cursor()
        entry = self._entries[new] if 0 <= new < len(self._entries) else None
        self.post_message(FlagSelected(entry.flag if entry is not None else -1))

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self._entries) - 1)) if self._entries else 0

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._entries))
        self._cache.clear()

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_scroll_top(self) -> None:
        self.cursor = 0

    def action_scroll_bottom(self) -> None:
        self.cursor = len(self._entries) - 1

    def action_page_down(self) -> None:
        self.cursor += max(1, self.size.height // 2)

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.size.height // 2)

    def jump_flag(self, forward: bool) -> bool:
        """Move the cursor to the next/previous flag line; False if there is none that way."""
        if forward:
            nxt = next((i for i in self._flag_lines if i > self.cursor), None)
        else:
            nxt = next((i for i in reversed(self._flag_lines) if i < self.cursor), None)
        if nxt is None:
            return False
        self.cursor = nxt
        return True

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is not None:
            self.cursor = int(self.scroll_y) + int(y)
