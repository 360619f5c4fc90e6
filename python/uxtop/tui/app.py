"""The uxtop Textual app: screens as modes, one refresh timer, commands to the engine.

The app holds no pipeline state. A self-rescheduling timer reads ``feed.latest()`` at a fixed
rate and hands a *new* snapshot to the visible screen only (hidden screens catch up when shown),
so the UI cost is independent of the event rate. Use ``create_app`` (also in tests).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.app import App, ScreenStackError
from textual.command import DiscoveryHit, Hit, Hits, Provider

from uxtop.snapshot import SetFilter, SetPaused, Snapshot, SnapshotFeed
from uxtop.tui.actions import SCREENS, ActionSpec, bindings, palette_specs
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.screens.detectors import DetectorsScreen
from uxtop.tui.screens.help import HelpScreen
from uxtop.tui.screens.overview import OverviewScreen
from uxtop.tui.screens.pages import PagesScreen
from uxtop.tui.screens.sessions import SessionsScreen
from uxtop.tui.screens.timeline import TimelineScreen

BASE_SCREENS: dict[str, Callable[[], UxtopScreen]] = {
    "overview": OverviewScreen,
    "sessions": SessionsScreen,
    "pages": PagesScreen,
    "detectors": DetectorsScreen,
}


def analytics_screens() -> dict[str, Callable[[], UxtopScreen]]:
    """Screens 5-7, present when the analytics layer (and its screens) are importable."""
    try:
        from uxtop.tui.screens.analytics import ANALYTICS_SCREENS
    except ImportError:
        return {}
    return dict(ANALYTICS_SCREENS)


class UxtopCommands(Provider):
    """The command palette, fed by the same registry as the key bindings."""

    def _specs(self) -> list[tuple[ActionSpec, Any]]:
        app: UxtopApp = self.app  # type: ignore[assignment]
        target = self.screen
        scopes = ["app"]
        if isinstance(target, TimelineScreen):
            scopes.append("timeline")
        elif isinstance(target, SessionsScreen):
            scopes.append("sessions")
        elif isinstance(target, PagesScreen):
            scopes.append("pages")
        out = []
        for spec in palette_specs(scopes):
            if spec.action.startswith("switch_screen"):
                name = spec.action.split("'")[1]
                if name not in app.available_screens:
                    continue
            out.append((spec, app if spec.scope == "app" else target))
        return out

    async def discover(self) -> Hits:
        for spec, owner in self._specs():
            yield DiscoveryHit(f"{spec.title}  ({spec.display})", partial(owner.run_action, spec.action), help=spec.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec, owner in self._specs():
            text = f"{spec.title}  ({spec.display})"
            score = max(matcher.match(text), matcher.match(spec.help) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(owner.run_action, spec.action), help=spec.help)


class UxtopApp(App[None]):
    CSS_PATH = "uxtop.tcss"
    TITLE = "uxtop"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {UxtopCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        feed: SnapshotFeed,
        *,
        refresh_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        export_dir: str = ".",
        start_screen: str = "overview",
        extra_screens: dict[str, Callable[[], UxtopScreen]] | None = None,
    ) -> None:
        screens = dict(BASE_SCREENS)
        screens.update(analytics_screens() if extra_screens is None else extra_screens)
        self.MODES = screens  # type: ignore[misc]  # per instance: analytics screens are optional
        super().__init__()
        self.feed = feed
        self.refresh_interval = refresh_interval
        self.clock = clock
        self.export_dir = export_dir
        self.start_screen = start_screen
        self.available_screens = frozenset(screens)
        self.snapshot: Snapshot = feed.latest()
        self.paused = False
        self.follow = False
        self.filter_text = ""
        self._shown_seq = -1
        self._lag_ms = 0.0
        #: (key, seconds from key press to the screen having applied it) — benchmarks read this
        self.frames = 0

    def on_mount(self) -> None:
        # the engine thread runs Python (detectors, aggregates) too: hand the GIL over more
        # often than the default 5 ms so keys are handled within a frame under load
        sys.setswitchinterval(0.001)
        self.switch_mode(self.start_screen)
        self._arm()

    # ------------------------------------------------------------------ refresh loop

    def _arm(self) -> None:
        # re-armed after each tick (not set_interval): a slow frame delays the next one
        # instead of queueing a burst of catch-up refreshes
        self.set_timer(self.refresh_interval, self._tick)

    def _tick(self) -> None:
        try:
            self.pull()
        finally:
            self._arm()

    def pull(self, force: bool = False) -> bool:
        """Fetch the latest snapshot and show it on the visible screen. True if it was new."""
        if self.paused and not force:
            return False
        snap = self.feed.latest()
        if snap.seq == self._shown_seq and not force:
            return False
        self.snapshot = snap
        self._lag_ms = max(0.0, (self.clock() - snap.oldest_unseen_read) * 1000.0)
        self._shown_seq = snap.seq
        try:
            screen = self.screen
        except ScreenStackError:
            return False  # starting up or shutting down: nothing to draw on
        if isinstance(screen, UxtopScreen):
            screen.refresh_snapshot(snap)
        self.frames += 1
        return True

    def lag_ms(self, snap: Snapshot) -> float:
        """Event-to-screen lag of the snapshot on screen: bytes read → drawn."""
        return self._lag_ms

    # ------------------------------------------------------------------ engine commands

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.feed.send(SetFilter(text=self.filter_text))

    def open_session(self, session_id: int) -> None:
        self.push_screen(TimelineScreen(session_id))

    # ------------------------------------------------------------------ actions

    def action_switch_screen(self, name: str) -> None:
        if name not in self.available_screens:
            title = next(t for _, n, t in SCREENS if n == name)
            self.notify(f"{title} needs the analytics layer (uxtop.analytics), not available here", severity="warning", timeout=3)
            return
        if self.current_mode != name:
            self.switch_mode(name)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.available_screens))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.feed.send(SetPaused(paused=self.paused))
        self._refresh_chrome()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._refresh_chrome()

    def action_filter(self) -> None:
        if isinstance(self.screen, SessionsScreen):
            self.screen.open_filter()  # at once: keys typed right after / go to the input
            return
        if self.current_mode != "sessions":
            self.switch_mode("sessions")
        # the sessions screen may still be mounting
        self.call_after_refresh(self._open_filter)

    def _open_filter(self) -> None:
        screen = self.screen
        if isinstance(screen, TimelineScreen):
            screen.dismiss()
            self.call_after_refresh(self._open_filter)
            return
        if isinstance(screen, SessionsScreen):
            screen.open_filter()

    def _refresh_chrome(self) -> None:
        screen = self.screen
        if isinstance(screen, UxtopScreen):
            screen.refresh_snapshot(self.snapshot)


def create_app(feed: SnapshotFeed, **kw: Any) -> UxtopApp:
    """The app over any feed (the engine, or fixed snapshots in tests)."""
    return UxtopApp(feed, **kw)


def screen_names(app: UxtopApp) -> Iterable[str]:
    return [n for _, n, _ in SCREENS if n in app.available_screens]
