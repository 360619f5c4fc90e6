"""``uxtop tail PATH…|-``: the live TUI over growing files or stdin; ``--headless`` for JSON."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from uxtop.cli import UsageError

EXAMPLES = """\
examples:
  uxtop tail /var/log/app/events.ndjson            follow a growing file (like tail -F)
  kubectl logs -f deploy/web | uxtop tail -         read NDJSON from stdin
  uxtop tail a.ndjson b.ndjson --from-end           only what is written from now on
  uxtop tail events.ndjson --headless --every 5     JSON status line every 5 s, alerts as JSON
  uxtop tail old.ndjson --no-follow --headless      replay a file once, then exit
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tail",
        help="live TUI over NDJSON files or stdin",
        description="Follow NDJSON event files (or stdin with -) and open the uxtop TUI: live "
        "overview, flagged sessions with drill-down timelines, page heatmaps, detector console.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="NDJSON files to follow, or - for stdin"
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="no TUI: print a JSON status line periodically and alerts as JSON lines",
    )
    p.add_argument(
        "--every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="status interval with --headless (default 2)",
    )
    p.add_argument(
        "--from-end", action="store_true", help="start at the end of each file (only new lines)"
    )
    p.add_argument(
        "--no-follow", action="store_true", help="read files to their end and stop (replay)"
    )
    p.add_argument(
        "--quarantine",
        metavar="PATH",
        help="append bad lines here (default: a file in the temp dir)",
    )
    p.add_argument(
        "--export-dir",
        default=".",
        metavar="DIR",
        help="where `e` in a timeline writes session NDJSON",
    )
    p.add_argument(
        "--config",
        metavar="TOML",
        help="uxtop.toml with [ingest], [detect], [analytics] (default: ./uxtop.toml if present)",
    )
    p.set_defaults(func=run)


def default_quarantine() -> str:
    return os.path.join(tempfile.gettempdir(), f"uxtop-quarantine-{os.getpid()}.ndjson")


def run(args: argparse.Namespace) -> int:
    from uxtop.engine import Engine, open_sources

    for p in args.paths:
        if p != "-" and args.no_follow and not os.path.exists(p):
            raise UsageError(f"{p}: no such file")
    if args.paths.count("-") > 1:
        raise UsageError("stdin (-) can be given once")
    import msgspec

    from uxtop.cli.common import load_config
    from uxtop.ingest import Ingestor

    conf = load_config(args)
    quarantine = args.quarantine or default_quarantine()
    sources = open_sources(args.paths, follow=not args.no_follow, from_end=args.from_end)
    analytics: Any = None
    if conf.analytics is not None:
        from uxtop.analytics import Analytics

        analytics = Analytics(conf.analytics, lateness_ms=conf.ingest.lateness_ms)
    # detectors hold verdicts back by the ingest lateness (see EventBatch.watermark)
    detect_cfg = None
    if conf.detect is not None or conf.ingest.lateness_ms != 5000:
        detect_cfg = msgspec.structs.replace(conf.detect_config(), hold_ms=conf.ingest.lateness_ms)
    engine = Engine(
        sources,
        ingestor=Ingestor(conf.ingest, quarantine=quarantine, quarantine_append=True),
        analytics=analytics,
        detect_config=detect_cfg,
        quarantine_path=quarantine,
        source_desc=" ".join(args.paths),
        warmup_delay=0.0 if args.headless else 5.0,  # JIT after the first frame (or 5 s)
        pace_full_gc=args.headless,  # under the TUI, the app runs them between keystrokes
    )
    engine.start()
    try:
        if args.headless:
            return headless(engine, args.every)
        from uxtop.tui.app import create_app

        if "-" in args.paths:
            _reattach_tty()
        create_app(engine, export_dir=args.export_dir).run()
        return 0
    finally:
        engine.stop()


def headless(engine: Any, every: float, out: Any = None, max_seconds: float | None = None) -> int:
    """Status JSON every ``every`` s and each new alert as a JSON line, until input ends."""
    import time

    import msgspec

    from uxtop.engine import alert_json, snapshot_status

    out = out or sys.stdout
    enc = msgspec.json.Encoder()
    seen: set[tuple[int, str]] = set()
    start = time.monotonic()
    next_status = start
    while True:
        snap = engine.latest()
        for a in reversed(snap.alerts):
            key = (a.ts, a.title)
            if key not in seen:
                seen.add(key)
                out.write(enc.encode(alert_json(a)).decode() + "\n")
        now = time.monotonic()
        if now >= next_status or not snap.running:
            out.write(enc.encode(snapshot_status(snap, now)).decode() + "\n")
            out.flush()
            next_status = now + every
        if not snap.running:
            return 0
        if max_seconds is not None and now - start > max_seconds:
            return 0
        time.sleep(0.05)


def _reattach_tty() -> None:
    """stdin carries the events; the TUI reads keys from the terminal instead."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError as exc:
        raise UsageError(
            "reading events from stdin needs a terminal for the TUI; use --headless"
        ) from exc
    os.dup2(fd, 0)
    os.close(fd)
