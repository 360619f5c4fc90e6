"""A funnel as horizontal bars: each step's share of the first step, its step conversion, the
drop, and the friction flags seen on that step."""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from uxtop.tui.format import KIND_SHORT, KIND_STYLE, duration, human


class ShareBar:
    """A bar of ``share`` of the width its table column gets, then the share in percent.

    Sized when drawn, not when the funnel is set: the widget's width at ``show`` time is not
    the final one (a screen built in the background has not been laid out yet), and bars sized
    from it filled a third of their column at 160 columns until the funnel next changed."""

    LABEL = 7  # " 100.0%"

    def __init__(self, share: float) -> None:
        self.share = min(max(share, 0.0), 1.0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.LABEL + 10, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width - self.LABEL)
        filled = int(round(self.share * width))
        bar = Text("█" * filled, style="#5fafff", no_wrap=True)
        bar.append("░" * (width - filled), style="#303030")
        bar.append(f" {self.share * 100:5.1f}%")
        yield bar


class FunnelBars(Static):
    DEFAULT_CSS = """
    FunnelBars { height: auto; width: 1fr; }
    """

    def show(self, funnel: Any) -> None:
        steps = list(getattr(funnel, "steps", []) or [])
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column("step", width=22, no_wrap=True)
        table.add_column("bar", ratio=1, no_wrap=True)
        table.add_column("entered", justify="right", width=8)
        table.add_column("step conv", justify="right", width=9)
        table.add_column("dropped", justify="right", width=8)
        table.add_column("median", justify="right", width=7)
        table.add_column("friction on this step", width=30, no_wrap=True)
        dim = "dim"
        table.add_row(
            *(
                Text(h, style=dim)
                for h in (
                    "step",
                    "from start",
                    "entered",
                    "step conv",
                    "dropped",
                    "median",
                    "friction on this step",
                )
            )
        )
        for i, st in enumerate(steps):
            share = float(getattr(st, "conversion_from_start", 0.0) or 0.0)
            conv = float(getattr(st, "conversion", 0.0) or 0.0)
            bar = ShareBar(share)
            fr = Text(no_wrap=True)
            for k, n in sorted((getattr(st, "friction", {}) or {}).items(), key=lambda kv: -kv[1])[
                :4
            ]:
                fr.append(f"{KIND_SHORT.get(k, k)}×{n} ", style=KIND_STYLE.get(k, ""))
            med = getattr(st, "median_time_to_convert_s", None)
            table.add_row(
                Text(f"{i + 1}. {st.name}", style="bold"),
                bar,
                human(getattr(st, "entered", 0)),
                Text(f"{conv * 100:.1f}%", style="bold red" if i and conv < 0.5 else ""),
                human(getattr(st, "dropped", 0)),
                "—" if med is None else duration(med * 1000),
                fr,
            )
        self.update(table)
