"""7 Insights: ranked findings (symptom, scope, impact, suspected cause, evidence, next step);
enter opens an example session's timeline, so a finding leads straight to the session."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from uxtop.snapshot import Snapshot
from uxtop.tui.format import clock_time, human
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.set_text import set_text

# `since` tells apart the episodes of one problem (a route that degrades, recovers and degrades
# again is one insight per episode, with the same title); severity fits " information "
INSIGHT_COLS = (
    ("rank", "#", 3),
    ("severity", "severity", 13),
    ("since", "since", 8),
    ("title", "insight", 50),
    ("sessions", "sessions", 8),
)
# an anomaly read as a sentence: the metric, of what, in which cohort, now against expected
# (one "series" label cut at its width hid the cohort, and a "value" column held the cohort)
# (78 columns of text + 2 of padding each: the panel's width at 160 columns)
ANOMALY_COLS = (
    ("since", "since", 8),
    ("metric", "metric", 14),
    ("of", "of", 17),
    ("cohort", "cohort", 12),
    ("now", "now vs expected", 16),
    ("z", "z", 5),
    ("active", "", 6),
)

_SEV = {
    "urgent": "bold white on #af0000",
    "to monitor": "bold black on #ffaf00",
    "information": "bold black on #5fafff",
}


class InsightsScreen(UxtopScreen):
    NAV = "insights"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._insights: dict[str, Any] = {}
        self.selected: str | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="insights-main"):
            with Vertical(id="insights-left"):
                with Vertical(classes="panel", id="insight-list-box") as b:
                    b.border_title = (
                        "insights, ranked by impact × confidence (enter: example session)"
                    )
                    yield KeyedTable(INSIGHT_COLS, id="insight-list")
                with Vertical(classes="panel", id="anomaly-box") as a:
                    a.border_title = "anomalies"
                    yield KeyedTable(ANOMALY_COLS, id="anomalies")
            with VerticalScroll(classes="panel", id="insight-detail-box") as d:
                d.border_title = "finding"
                yield Static(id="insight-detail")

    def on_mount(self) -> None:
        self.focus_main("#insight-list")

    def apply_snapshot(self, snap: Snapshot) -> None:
        a = snap.analytics
        insights = list(getattr(a, "insights", []) or [])
        self._insights = {i.id: i for i in insights}
        self.query_one("#insight-list", KeyedTable).sync(
            [
                (
                    i.id,
                    (
                        i.rank,
                        Text(f" {i.severity} ", style=_SEV.get(i.severity, "")),
                        clock_time(i.since),
                        i.title,
                        human(getattr(i, "sessions_affected", 0)),
                    ),
                )
                for i in insights
            ]
        )
        anomalies = list(getattr(a, "anomalies", []) or [])[-40:][::-1]
        # here, not at the top: the analytics package pulls in numba, and the first frame does
        # not wait for it (the engine has it loaded by the time there are anomalies)
        from uxtop.analytics.insights import fmt_value, metric_name

        self.query_one("#anomalies", KeyedTable).sync(
            [
                (
                    f"{x.series}\t{x.onset}",
                    (
                        clock_time(x.onset),
                        metric_name(x.family),
                        x.entity or "all traffic",
                        f"{x.dim}={x.value_label}" if x.dim != "total" else "all",
                        f"{fmt_value(x.family, x.value)} vs {fmt_value(x.family, x.expected)}",
                        f"{x.z:+.1f}",
                        Text(
                            "active" if x.active else "ended",
                            style="bold red" if x.active else "dim",
                        ),
                    ),
                )
                for x in anomalies
            ]
        )
        if self.selected not in self._insights:
            self.selected = insights[0].id if insights else None
        self._detail()

    def _detail(self) -> None:
        ins = self._insights.get(self.selected or "")
        t = Text()
        if ins is None:
            t.append("No insight yet.\n\n", style="bold")
            t.append(
                "Insights appear when an anomaly in backend health or usage lines up with friction or funnel drop-off "
                "(in the demo: soon after POST /api/cart degrades, 90 s after start).",
                style="dim",
            )
            set_text(self.query_one("#insight-detail", Static), t)
            return
        t.append(f" {ins.severity} ", style=_SEV.get(ins.severity, "bold"))
        t.append(f"  {ins.title}\n\n", style="bold")
        for label, value in (
            ("symptom", ins.symptom),
            ("scope", ins.scope),
            ("impact", ins.impact_text),
            ("suspected cause", ins.suspected_cause),
            ("next step", ins.next_step),
        ):
            t.append(f"{label:<16}", style="bold cyan")
            t.append(f"{value}\n")
        if ins.evidence:
            t.append("\nevidence\n", style="bold cyan")
            for e in ins.evidence:
                t.append(f"  • {e}\n")
        if ins.friction:
            t.append("\nfriction  ", style="bold cyan")
            t.append("  ".join(f"{k} {v}" for k, v in ins.friction.items()) + "\n")
        if ins.example_sessions:
            t.append("\nexample sessions  ", style="bold cyan")
            t.append(", ".join(str(s) for s in ins.example_sessions[:8]))
            t.append("   (enter opens the first)\n", style="dim")
        t.append(
            f"\nsince {clock_time(ins.since)} · score {ins.score:.2f} · confidence {ins.confidence:.2f}",
            style="dim",
        )
        set_text(self.query_one("#insight-detail", Static), t)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "insight-list" and event.row_key is not None:
            self.selected = str(event.row_key.value)
            self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "insight-list":
            return
        event.stop()
        ins = self._insights.get(str(event.row_key.value))
        if ins is not None and ins.example_sessions:
            self.uxtop.open_session(int(ins.example_sessions[0]))
        else:
            self.notify("this insight has no example session", timeout=2)
