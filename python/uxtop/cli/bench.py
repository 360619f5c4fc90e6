"""``uxtop bench``: throughput of uxtop next to its peers, measured in the same run."""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = """\
examples:
  uxtop bench                          parse+sessionise (2 M events) and detectors (10 M)
  uxtop bench --events 500000 --detect-events 1000000   a quicker run
  uxtop bench --only ingest --json     machine-readable rows with ratios
  uxtop bench --peers uxtop,duckdb-1t  just two contenders

Ingest peers: msgspec+python, orjson+numpy, polars, duckdb-1t (all do the same work: read the
file, parse every column, sessionise, order by session, hand over numpy arrays). Ratios are
uxtop's rate over each peer's, from the same run; the data file is generated once and cached
under ~/.cache/uxtop/bench.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure throughput against msgspec, orjson, polars, duckdb",
        description="Measure parse + sessionise throughput of the Rust core and the detectors' "
        "throughput, side by side with peer implementations in the same run, and print the "
        "rates and ratios.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--events",
        type=int,
        default=2_000_000,
        help="events in the ingest file (default 2,000,000)",
    )
    p.add_argument("--sessions", type=int, help="distinct sessions in it (default events/10)")
    p.add_argument(
        "--detect-events",
        type=int,
        default=10_000_000,
        help="events for the detector rows (default 10 M)",
    )
    p.add_argument("--repeat", type=int, default=3, help="best of N runs per contender (default 3)")
    p.add_argument("--only", choices=["ingest", "detect"], help="run one section")
    p.add_argument("--peers", help="comma-separated ingest contenders (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uxtop.bench.data import cached_file
    from uxtop.bench.ingest import PEERS, measure, ratios
    from uxtop.cli import UsageError

    if args.events <= 0 or args.repeat <= 0 or args.detect_events <= 0:
        raise UsageError("--events, --detect-events and --repeat must be positive")
    names = None
    if args.peers:
        names = [n.strip() for n in args.peers.split(",") if n.strip()]
        unknown = [n for n in names if n not in PEERS]
        if unknown:
            raise UsageError(
                f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}"
            )
        if "uxtop" not in names:
            names.insert(0, "uxtop")
    say = (lambda *_: None) if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    result: dict = {}
    if args.only in (None, "ingest"):
        say(f"preparing {args.events:,} canonical events (cached after the first run)…")
        path = cached_file(args.events, args.sessions)
        say(
            f"{path} ({path.stat().st_size / 1e6:,.0f} MB); parse + sessionise, best of {args.repeat}:"
        )
        rows = measure(
            path,
            names,
            repeat=args.repeat,
            on_row=lambda r: say(f"  {r.name:<16} {r.events_per_s / 1e6:6.2f} M ev/s"),
        )
        rat = ratios(rows)
        rat_cpu = ratios(rows, cpu=True)
        result["ingest"] = {
            "file": str(path),
            "rows": [r.to_dict() for r in rows],
            "ratio_uxtop_over": rat,
            "ratio_uxtop_over_per_cpu_s": rat_cpu,
        }
        if not args.json:
            mb = path.stat().st_size / 1e6
            print(
                f"\nparse + sessionise, {args.events:,} events ({mb:,.0f} MB), best of {args.repeat}"
            )
            print(
                f"{'contender':<16} {'M ev/s':>7} {'MB/s':>6} {'uxtop is':>8}   "
                f"{'M ev/CPU-s':>10} {'uxtop is':>8}  how"
            )
            for r in rows:
                ratio = "" if r.name == "uxtop" else f"{rat[r.name]:.1f}x"
                ratio_cpu = "" if r.name == "uxtop" else f"{rat_cpu[r.name]:.1f}x"
                print(
                    f"{r.name:<16} {r.events_per_s / 1e6:>7.2f} {r.mb_per_s:>6.0f} {ratio:>8}   "
                    f"{r.events_per_cpu_s / 1e6:>10.2f} {ratio_cpu:>8}  {r.note}"
                )
            print(
                "(wall clock; and per CPU-second of the whole process, steadier on a shared machine)"
            )
    if args.only in (None, "detect"):
        from uxtop.detect.bench import bench_detectors, format_rows

        say(f"detectors over {args.detect_events:,} events (numba compile timed separately)…")
        drows = bench_detectors(args.detect_events, repeat=args.repeat)
        result["detect"] = {"rows": drows}
        if not args.json:
            print()
            print(format_rows(drows))
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0
