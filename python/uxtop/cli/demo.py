"""``uxtop demo``: the TUI on built-in synthetic shop traffic, live, with an incident after ~1 min."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from uxtop.cli import UsageError

EXAMPLES = """\
examples:
  uxtop demo                           live shop traffic; a backend route degrades after 90 s
  uxtop demo --rate 20000              more traffic (events/s)
  uxtop demo --incident-after 10       the incident starts after 10 s
  uxtop demo --headless --every 5      no TUI: JSON status lines and alerts
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="live TUI on built-in synthetic shop traffic (no input needed)",
        description="Open the uxtop TUI on generated shop traffic streaming live. After 90 seconds "
        "(once baselines have formed) a backend route slows down and fails: watch rage, dead and error clicks appear on "
        "the hurt step and an anomaly and an insight name the route (7), then press 2 and enter to open one of those sessions.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--rate",
        type=float,
        default=3000.0,
        metavar="EV/S",
        help="events per second (default 3000)",
    )
    p.add_argument(
        "--incident-after",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="when the incident starts (default 90: after the baselines have formed)",
    )
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    p.add_argument("--headless", action="store_true", help="no TUI: JSON status lines and alerts")
    p.add_argument(
        "--every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="status interval with --headless",
    )
    p.add_argument(
        "--export-dir",
        default=".",
        metavar="DIR",
        help="where `e` in a timeline writes session NDJSON",
    )
    p.set_defaults(func=run)


def live_chunks(rate: float, incident_after: float, seed: int) -> Iterator[bytes]:
    """NDJSON chunks from the synthesiser's live mode, paced at ``rate`` events/s of wall clock."""
    try:
        from uxtop import synth
    except ImportError as exc:
        raise UsageError(
            "the traffic synthesiser (uxtop.synth) is not available in this build"
        ) from exc
    return synth.iter_live(rate_eps=rate, incident_at_s=incident_after, seed=seed)


#: The demo has no history, so baselines must form within its first minute: 2-s buckets give the
#: anomaly detector its 30-bucket warm-up baseline after ~70 s, before the incident (at 90 s by
#: default). Live deployments keep the 10-s default and learn from real history.
DEMO_BUCKET_S = 2


def demo_analytics() -> Any:
    try:
        from uxtop.analytics import Analytics
        from uxtop.analytics.config import AnalyticsConfig
    except ImportError:
        return None
    return Analytics(AnalyticsConfig(bucket_s=DEMO_BUCKET_S, history_buckets=900))


def build_engine(rate: float, incident_after: float, seed: int, **kw: Any) -> Any:
    from uxtop.cli.tail import default_quarantine
    from uxtop.engine import Engine, IterSource

    source = IterSource(lambda: live_chunks(rate, incident_after, seed), name="demo")
    # a factory: the engine builds it after the first frame (importing analytics imports numba)
    kw.setdefault("analytics", demo_analytics)
    return Engine(
        [source],
        quarantine_path=default_quarantine(),
        source_desc=f"demo: synthetic shop, {rate:.0f} ev/s, incident at +{incident_after:.0f}s",
        **kw,
    )


def run(args: argparse.Namespace) -> int:
    try:  # fail early, before the TUI takes the terminal, if the synthesiser is missing
        from uxtop import synth  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "the traffic synthesiser (uxtop.synth) is not available in this build"
        ) from exc
    # in the TUI, the JIT waits for the first frame (it would compete with it for the GIL),
    # and full garbage collections wait for a pause in the typing (the app runs them)
    engine = build_engine(
        args.rate,
        args.incident_after,
        args.seed,
        warmup_delay=0.0 if args.headless else 5.0,
        pace_full_gc=args.headless,
    ).start()
    try:
        if args.headless:
            from uxtop.cli.tail import headless

            return headless(engine, args.every)
        from uxtop.tui.app import create_app

        create_app(engine, export_dir=args.export_dir).run()
        return 0
    finally:
        engine.stop()
