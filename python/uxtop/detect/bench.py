"""Detector throughput, measured side by side: numba kernels, vectorised numpy, plain Python.

``bench_detectors(n_events)`` returns result rows for ``uxtop bench`` and the pytest-benchmark
suite (``benchmarks/bench_detect.py``). Batches are built once (generated shop traffic, tiled
to size), so only detection is timed; everything runs on one thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.batch import EventBatch
from uxtop.detect import kernels as K
from uxtop.detect.classify import ClassTable
from uxtop.detect.config import DetectConfig
from uxtop.detect.detector import DETECT_COLUMNS, KERNELS, Detector, KernelParams, run_kernels


@dataclass
class BenchBatch:
    """Detector input of ``n`` events: columns, CSR offsets, class tables, and the source."""

    cols: dict[str, npt.NDArray[Any]]
    offsets: npt.NDArray[np.int64]
    tag_bits: npt.NDArray[np.uint16]
    target_bits: npt.NDArray[np.uint16]
    tables: dict[str, list[str]]

    @property
    def n_events(self) -> int:
        return int(self.cols["ts"].shape[0])

    @property
    def n_sessions(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def as_event_batch(self) -> EventBatch:
        from uxtop.batch import EVENT_COLUMNS, NONE_ID, SESSION_COLUMNS

        n, s = self.n_events, self.n_sessions
        cols = dict(self.cols)
        for k, t in EVENT_COLUMNS.items():
            if k not in cols:
                cols[k] = np.full(n, NONE_ID, dtype=t) if t is np.int32 else np.zeros(n, dtype=t)
        cols["session"] = np.repeat(np.arange(s, dtype=np.int32), np.diff(self.offsets))
        sess: dict[str, npt.NDArray[Any]] = {
            k: np.zeros(s, dtype=t) for k, t in SESSION_COLUMNS.items()
        }
        sess["session_id"] = np.arange(s, dtype=np.uint64)
        sess["closed"] = np.ones(s, dtype=np.bool_)
        sess["end_ts"] = self.cols["ts"][self.offsets[1:] - 1] if n else sess["end_ts"]
        return EventBatch(
            cols, self.offsets, sess, keys=[str(i) for i in range(s)], uids=[None] * s
        )

    def slice_sessions(self, n_events: int) -> BenchBatch:
        """The first sessions holding about ``n_events`` events (for the slow peers)."""
        s = int(np.searchsorted(self.offsets, n_events, side="left"))
        s = max(1, min(s, self.n_sessions))
        end = int(self.offsets[s])
        return BenchBatch(
            {k: v[:end] for k, v in self.cols.items()},
            self.offsets[: s + 1].copy(),
            self.tag_bits,
            self.target_bits,
            self.tables,
        )


def build_bench_batch(n_events: int, seed: int = 0, cfg: DetectConfig | None = None) -> BenchBatch:
    """Generated shop traffic (all friction kinds and hard negatives), tiled to ``n_events``:
    a base of up to ~500 k generated events is repeated with shifted times and rows."""
    from uxtop import synth

    cfg = cfg or DetectConfig()
    base_sessions = max(4, min(2400, n_events // 214 + 1))
    data = synth.generate_columnar(synth.SynthConfig(seed=seed, sessions=base_sessions))
    b = data.batch
    base: dict[str, npt.NDArray[Any]] = {
        k: np.ascontiguousarray(b.columns[k], dtype=t) for k, t in DETECT_COLUMNS.items()
    }
    n0 = base["ts"].shape[0]
    reps = max(1, -(-n_events // n0))
    span = int(base["ts"].max() - base["ts"].min()) + 3_600_000
    cols = {}
    for k, v in base.items():
        tiled = np.tile(v, reps)
        if k == "ts":
            tiled = tiled + np.repeat(np.arange(reps, dtype=np.int64) * span, n0)
        elif k == "row":
            tiled = np.arange(tiled.shape[0], dtype=np.int64)
        cols[k] = tiled
    off0 = b.offsets
    offsets = np.concatenate(
        [off0[:-1] + r * n0 for r in range(reps)] + [np.array([reps * n0])]
    ).astype(np.int64)
    # cut to n_events at a session boundary
    s = int(np.searchsorted(offsets, n_events, side="left"))
    s = max(1, min(s, offsets.shape[0] - 1))
    end = int(offsets[s])
    cols = {k: np.ascontiguousarray(v[:end]) for k, v in cols.items()}
    rules = (cfg.ignore, cfg.ignore_rage, cfg.ignore_dead)
    return BenchBatch(
        cols,
        offsets[: s + 1].copy(),
        ClassTable(*rules).extend(data.tables["tag"]),
        ClassTable(*rules).extend(data.tables["target"]),
        data.tables,
    )


def run_numba(bb: BenchBatch, cfg: DetectConfig, only: tuple[str, ...] = KERNELS) -> int:
    """All (or ``only``) kernels over closed sessions; returns the number of episodes."""
    n = bb.n_sessions
    start_rows = np.repeat(bb.offsets[:-1][None, :], len(KERNELS), axis=0)
    frontier = np.full(n, K.I64_MAX, dtype=np.int64)
    outs, _, _ = run_kernels(
        bb.cols,
        bb.offsets,
        np.ascontiguousarray(start_rows),
        frontier,
        KernelParams.of(cfg),
        bb.tag_bits,
        bb.target_bits,
        only,
    )
    return sum(int(o.shape[0]) for o in outs.values())


def run_numpy(bb: BenchBatch, cfg: DetectConfig) -> int:
    from uxtop.detect.vectorized import vectorized_episodes

    res = vectorized_episodes(bb.cols, bb.offsets, cfg, bb.tag_bits, bb.target_bits)
    return sum(len(v) for v in res.values())


def run_reference(bb: BenchBatch, cfg: DetectConfig) -> int:
    from uxtop.detect.reference import reference_episodes

    res = reference_episodes(bb.cols, bb.offsets, cfg, bb.tag_bits, bb.target_bits)
    return sum(len(v) for v in res.values())


def run_detector(bb: BenchBatch, cfg: DetectConfig, batch: EventBatch | None = None) -> int:
    """The streaming ``Detector`` end to end (what the engine calls), one closed batch."""
    det = Detector(cfg)
    eb = batch if batch is not None else bb.as_event_batch()
    return len(det.update(eb, bb.tables)) + len(det.finish())


def build_stream_batches(
    n_events: int, chunk_bytes: int = 1 << 20, seed: int = 0
) -> tuple[list[EventBatch], Any]:
    """Generated NDJSON of about ``n_events`` events cut into ``chunk_bytes`` reads through the
    Rust ingestor, as the live engine sees it: many small batches, sessions open across them."""
    from uxtop import synth
    from uxtop.ingest import Ingestor

    data = b"".join(
        synth.generate(synth.SynthConfig(seed=seed, sessions=max(4, n_events // 250))).chunks()
    )
    ing = Ingestor()
    batches = [ing.feed(data[i : i + chunk_bytes]) for i in range(0, len(data), chunk_bytes)]
    batches.append(ing.finish())
    return batches, ing.strings


def run_detector_stream(batches: list[EventBatch], strings: Any, cfg: DetectConfig) -> int:
    """The streaming ``Detector`` over a sequence of ingest steps; returns the number of flags."""
    det = Detector(cfg)
    n = sum(len(det.update(b, strings)) for b in batches)
    return n + len(det.finish())


def _best_of(fn: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """Best wall time and best CPU time of this thread (the machine may be shared: CPU time
    is what one core actually spent, which is the single-threaded figure we want)."""
    best_wall = best_cpu = float("inf")
    out = 0
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        out = fn()
        best_cpu = min(best_cpu, time.thread_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    return best_wall, best_cpu, out


def compile_seconds(cold: bool = True) -> float:
    """Seconds to get every kernel ready in a fresh interpreter: ``cold`` compiles from scratch
    (an empty numba cache dir), else loads the on-disk cache."""
    code = (
        "import time; t=time.perf_counter();"
        "from uxtop.detect.bench import build_bench_batch, run_numba;"
        "from uxtop.detect.config import DetectConfig;"
        "import uxtop.detect.kernels;"
        "b=build_bench_batch(2000); t=time.perf_counter(); run_numba(b, DetectConfig());"
        "print(time.perf_counter()-t)"
    )
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["NUMBA_CACHE_DIR"] = tmp
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
    return float(out.stdout.strip().splitlines()[-1])


def bench_detectors(
    n_events: int = 10_000_000,
    repeat: int = 3,
    reference_events: int = 50_000,
    include_compile: bool = True,
    stream_events_max: int = 1_000_000,
) -> list[dict[str, Any]]:
    """Result rows: ``{"name", "impl", "kinds", "events", "seconds", "events_per_s", "flags",
    "note"}``; ``seconds`` is thread CPU time (``wall_seconds`` too). The Python reference is
    timed on ``reference_events`` (its rate holds for any size; marked in note), the streaming
    row on up to ``stream_events_max`` events of NDJSON read in 1 MB steps."""
    cfg = DetectConfig()
    rows: list[dict[str, Any]] = []
    if include_compile:
        rows.append(
            {
                "name": "numba compile (cold, all kernels)",
                "impl": "numba",
                "kinds": 9,
                "events": 0,
                "seconds": compile_seconds(cold=True),
                "events_per_s": None,
                "flags": None,
                "note": "one-time; cached on disk (cache=True), excluded from the figures below",
            }
        )
        rows.append(
            {
                "name": "numba cache load (warm start)",
                "impl": "numba",
                "kinds": 9,
                "events": 0,
                "seconds": compile_seconds(cold=False),
                "events_per_s": None,
                "flags": None,
                "note": "",
            }
        )
    bb = build_bench_batch(n_events)
    from uxtop.detect.vectorized import VECTORIZED_KINDS

    run_numba(bb.slice_sessions(5000), cfg)  # make sure this process has the kernels loaded

    def add(
        name: str,
        impl: str,
        kinds: int,
        timing: tuple[float, float, int],
        events: int,
        note: str = "",
    ) -> None:
        wall, cpu, flags = timing
        rows.append(
            {
                "name": name,
                "impl": impl,
                "kinds": kinds,
                "events": events,
                "seconds": cpu,
                "wall_seconds": wall,
                "events_per_s": events / cpu if cpu > 0 else None,
                "flags": flags,
                "note": note,
            }
        )

    add(
        "all 9 detectors, numba kernels",
        "numba",
        9,
        _best_of(lambda: run_numba(bb, cfg), repeat),
        bb.n_events,
    )
    eb = bb.as_event_batch()
    add(
        "all 9 detectors, streaming Detector.update",
        "numba",
        9,
        _best_of(lambda: run_detector(bb, cfg, eb), repeat),
        bb.n_events,
        "includes flag building and carry bookkeeping",
    )
    stream_events = min(n_events, stream_events_max)
    batches, strings = build_stream_batches(stream_events)
    n_stream = sum(len(b) for b in batches)
    add(
        "all 9 detectors, streaming, 1 MB ingest steps",
        "numba",
        9,
        _best_of(lambda: run_detector_stream(batches, strings, cfg), repeat),
        n_stream,
        f"{len(batches)} Detector.update calls, sessions open across them (the live engine's case)",
    )
    add(
        "7 vectorisable detectors, numba kernels",
        "numba",
        7,
        _best_of(lambda: run_numba(bb, cfg, VECTORIZED_KINDS), repeat),
        bb.n_events,
    )
    add(
        "7 vectorisable detectors, numpy",
        "numpy",
        7,
        _best_of(lambda: run_numpy(bb, cfg), max(1, repeat - 1)),
        bb.n_events,
        "form/slow do not vectorise",
    )
    small = bb.slice_sessions(min(reference_events, bb.n_events))
    add(
        "all 9 detectors, plain Python",
        "python",
        9,
        _best_of(lambda: run_reference(small, cfg), 1),
        small.n_events,
        f"measured on {small.n_events:,} events; rate applies to any size",
    )
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'detectors (one thread; CPU seconds)':<46} {'events':>12} {'seconds':>9} {'M events/s':>11}  note"
    ]
    for r in rows:
        eps = r["events_per_s"]
        lines.append(
            f"{r['name']:<46} {r['events']:>12,} {r['seconds']:>9.3f} "
            f"{(f'{eps / 1e6:.1f}' if eps else '-'):>11}  {r['note']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    print(format_rows(bench_detectors(n)))
