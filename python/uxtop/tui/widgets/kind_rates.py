"""Flags per minute by kind: one row per kind with a 5-minute sparkline of 10-s buckets."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from uxtop.snapshot import KindRate
from uxtop.tui.format import KIND_STYLE, human, sparkline


class KindRates(Static):
    DEFAULT_CSS = """
    KindRates { height: auto; width: 1fr; padding: 0 1; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._last: tuple[KindRate, ...] | None = None

    def show(self, rates: tuple[KindRate, ...]) -> None:
        if rates == self._last:
            return
        self._last = rates
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column("kind", width=17, no_wrap=True)
        table.add_column("spark", ratio=1, no_wrap=True)
        table.add_column("/min", justify="right", width=6)
        table.add_column("total", justify="right", width=7)
        table.add_row(
            Text("kind", style="dim"),
            Text("last 5 min (10 s buckets)", style="dim"),
            Text("/min", style="dim"),
            Text("total", style="dim"),
        )
        for kr in rates:
            style = KIND_STYLE.get(kr.kind, "")
            table.add_row(
                Text(kr.kind, style=style),
                Text(sparkline(kr.series), style=style),
                Text(f"{kr.per_min:.0f}", style="bold" if kr.per_min else "dim"),
                Text(human(kr.total), style="dim" if not kr.total else ""),
            )
        self.update(table)
