"""Alerts banner: the newest alerts, red when critical; hidden when there are none."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.snapshot import Alert
from uxtop.tui.format import clock_time
from uxtop.tui.widgets.set_text import set_text


class AlertBanner(Static):
    DEFAULT_CSS = """
    AlertBanner {
        height: auto; max-height: 3; width: 1fr; display: none;
        /* one line per alert: a long detail is cut, never wrapped onto a line of its own */
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    AlertBanner.-active { display: block; }
    """

    def show(self, alerts: tuple[Alert, ...]) -> None:
        self.set_class(bool(alerts), "-active")
        if not alerts:
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        shown = alerts[:2]
        for i, a in enumerate(shown):
            style = "bold white on #af0000" if a.severity == "critical" else "bold black on #ffaf00"
            if i:
                t.append("\n")
            t.append(f" ▲ {a.severity.upper()} {clock_time(a.ts)} ", style=style)
            t.append(f" {a.title}", style="bold")
            if i == len(shown) - 1 and len(alerts) > len(shown):
                # before the detail, which is what gets cut at the edge
                t.append(f"  (+{len(alerts) - len(shown)} more)", style="bold")
            if a.detail:
                t.append(f"  {a.detail}", style="dim")
        set_text(self, t)
