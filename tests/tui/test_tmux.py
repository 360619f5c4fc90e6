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
    assert timings["first_frame_s"] < 5  # generous on a loaded CI box; the benchmark reports it
