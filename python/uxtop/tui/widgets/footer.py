"""Textual's Footer, recomposed only when the bindings it shows change.

Footer rebuilds all its key widgets whenever the screen publishes ``bindings_updated_signal``:
on every focus change, screen resume and action, whether or not the bindings differ. Each
rebuild mounts and styles ~15 widgets and lays the screen out again (20-40 ms of the UI thread
on every screen switch, ``escape`` and ``n``). The same bindings give the same footer, so the
rebuild is skipped when their signature is unchanged.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def bindings_signature(screen: Screen[Any]) -> tuple[Any, ...]:
    """Everything of the screen's active bindings that Footer.compose draws."""
    return tuple(
        (
            binding.key,
            binding.action,
            binding.description,
            binding.show,
            binding.key_display,
            binding.group,
            enabled,
            tooltip,
        )
        for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
    )


class BindingsFooter(Footer):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        #: signature of the bindings the footer was last (re)composed for
        self._shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)
            return
        shown = bindings_signature(screen)
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
