"""What every main screen shares: status line, alerts banner, nav tabs, body, footer; and the
``apply_snapshot`` hook the app's refresh timer calls on the visible screen only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget

from uxtop.snapshot import Snapshot
from uxtop.tui.widgets.alert_banner import AlertBanner
from uxtop.tui.widgets.footer import BindingsFooter
from uxtop.tui.widgets.nav_bar import NavBar
from uxtop.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from uxtop.tui.app import UxtopApp


class UxtopScreen(Screen[None]):
    #: name in actions.SCREENS (highlighted in the nav bar)
    NAV: ClassVar[str] = ""

    @property
    def uxtop(self) -> UxtopApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield AlertBanner(id="alerts")
        yield NavBar(self.NAV, self.uxtop.available_screens, id="nav")
        yield from self.compose_body()
        yield BindingsFooter()

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def focus_main(self, selector: str | type[Widget]) -> None:
        """Focus the screen's main widget if it is there: a screen built in the background
        (see ``UxtopApp._warm_next_screen``) can get its Mount while the app is shutting down,
        after its children were taken away."""
        for widget in self.query(selector):
            widget.focus()
            return

    def on_screen_resume(self) -> None:
        # hidden screens are skipped by the refresh timer; catch up when shown again
        self.refresh_snapshot(self.uxtop.snapshot)

    def refresh_snapshot(self, snap: Snapshot) -> None:
        """Chrome first (cheap), then the body."""
        app = self.uxtop
        try:
            status = self.query_one(StatusBar)
        except NoMatches:
            return  # still composing (a refresh tick right after a switch); resume will catch up
        status.show(snap, lag_ms=app.lag_ms(snap), paused=app.paused, follow=app.follow)
        self.query_one(AlertBanner).show(snap.alerts)
        try:
            self.apply_snapshot(snap)
        except NoMatches:
            pass  # body widgets still mounting; the next tick fills them

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Update the body from ``snap``; must be cheap (it runs at the refresh rate)."""
