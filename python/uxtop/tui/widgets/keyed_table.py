"""A DataTable that updates by row key: changed cells are rewritten, new rows added, gone rows
removed, and the order fixed in place. Nothing is rebuilt, so the cursor and scroll position
survive 4 Hz refreshes (dolphie's approach), and a refresh costs only what changed.

Two DataTable costs are cut here, because they made a key press on a 200-row table take
100-500 ms (a re-sort re-renders every visible cell, and each table change re-measures every
cell of every row):

* every column has a fixed width, so no cell is ever measured (``_update_dimensions``);
* a line of the table is kept per (row, its cells' version, position, cursor/hover on it), so
  a cursor move redraws the two rows it leaves and enters, and a 4 Hz refresh redraws the rows
  whose cells changed, instead of every visible line (DataTable keys its line cache on the
  cursor position and on a table-wide update counter);
* a one-line cell is drawn straight from its text (``_render_cell``): padding, crop and the
  same styles as DataTable's Rich pipeline (Styled(Padding(cell))), at a fraction of its cost.
  The pipeline itself stays the reference: tests compare the two, cell by cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual._two_way_dict import TwoWayDict
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import Row
from textual.widgets.data_table import ColumnKey, RowKey

from uxtop.tui.actions import bindings

#: lines / rows kept rendered per table: a few screenfuls (cursor moves re-render anyway)
LINE_CACHE = 160
_NULL = Style.null()


def cell_text(value: Any) -> Text | None:
    """The Text a one-line cell shows (as DataTable's default formatter, without markup), or
    None when the fast path does not apply (multi-line, tabs, other renderables)."""
    if isinstance(value, Text):
        text = value
    elif isinstance(value, str):
        text = Text(value, end="")
    elif isinstance(value, float):
        text = Text(f"{value:.2f}", end="")
    elif isinstance(value, int) or value is None:
        text = Text("" if value is None else str(value), end="")
    else:
        return None
    if "\n" in text.plain or "\t" in text.plain:
        return None
    if text.overflow not in (None, "fold", "crop") or text.justify not in (None, "default", "left"):
        return None
    return text


def cell_segments(text: Text, width: int, padding: int, console: Any) -> list[Segment]:
    """``text`` cropped / padded to ``width`` cells with ``padding`` blanks either side,
    unstyled by the table (the caller adds row, cursor and meta styles)."""
    inner = max(0, width - 2 * padding)
    if text.spans:
        segs = [s for s in text.render(console, end="") if s.text]
    else:
        # Text.render drops the base style of a span-less Text (its console render joins it
        # in as a span first): apply it here
        segs = (
            [Segment(text.plain, console.get_style(text.style) if text.style else None)]
            if text.plain
            else []
        )
    segs = Segment.adjust_line_length(segs, inner, style=_NULL)
    if padding:
        pad = Segment(" " * padding, _NULL)
        return [pad, *segs, pad]
    return segs


class KeyedTable(DataTable[Any]):
    BINDINGS = bindings("list")

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        # DataTable's render caches (1000 lines, 1000 rows, 10000 cells per table) hold tens of
        # thousands of Strips/Segments across the screens; every one is a GC-tracked object a
        # full collection walks. A screenful is ~50 lines.
        self._line_cache.maxsize = LINE_CACHE
        self._row_render_cache.maxsize = LINE_CACHE
        self._cell_render_cache.maxsize = LINE_CACHE * len(columns)
        self._columns_spec = columns
        self._fixed_widths = all(w is not None for _, _, w in columns)
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._order: list[str] = []
        #: (row key, column key, width) -> (cell value, its unstyled segments), across updates
        self._drawn: dict[tuple[Any, Any, int], tuple[Any, list[Segment]]] = {}
        #: row key -> version of its cells (bumped by sync when they change)
        self._row_version: dict[str | None, int] = {}
        self._version = 0
        self._lines: dict[tuple[Any, ...], Strip] = {}
        #: (row parity, cursor, hover, ...) -> (row + cursor/hover style, post style, fill style)
        self._line_styles: dict[tuple[Any, ...], tuple[Style, Style, Style]] = {}
        #: (row, column, out of bounds) -> the meta-only style DataTable puts on a cell
        self._metas: dict[tuple[int, int, bool], Style] = {}

    def on_mount(self) -> None:
        for key, label, width in self._columns_spec:
            self.add_column(label, key=key, width=width)

    # ------------------------------------------------------------------ cheaper DataTable internals

    def _update_dimensions(self, new_rows: Any) -> None:
        if not self._fixed_widths or self.show_row_labels and self._labelled_row_exists:
            super()._update_dimensions(new_rows)
            return
        # fixed widths: measuring cells cannot change a column, only the row count matters
        width = (
            sum(c.get_render_width(self) for c in self.columns.values())
            + self._row_label_column_width
        )
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, self._total_row_height + header)

    def _update_column_widths(self, updated_cells: Any) -> None:
        if not self._fixed_widths:
            super()._update_column_widths(updated_cells)
            return
        self._require_update_dimensions = True

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        row_index = self._row_locations.get(row_key)
        if row_key is self._header_row_key or line_no or row_index is None:
            return super()._render_line(y, x1, x2, base_style)
        # everything a drawn data line depends on; the table-wide update counter is not in it
        key = (
            row_key,
            self._row_version.get(row_key.value, -1),
            row_index,
            row_index == self.cursor_coordinate.row,
            row_index == self.hover_coordinate.row,
            x1,
            x2,
            self.size.width,
            len(self.columns),
            base_style,
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw_data_line(row_key, row_index, x1, x2, base_style)
            if strip is None:
                strip = super()._render_line(y, x1, x2, base_style)
            if len(self._lines) >= 4 * LINE_CACHE:
                self._lines.clear()
            self._lines[key] = strip
        return strip

    def _draw_data_line(
        self, row_key: RowKey, row_index: int, x1: int, x2: int, base_style: Style
    ) -> Strip | None:
        """A one-line data row drawn straight from its cells' segments, or None when the
        general path is needed (fixed columns, row labels, a non-row cursor, multi-line or
        non-text cells).

        The same segments and styles as DataTable._render_line (cells, then the blank that
        fills the width, cropped to x1..x2), built without its per-line machinery (per cell a
        Coordinate, two highlight checks, a component-style lookup and a Styled/Padding
        render), which cost ~0.7 ms a line: 30 ms for a screenful of rows that moved.
        Per segment the style is (row + cursor/hover + cell + post) + meta: the meta style
        carries no attributes, so this equals DataTable's (row + meta + cursor/hover) + cell
        + post, and all but the last addition hit Style's addition cache.
        """
        if self.fixed_columns or self.cursor_type != "row":
            return None
        if self.show_row_labels and self._labelled_row_exists:
            return None
        row = self.rows.get(row_key)
        if row is None or row.height != 1:
            return None
        cursor = row_index == self.cursor_coordinate.row
        hover = row_index == self.hover_coordinate.row
        show_cursor, show_hover = self.show_cursor, self._show_hover_cursor
        style_key = (
            row_index % 2,
            cursor,
            hover,
            show_cursor,
            show_hover,
            base_style,
            self._pseudo_class_state,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
        )
        styles = self._line_styles.get(style_key)
        if styles is None:
            row_style = self._get_row_style(row_index, base_style)
            component, post = self._get_styles_to_render_cell(
                False,
                False,
                False,
                hover,
                cursor,
                show_cursor,
                show_hover,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            )
            extend, _ = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, show_cursor, show_hover, False, False
            )
            styles = (row_style + component, post, row_style + extend)
            if len(self._line_styles) > 64:
                self._line_styles.clear()
            self._line_styles[style_key] = styles
        pre, post, extend = styles
        segments: list[Segment] = []
        table_width = self._row_label_column_width
        for column_index, column in enumerate(self.ordered_columns):
            width = column.get_render_width(self)
            segs = self._cell_segments(row_key, column.key, width)
            if segs is None:
                return None
            meta = self._meta_style(row_index, column_index)
            for seg in segs:
                style = pre + seg.style if seg.style else pre
                segments.append(Segment(seg.text, style + post + meta))
            table_width += width
        widget_width = self.size.width
        segments.append(
            Segment(
                " " * max(0, widget_width - table_width),
                extend + self._meta_style(row_index, 0, out_of_bounds=True),
            )
        )
        line = line_crop(segments, x1, x2, widget_width)
        return Strip(line).adjust_cell_length(widget_width, base_style).simplify()

    def _meta_style(self, row: int, column: int, out_of_bounds: bool = False) -> Style:
        key = (row, column, out_of_bounds)
        style = self._metas.get(key)
        if style is None:
            meta: dict[str, Any] = {"row": row, "column": column}
            if out_of_bounds:
                meta["out_of_bounds"] = True
            if len(self._metas) > 16 * LINE_CACHE:
                self._metas.clear()
            style = self._metas[key] = Style.from_meta(meta)
        return style

    def _cell_segments(self, row_key: RowKey, column_key: Any, width: int) -> list[Segment] | None:
        """The unstyled segments of a one-line cell at ``width`` (kept while its value is the
        same object), or None when the cell needs DataTable's own rendering."""
        value = self._data[row_key].get(column_key)
        slot = (row_key, column_key, width)
        hit = self._drawn.get(slot)
        if hit is not None and hit[0] is value:
            return hit[1]
        text = cell_text(value)
        if text is None:
            return None
        segs = cell_segments(text, width, self.cell_padding, self.app.console)
        if len(self._drawn) > 8 * LINE_CACHE * max(1, len(self.columns)):
            self._drawn.clear()
        self._drawn[slot] = (value, segs)
        return segs

    def notify_style_update(self) -> None:
        # component styles (zebra rows, cursor) may have changed: draw lines anew
        self._line_styles.clear()
        self._lines.clear()
        super().notify_style_update()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        if (
            row_index < 0
            or column_index < 0
            or row_index < self.fixed_rows
            or column_index < self.fixed_columns
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row_key is None or row is None or row.height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        segs = self._cell_segments(row_key, column_key, width)
        if segs is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        # the same styles, in the same order, as Styled(Padding(cell), pre_style, post_style)
        pre = (
            base_style
            + Style.from_meta({"row": row_index, "column": column_index})
            + component_style
        )
        return [list(Segment.apply_style(segs, pre, post_style))]

    # ------------------------------------------------------------------ keyed API

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def sync(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> bool:
        """Make the table show ``rows`` (key, cells) in this order. Returns True if anything changed.

        Rows are added, removed, rewritten and reordered in bulk on DataTable's own structures:
        its ``add_row`` / ``remove_row`` re-validate the cursor (watchers that walk every row)
        per call, and ``remove_row`` rebuilds the row map and asks for a screen layout per row;
        a refresh that moves 40 rows of a 200-row table paid that 40 times on the UI thread.
        """
        keep_key = self.selected_key
        wanted = {k for k, _ in rows}
        gone = [k for k in self._cells if k not in wanted]
        was_empty = not self._cells
        changed = bool(gone)
        for k in gone:
            rk = RowKey(k)
            del self.rows[rk]
            del self._data[rk]
            del self._cells[k]
            self._row_version.pop(k, None)
        if gone and self._updated_cells:
            self._updated_cells = {c for c in self._updated_cells if c.row_key.value in wanted}
        col_keys = [c[0] for c in self._columns_spec]
        added = False
        for k, cells in rows:
            old = self._cells.get(k)
            if old is None:
                rk = RowKey(k)
                self._data[rk] = {ColumnKey(ck): cell for ck, cell in zip_longest(col_keys, cells)}
                self.rows[rk] = Row(rk, 1)
                self._new_rows.add(rk)
                self._bump(k)
                added = changed = True
            elif old != cells:
                data = self._data[RowKey(k)]
                for ck, a, b in zip(col_keys, old, cells, strict=True):
                    if a != b:
                        data[ColumnKey(ck)] = b
                self._bump(k)
                changed = True
            self._cells[k] = cells
        order = [k for k, _ in rows]
        moved = order != self._order
        if not (changed or moved):
            return False
        if gone or added or moved:
            self._order = order
            self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(order)})
        if gone or added:
            self._require_update_dimensions = True
        self._update_count += 1
        if keep_key is not None and keep_key in self._cells:
            # the cursor stays on the same session, wherever it moved
            new_row = self._row_locations.get(RowKey(keep_key))
            if new_row is not None and new_row != self.cursor_coordinate.row:
                self.move_cursor(row=new_row, animate=False, scroll=False)
        elif gone or added:
            # revalidate once (clamped to the new row count), as add/remove_row do per row
            self.cursor_coordinate = self.cursor_coordinate
        if gone:
            self.hover_coordinate = self.hover_coordinate
        if was_empty and self._cells and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does for the first row: posts RowHighlighted
        self.check_idle()
        self.refresh()
        return True

    def _bump(self, key: str) -> None:
        self._version += 1
        self._row_version[key] = self._version

    def select_key(self, key: str) -> None:
        if key in self._cells:
            self.move_cursor(row=self.get_row_index(key), animate=False)
