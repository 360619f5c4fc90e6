"""``uxtop synth``: write labelled synthetic shop traffic (file mode) or stream it live."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, BinaryIO

from uxtop.cli import UsageError

EXAMPLES = """\
examples:
  uxtop synth -o shop.ndjson                          1000 sessions + shop.labels.ndjson
  uxtop synth -o big.ndjson --events 10000000         about 10 M events
  uxtop synth -o inc.ndjson --sessions 5000 --incident-at 600 --incident-factor 10
  uxtop synth --rate 2000 | uxtop tail -              live: 2000 events/s to stdout
  uxtop synth --rate 500 --duration 60 -o live.ndjson one minute of live traffic

labels (one JSON object per line): {"sid", "kind", "start_ts", "end_ts", "target", "url", "neg"};
kinds are the flag kinds, or neg:<name> for hard negatives (traps that must not be flagged).
"""

#: average events per generated session (measured; used to turn --events into sessions)
EVENTS_PER_SESSION = 250


def register(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="generate labelled synthetic shop traffic (file or live)",
        description="Generate realistic shop sessions in uxtop's NDJSON event schema, with "
        "labelled friction episodes of every kind, hard negatives that fool naive detectors, and "
        "an optional backend incident. File mode writes events in time order plus a labels file; "
        "with --rate it streams live at a steady events/s with ts = now.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="PATH",
        help="events file ('-' = stdout, the default)",
    )
    p.add_argument(
        "--labels",
        metavar="PATH",
        help="labels file (default: OUTPUT with .labels.ndjson; none for stdout)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--sessions", type=int, help="number of sessions (default 1000)")
    size.add_argument(
        "--events", type=int, help=f"about this many events (~{EVENTS_PER_SESSION} per session)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="generator seed (default 0); same seed, same bytes"
    )
    p.add_argument(
        "--sessions-per-s",
        type=float,
        default=2.0,
        metavar="N",
        help="session arrival rate in file mode (default 2)",
    )
    p.add_argument(
        "--start",
        type=int,
        metavar="MS",
        help="first session's start, ms since epoch (default 2026-01-01)",
    )
    p.add_argument(
        "--friction-rate",
        type=float,
        default=0.35,
        help="share of sessions with injected friction (default 0.35)",
    )
    p.add_argument(
        "--incident-at", type=float, metavar="S", help="a backend route degrades S seconds in"
    )
    p.add_argument(
        "--incident-duration",
        type=float,
        default=180.0,
        metavar="S",
        help="incident length (default 180)",
    )
    p.add_argument(
        "--incident-route",
        default="POST /api/cart",
        metavar="ROUTE",
        help="degraded route (default 'POST /api/cart')",
    )
    p.add_argument(
        "--incident-factor",
        type=float,
        default=8.0,
        metavar="X",
        help="latency multiplier (default 8)",
    )
    p.add_argument(
        "--incident-error-rate",
        type=float,
        default=0.3,
        metavar="P",
        help="failure probability (default 0.3)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="file mode: generator processes (default: one per CPU for 2000+ sessions)",
    )
    p.add_argument(
        "--rate",
        type=float,
        metavar="EV/S",
        help="live mode: stream about EV/S events per second, ts = now",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="live mode: stop after S seconds (default: never)",
    )
    p.set_defaults(func=run)


def _incident(args: argparse.Namespace) -> Any:
    from uxtop.synth import ROUTES, Incident

    if args.incident_at is None:
        return None
    if args.incident_route not in ROUTES:
        raise UsageError(f"--incident-route must be one of: {', '.join(sorted(ROUTES))}")
    if not 0 <= args.incident_error_rate <= 1:
        raise UsageError("--incident-error-rate is a probability: give a value in 0..1")
    if args.incident_factor <= 0 or args.incident_duration <= 0:
        raise UsageError("--incident-factor and --incident-duration must be > 0")
    return Incident(
        start_s=args.incident_at,
        duration_s=args.incident_duration,
        route=args.incident_route,
        latency_factor=args.incident_factor,
        error_rate=args.incident_error_rate,
    )


def run(args: argparse.Namespace) -> int:
    from uxtop import synth

    incident = _incident(args)
    out: BinaryIO = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    labels_path = args.labels
    if labels_path is None and args.output != "-":
        stem = args.output[: -len(".ndjson")] if args.output.endswith(".ndjson") else args.output
        labels_path = stem + ".labels.ndjson"
    try:
        if args.rate is not None:
            if args.rate <= 0:
                raise UsageError("--rate must be > 0 events per second")
            labels: list[Any] = []
            sent = 0
            t0 = time.monotonic()
            for chunk in synth.iter_live(
                args.rate,
                incident_at_s=args.incident_at,
                seed=args.seed,
                incident=incident,
                duration_s=args.duration,
                labels=labels,
            ):
                out.write(chunk)
                out.flush()
                sent += chunk.count(b"\n")
            if labels_path:
                with open(labels_path, "wb") as f:
                    f.write(synth.labels_to_ndjson(labels))
            print(f"uxtop synth: {sent} events in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            return 0
        n_sessions = (
            args.sessions
            if args.sessions is not None
            else (math.ceil(args.events / EVENTS_PER_SESSION) if args.events is not None else 1000)
        )
        if n_sessions <= 0:
            raise UsageError("--sessions/--events must be > 0")
        if args.sessions_per_s <= 0:
            raise UsageError("--sessions-per-s must be > 0")
        cfg = synth.SynthConfig(
            seed=args.seed,
            sessions=n_sessions,
            sessions_per_s=args.sessions_per_s,
            start_ts=args.start if args.start is not None else synth.DEFAULT_START_TS,
            friction_rate=args.friction_rate,
            incident=incident,
        )
        t0 = time.perf_counter()
        gen = synth.generate(cfg)
        if args.workers is not None and args.workers < 1:
            raise UsageError("--workers must be >= 1")
        for chunk in gen.chunks(workers=args.workers):
            out.write(chunk)
        out.flush()
        dt = time.perf_counter() - t0
        if labels_path:
            with open(labels_path, "wb") as f:
                f.write(synth.labels_to_ndjson(gen.labels))
        where = f" -> {args.output}" + (f", labels -> {labels_path}" if labels_path else "")
        print(
            f"uxtop synth: {cfg.sessions} sessions, {gen.events} events, {len(gen.labels)} labels "
            f"in {dt:.1f} s ({gen.events / max(dt, 1e-9) / 1e6:.2f} M events/s){where}",
            file=sys.stderr,
        )
        return 0
    except BrokenPipeError:
        return 0
    finally:
        if out is not sys.stdout.buffer:
            out.close()
