"""Screens 5-7, registered only when the analytics layer is importable (the app shows a note
for the keys otherwise)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.screens.funnels import FunnelsScreen
from uxtop.tui.screens.health import HealthScreen
from uxtop.tui.screens.insights import InsightsScreen

# present, not imported: importing it imports numba (~1 s from a cold disk), which would hold
# up the first frame; the engine imports it on its warm-up thread
if importlib.util.find_spec("uxtop.analytics") is None:
    raise ImportError("uxtop.analytics is not installed: screens 5-7 are hidden")

ANALYTICS_SCREENS: dict[str, Callable[[], UxtopScreen]] = {
    "funnels": FunnelsScreen,
    "health": HealthScreen,
    "insights": InsightsScreen,
}
