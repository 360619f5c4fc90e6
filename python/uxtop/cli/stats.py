"""``uxtop stats``: parse and sessionise files, print counts and throughput."""

from __future__ import annotations

import argparse
import json
import sys
import time

from uxtop.cli.common import Progress, add_config_arg, load_config, resolve_inputs, total_bytes

EXAMPLES = """\
examples:
  uxtop stats events.ndjson                  counts, bad lines by reason, throughput
  uxtop stats a.ndjson b.ndjson --json       one JSON object on stdout (for scripts)
  cat events.ndjson | uxtop stats -          read standard input
  uxtop stats events.ndjson --quarantine bad.ndjson
                                             keep every bad line, exactly as read
                                             (reasons in bad.ndjson.index.tsv)

JSON keys: events, sessions, bad_lines, late, duplicates (ints), bad_by_reason (object),
plus lines, bytes, seconds, events_per_s, quarantine.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="parse + sessionise NDJSON files and print counts",
        description="Parse and sessionise canonical NDJSON events (files, or - for stdin) and "
        "print events, sessions, bad lines by reason, late and duplicate events, and throughput. "
        "Bad lines never stop the run: they are counted and, with --quarantine, kept.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="NDJSON file(s), or - for standard input"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--quarantine", metavar="FILE", help="append bad lines here, exactly as read")
    p.add_argument(
        "--lateness-ms", type=int, help="allowed lateness (overrides [ingest] lateness_ms)"
    )
    p.add_argument(
        "--idle-gap-ms", type=int, help="session idle gap (overrides [ingest] idle_gap_ms)"
    )
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import msgspec

    from uxtop.cli import UsageError
    from uxtop.ingest import DEFAULT_CHUNK_BYTES, Ingestor

    cfg = load_config(args).ingest
    overrides = {
        k: v
        for k, v in (("lateness_ms", args.lateness_ms), ("idle_gap_ms", args.idle_gap_ms))
        if v is not None
    }
    if overrides:
        try:
            cfg = msgspec.structs.replace(cfg, **overrides)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    inputs = resolve_inputs(args.paths)
    progress = Progress(total_bytes(inputs), enabled=None if not args.json else False)
    ing = Ingestor(cfg, quarantine=args.quarantine)
    t0 = time.perf_counter()
    done = events = 0
    for src in inputs:
        f = open(src, "rb") if isinstance(src, str) else src  # noqa: SIM115
        last = b"\n"
        try:
            # a fresh bytes per read: the core parses it in place (readinto a reused buffer
            # needed a second copy to hand over)
            while chunk := f.read(DEFAULT_CHUNK_BYTES):
                last = chunk[-1:]
                events += len(ing.feed(chunk))
                done += len(chunk)
                progress.update(done, events)
        finally:
            if f is not src:
                f.close()
        if last != b"\n":  # keep the next file's first line apart
            events += len(ing.feed(b"\n"))
    events += len(ing.finish())
    dt = time.perf_counter() - t0
    progress.done()
    c = ing.counters()
    if not args.quarantine:
        ing.take_bad_lines()  # counted only
    out = {
        "events": c["events"],
        "sessions": c["sessions"],
        "bad_lines": c["bad_lines"],
        "late": c["late"],
        "duplicates": c["duplicates"],
        "bad_by_reason": c["bad_by_reason"],
        "lines": c["lines"],
        "bytes": c["bytes"],
        "seconds": round(dt, 4),
        "events_per_s": round(c["events"] / dt) if dt > 0 else None,
        "quarantine": str(ing.quarantine_path) if ing.quarantine_path and ing.quarantined else None,
    }
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
        return 0
    w = sys.stdout.write
    w(f"events      {out['events']:>14,}\n")
    w(f"sessions    {out['sessions']:>14,}\n")
    w(
        f"late        {out['late']:>14,}   (older than the allowed lateness of {cfg.lateness_ms} ms)\n"
    )
    w(f"duplicates  {out['duplicates']:>14,}   (same id resent)\n")
    w(f"bad lines   {out['bad_lines']:>14,}\n")
    for reason, n in c["bad_by_reason"].items():
        if n:
            w(f"  {reason:<10}{n:>14,}\n")
    if out["quarantine"]:
        w(f"quarantine  {out['quarantine']} (+ .index.tsv with row and reason)\n")
    elif out["bad_lines"]:
        w("            (add --quarantine FILE to keep them)\n")
    mb = c["bytes"] / 1e6
    w(
        f"throughput  {out['events'] / dt / 1e6 if dt else 0:>11.2f} M events/s, {mb / dt if dt else 0:,.0f} MB/s "
        f"({mb:,.1f} MB in {dt:.2f} s)\n"
    )
    return 0
