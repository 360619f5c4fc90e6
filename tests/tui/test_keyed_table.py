"""KeyedTable draws one-line cells itself; DataTable's Rich pipeline is the reference."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from uxtop.tui.widgets.keyed_table import KeyedTable

pytestmark = pytest.mark.asyncio

COLS = (("a", "score", 6), ("b", "name", 9), ("c", "n", 5), ("d", "mixed", 12))
ROWS: list[tuple[str, tuple[Any, ...]]] = [
    ("r0", (Text("9.7", style="bold red"), "a-very-long-session-key", 12, Text("x"))),
    (
        "r1",
        (
            Text("1.0"),
            "short",
            3.14159,
            Text.assemble(("ra", "bold #ff5f5f"), " ", ("dc", "yellow")),
        ),
    ),
    ("r2", (Text(""), "", 0, "ünïcødé — ▂▃▅█")),
    (
        "r3",
        (Text("12345678", style="dim"), "exactly7", -5, Text("cropped text here", style="italic")),
    ),
]


class _App(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLS, id="t")


def _chars(lines: Any) -> list[tuple[str, Any]]:
    return [(ch, seg.style) for seg in lines[0] for ch in seg.text]


async def test_fast_cells_match_datatable_rendering() -> None:
    app = _App()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        compared = 0
        for r in range(table.row_count):
            for c, col in enumerate(table.ordered_columns):
                width = col.get_render_width(table)
                for cursor in (False, True):
                    base = table._get_row_style(r, table.rich_style)
                    fast = table._render_cell(r, c, base, width, cursor=cursor)
                    slow = DataTable._render_cell(table, r, c, base, width, cursor=cursor)
                    assert _chars(fast) == _chars(slow), (r, c, cursor)
                    compared += 1
        assert compared == len(ROWS) * len(COLS) * 2


async def test_reorder_keeps_cells_and_cursor_key() -> None:
    app = _App()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        table.move_cursor(row=2)
        assert table.selected_key == "r2"
        table.sync(ROWS[::-1])
        await pilot.pause()
        assert [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(4)] == [
            "r3",
            "r2",
            "r1",
            "r0",
        ]
        assert table.selected_key == "r2"
        # a changed cell is drawn anew, not from the per-cell cache
        changed = [
            (k, (Text("0.5"), *cells[1:])) if k == "r0" else (k, cells) for k, cells in ROWS[::-1]
        ]
        table.sync(changed)
        await pilot.pause()
        line = table._render_cell(3, 0, table._get_row_style(3, table.rich_style), 6)
        assert "".join(s.text for s in line[0]).strip() == "0.5"


async def test_cached_lines_match_datatable_after_moves_and_updates() -> None:
    """Lines kept across cursor moves and cell updates equal what DataTable draws now, and a
    cursor move redraws only the rows it leaves and enters."""
    app = _App()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        style = table.rich_style
        width = table.size.width
        # data lines start after the header
        ys = range(1, 1 + len(ROWS))

        def lines() -> list[Any]:
            return [table._render_line(y, 0, width, style) for y in ys]

        before = lines()
        table.move_cursor(row=2)
        await pilot.pause()
        after = lines()
        redrawn = [i for i in range(len(ROWS)) if after[i] is not before[i]]
        assert redrawn == [0, 2]  # the old cursor row and the new one
        changed = [(k, (Text("0.5"), *cells[1:])) if k == "r3" else (k, cells) for k, cells in ROWS]
        table.sync(changed)
        await pilot.pause()
        final = lines()
        assert [i for i in range(len(ROWS)) if final[i] is not after[i]] == [3]
        table._line_cache.clear()  # DataTable's own cache, so the reference is drawn afresh
        reference = [DataTable._render_line(table, y, 0, width, style) for y in ys]
        assert [s.text for s in final] == [s.text for s in reference]
        assert [list(s) for s in final] == [list(s) for s in reference]


class _TwoTables(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLS, id="synced")
        yield KeyedTable(COLS, id="fresh")


def _row(i: int, version: int = 0) -> tuple[str, tuple[Any, ...]]:
    return (
        f"k{i}",
        (
            Text(f"{(i * 7 + version) % 10}.{i % 10}", style="bold red" if i % 3 else ""),
            f"session-{i}-{version}",
            i * 3 + version,
            Text.assemble((f"r{i % 4}", "yellow"), " ", (f"d{version}", "bold")),
        ),
    )


async def test_bulk_sync_draws_what_a_fresh_table_draws() -> None:
    """A table moved through row insertions, removals, cell updates and reorders ends up with
    the same rows, cursor key and drawn lines as a table built in one go from the final rows."""
    app = _TwoTables()
    async with app.run_test(size=(80, 40)) as pilot:
        synced = app.query_one("#synced", KeyedTable)
        fresh = app.query_one("#fresh", KeyedTable)
        synced.sync([_row(i) for i in range(12)])
        await pilot.pause()
        synced.move_cursor(row=5)  # on k5
        steps = [
            [_row(i) for i in (20, 21, *range(12))],  # new rows on top: all rows move down
            [_row(i) for i in range(12) if i % 3],  # a third removed
            [_row(i, version=1) if i % 2 else _row(i) for i in range(12, 0, -1) if i % 3],
            [_row(i, version=2) for i in (30, 5, 31, 1, 2, 4, 7, 8, 10, 11, 32)],
        ]
        for rows in steps:
            assert synced.sync(rows)
            await pilot.pause()
            assert synced.selected_key == "k5"
        final = steps[-1]
        assert not synced.sync(final)  # nothing changed
        fresh.sync(final)
        fresh.move_cursor(row=1)
        app.set_focus(None)  # both drawn unfocused (focus restyles the header and cursor)
        await pilot.pause()
        assert [str(r.key.value) for r in synced.ordered_rows] == [k for k, _ in final]
        assert synced.row_count == fresh.row_count == len(final)
        assert synced.cursor_coordinate == fresh.cursor_coordinate
        style, width = synced.rich_style, synced.size.width
        for y in range(len(final) + 1):
            mine = synced._render_line(y, 0, width, style)
            theirs = fresh._render_line(y, 0, width, style)
            assert list(mine) == list(theirs), y
            # and DataTable's own drawing of the same row
            synced._line_cache.clear()
            reference = DataTable._render_line(synced, y, 0, width, style)
            assert list(mine) == list(reference), y
        # the mouse over a row (hover style), and a scrolled crop
        synced._set_hover_cursor(True)
        synced.hover_coordinate = Coordinate(3, 0)
        for y in (3, 4, 5):
            for x1, x2 in ((0, width), (7, width - 5)):
                mine = synced._render_line(y, x1, x2, style)
                synced._line_cache.clear()
                reference = DataTable._render_line(synced, y, x1, x2, style)
                assert list(mine) == list(reference), (y, x1, x2)


async def test_bulk_sync_first_rows_highlight_and_emptying() -> None:
    """The first rows of an empty table highlight the cursor row (RowHighlighted, as add_row
    does); emptying the table and filling it again keeps a valid cursor."""
    highlighted: list[str] = []

    class _Watch(_App):
        def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
            highlighted.append(str(event.row_key.value))

    app = _Watch()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        assert highlighted == ["r0"]
        table.move_cursor(row=3)
        await pilot.pause()
        table.sync([])
        await pilot.pause()
        assert table.row_count == 0 and table.selected_key is None
        table.sync(ROWS[:2])
        await pilot.pause()
        assert table.cursor_row in (0, 1) and table.selected_key in ("r0", "r1")
