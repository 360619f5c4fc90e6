"""5 Funnels: each funnel's steps live (conversion from start and per step, drop-off, time to
convert, friction on the step), and its breakdown by cohort. Data: the analytics snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from uxtop.snapshot import Snapshot
from uxtop.tui.format import duration, human
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.funnel_bars import FunnelBars
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.set_text import set_text

BREAKDOWN_COLS = (
    ("funnel", "funnel", 16),
    ("dim", "by", 8),
    ("value", "value", 16),
    ("entered", "entered per step", 44),
    ("conv", "conversion", 10),
)


class FunnelsScreen(UxtopScreen):
    NAV = "funnels"

    def compose_body(self) -> Iterable[Widget]:
        yield Static(id="funnels-caption")
        with VerticalScroll(id="funnels-box", classes="panel") as v:
            v.border_title = "funnels"
            yield Vertical(id="funnel-list")
        with Vertical(classes="panel", id="breakdown-box") as b:
            b.border_title = "breakdown by cohort"
            yield KeyedTable(BREAKDOWN_COLS, id="funnel-breakdown")

    def on_mount(self) -> None:
        self.focus_main(KeyedTable)

    @staticmethod
    def _waiting_text(stats: dict[str, float]) -> str:
        """What the screen says while there is no funnel: how far inference is, or why none."""
        configure = "configure [[analytics.funnels]] in uxtop.toml"
        if "funnel_inference_needed" in stats:
            seen = int(stats.get("funnel_inference_sessions", 0))
            need = int(stats["funnel_inference_needed"])
            quiet = stats.get("funnel_inference_quiet_s", 30.0)
            return (
                f" inferring a funnel from traffic: {min(seen, need)} of {need} sessions"
                f" (each counts once it ends or is quiet {quiet:g} s) · or {configure}"
            )
        if stats.get("funnel_inference_failed"):
            return (
                " no funnel could be inferred: fewer than two pages are common to 2 % of"
                f" sessions · {configure}"
            )
        return f" no funnel: {configure} (inference is off: analytics.infer_funnel = false)"

    def apply_snapshot(self, snap: Snapshot) -> None:
        a = snap.analytics
        funnels = list(getattr(a, "funnels", []) or [])
        cap = Text(no_wrap=True)
        if a is None:
            cap.append(
                " analytics not running (no analytics layer in this engine)", style="bold yellow"
            )
        elif not funnels:
            cap.append(self._waiting_text(getattr(a, "stats", {}) or {}), style="dim")
        else:
            cap.append(f" {len(funnels)} funnel(s)", style="bold")
        set_text(self.query_one("#funnels-caption", Static), cap)
        box = self.query_one("#funnel-list", Vertical)
        bars = list(box.query(FunnelBars))
        if len(bars) != len(funnels):
            box.remove_children()
            bars = [FunnelBars() for _ in funnels]
            box.mount(*bars)
        for bar, f in zip(bars, funnels, strict=True):
            units = int(getattr(f, "units", 0))
            unit = f"{getattr(f, 'unit', 'unit')}{'' if units == 1 else 's'}"
            window = duration(float(getattr(f, "window_s", 0)) * 1000)
            title = (
                f"{f.name} · {getattr(f, 'order', '')} · window {window} · {human(units)} {unit}"
                f" · overall {float(getattr(f, 'conversion', 0.0)) * 100:.1f}%"
            )
            if getattr(f, "inferred", False):
                title += " · inferred from traffic"
            bar.border_title = title
            bar.show(f)
        rows = []
        for f in funnels:
            for br in list(getattr(f, "breakdown", []) or [])[:40]:
                key = f"{f.name}\t{br.dim}\t{br.value}"
                rows.append(
                    (
                        key,
                        (
                            f.name,
                            br.dim,
                            br.value,
                            " → ".join(human(n) for n in br.entered),
                            f"{br.conversion * 100:.1f}%",
                        ),
                    )
                )
        self.query_one("#funnel-breakdown", KeyedTable).sync(rows)
