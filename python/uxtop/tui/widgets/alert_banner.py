"""Alerts banner: the newest alerts, red when critical; hidden when there are none."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.snapshot import Alert
from uxtop.tui.format import clock_time
from uxtop.tui.widgets.set_text import set_text


class AlertBanner(Static):
    DEFAULT_CSS = """
    AlertBanner { height: auto; max-height: 3; width: 1fr; display: none; }
    AlertBanner.-active { display: block; }
    """

    def show(self, alerts: tuple[Alert, ...]) -> None:
        self.set_class(bool(alerts), "-active")
        if not alerts:
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, a in enumerate(alerts[:2]):
            style = "bold white on #af0000" if a.severity == "critical" else "bold black on #ffaf00"
            if i:
                t.append("\n")
            t.append(f" ▲ {a.severity.upper()} {clock_time(a.ts)} ", style=style)
            t.append(f" {a.title}", style="bold")
            if a.detail:
                t.append(f"  {a.detail}", style="dim")
        if len(alerts) > 2:
            t.append(f"  (+{len(alerts) - 2} more)", style="dim")
        set_text(self, t)
