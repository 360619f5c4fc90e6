"""Cost of the analytics layer, measured (not a unit test).

    python benchmarks/bench_analytics.py            # everything, ~1 min
    python benchmarks/bench_analytics.py --only tick,rca
    python benchmarks/bench_analytics.py --json out.json

Sections
  tick     one detector tick (baseline lookup, z, persistence/volume/drift state, alarms) for
           --series series (default 5 000), in the rolling (< 3 days) and the same-slot daily
           regime, plus the once-per-5-min slot roll (profile medians); the numba kernel and
           the numpy reference side by side, with their ratio. Bar: < 10 ms per tick.
  rca      Adtributor on a 4 × 5 × 10 cube (200 leaves). Bar: < 1 ms.
  batch    Analytics.update (funnels, series, flags, ticks) on generated shop traffic:
           a 24-h replay in 10-min batches, and dense 10-s batches (live-like), events/s
           (best of --repeat, wall and CPU) with the checkout funnel, the inferred default
           funnel, and no funnel. Bar (issue 6): >= 3 M events/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from uxtop.analytics import Analytics, load_analytics_config  # noqa: E402
from uxtop.analytics.anomaly import (  # noqa: E402
    COUNT,
    LATENCY,
    RATIO,
    SLOT_MS,
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    SeasonalDetector,
)  # noqa: E402
from uxtop.analytics.rca import explain_cube  # noqa: E402
from uxtop.analytics.simulate import Incident, ShopTraffic, checkout_funnel_config  # noqa: E402

T0 = 1_767_225_600_000 // SLOT_MS * SLOT_MS
B = 10_000


def _detector(n: int, days_of_history: float, rng: np.random.Generator) -> SeasonalDetector:
    det = SeasonalDetector(bucket_ms=B, capacity=n)
    kinds = rng.choice([COUNT, RATIO, LATENCY], n)
    for k in kinds.tolist():
        det.add_row(int(k), 0 if k == COUNT else 1)
    slots = int(days_of_history * SLOTS_PER_DAY)
    # history as if the detector had run: a daily cycle in the profile ring
    ph = 1 + 0.5 * np.sin(2 * np.pi * (np.arange(SLOTS_PER_WEEK) % SLOTS_PER_DAY) / SLOTS_PER_DAY)
    base = np.where(kinds == COUNT, 100.0, np.where(kinds == RATIO, 0.02, np.log(250.0)))
    det.ring[:n] = (base[:, None] * np.where(kinds[:, None] == COUNT, ph[None, :], 1.0)).astype(
        np.float32
    )
    det.ring[:n] *= rng.normal(1, 0.02, (n, SLOTS_PER_WEEK)).astype(np.float32)
    det.noise_n[:n] = 100
    det.noise[:n] = np.where(kinds == COUNT, 1.0, np.where(kinds == RATIO, 0.15, 0.3))
    start_slot = T0 // SLOT_MS
    det.first_slot = start_slot - slots
    det.cur_slot = start_slot - 1
    return det


def bench_tick(n: int, ticks: int = 600) -> dict[str, float]:
    """Each regime twice on the same data: ``update`` (the numba kernel) and
    ``update_reference`` (the numpy expressions it replaced), reported side by side."""
    out: dict[str, float] = {}
    for regime, days in (("rolling", 0.5), ("daily", 4.0)):
        for impl in ("kernel", "numpy"):
            rng = np.random.default_rng(0)
            det = _detector(n, days, rng)
            step = det.update if impl == "kernel" else det.update_reference
            kinds = det.kind[:n]
            w = rng.poisson(50, (ticks, n)).astype(np.float32)
            x = np.where(
                kinds == COUNT,
                rng.poisson(100, (ticks, n)),
                np.where(
                    kinds == RATIO,
                    rng.binomial(50, 0.02, (ticks, n)) / 50.0,
                    rng.lognormal(np.log(250), 0.2, (ticks, n)),
                ),
            ).astype(np.float32)
            step(T0 - B, x[0], w[0])  # (compiles or loads the kernel: not a tick)
            times, rolls = [], []
            for i in range(ticks):
                t = T0 + i * B
                t1 = time.perf_counter()
                step(t, x[i], w[i])
                dt = time.perf_counter() - t1
                (rolls if t % SLOT_MS == 0 else times).append(dt)
            tag = regime if impl == "kernel" else f"{regime}_numpy"
            out[f"tick_{tag}_median_ms"] = 1000 * statistics.median(times)
            out[f"tick_{tag}_p95_ms"] = 1000 * float(np.percentile(times, 95))
            out[f"slot_roll_{tag}_ms"] = 1000 * statistics.median(rolls)
        out[f"tick_{regime}_numpy_over_kernel"] = (
            out[f"tick_{regime}_numpy_median_ms"] / out[f"tick_{regime}_median_ms"]
        )
    out["detector_memory_mb"] = det.memory_bytes() / 1e6
    out["series"] = n
    return out


def bench_rca(reps: int = 2000) -> dict[str, float]:
    rng = np.random.default_rng(1)
    F = rng.uniform(50, 150, (4, 5, 10))
    A = F * rng.normal(1, 0.02, F.shape)
    A[:, 2, :] *= 0.4
    names = ["dev", "rel", "geo"]
    labels = [
        [f"d{i}" for i in range(4)],
        [f"r{i}" for i in range(5)],
        [f"c{i}" for i in range(10)],
    ]
    res = explain_cube(names, labels, A, F)
    t = time.perf_counter()
    for _ in range(reps):
        explain_cube(names, labels, A, F)
    return {
        "adtributor_200_leaves_ms": 1000 * (time.perf_counter() - t) / reps,
        "top": f"{res[0].dim}={res[0].values} EP {res[0].explains:.2f}",
    }


def bench_batch(hours: float, dense_sessions_per_min: float, repeat: int = 3) -> dict[str, float]:
    out: dict[str, float] = {}
    cfg = load_analytics_config({"funnels": [checkout_funnel_config()]})
    # replay: a day in 10-min batches (tick costs included: 6 buckets/min of event time)
    tr = ShopTraffic(
        sessions_per_min=100, incidents=[Incident("POST /api/pay", T0 + 15 * 3600_000)]
    )
    tables = tr.tables()
    batches = list(tr.batches(hours, chunk_s=600))
    n = sum(len(b) for b, _ in batches)
    an = Analytics(cfg)
    t = time.perf_counter()
    for b, f in batches:
        an.update(b, tables, f)
    dt = time.perf_counter() - t
    out["replay_events"] = n
    out["replay_events_per_s"] = n / dt
    out["replay_ticks"] = an.ticks
    out["replay_ms_per_tick_incl_events"] = 1000 * dt / max(an.ticks, 1)
    t = time.perf_counter()
    an.snapshot()
    out["snapshot_ms"] = 1000 * (time.perf_counter() - t)
    # dense: 10-s batches at high traffic (live-like: ~1 bucket closes per batch). Best of
    # ``repeat`` runs; CPU time (all threads of the process) too, steadier on a shared machine.
    tr = ShopTraffic(sessions_per_min=dense_sessions_per_min, amplitude=0.0, seed=3)
    batches = list(tr.batches(0.05, chunk_s=10))
    n = sum(len(b) for b, _ in batches)
    for label, c in (
        ("dense", cfg),
        ("dense_inferred", load_analytics_config({})),
        ("dense_no_funnel", load_analytics_config({"infer_funnel": False})),
    ):
        best_wall = best_cpu = float("inf")
        for _ in range(repeat):
            an = Analytics(c)
            t, c0 = time.perf_counter(), time.process_time()
            for b, f in batches:
                an.update(b, tables, f)
            best_wall = min(best_wall, time.perf_counter() - t)
            best_cpu = min(best_cpu, time.process_time() - c0)
        out[f"{label}_events"] = n
        out[f"{label}_events_per_s"] = n / best_wall
        out[f"{label}_events_per_cpu_s"] = n / best_cpu
        out[f"{label}_us_per_event"] = 1e6 * best_wall / n
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="tick,rca,batch")
    ap.add_argument("--series", type=int, default=5000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--dense-sessions-per-min", type=float, default=30_000.0)
    ap.add_argument("--repeat", type=int, default=3, help="dense runs; the best one counts")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    only = set(a.only.split(","))
    res: dict[str, object] = {}
    if "tick" in only:
        res["tick"] = bench_tick(a.series)
    if "rca" in only:
        res["rca"] = bench_rca()
    if "batch" in only:
        res["batch"] = bench_batch(a.hours, a.dense_sessions_per_min, a.repeat)
    for section, vals in res.items():
        print(f"[{section}]")
        for k, v in vals.items():  # type: ignore[union-attr]
            print(f"  {k:40s} {v:,.3f}" if isinstance(v, float) else f"  {k:40s} {v}")
    if "tick" in res:
        tk = res["tick"]
        ok = max(tk["tick_rolling_median_ms"], tk["tick_daily_median_ms"]) < 10  # type: ignore[index]
        print(f"tick bar (< 10 ms for {a.series} series): {'PASS' if ok else 'FAIL'}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
