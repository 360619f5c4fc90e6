"""set_text lays out the screen only when a Static's size can change."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from uxtop.tui.widgets.set_text import set_text

pytestmark = pytest.mark.asyncio


class _App(App[None]):
    CSS = "#fixed { height: 1; width: 1fr; } #auto { height: auto; width: 30; }"

    def compose(self) -> ComposeResult:
        yield Static(id="fixed")
        yield Static(id="auto")


async def test_layout_only_when_the_line_count_changes() -> None:
    app = _App()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        calls: list[bool] = []

        def spy(widget: Static) -> None:
            orig = widget.update

            def update(content: Any = "", *, layout: bool = True) -> None:
                calls.append(layout)
                orig(content, layout=layout)

            widget.update = update  # type: ignore[method-assign]

        fixed, auto = app.query_one("#fixed", Static), app.query_one("#auto", Static)
        spy(fixed)
        spy(auto)
        set_text(fixed, Text("one line\nor two, clipped"))
        assert calls == [False]
        set_text(auto, Text("a b c"))  # first time: height unknown
        set_text(auto, Text("d e f"))  # same height
        set_text(auto, Text("word " * 20))  # wraps to more lines at width 30
        assert calls[1:] == [True, False, True]
        await pilot.pause()
        assert auto.size.height == 4
