"""A DataTable that updates by row key: changed cells are rewritten, new rows added, gone rows
removed, and the order fixed in place. Nothing is rebuilt, so the cursor and scroll position
survive 4 Hz refreshes (dolphie's approach), and a refresh costs only what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from uxtop.tui.actions import bindings


class KeyedTable(DataTable[Any]):
    BINDINGS = bindings("list")

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self._columns_spec = columns
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for key, label, width in self._columns_spec:
            self.add_column(label, key=key, width=width)

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def sync(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> bool:
        """Make the table show ``rows`` (key, cells) in this order. Returns True if anything changed."""
        changed = False
        keep_key = self.selected_key
        wanted = {k for k, _ in rows}
        gone = len(self._cells) - len(wanted.intersection(self._cells))
        if gone > 16 and gone * 4 > len(self._cells):
            # a bulk change (new sort, new filter): DataTable.remove_row is O(rows) each, so
            # rebuilding once is far cheaper than hundreds of keyed removals
            return self._rebuild(rows, keep_key)
        for k in [k for k in self._cells if k not in wanted]:
            self.remove_row(k)
            del self._cells[k]
            changed = True
        col_keys = [c[0] for c in self._columns_spec]
        for k, cells in rows:
            old = self._cells.get(k)
            if old is None:
                self.add_row(*cells, key=k)
                changed = True
            elif old != cells:
                for ck, a, b in zip(col_keys, old, cells, strict=True):
                    if a != b:
                        self.update_cell(k, ck, b)
                changed = True
            self._cells[k] = cells
        order = [k for k, _ in rows]
        if order != self._order:
            self._order = order
            self._reorder(order)
            changed = True
            if keep_key is not None and keep_key in self._cells:
                # the cursor stays on the same session, wherever it moved
                self.move_cursor(row=self.get_row_index(keep_key), animate=False, scroll=False)
        return changed

    def _rebuild(self, rows: Sequence[tuple[str, tuple[Any, ...]]], keep_key: str | None) -> bool:
        self.clear()
        self._cells = {}
        for k, cells in rows:
            self.add_row(*cells, key=k)
            self._cells[k] = cells
        self._order = [k for k, _ in rows]
        if keep_key is not None and keep_key in self._cells:
            self.move_cursor(row=self.get_row_index(keep_key), animate=False)
        return True

    def _reorder(self, order: list[str]) -> None:
        # DataTable.sort() only sees cell values, not keys; this does what sort() does
        # (replace the row-location map, bump the update count) with our key order.
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(order)})
        self._update_count += 1
        self.refresh()

    def select_key(self, key: str) -> None:
        if key in self._cells:
            self.move_cursor(row=self.get_row_index(key), animate=False)
