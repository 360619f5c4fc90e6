"""One registry of user actions: key bindings, the command palette and the help overlay all read
it, so a key can never exist without being listed in help, or the palette miss a command.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class ActionSpec:
    key: str  # Textual key spec, e.g. "1", "slash", "question_mark", "shift+n"
    display: str  # how help shows the key
    action: str  # Textual action string, e.g. "switch('sessions')"
    title: str  # short footer / palette label
    help: str  # one line for the help overlay and the palette
    scope: str  # "app", "list", "sessions", "timeline", "pages"
    footer: bool = True
    palette: bool = True
    priority: bool = False


#: screens in key order; 5-7 are the analytics screens, present when the analytics layer is
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("1", "overview", "Overview"),
    ("2", "sessions", "Sessions"),
    ("3", "pages", "Pages"),
    ("4", "detectors", "Detectors"),
    ("5", "funnels", "Funnels"),
    ("6", "health", "Health vs usage"),
    ("7", "insights", "Insights"),
)

ACTIONS: tuple[ActionSpec, ...] = (
    *(
        ActionSpec(
            k, k, f"switch_screen('{name}')", title, f"Show the {title} screen", "app", footer=False
        )
        for k, name, title in SCREENS
    ),
    ActionSpec("question_mark", "?", "help", "Help", "List every key (this overlay)", "app"),
    ActionSpec(
        "p",
        "p",
        "toggle_pause",
        "Pause",
        "Pause / resume the display (the engine keeps ingesting)",
        "app",
    ),
    ActionSpec(
        "f",
        "f",
        "toggle_follow",
        "Follow",
        "Follow mode: keep the newest flagged session selected",
        "app",
    ),
    ActionSpec("q", "q", "quit", "Quit", "Quit uxtop", "app"),
    ActionSpec(
        "slash",
        "/",
        "filter",
        "Filter",
        "Filter sessions: kind:rage url:/checkout dev:mobile text",
        "app",
    ),
    # lists (every table): vim motions
    ActionSpec(
        "j", "j / ↓", "cursor_down", "Down", "Move down", "list", footer=False, palette=False
    ),
    ActionSpec("k", "k / ↑", "cursor_up", "Up", "Move up", "list", footer=False, palette=False),
    ActionSpec(
        "g",
        "g / Home",
        "scroll_top",
        "Top",
        "Jump to the first row",
        "list",
        footer=False,
        palette=False,
    ),
    ActionSpec(
        "G",
        "G / End",
        "scroll_bottom",
        "Bottom",
        "Jump to the last row",
        "list",
        footer=False,
        palette=False,
    ),
    ActionSpec(
        "ctrl+d",
        "ctrl+d",
        "page_down",
        "Page down",
        "Half a page down",
        "list",
        footer=False,
        palette=False,
    ),
    ActionSpec(
        "ctrl+u",
        "ctrl+u",
        "page_up",
        "Page up",
        "Half a page up",
        "list",
        footer=False,
        palette=False,
    ),
    # sessions
    ActionSpec(
        "enter", "enter", "open_session", "Open", "Open the selected session's timeline", "sessions"
    ),
    ActionSpec("s", "s", "cycle_sort", "Sort", "Sort by score → time → kind → page", "sessions"),
    ActionSpec(
        "r", "r", "reverse_sort", "Reverse", "Reverse the sort order", "sessions", footer=False
    ),
    ActionSpec(
        "escape",
        "esc",
        "clear_filter",
        "Clear",
        "Clear the filter",
        "sessions",
        footer=False,
        palette=False,
    ),
    # timeline
    ActionSpec("n", "n", "next_flag", "Next flag", "Jump to the next flag", "timeline"),
    ActionSpec("N", "N", "prev_flag", "Prev flag", "Jump to the previous flag", "timeline"),
    ActionSpec("e", "e", "export", "Export", "Export the session as canonical NDJSON", "timeline"),
    ActionSpec("escape", "esc", "back", "Back", "Back to the sessions list", "timeline"),
    # pages
    ActionSpec(
        "m", "m", "toggle_layer", "Clicks/moves", "Heatmap layer: clicks or mouse moves", "pages"
    ),
)

SCOPE_TITLES = {
    "app": "Everywhere",
    "list": "Lists and timelines (vim motions)",
    "sessions": "2 Sessions",
    "timeline": "Session timeline",
    "pages": "3 Pages",
}


def specs(scope: str) -> tuple[ActionSpec, ...]:
    return tuple(a for a in ACTIONS if a.scope == scope)


def bindings(scope: str) -> list[BindingType]:
    """Textual bindings for one scope, straight from the registry."""
    return [
        Binding(
            a.key,
            a.action,
            a.title,
            show=a.footer,
            priority=a.priority,
            key_display=a.display if len(a.display) <= 3 else None,
        )
        for a in specs(scope)
    ]


def palette_specs(scopes: Iterable[str]) -> list[ActionSpec]:
    return [a for s in scopes for a in specs(s) if a.palette]
