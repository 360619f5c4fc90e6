"""Session timeline: every retained event in order, flags with rule and evidence, requests,
errors; a mouse-path mini-map, scroll depth; n/N between flags, e exports NDJSON, esc back.

The detail is fetched in a thread worker (the engine answers on its own thread), so opening a
huge session never blocks a keystroke.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import work
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

from uxtop.snapshot import SessionDetail
from uxtop.tui.actions import bindings
from uxtop.tui.format import KIND_SHORT, KIND_STYLE, clock_time, duration, human
from uxtop.tui.messages import DetailLoaded, FlagSelected
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.depth_bars import DepthBars
from uxtop.tui.widgets.flag_detail import FlagDetail
from uxtop.tui.widgets.mouse_map import MouseMap
from uxtop.tui.widgets.set_text import set_text
from uxtop.tui.widgets.timeline_view import TimelineView


class TimelineScreen(UxtopScreen):
    NAV = "sessions"
    BINDINGS = bindings("timeline")

    def __init__(self, session_id: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.session_id = session_id
        self.detail: SessionDetail | None = None
        self.exported: str = ""
        #: a one-off answer to the last key (e.g. "no later flag"), shown in the header
        self.hint: str = ""

    def compose_body(self) -> Iterable[Widget]:
        yield Static(f" loading session {self.session_id}…", id="timeline-header")
        with Horizontal(id="timeline-main"):
            yield TimelineView(id="timeline")
            with Vertical(id="timeline-side"):
                with Vertical(classes="panel", id="map-box") as m:
                    m.border_title = "mouse path & clicks"
                    yield MouseMap(id="minimap")
                with Vertical(classes="panel", id="flag-box"):
                    yield FlagDetail(id="flag-detail")
                with Vertical(classes="panel", id="depth-box"):
                    yield DepthBars(id="session-depth")

    def on_mount(self) -> None:
        self.focus_main(TimelineView)
        self.load_detail()

    def show_session(self, session_id: int) -> None:
        """Show another session on this (mounted) screen: the app keeps one timeline screen
        and reuses it, since composing, styling and removing its widgets cost ~50 ms of the
        UI thread on every enter and esc."""
        self.session_id = session_id
        self.detail = None
        self.exported = ""
        self.hint = ""
        set_text(
            self.query_one("#timeline-header", Static), Text(f" loading session {session_id}…")
        )
        self.query_one(TimelineView).clear()
        self.query_one(MouseMap).clear()
        self.query_one("#map-box").border_title = "mouse path & clicks"
        set_text(self.query_one(FlagDetail), Text(""))
        set_text(self.query_one(DepthBars), Text(""))
        self.load_detail()

    @work(thread=True, exclusive=True, group="drill")
    def load_detail(self) -> None:
        worker = get_current_worker()
        try:
            detail = self.uxtop.feed.drill(self.session_id)
            err = ""
        except Exception as exc:  # surface, don't crash the UI
            detail, err = None, f"{type(exc).__name__}: {exc}"
        if not worker.is_cancelled:
            self.post_message(DetailLoaded(self.session_id, detail, err))

    def on_detail_loaded(self, msg: DetailLoaded) -> None:
        if msg.session_id != self.session_id:
            return  # the answer for a session shown before on this (reused) screen
        if msg.detail is None:
            self.query_one("#timeline-header", Static).update(
                Text(
                    f" session {self.session_id}: "
                    + (msg.error or "no longer retained (evicted) — esc to go back"),
                    style="bold red",
                )
            )
            return
        d = self.detail = msg.detail
        self.query_one(TimelineView).load(d)
        self.query_one(MouseMap).show(d.path, d.page_w, d.page_h)
        self.query_one("#map-box").border_title = f"mouse path & clicks · {d.path_url or '—'}"
        self.query_one(DepthBars).show_sessions(d.depth)
        self.query_one(FlagDetail).show(None, total=len(d.flags))
        self._header()
        # land on the first flag: that is why the user came here
        view = self.query_one(TimelineView)
        flags = d.flag_entry_indices
        if flags:
            view.cursor = flags[0]
            # the cursor may already be there (index 0): say which flag it is either way
            self.on_flag_selected(FlagSelected(d.entries[flags[0]].flag))

    def _header(self) -> None:
        d = self.detail
        if d is None:
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" session {d.key} ", style="bold reverse")
        cohort = " ".join(v for v in (d.dev, d.rel, d.geo) if v)
        if cohort:
            t.append(f" {cohort} ", style="bold")
        t.append(
            f" {clock_time(d.start_ts)} +{duration(d.end_ts - d.start_ts)} · {human(d.n_events)} events · {len(d.entries)} lines · ",
            style="dim",
        )
        kinds: dict[str, int] = {}
        for f in d.flags:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        for k, n in kinds.items():
            t.append(f"{KIND_SHORT.get(k, k)}×{n} ", style=KIND_STYLE.get(k, ""))
        if d.note:
            t.append(f" · {d.note}", style="italic yellow")
        if self.exported:
            t.append(f" · exported → {self.exported}", style="bold green")
        if self.hint:
            t.append(f" · {self.hint}", style="bold yellow")
        set_text(self.query_one("#timeline-header", Static), t)

    def on_flag_selected(self, msg: FlagSelected) -> None:
        d = self.detail
        if d is None:
            return
        if self.hint:
            self.hint = ""
            self._header()
        if msg.flag_index >= 0:
            self.query_one(FlagDetail).show(d.flags[msg.flag_index], msg.flag_index, len(d.flags))
        else:
            self.query_one(FlagDetail).show(None, total=len(d.flags))

    # ------------------------------------------------------------------ actions

    # "no later flag" goes in the header line, not a toast: mounting a toast restyles the
    # screen (~100 ms of CSS work), which is what n/N at the last flag used to cost
    def action_next_flag(self) -> None:
        if not self.query_one(TimelineView).jump_flag(True):
            self._hint("no later flag")

    def action_prev_flag(self) -> None:
        if not self.query_one(TimelineView).jump_flag(False):
            self._hint("no earlier flag")

    def _hint(self, text: str) -> None:
        self.hint = text
        self._header()

    def action_export(self) -> None:
        d = self.detail
        if d is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in d.key)[:60]
        path = os.path.join(self.uxtop.export_dir, f"uxtop-session-{safe}.ndjson")
        with open(path, "wb") as fh:
            for line in d.ndjson:
                fh.write(line + b"\n")
        self.exported = path
        self._header()
        self.notify(f"exported {len(d.ndjson)} events → {path}", timeout=3)

    def action_back(self) -> None:
        self.dismiss()
