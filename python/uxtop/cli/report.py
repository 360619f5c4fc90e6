"""``uxtop report``: parse -> sessionise -> detect over files; JSON or a readable summary."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from uxtop.cli import UsageError

EXAMPLES = """\
examples:
  uxtop report shop.ndjson                     readable summary: flags, where, worst sessions
  uxtop report day1.ndjson day2.ndjson --json  one JSON object: flags, sessions (sid, score)
  uxtop report shop.ndjson --profile posthog   thresholds as PostHog ships them
  cat events.ndjson | uxtop report -           read stdin
  uxtop report shop.ndjson --markdown > r.md   a markdown report with funnels and insights
  uxtop report shop.ndjson --config uxtop.toml funnels, alerts and thresholds from the config

JSON: {"flags": [{kind, sid, start_ts, end_ts, url, target, count, severity, rule, tier, rows}],
       "sessions": [{sid, score, parts}], "summary": {...}}
"""


def register(sub: Any) -> None:
    from uxtop.detect.config import PROFILES

    p = sub.add_parser(
        "report",
        help="detect friction in event files: JSON or a readable summary",
        description="Run the whole pipeline (parse, sessionise, detect) over NDJSON event files "
        "and report every friction flag with its evidence, each session's friction score "
        "(a weighted sum of its flags, shown with its parts), the funnels, anomalies and "
        "ranked insights (what broke, where, how many sessions, the suspected cause).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="NDJSON files, '-' for stdin")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the summary"
    )
    p.add_argument(
        "--markdown", action="store_true", help="print a markdown report instead of the summary"
    )
    p.add_argument(
        "--config", metavar="TOML", help="uxtop.toml with [ingest], [detect], [analytics] tables"
    )
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default="uxtop",
        help="detector thresholds: uxtop (default) or a tool's published defaults",
    )
    p.add_argument(
        "--top", type=int, default=10, metavar="N", help="rows in the summary tables (default 10)"
    )
    p.set_defaults(func=run)


def _ts(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace) -> int:
    for path in args.paths:
        if path != "-" and not os.path.isfile(path):
            raise UsageError(f"no such file: {path} (give NDJSON event files, or '-' for stdin)")
    import msgspec

    from uxtop.analytics import Analytics
    from uxtop.cli.common import load_config
    from uxtop.detect.config import DetectConfig
    from uxtop.detect.files import detect_files, session_table, top_places

    conf = load_config(args)
    cfg = (
        conf.detect
        if conf.detect is not None and args.profile == "uxtop"
        else DetectConfig.for_profile(args.profile)
    )
    analytics = Analytics(conf.analytics_config(), lateness_ms=conf.ingest.lateness_ms)
    det = detect_files(args.paths, cfg, conf.ingest, on_batch=analytics.update)
    analytics.flush()
    analytics.alerts.wait()  # queued alert commands reach their hooks before we exit
    ana = analytics.to_report()
    flags = det.flags.sorted()
    records = flags.to_records(det.strings, det.keys)
    sessions = session_table(det, cfg)
    summary = {
        "profile": cfg.profile,
        "events": det.events,
        "sessions": det.sessions,
        "first_ts": det.first_ts,
        "last_ts": det.last_ts,
        "flags_by_kind": flags.counts_by_kind(),
        "flagged_sessions": sum(1 for s in sessions if s["score"] > 0),
        "bad_lines": det.counters.get("bad_lines", 0),
        "late": det.counters.get("late", 0),
        "ingest_s": round(det.ingest_s, 3),
        "detect_s": round(det.detect_s, 3),
    }
    if args.json:
        for r in records:
            r.pop("session_id", None)
        out = {
            "flags": records,
            "sessions": [{k: v for k, v in s.items() if k != "session_id"} for s in sessions],
            "summary": summary,
            **ana,
        }
        sys.stdout.buffer.write(msgspec.json.encode(out) + b"\n")
        return 0
    if args.markdown:
        sys.stdout.write(analytics.to_markdown())
        return 0
    w = sys.stdout.write
    w(
        f"uxtop report ({cfg.profile} profile): {det.events:,} events, {det.sessions:,} sessions, "
        f"{_ts(det.first_ts)} .. {_ts(det.last_ts)} UTC\n"
    )
    w(
        f"  parse+sessionise {det.ingest_s:.2f} s, detect {det.detect_s:.2f} s"
        + (f", {summary['bad_lines']} bad lines" if summary["bad_lines"] else "")
        + "\n\n"
    )
    counts = summary["flags_by_kind"]
    total = sum(counts.values())
    flagged = summary["flagged_sessions"]
    w(f"{total:,} flags in {flagged:,} sessions ({100 * flagged / max(det.sessions, 1):.1f} %)\n")
    peak = max(counts.values()) if total else 1
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        bar = "█" * max(0, round(30 * n / peak)) if n else ""
        w(f"  {kind:<18} {n:>8,}  {bar}\n")
    places = top_places(det, args.top)
    if places:
        w("\nwhere (kind, page, element):\n")
        for p in places:
            tgt = f"  {p['target']}" if p["target"] else ""
            w(
                f"  {p['flags']:>6,} flags {p['sessions']:>6,} sessions  {p['kind']:<17} {p['url'] or '-'}{tgt}\n"
            )
    worst = [s for s in sessions if s["score"] > 0][: args.top]
    if worst:
        w("\nworst sessions (score = sum of weight x severity per flag):\n")
        for s in worst:
            parts = ", ".join(f"{k} {v:g}" for k, v in s["parts"].items())
            w(f"  {s['sid']:<24} {s['score']:>7.2f}  {parts}\n")
    insights = ana.get("insights") or []
    if insights:
        w("\ninsights (ranked by impact x confidence; --markdown for the full report):\n")
        for ins in insights[: args.top]:
            w(
                f"  {ins['rank']}. [{ins['severity']}] {ins['title']}\n"
                f"     suspected: {ins['suspected_cause']}\n     next: {ins['next_step']}\n"
            )
    return 0
