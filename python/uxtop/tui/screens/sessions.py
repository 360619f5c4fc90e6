"""2 Sessions: flagged sessions, sortable, filterable, follow mode; enter opens the timeline."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable, Static

from uxtop.snapshot import SessionRow, Snapshot
from uxtop.tui.actions import bindings
from uxtop.tui.format import KIND_SHORT, KIND_STYLE, clock_time, human
from uxtop.tui.messages import FilterSubmitted
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.filter_bar import FilterBar
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.set_text import set_text

COLUMNS = (
    ("score", "score", 6),
    ("session", "session", 16),
    ("flags", "flags", 5),
    ("kinds", "kinds", 22),
    ("page", "page", 20),
    ("target", "element", 22),
    ("start", "started", 8),
    ("last", "last flag", 9),
    ("events", "events", 7),
    ("cohort", "cohort", 22),
)

#: sort name → (key on SessionRow, descending by default)
SORTS: dict[str, tuple[Callable[[SessionRow], Any], bool]] = {
    "score": (lambda r: (r.score, r.last_flag_ts), True),
    "time": (lambda r: (r.last_flag_ts, r.seq), True),
    "kind": (lambda r: (r.kinds[0] if r.kinds else "", -r.score), False),
    "page": (lambda r: (r.url, -r.score), False),
}
SORT_ORDER = tuple(SORTS)
#: rows in the table: the top of the current sort. A table of every flagged session would cost
#: O(sessions) per refresh; the filter narrows to anything beyond the top.
MAX_ROWS = 200


def _kinds_cell(kinds: tuple[str, ...]) -> Text:
    t = Text(no_wrap=True)
    for i, k in enumerate(kinds[:4]):
        if i:
            t.append(" ")
        t.append(KIND_SHORT.get(k, k), style=KIND_STYLE.get(k, ""))
    return t


def session_cells(r: SessionRow) -> tuple[Any, ...]:
    cohort = " ".join(v for v in (r.dev, r.rel, r.geo) if v)
    return (
        Text(
            f"{r.score:.1f}",
            style="bold red" if r.score >= 5 else ("yellow" if r.score >= 2 else ""),
        ),
        r.key,
        r.n_flags,
        _kinds_cell(r.kinds),
        r.url,
        r.target,
        clock_time(r.start_ts),
        clock_time(r.last_flag_ts),
        human(r.n_events),
        cohort + ("" if not r.closed else " ·closed"),
    )


class SessionsScreen(UxtopScreen):
    NAV = "sessions"
    BINDINGS = bindings("sessions")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.sort = "score"
        self.reverse = False
        self.rows: tuple[SessionRow, ...] = ()
        # cells per session, reused while the engine hands us the same (immutable) row object
        self._cells: dict[int, tuple[SessionRow, tuple[Any, ...]]] = {}

    def compose_body(self) -> Iterable[Widget]:
        yield FilterBar(id="filter")
        yield Static(id="sessions-caption")
        yield KeyedTable(COLUMNS, id="sessions-table")

    def on_mount(self) -> None:
        self.focus_main(KeyedTable)

    def apply_snapshot(self, snap: Snapshot) -> None:
        self.rows = snap.session_rows
        key, desc = SORTS[self.sort]
        follow = self.uxtop.follow
        if follow:
            # follow: newest first, cursor pinned on the newest flagged session
            ordered = sorted(self.rows, key=lambda r: r.seq, reverse=True)
        else:
            ordered = sorted(self.rows, key=key, reverse=desc != self.reverse)
        ordered = ordered[:MAX_ROWS]
        table = self.query_one(KeyedTable)
        table.sync([(str(r.session_id), self._cells_of(r)) for r in ordered])
        if len(self._cells) > 4 * MAX_ROWS:
            keep = {r.session_id for r in ordered}
            self._cells = {k: v for k, v in self._cells.items() if k in keep}
        if follow and ordered:
            table.select_key(str(ordered[0].session_id))
        cap = Text(no_wrap=True, overflow="ellipsis")
        cap.append(f" {len(self.rows)}", style="bold")
        cap.append(f" of {snap.flagged_sessions} flagged sessions", style="dim")
        if len(self.rows) > MAX_ROWS:
            cap.append(f" (top {MAX_ROWS} shown — / to filter)", style="yellow")
        if snap.session_filter:
            cap.append("  filter ", style="dim")
            cap.append(snap.session_filter, style="bold magenta")
            cap.append(" (esc clears)", style="dim")
        cap.append("  sort ", style="dim")
        cap.append(
            "follow (newest)" if follow else f"{self.sort} {'↑' if desc == self.reverse else '↓'}",
            style="bold",
        )
        cap.append("   enter open · s sort · r reverse · / filter · f follow", style="dim italic")
        set_text(self.query_one("#sessions-caption", Static), cap)

    def _cells_of(self, r: SessionRow) -> tuple[Any, ...]:
        hit = self._cells.get(r.session_id)
        if hit is not None and hit[0] is r:
            return hit[1]
        cells = session_cells(r)
        self._cells[r.session_id] = (r, cells)
        return cells

    # ------------------------------------------------------------------ actions

    def action_open_session(self) -> None:
        key = self.query_one(KeyedTable).selected_key
        if key is not None:
            self.uxtop.open_session(int(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.uxtop.open_session(int(str(event.row_key.value)))

    def action_cycle_sort(self) -> None:
        self.uxtop.follow = False
        self.sort = SORT_ORDER[(SORT_ORDER.index(self.sort) + 1) % len(SORT_ORDER)]
        self.apply_snapshot(self.uxtop.snapshot)

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self.apply_snapshot(self.uxtop.snapshot)

    def action_clear_filter(self) -> None:
        if self.uxtop.snapshot.session_filter or self.uxtop.filter_text:
            self.uxtop.set_filter("")

    def open_filter(self) -> None:
        self.query_one(FilterBar).open(self.uxtop.filter_text)

    def on_filter_submitted(self, event: FilterSubmitted) -> None:
        self.focus_main(KeyedTable)
        if not event.cancelled:
            self.uxtop.set_filter(event.text)
