"""The top line: source, ingest rate, event-to-screen lag, live/paused/follow, notes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.snapshot import Snapshot
from uxtop.tui.format import duration, human
from uxtop.tui.widgets.set_text import set_text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; width: 1fr; }
    """

    def show(self, snap: Snapshot, *, lag_ms: float, paused: bool, follow: bool) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" uxtop ", style="bold reverse")
        t.append(f" {snap.source} ", style="bold")
        t.append("│ ", style="dim")
        t.append(f"{human(snap.ingest_rate)} ev/s", style="bold cyan")
        t.append(" │ lag ", style="dim")
        lag_style = "bold green" if lag_ms <= 1000 else "bold red"
        t.append(duration(lag_ms), style=lag_style)
        t.append(" │ ", style="dim")
        if paused:
            t.append("❚❚ PAUSED", style="bold black on yellow")
        elif snap.running:
            t.append("● live", style="bold green")
        else:
            t.append("■ ended", style="bold magenta")
        if follow:
            t.append(" │ ", style="dim")
            t.append("⇣ follow", style="bold blue")
        for note in snap.notes:
            t.append(" │ ", style="dim")
            t.append(note, style="italic yellow")
        set_text(self, t)
