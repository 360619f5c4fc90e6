"""The real ``uxtop demo`` in tmux: every screen shows real data (see tmux_check.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (CI installs it)")
def test_demo_in_tmux_shows_real_data_on_every_screen() -> None:
    from tmux_check import check

    timings = check(verbose=True)
    # a bound against hangs, not a speed claim (a loaded CI box can be 3x slower; the figure
    # itself is measured by benchmarks/bench_tui.py --only coldstart)
    assert timings["first_frame_s"] < 15
