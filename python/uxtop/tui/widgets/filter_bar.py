"""The `/` filter input: hidden until asked for; enter applies, esc cancels."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import Input

from uxtop.tui.messages import FilterSubmitted


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { display: none; height: 3; }
    FilterBar.-active { display: block; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            placeholder="filter: kind:rage url:/checkout target:button dev:mobile rel:2.3 free text — enter applies, esc cancels",
            **kw,
        )

    def open(self, current: str) -> None:
        self.value = current
        self.add_class("-active")
        self.focus()

    def close(self) -> None:
        self.remove_class("-active")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(FilterSubmitted(self.value))

    def action_cancel(self) -> None:
        self.close()
        self.post_message(FilterSubmitted(self.value, cancelled=True))
