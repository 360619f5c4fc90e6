"""`?` overlay: every key, generated from the action registry."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from uxtop.tui.actions import ACTIONS, SCOPE_TITLES, SCREENS


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", show=False)]

    def __init__(self, available: frozenset[str]) -> None:
        super().__init__()
        self.available = available

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "uxtop keys — esc closes"
            yield Static(self._table(), id="help-text")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        names = {name: title for _, name, title in SCREENS}
        for scope, title in SCOPE_TITLES.items():
            table.add_row(Text(title, style="bold underline"), "")
            for a in ACTIONS:
                if a.scope != scope:
                    continue
                text = a.help
                if a.action.startswith("switch_screen"):
                    name = a.action.split("'")[1]
                    if name not in self.available:
                        text += f" ({names[name]}: needs the analytics layer)"
                table.add_row(a.display, text)
            table.add_row("", "")
        table.add_row(Text("Command palette", style="bold underline"), "")
        table.add_row("ctrl+p", "Every action above, searchable")
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss()
