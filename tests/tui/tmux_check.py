"""Drive the real ``uxtop demo`` in tmux (160x48): send keys, capture the pane, check that each
screen shows real data. Run directly (``python tests/tui/tmux_check.py``) or via pytest
(``-m tmux``). Prints what it saw on failure.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

WIDTH, HEIGHT = 160, 48


@dataclass
class Tmux:
    session: str
    log: list[str] = field(default_factory=list)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        envs = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self.run(
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            *envs,
            command,
        )

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for k in keys:
            self.run("send-keys", "-t", self.session, k)
            time.sleep(0.15)

    def wait_for(self, pattern: str, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if re.search(pattern, screen):
                self.log.append(f"--- {what}: ok\n{screen}")
                return screen
            time.sleep(0.1)
        raise AssertionError(
            f"{what}: /{pattern}/ not on screen after {timeout}s; screen was:\n{screen}"
        )

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "has-session", "-t", self.session], capture_output=True
            ).returncode
            == 0
        )

    def kill(self) -> None:
        if self.alive():
            subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)


def check(verbose: bool = False) -> dict[str, float]:
    """Returns timings (first frame, first flag, ...) in seconds."""
    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is not installed")
    export_dir = tempfile.mkdtemp(prefix="uxtop-tmux-")
    t = Tmux(session=f"uxtop-check-{os.getpid()}")
    cmd = f"{shlex.quote(sys.executable)} -m uxtop demo --rate 4000 --incident-after 20 --export-dir {shlex.quote(export_dir)}"
    env = {"TERM": "xterm-256color", "COLUMNS": str(WIDTH), "LINES": str(HEIGHT)}
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    t.start(cmd, env)
    try:
        # first frame: the overview with its tiles, whatever the JIT is doing
        t.wait_for(r"1 Overview.*2 Sessions", 10, "first frame")
        timings["first_frame_s"] = time.monotonic() - t0
        t.wait_for(r"\d+(\.\d+)?k? ev/s", 15, "ingest rate")
        # real flags: the flags tile counts up from 0
        t.wait_for(r"[1-9][\d.]*k? flags ·", 60, "first flags")
        timings["first_flags_s"] = time.monotonic() - t0
        screen = t.capture()
        assert "flags per minute by kind" in screen and "worst pages right now" in screen
        assert re.search(r"rage_click|dead_click|error_click|thrashed_cursor|u_turn", screen)

        t.keys("2")
        screen = t.wait_for(r"[1-9]\d* of [1-9]\d* flagged sessions", 10, "sessions list")
        assert "score" in screen and "kinds" in screen
        t.keys("Enter")
        screen = t.wait_for(r"session \S+ .*events · \d+ lines", 10, "timeline")
        assert re.search(r"\b(pageview|click|move|request|scroll)\b", screen), screen
        assert "⚑" in screen and "rule:" in screen, screen
        assert "mouse path & clicks" in screen and re.search(r"flag \d+/\d+", screen), screen
        t.keys("n", "e")
        t.wait_for(r"exported → ", 5, "export")
        exported = [f for f in os.listdir(export_dir) if f.endswith(".ndjson")]
        assert exported, "export wrote no file"
        with open(os.path.join(export_dir, exported[0]), encoding="utf-8") as fh:
            first = fh.readline()
        assert '"ts":' in first and '"type":' in first
        t.keys("Escape")
        t.wait_for(r"flagged sessions", 5, "back to sessions")

        t.keys("/")
        t.wait_for(r"filter: kind:rage", 5, "filter input")
        t.keys("Escape")

        t.keys("3")
        screen = t.wait_for(r"(clicks|moves) on /", 10, "pages")
        assert "▀" in screen, "no heatmap drawn"
        assert "scroll depth reached" in screen

        t.keys("4")
        screen = t.wait_for(r"throughput [\d.]+[kM]? events/s", 10, "detectors")
        assert "thresholds in force" in screen and "min_clicks=" in screen

        for key, pattern in (
            ("5", r"funnel"),
            ("6", r"backend routes"),
            ("7", r"insights, ranked"),
        ):
            t.keys(key)
            t.wait_for(pattern, 10, f"screen {key}")

        t.keys("1", "?")
        t.wait_for(r"uxtop keys", 5, "help")
        t.keys("Escape", "p")
        t.wait_for(r"PAUSED", 5, "pause")
        t.keys("p", "q")
        deadline = time.monotonic() + 5
        while t.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "q did not quit"
        timings["total_s"] = time.monotonic() - t0
        return timings
    except AssertionError:
        if verbose:
            print("\n".join(t.log[-3:]), file=sys.stderr)
        raise
    finally:
        t.kill()
        shutil.rmtree(export_dir, ignore_errors=True)


if __name__ == "__main__":
    print(check(verbose=True))
