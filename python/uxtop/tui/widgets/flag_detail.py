"""The selected flag of a timeline: kind, where, the rule that fired and its evidence rows."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from uxtop.snapshot import FlagRow
from uxtop.tui.format import KIND_STYLE, duration
from uxtop.tui.widgets.set_text import set_text


class FlagDetail(Static):
    DEFAULT_CSS = """
    FlagDetail { height: auto; width: 1fr; }
    """

    def show(self, flag: FlagRow | None, index: int = 0, total: int = 0) -> None:
        t = Text()
        if flag is None:
            t.append("flags", style="bold")
            t.append(
                f"  {total} in this session — n / N to jump\n"
                if total
                else "  none in the retained events\n",
                style="dim",
            )
            set_text(self, t)
            return
        t.append(f"flag {index + 1}/{total} ", style="bold")
        t.append(flag.kind, style=KIND_STYLE.get(flag.kind, "bold"))
        t.append(
            f"  ×{flag.count}  severity {flag.severity:.2f}  over {duration(flag.end_ts - flag.start_ts)}\n"
        )
        t.append("where  ", style="dim")
        t.append(f"{flag.url}  {flag.target}\n")
        t.append("rule   ", style="dim")
        t.append(f"{flag.rule or '—'}\n", style="italic")
        t.append("evidence rows ", style="dim")
        if flag.evidence:
            lo, hi = min(flag.evidence), max(flag.evidence)
            t.append(f"{lo}–{hi}" if hi != lo else str(lo))
            t.append("  (source lines; highlighted in the timeline)", style="dim")
        else:
            t.append("—")
        set_text(self, t)
