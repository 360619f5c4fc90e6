"""Screen tabs with their number keys; the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.tui.actions import SCREENS


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; width: 1fr; }
    """

    def __init__(self, current: str, available: frozenset[str], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.current = current
        self.available = available

    def on_mount(self) -> None:
        self.update(self.render_tabs())

    def render_tabs(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        for key, name, title in SCREENS:
            if name not in self.available:
                continue
            if name == self.current:
                t.append(f" {key} {title} ", style="bold reverse")
            else:
                t.append(f" {key}", style="bold")
                t.append(f" {title} ", style="dim")
        t.append("   ? help  ctrl+p commands", style="dim italic")
        return t
