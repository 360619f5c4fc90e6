"""Detector throughput, side by side in one run (pytest-benchmark).

    pytest benchmarks/bench_detect.py --benchmark-only                 # 10 M events
    UXTOP_BENCH_EVENTS=200000 pytest benchmarks/bench_detect.py ...     # CI smoke size

Peers over the same pre-built batch (generated shop traffic with every friction kind and hard
negative, tiled to size): the fused numba kernels (all nine detectors), the streaming
``Detector.update`` around them, the seven vectorisable rules in numba and in numpy, and the
plain-Python reference on a slice (its events/s is printed in ``extra_info``). Everything is
single-threaded. Numba compile time is measured separately (cold cache vs warm cache).
The detector rows time CPU of this thread (``time.thread_time``), not waiting: the machine may be
shared. The streaming row feeds NDJSON through the Rust ingestor in 1 MB reads (the live engine's
case: many small ``Detector.update`` calls with sessions open across them).
The bar from the issue: >= 50 M events/s for all detectors together on one core.
"""

from __future__ import annotations

import os
import time

import pytest

from uxtop.detect.bench import (
    build_bench_batch,
    build_stream_batches,
    compile_seconds,
    run_detector,
    run_detector_stream,
    run_numba,
    run_numpy,
    run_reference,
)
from uxtop.detect.config import DetectConfig
from uxtop.detect.vectorized import VECTORIZED_KINDS

N_EVENTS = int(os.environ.get("UXTOP_BENCH_EVENTS", 10_000_000))
REFERENCE_EVENTS = int(os.environ.get("UXTOP_BENCH_REFERENCE_EVENTS", 50_000))
STREAM_EVENTS = int(os.environ.get("UXTOP_BENCH_STREAM_EVENTS", 1_000_000))
CFG = DetectConfig()


@pytest.fixture(scope="module")
def batch():
    bb = build_bench_batch(N_EVENTS)
    run_numba(bb.slice_sessions(5000), CFG)  # kernels loaded before timing
    return bb


def _rate(benchmark, n_events: int) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["events"] = n_events
    benchmark.extra_info["M_events_per_s"] = round(n_events / mean / 1e6, 2)


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_numba_all_nine(benchmark, batch):
    flags = benchmark(run_numba, batch, CFG)
    assert flags > 0
    _rate(benchmark, batch.n_events)


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_streaming_detector_all_nine(benchmark, batch):
    eb = batch.as_event_batch()
    flags = benchmark(run_detector, batch, CFG, eb)
    assert flags > 0
    _rate(benchmark, batch.n_events)


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_streaming_detector_ingest_steps(benchmark):
    """The live engine's case: NDJSON through the Rust ingestor in 1 MB reads, one
    ``Detector.update`` per read, sessions open across them (per-call bookkeeping counts)."""
    batches, strings = build_stream_batches(min(N_EVENTS, STREAM_EVENTS))
    run_detector_stream(batches[:3], strings, CFG)
    flags = benchmark(run_detector_stream, batches, strings, CFG)
    assert flags > 0
    _rate(benchmark, sum(len(b) for b in batches))


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_numba_seven_vectorisable(benchmark, batch):
    benchmark(run_numba, batch, CFG, VECTORIZED_KINDS)
    _rate(benchmark, batch.n_events)


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_numpy_seven_vectorisable(benchmark, batch):
    benchmark.pedantic(run_numpy, args=(batch, CFG), rounds=2, iterations=1)
    _rate(benchmark, batch.n_events)


@pytest.mark.benchmark(group="detect", timer=time.thread_time)
def test_python_reference_all_nine(benchmark, batch):
    small = batch.slice_sessions(min(REFERENCE_EVENTS, batch.n_events))
    benchmark.pedantic(run_reference, args=(small, CFG), rounds=1, iterations=1)
    _rate(benchmark, small.n_events)


@pytest.mark.benchmark(group="compile")
def test_numba_compile_cold(benchmark):
    """Fresh interpreter, empty numba cache: the one-time JIT cost (excluded above)."""
    benchmark.pedantic(compile_seconds, kwargs={"cold": True}, rounds=1, iterations=1)


@pytest.mark.benchmark(group="compile")
def test_numba_cache_load_warm(benchmark):
    benchmark.pedantic(compile_seconds, kwargs={"cold": False}, rounds=1, iterations=1)
