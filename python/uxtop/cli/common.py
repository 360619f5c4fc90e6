"""Pieces every subcommand shares: input paths, --config, progress on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

from uxtop.cli import UsageError


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="TOML",
        help="settings file (default: ./uxtop.toml or ~/.config/uxtop/uxtop.toml if present)",
    )


def load_config(args: argparse.Namespace):  # -> uxtop.config.Config
    from uxtop.config import ConfigFileError
    from uxtop.config import load_config as load

    try:
        return load(getattr(args, "config", None))
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from None


def resolve_inputs(paths: list[str]) -> list[str | BinaryIO]:
    """Paths as given, '-' as stdin; a missing or unreadable file is a usage error up front."""
    out: list[str | BinaryIO] = []
    for p in paths:
        if p == "-":
            out.append(sys.stdin.buffer)
            continue
        path = Path(p)
        if not path.exists():
            raise UsageError(f"{p}: no such file (give NDJSON files, or - for standard input)")
        if path.is_dir():
            raise UsageError(f"{p}: is a directory (give the NDJSON files inside it)")
        if not os.access(path, os.R_OK):
            raise UsageError(f"{p}: not readable")
        out.append(p)
    return out


def total_bytes(inputs: list[str | BinaryIO]) -> int | None:
    try:
        return (
            sum(os.path.getsize(p) for p in inputs if isinstance(p, str))
            if all(isinstance(p, str) for p in inputs)
            else None
        )
    except OSError:
        return None


class Progress:
    """A one-line progress report on stderr, redrawn at most every `every` s, only on a terminal."""

    def __init__(self, total: int | None, enabled: bool | None = None, every: float = 0.5) -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.every = every
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, done_bytes: int, events: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        dt = max(now - self.t0, 1e-9)
        pct = f"{100 * done_bytes / self.total:5.1f}% " if self.total else ""
        sys.stderr.write(
            f"\r{pct}{done_bytes / 1e6:,.0f} MB, {events:,} events, {events / dt / 1e6:.2f} M ev/s   "
        )
        sys.stderr.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()
