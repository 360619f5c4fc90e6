"""``uxtop eval``: precision, recall and F1 per flag kind against ground-truth labels."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from uxtop.cli import UsageError

EXAMPLES = """\
examples:
  uxtop eval                                   10 000 generated sessions, uxtop profile
  uxtop eval --sessions 2000 --profile datadog how Datadog's defaults fare on the same traffic
  uxtop eval --incident                        with a backend incident in the middle
  uxtop eval --events shop.ndjson --labels shop.labels.ndjson   score existing files
  uxtop eval --json                            machine-readable
"""


def register(sub: Any) -> None:
    from uxtop.detect.config import PROFILES

    p = sub.add_parser(
        "eval",
        help="measure detector precision/recall on labelled traffic",
        description="Generate labelled synthetic traffic (or read events + labels files), run "
        "parse -> sessionise -> detect, and print precision, recall and F1 per flag kind with "
        "counts, plus how many hard negatives (steppers, triple clicks, download links ...) "
        "were wrongly flagged.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sessions", type=int, default=10_000, help="sessions to generate (default 10000)"
    )
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument(
        "--incident",
        action="store_true",
        help="add a backend incident (POST /api/cart x8, 30 %% errors)",
    )
    p.add_argument(
        "--profile", choices=PROFILES, default="uxtop", help="detector thresholds (default uxtop)"
    )
    p.add_argument("--events", metavar="PATH", help="score this events file instead of generating")
    p.add_argument(
        "--labels", metavar="PATH", help="labels for --events (default: <events>.labels.ndjson)"
    )
    p.add_argument(
        "--tolerance-ms",
        type=int,
        default=1000,
        help="time slack when matching flags to labels (default 1000)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="skip JSON: generate columns directly (tests the detectors only)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import msgspec

    from uxtop import synth
    from uxtop.detect.config import DetectConfig
    from uxtop.detect.evaluate import evaluate
    from uxtop.detect.files import detect_batches, detect_files

    cfg = DetectConfig.for_profile(args.profile)
    t0 = time.perf_counter()
    if args.events:
        labels_path = args.labels or (args.events.removesuffix(".ndjson") + ".labels.ndjson")
        for path in (args.events, labels_path):
            if not os.path.isfile(path):
                raise UsageError(
                    f"no such file: {path} (write both with: uxtop synth -o EVENTS.ndjson)"
                )
        with open(labels_path, "rb") as f:
            labels = synth.read_labels(f.read())
        det = detect_files([args.events], cfg)
        source = args.events
    else:
        if args.sessions <= 0:
            raise UsageError("--sessions must be > 0")
        incident = None
        if args.incident:
            # in the middle of the traffic
            span_s = args.sessions / 2.0
            incident = synth.Incident(start_s=span_s * 0.4, duration_s=max(60.0, span_s * 0.2))
        scfg = synth.SynthConfig(seed=args.seed, sessions=args.sessions, incident=incident)
        if args.fast:
            data = synth.generate_columnar(scfg)
            labels = data.labels
            det = detect_batches([(data.batch, data.tables)], cfg)
            det.keys = data.keys
        else:
            import io

            gen = synth.generate(scfg)
            buf = io.BytesIO(b"".join(gen.chunks()))
            labels = gen.labels
            det = detect_files([buf], cfg)
        source = f"{args.sessions} generated sessions (seed {args.seed}{', incident' if args.incident else ''})"
    records = det.flags.to_records(det.strings, det.keys)
    result = evaluate(records, labels, tolerance_ms=args.tolerance_ms)
    elapsed = time.perf_counter() - t0
    if args.json:
        out = {
            "source": source,
            "profile": cfg.profile,
            "events": det.events,
            "sessions": det.sessions,
            **result.as_dict(),
            "elapsed_s": round(elapsed, 2),
        }
        sys.stdout.buffer.write(msgspec.json.encode(out) + b"\n")
    else:
        print(
            f"uxtop eval: {source}, {det.events:,} events, {det.sessions:,} sessions, profile {cfg.profile}"
        )
        print(
            f"  detect {det.detect_s:.2f} s, total {elapsed:.1f} s; a flag is right if a label of its kind "
            f"and session overlaps it (±{args.tolerance_ms} ms)\n"
        )
        print(result.table())
    return 0
