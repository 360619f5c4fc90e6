"""Scroll-depth distribution: one horizontal bar per 10 % band of the page."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.tui.format import human
from uxtop.tui.widgets.set_text import set_text


class DepthBars(Static):
    DEFAULT_CSS = """
    DepthBars { height: auto; width: 1fr; }
    """

    def show(self, depth: tuple[int, ...], title: str = "scroll depth reached") -> None:
        total = sum(depth)
        t = Text(no_wrap=True)
        t.append(f"{title}\n", style="bold")
        if not total:
            t.append("no scroll events yet", style="dim")
            set_text(self, t)
            return
        top = max(depth)
        width = max(10, (self.size.width or 40) - 22)
        for i, n in enumerate(depth):
            bar = int(round(n / top * width)) if top else 0
            t.append(f"{i * 10:>3}-{i * 10 + 10:<3}% ", style="dim")
            t.append("█" * bar, style="#5fafff")
            t.append(
                f" {human(n)} ({100 * n / total:.0f}%)\n"
                if i < len(depth) - 1
                else f" {human(n)} ({100 * n / total:.0f}%)"
            )
        set_text(self, t)

    def show_sessions(self, depth: tuple[tuple[str, float], ...]) -> None:
        t = Text(no_wrap=True)
        t.append("max scroll depth per page\n", style="bold")
        if not depth:
            t.append("no scroll events", style="dim")
        width = max(8, (self.size.width or 40) - 30)
        for i, (url, d) in enumerate(depth[:6]):
            t.append(f"{url[:18]:<18} ", style="")
            t.append("█" * int(round(d * width)), style="#87af87")
            t.append("░" * (width - int(round(d * width))), style="#303030")
            t.append(f" {d * 100:3.0f}%" + ("\n" if i < min(len(depth), 6) - 1 else ""))
        set_text(self, t)
