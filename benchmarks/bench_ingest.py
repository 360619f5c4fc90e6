"""Parse + sessionise: uxtop and its peers on the same file, in the same pytest-benchmark run.

    pytest benchmarks/bench_ingest.py --benchmark-only               # 2 M events
    UXTOP_BENCH_EVENTS=500000 pytest benchmarks/bench_ingest.py --benchmark-only

The summary at the end prints each contender's rate and uxtop's ratio over it. The same
contenders and the same table come from `uxtop bench --only ingest`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from uxtop.bench.data import cached_file
from uxtop.bench.ingest import PEERS, SLOW_PEERS

EVENTS = int(os.environ.get("UXTOP_BENCH_EVENTS", "2000000"))
SLOW_LIMIT = int(os.environ.get("UXTOP_BENCH_SLOW_LIMIT", "300000"))
ROUNDS = int(os.environ.get("UXTOP_BENCH_ROUNDS", "3"))


@pytest.fixture(scope="module")
def canonical_file() -> Path:
    return cached_file(EVENTS)


@pytest.mark.parametrize("name", list(PEERS))
def test_parse_and_sessionise(benchmark, canonical_file: Path, name: str) -> None:
    fn, note = PEERS[name]
    limit = SLOW_LIMIT if name in SLOW_PEERS and SLOW_LIMIT < EVENTS else None
    args = (canonical_file, limit) if limit is not None else (canonical_file,)
    benchmark.group = f"parse + sessionise, {EVENTS:,} events"
    benchmark.extra_info.update(contender=name, note=note, events=limit or EVENTS)
    n = benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    assert n == (limit or EVENTS)
