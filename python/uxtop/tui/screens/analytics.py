"""Screens 5-7, registered only when the analytics layer is importable (the app shows a note
for the keys otherwise)."""

from __future__ import annotations

from collections.abc import Callable

import uxtop.analytics  # noqa: F401  - ImportError here hides screens 5-7
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.screens.funnels import FunnelsScreen
from uxtop.tui.screens.health import HealthScreen
from uxtop.tui.screens.insights import InsightsScreen

ANALYTICS_SCREENS: dict[str, Callable[[], UxtopScreen]] = {
    "funnels": FunnelsScreen,
    "health": HealthScreen,
    "insights": InsightsScreen,
}
