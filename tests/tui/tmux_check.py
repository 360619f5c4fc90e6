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
            # after a lone Esc the terminal driver waits 0.1 s for more bytes: a key that
            # arrives inside it on a loaded machine reads as alt+key
            time.sleep(0.6 if k == "Escape" else 0.15)

    def wait_for(self, *patterns: str, timeout: float, what: str) -> str:
        """Waits until one capture of the pane matches every pattern. A screen is checked as a
        whole because a capture can land between two widgets' repaints (a heatmap drawn, the
        panel beside it not yet): asserting on a later part of an earlier capture was flaky."""
        deadline = time.monotonic() + timeout
        screen = ""
        missing = list(patterns)
        while time.monotonic() < deadline:
            screen = self.capture()
            missing = [p for p in patterns if not re.search(p, screen)]
            if not missing:
                self.log.append(f"--- {what}: ok\n{screen}")
                return screen
            time.sleep(0.1)
        raise AssertionError(
            f"{what}: {' '.join(f'/{p}/' for p in missing)} not on screen after {timeout}s;"
            f" screen was:\n{screen}"
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
        t.wait_for(r"1 Overview.*2 Sessions", timeout=10, what="first frame")
        timings["first_frame_s"] = time.monotonic() - t0
        t.wait_for(r"\d+(\.\d+)?k? ev/s", timeout=15, what="ingest rate")
        # real flags: the flags tile counts up from 0, and the overview's panels name them
        t.wait_for(
            r"[1-9][\d.]*k? flags ·",
            "flags per minute by kind",
            "worst pages right now",
            r"rage_click|dead_click|error_click|thrashed_cursor|u_turn",
            timeout=60,
            what="first flags",
        )
        timings["first_flags_s"] = time.monotonic() - t0

        t.keys("2")
        t.wait_for(
            r"[1-9]\d* of [1-9]\d* flagged sessions",
            "score",
            "kinds",
            timeout=10,
            what="sessions list",
        )
        t.keys("Enter")
        t.wait_for(
            r"session \S+ .*events · \d+ lines",
            r"\b(pageview|click|move|request|scroll)\b",
            "⚑",
            "rule:",
            "mouse path & clicks",
            r"flag \d+/\d+",
            timeout=10,
            what="timeline",
        )
        t.keys("n", "e")
        t.wait_for(r"exported → ", timeout=5, what="export")
        exported = [f for f in os.listdir(export_dir) if f.endswith(".ndjson")]
        assert exported, "export wrote no file"
        with open(os.path.join(export_dir, exported[0]), encoding="utf-8") as fh:
            first = fh.readline()
        assert '"ts":' in first and '"type":' in first
        t.keys("Escape")
        t.wait_for(r"flagged sessions", timeout=5, what="back to sessions")

        t.keys("/")
        t.wait_for(r"filter: kind:rage", timeout=5, what="filter input")
        t.keys("Escape")

        t.keys("3")
        t.wait_for(r"(clicks|moves) on /", "▀", "scroll depth reached", timeout=10, what="pages")

        t.keys("4")
        t.wait_for(
            r"throughput [\d.]+[kM]? events/s",
            "thresholds in force",
            "min_clicks=",
            timeout=10,
            what="detectors",
        )

        for key, pattern in (
            ("5", r"funnel"),
            ("6", r"backend routes"),
            ("7", r"insights, ranked"),
        ):
            t.keys(key)
            t.wait_for(pattern, timeout=10, what=f"screen {key}")

        t.keys("1", "?")
        t.wait_for(r"uxtop keys", timeout=5, what="help")
        t.keys("Escape", "p")
        t.wait_for(r"PAUSED", timeout=5, what="pause")
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
