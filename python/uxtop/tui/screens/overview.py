"""1 Overview: ingest, lag, totals, bad lines, flags per minute by kind, worst pages/elements."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from uxtop.snapshot import Snapshot
from uxtop.tui.format import KIND_SHORT, KIND_STYLE, clock_time, duration, human
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.kind_rates import KindRates
from uxtop.tui.widgets.metric_tile import MetricTile
from uxtop.tui.widgets.set_text import set_text

PAGE_COLS = (
    ("url", "page", 28),
    ("heat", "heat", 6),
    ("rage", "rage", 5),
    ("dead", "dead", 5),
    ("error", "err", 5),
    ("flags", "flags", 6),
    ("sessions", "sess", 5),
)
NEWEST_COLS = (
    ("last", "last flag", 9),
    ("session", "session", 16),
    ("score", "score", 6),
    ("kinds", "kinds", 20),
    ("page", "page", 18),
)
ELEM_COLS = (
    ("target", "element", 28),
    ("url", "page", 18),
    ("kind", "kind", 7),
    ("flags", "flags", 6),
    ("sessions", "sess", 5),
)


class OverviewScreen(UxtopScreen):
    NAV = "overview"

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="tiles"):
            yield MetricTile("ingest", id="tile-rate")
            yield MetricTile("events / sessions", id="tile-events")
            yield MetricTile("flags", id="tile-flags")
            yield MetricTile("event → screen lag", id="tile-lag")
            yield MetricTile("bad lines", id="tile-bad")
        with Horizontal(id="overview-main"):
            with Vertical(id="kinds-box", classes="panel") as v:
                v.border_title = "flags per minute by kind"
                yield KindRates(id="kinds")
                yield Static(id="detector-line")
                yield Static(
                    Text(" newest flagged sessions — enter opens the timeline", style="bold"),
                    id="newest-title",
                )
                yield KeyedTable(NEWEST_COLS, id="newest-sessions")
            with Vertical(id="worst-box"):
                with Vertical(classes="panel") as p:
                    p.border_title = "worst pages right now"
                    yield KeyedTable(PAGE_COLS, id="worst-pages")
                with Vertical(classes="panel") as e:
                    e.border_title = "worst elements (rage / dead / error clicks)"
                    yield KeyedTable(ELEM_COLS, id="worst-elements")

    def apply_snapshot(self, snap: Snapshot) -> None:
        app = self.uxtop
        self.query_one("#tile-rate", MetricTile).show(
            f"{human(snap.ingest_rate)} ev/s",
            f"{human(snap.bytes_in)}B read",
            snap.rate_series[-40:],
            style="bold cyan",
        )
        self.query_one("#tile-events", MetricTile).show(
            f"{human(snap.events)} events",
            f"{human(snap.sessions)} sessions · {human(snap.active_sessions)} active\nlate {human(snap.late)} · duplicates {human(snap.duplicates)}",
        )
        per_min = sum(k.per_min for k in snap.kind_rates)
        self.query_one("#tile-flags", MetricTile).show(
            f"{human(snap.flags)} flags · {per_min:.0f}/min",
            f"{human(snap.flagged_sessions)} flagged sessions\nkept: {human(snap.window_events)} recent + {human(snap.retained_events)}",
            style="bold yellow",
        )
        lag = app.lag_ms(snap)
        self.query_one("#tile-lag", MetricTile).show(
            duration(lag),
            f"engine read→publish {duration(snap.engine_lag_ms)}\nflags wait {duration(snap.lateness_ms)} for late events",
            style="bold green" if lag <= 1000 else "bold red",
        )
        reasons = ", ".join(f"{k} {v}" for k, v in snap.bad_by_reason[:3])
        self.query_one("#tile-bad", MetricTile).show(
            human(snap.bad_lines),
            (reasons or "none")
            + "\n"
            + (f"→ {snap.quarantine_path}" if snap.quarantine_path else "no quarantine file"),
            style="bold red" if snap.bad_lines else "bold",
        )
        self.query_one(KindRates).show(snap.kind_rates)
        d = snap.detectors
        line = Text()
        line.append("detectors ", style="dim")
        line.append(d.state, style="bold green" if d.state == "ready" else "bold yellow")
        line.append(
            f" · profile {d.profile} · {human(d.events_per_s)} ev/s throughput · {human(d.judged)} judged",
            style="dim",
        )
        set_text(self.query_one("#detector-line", Static), line)
        newest = sorted(snap.session_rows, key=lambda r: (-r.last_flag_ts, -r.seq))[:12]
        self.query_one("#newest-sessions", KeyedTable).sync(
            [
                (
                    str(r.session_id),
                    (clock_time(r.last_flag_ts), r.key, f"{r.score:.1f}", _kinds(r.kinds), r.url),
                )
                for r in newest
            ]
        )
        self.query_one("#worst-pages", KeyedTable).sync(
            [
                (p.url, (p.url, f"{p.heat:.1f}", p.rage, p.dead, p.error, p.flags, p.sessions))
                for p in snap.pages
            ]
        )
        self.query_one("#worst-elements", KeyedTable).sync(
            [
                (
                    f"{e.url}\t{e.target}",
                    (
                        e.target,
                        e.url,
                        Text(
                            KIND_SHORT.get(e.top_kind, e.top_kind),
                            style=KIND_STYLE.get(e.top_kind, ""),
                        ),
                        e.flags,
                        e.sessions,
                    ),
                )
                for e in snap.elements
            ]
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "newest-sessions":
            event.stop()
            self.uxtop.open_session(int(str(event.row_key.value)))


def _kinds(kinds: tuple[str, ...]) -> Text:
    t = Text(no_wrap=True)
    for i, k in enumerate(kinds[:3]):
        t.append((" " if i else "") + KIND_SHORT.get(k, k), style=KIND_STYLE.get(k, ""))
    return t
