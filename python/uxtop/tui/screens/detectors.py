"""4 Detectors: per kind the live rate and the thresholds in force, the profile, throughput,
and a sample of recent flags with their evidence and rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from uxtop.snapshot import FlagRow, Snapshot
from uxtop.tui.format import KIND_STYLE, clock_time, human, sparkline
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.set_text import set_text

KIND_COLS = (
    ("kind", "kind", 17),
    ("rate", "/min", 6),
    ("total", "total", 7),
    ("spark", "last 5 min", 30),
    ("thresholds", "thresholds in force", 80),
)
RECENT_COLS = (
    ("time", "time", 8),
    ("kind", "kind", 17),
    ("session", "session", 14),
    ("where", "where", 34),
    ("count", "×", 4),
    ("sev", "sev", 5),
    ("rule", "rule", 44),
    ("evidence", "evidence rows", 20),
)


class DetectorsScreen(UxtopScreen):
    NAV = "detectors"

    def compose_body(self) -> Iterable[Widget]:
        yield Static(id="detector-summary")
        with Vertical(classes="panel", id="kinds-panel") as k:
            k.border_title = "per kind"
            yield KeyedTable(KIND_COLS, id="detector-kinds")
        with Vertical(classes="panel", id="recent-panel") as r:
            r.border_title = "recent flags (newest first)"
            yield KeyedTable(RECENT_COLS, id="recent-flags")

    def on_mount(self) -> None:
        self.focus_main("#detector-kinds")

    def apply_snapshot(self, snap: Snapshot) -> None:
        d = snap.detectors
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" detectors ", style="bold reverse")
        t.append(f" {d.state} ", style="bold green" if d.state == "ready" else "bold yellow")
        t.append(f" profile {d.profile}", style="bold")
        t.append(
            f" · throughput {human(d.events_per_s)} events/s of detector time · {human(d.judged)} events judged",
            style="",
        )
        t.append(
            f" · update p50 {d.update_ms_p50:.1f} ms, max {d.update_ms_max:.1f} ms", style="dim"
        )
        if d.error:
            t.append(f" · {d.error}", style="bold red")
        set_text(self.query_one("#detector-summary", Static), t)
        by_kind = {kr.kind: kr for kr in snap.kind_rates}
        self.query_one("#detector-kinds", KeyedTable).sync(
            [
                (
                    row.kind,
                    (
                        Text(row.kind, style=KIND_STYLE.get(row.kind, "")),
                        f"{row.per_min:.0f}",
                        human(row.total),
                        Text(
                            sparkline(by_kind[row.kind].series) if row.kind in by_kind else "",
                            style=KIND_STYLE.get(row.kind, ""),
                        ),
                        "  ".join(f"{k}={v}" for k, v in row.thresholds) or "—",
                    ),
                )
                for row in d.rows
            ]
        )
        self.query_one("#recent-flags", KeyedTable).sync(
            [
                (
                    key,
                    (
                        clock_time(f.start_ts),
                        Text(f.kind, style=KIND_STYLE.get(f.kind, "")),
                        str(f.session_id),
                        f"{f.url} {f.target}".strip(),
                        f.count,
                        f"{f.severity:.2f}",
                        f.rule,
                        (
                            f"{min(f.evidence)}–{max(f.evidence)}"
                            if len(set(f.evidence)) > 1
                            else str(f.evidence[0])
                        )
                        if f.evidence
                        else "—",
                    ),
                )
                for key, f in _keyed_flags(d.recent[:30])
            ]
        )


def _keyed_flags(flags: Sequence[FlagRow]) -> list[tuple[str, FlagRow]]:
    """A stable key per flag (not its position: one new flag would then re-key every row and
    force a table rebuild); identical flags get a counter."""
    seen: dict[str, int] = {}
    out = []
    for f in flags:
        key = f"{f.session_id}:{f.kind}:{f.start_ts}:{f.end_ts}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.append((key if n == 0 else f"{key}#{n}", f))
    return out
