"""3 Pages: per page, half-block heatmaps of clicks and mouse moves, scroll depth, and the
dead/rage/error elements ranked. The page list drives the rest (j/k to pick)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from uxtop.snapshot import PageHeat, Snapshot
from uxtop.tui.actions import bindings
from uxtop.tui.format import KIND_SHORT, KIND_STYLE, human
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.depth_bars import DepthBars
from uxtop.tui.widgets.heatmap import Heatmap, legend
from uxtop.tui.widgets.keyed_table import KeyedTable

PAGE_COLS = (
    ("url", "page", 24),
    ("clicks", "clicks", 7),
    ("moves", "moves", 7),
    ("elements", "hot el.", 7),
)
ELEM_COLS = (
    ("target", "element", 30),
    ("kind", "kind", 7),
    ("flags", "flags", 6),
    ("sessions", "sess", 5),
)


class PagesScreen(UxtopScreen):
    NAV = "pages"
    BINDINGS = bindings("pages")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.heat_layer = "clicks"
        self.selected_url: str | None = None
        self._pages: dict[str, PageHeat] = {}

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="pages-main"):
            with Vertical(id="pages-left"):
                with Vertical(classes="panel", id="pages-list-box") as b:
                    b.border_title = "pages (j/k)"
                    yield KeyedTable(PAGE_COLS, id="pages-table")
                with Vertical(classes="panel", id="depth-box"):
                    yield DepthBars(id="page-depth")
            with Vertical(id="pages-right"):
                with Vertical(classes="panel", id="heat-box"):
                    yield Heatmap(id="heatmap")
                    yield Static(legend(), id="heat-legend")
                with Vertical(classes="panel", id="elements-box") as e:
                    e.border_title = "dead / rage / error elements, ranked"
                    yield KeyedTable(ELEM_COLS, id="page-elements")

    def on_mount(self) -> None:
        self.focus_main("#pages-table")

    def apply_snapshot(self, snap: Snapshot) -> None:
        self._pages = {p.url: p for p in snap.heat}
        table = self.query_one("#pages-table", KeyedTable)
        table.sync(
            [
                (p.url, (p.url, human(p.n_clicks), human(p.n_moves), len(p.elements)))
                for p in snap.heat
            ]
        )
        if self.selected_url not in self._pages:
            self.selected_url = table.selected_key or (snap.heat[0].url if snap.heat else None)
        self._show_page()

    def _show_page(self) -> None:
        page = self._pages.get(self.selected_url or "")
        heat = self.query_one(Heatmap)
        box = self.query_one("#heat-box")
        if page is None:
            heat.show(None, key=None)
            box.border_title = "heatmap"
            return
        grid = page.clicks if self.heat_layer == "clicks" else page.moves
        n = page.n_clicks if self.heat_layer == "clicks" else page.n_moves
        # the arrays are immutable per publish: (url, layer, count) identifies the version
        heat.show(grid, key=(page.url, self.heat_layer, n))
        box.border_title = f"{self.heat_layer} on {page.url} · {human(n)} · {page.cell_w}×{page.cell_h}px cells · m: switch layer"
        self.query_one("#page-depth", DepthBars).show(
            page.depth, f"scroll depth reached on {page.url}"
        )
        self.query_one("#page-elements", KeyedTable).sync(
            [
                (
                    e.target,
                    (
                        e.target,
                        Text(
                            KIND_SHORT.get(e.top_kind, e.top_kind),
                            style=KIND_STYLE.get(e.top_kind, ""),
                        ),
                        e.flags,
                        e.sessions,
                    ),
                )
                for e in page.elements
            ]
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "pages-table" or event.row_key is None:
            return
        self.selected_url = str(event.row_key.value)
        self._show_page()

    def action_toggle_layer(self) -> None:
        self.heat_layer = "moves" if self.heat_layer == "clicks" else "clicks"
        self._show_page()
