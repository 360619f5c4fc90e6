"""SVG snapshot tests (pytest-textual-snapshot): layouts pinned on fixed data, fixed clock.

Update after an intended layout change with ``pytest tests/tui --snapshot-update`` and look at
the diff report before committing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures import FixtureFeed, fixed_clock  # noqa: E402

from uxtop.tui.app import create_app  # noqa: E402

SIZE = (160, 48)


def app():
    return create_app(FixtureFeed(), clock=fixed_clock, extra_screens={})


async def _settle(pilot) -> None:  # noqa: ANN001
    # the timeline loads in a thread worker; wait for it so the picture is the loaded one
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _press_and_settle(keys: list[str]):  # noqa: ANN202
    """``run_before`` that presses ``keys`` itself, settling after each: snap_compare runs
    ``run_before`` before its own ``press``, so a drill-down started by a pressed key would
    not be waited for (and a key after it could arrive before the session has loaded)."""

    async def run(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    return run


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param([], id="overview"),
        pytest.param(["2"], id="sessions"),
        pytest.param(["2", "enter"], id="timeline"),
        pytest.param(["2", "enter", "n"], id="timeline-next-flag"),
        pytest.param(["3"], id="pages"),
        pytest.param(["3", "j", "m"], id="pages-moves"),
        pytest.param(["4"], id="detectors"),
        pytest.param(["question_mark"], id="help"),
    ],
)
def test_screen_layouts(snap_compare, keys: list[str]) -> None:  # noqa: ANN001
    assert snap_compare(app(), terminal_size=SIZE, run_before=_press_and_settle(keys))


def test_small_terminal(snap_compare) -> None:  # noqa: ANN001
    """80x24 still shows the essentials (tiles, kinds, tables) without breaking."""
    assert snap_compare(app(), terminal_size=(80, 24), run_before=_settle)
