"""The uxtop Textual app: screens as modes, one refresh timer, commands to the engine.

The app holds no pipeline state. A self-rescheduling timer reads ``feed.latest()`` at a fixed
rate and hands a *new* snapshot to the visible screen only (hidden screens catch up when shown),
so the UI cost is independent of the event rate. Use ``create_app`` (also in tests).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from platformdirs import user_downloads_path
from textual import events
from textual.app import App, ScreenStackError
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

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


#: screens not shown yet are built in the background from this long after startup, one per step,
#: each when the keyboard has been quiet for WARM_QUIET_S (a step takes 50-250 ms of the UI thread)
WARM_START_S = 0.5
WARM_QUIET_S = 0.4

#: full GC: after this long without a key press, at most every GC_MIN_GAP_S, at least every GC_MAX_GAP_S
GC_QUIET_S = 1.0
GC_MIN_GAP_S = 5.0
GC_MAX_GAP_S = 60.0


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
            yield DiscoveryHit(
                f"{spec.title}  ({spec.display})",
                partial(owner.run_action, spec.action),
                help=spec.help,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec, owner in self._specs():
            text = f"{spec.title}  ({spec.display})"
            score = max(matcher.match(text), matcher.match(spec.help) * 0.8)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(owner.run_action, spec.action),
                    help=spec.help,
                )


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
        screens: dict[str, str | Callable[[], Screen[Any]]] = dict(BASE_SCREENS)
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
        self._frozen_after_jit = False
        self._last_input = 0.0
        self._last_full_gc = time.monotonic()
        self._gc_threshold = gc.get_threshold()
        self._switch_interval = sys.getswitchinterval()
        self._lag_ms = 0.0
        #: screens built in the background, drawn off screen on the next warm-up step
        self._warming: list[Screen[Any]] = []
        #: the timeline screen, kept mounted between drill-downs (see open_session)
        self._timeline: TimelineScreen | None = None
        #: (key, seconds from key press to the screen having applied it) — benchmarks read this
        self.frames = 0

    def on_mount(self) -> None:
        # the engine thread runs Python (detectors, aggregates) too: hand the GIL over more
        # often than the default 5 ms so keys are handled within a frame under load
        sys.setswitchinterval(0.001)
        self.switch_mode(self.start_screen)
        self._arm()
        # after the first frame, the imported modules, compiled CSS and mounted widgets live as
        # long as the app: take them out of the cyclic GC's view (see _freeze_heap)
        self.call_after_refresh(self._freeze_heap)
        # the first frame is up: the engine may start its JIT warm-up (which holds the GIL
        # for long stretches) instead of waiting out its fixed delay
        self.call_after_refresh(self._tell_feed_ui_ready)
        # build the other screens before they are asked for (see _warm_next_screen)
        self.set_timer(WARM_START_S, self._warm_next_screen)
        # full collections only when the user is not typing (see _maybe_collect)
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(self._gc_threshold[0], self._gc_threshold[1], 1 << 30)

    def on_unmount(self) -> None:
        # back to Python's defaults for whatever runs after the app (tests run many apps)
        gc.set_threshold(*self._gc_threshold)
        gc.unfreeze()
        sys.setswitchinterval(self._switch_interval)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._last_input = time.monotonic()
        await super().on_event(event)

    # ------------------------------------------------------------------ refresh loop

    def _arm(self) -> None:
        # re-armed after each tick (not set_interval): a slow frame delays the next one
        # instead of queueing a burst of catch-up refreshes
        self.set_timer(self.refresh_interval, self._tick)

    def _tick(self) -> None:
        try:
            self.pull()
            if not self._frozen_after_jit and self.snapshot.detectors.state != "compiling":
                # numba's compile leaves ~100k long-lived type objects behind: freeze them too
                self._frozen_after_jit = True
                self._freeze_heap()
            self._maybe_collect()
        finally:
            self._arm()

    def unbuilt_screens(self) -> list[str]:
        """Modes whose screen has not been composed yet, in nav order."""
        stacks = getattr(self, "_screen_stacks", {})
        return [n for n in screen_names(self) if not stacks.get(n)]

    def _warm_next_screen(self) -> None:
        """Build, style, lay out and draw one screen that has not been shown yet, without
        showing it, so that its first visit costs what a revisit does.

        The first switch to a screen used to pay for all of this on the key press (150-250 ms:
        compose, CSS for every new widget, the first layout, the first drawing of every line).
        Textual builds a mode's screen in ``_init_mode`` (what ``switch_mode`` calls for a new
        mode); calling it directly builds the screen without making it current. Its
        ScreenResume fills it from the latest snapshot and lays it out at the app's size; the
        next step draws it once off screen (widgets keep their drawn lines) and marks its CSS
        current (else the switch re-parses the stylesheet and lays the screen out again). It is
        hidden, so the refresh timer skips it until it is shown. One step per refresh
        interval, and only while no key is being pressed.
        """
        if not hasattr(self, "_init_mode"):
            return
        if time.monotonic() - self._last_input < WARM_QUIET_S:
            self.set_timer(WARM_QUIET_S, self._warm_next_screen)
            return
        try:
            for screen in self._warming:
                self._draw_offscreen(screen)
            self._warming = []
            todo = self.unbuilt_screens()
            if not todo:
                return
            self._init_mode(todo[0])
            self._warming = list(self._screen_stacks[todo[0]])
        except Exception:  # private Textual APIs: at worst a screen is built on its first visit
            self._warming = []
            return
        self.set_timer(self.refresh_interval, self._warm_next_screen)

    def _draw_offscreen(self, screen: Screen[Any]) -> None:
        if screen is self.screen or not screen.is_mounted:
            return
        if screen._css_update_count != self._css_update_count:
            self.stylesheet.update(screen, animate=False)
            screen._css_update_count = self._css_update_count
        if screen._compositor.size:  # laid out (its ScreenResume has been handled)
            screen._compositor.render_update(full=True, screen_stack=[])

    def _maybe_collect(self) -> None:
        """Run the full (generation 2) collection ourselves, between keystrokes.

        Automatic full collections are switched off while the app runs (on_mount): one costs
        50-100 ms with the GIL held and would land on a key press. Generations 0 and 1 stay
        automatic (young objects, ~1 ms). The full pass runs here once the keyboard has been
        quiet for GC_QUIET_S, and in any case every GC_MAX_GAP_S, so cyclic garbage (closed
        screens, finished tasks) stays bounded.
        """
        now = time.monotonic()
        quiet = now - self._last_input >= GC_QUIET_S
        if (
            quiet and now - self._last_full_gc >= GC_MIN_GAP_S
        ) or now - self._last_full_gc >= GC_MAX_GAP_S:
            gc.collect()
            self._last_full_gc = time.monotonic()

    def _freeze_heap(self) -> None:
        """Move every object alive now to the GC's permanent generation.

        A full (generation 2) collection walks every tracked object: with numba, Textual and
        the engine's retained sessions loaded that is 300k objects and 100-200 ms with the GIL
        held, a pause that lands on whatever key is pressed then. Objects alive at startup
        (modules, functions, types, the persistent screens) never become garbage, so freezing
        them costs nothing and leaves full collections only the objects made since. Frozen
        objects are still freed by reference counting; only a reference cycle among them would
        never be collected, which is why this runs at two fixed points, not periodically.
        """
        gc.collect()
        gc.freeze()

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

    def _tell_feed_ui_ready(self) -> None:
        ready = getattr(self.feed, "ui_ready", None)
        if ready is not None:
            ready.set()

    def lag_ms(self, snap: Snapshot) -> float:
        """Event-to-screen lag of the snapshot on screen: bytes read → drawn."""
        return self._lag_ms

    # ------------------------------------------------------------------ engine commands

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.feed.send(SetFilter(text=self.filter_text))

    def open_session(self, session_id: int) -> None:
        # one timeline screen, installed so that esc keeps it mounted, reused for each session
        timeline = self._timeline
        if timeline is not None and timeline.is_mounted and timeline not in self.screen_stack:
            timeline.show_session(session_id)
            self.push_screen(timeline)
            return
        timeline = TimelineScreen(session_id)
        if self._timeline is None:
            self._timeline = timeline
            self.install_screen(timeline, name="timeline")
        self.push_screen(timeline)

    # ------------------------------------------------------------------ actions

    async def action_switch_screen(self, name: str) -> None:
        if name not in self.available_screens:
            title = next(t for _, n, t in SCREENS if n == name)
            self.notify(
                f"{title} needs the analytics layer (uxtop.analytics), not available here",
                severity="warning",
                timeout=3,
            )
            return
        if self.current_mode != name:
            self.switch_mode(name)

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """The palette's Screenshot: Textual saves into the user's Downloads directory, which
        servers and containers (where a terminal tool runs over ssh) often lack, and then only
        says it failed; without one, the SVG goes to the working directory."""
        if path is None:
            downloads = user_downloads_path()
            path = str(downloads if downloads.is_dir() else Path.cwd())
        return super().deliver_screenshot(filename, path, time_format)

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
