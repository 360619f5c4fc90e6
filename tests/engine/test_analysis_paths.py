"""Mechanisms behind the analysis thread's speed (issue 6): they must not change what it shows."""

from __future__ import annotations

import numpy as np

from uxtop.engine.core import _own_rows
from uxtop.engine.warmup import _canned_stream, warm_pipeline


def _records(n: int) -> np.ndarray:
    # a packed record array like the retained events' (unaligned fields of mixed widths)
    dt = np.dtype([("ts", "<i8"), ("kind", "u1"), ("x", "<i4"), ("value", "<f4"), ("row", "<i8")])
    rng = np.random.default_rng(5)
    rec = np.empty(n, dtype=dt)
    for name in dt.names or ():
        rec[name] = rng.integers(0, 200, n).astype(dt[name])
    return rec


def test_own_rows_equals_a_copy_and_owns_its_memory() -> None:
    rec = _records(300)
    for start, n in ((0, 1), (17, 40), (299, 1), (0, 300)):
        got = _own_rows(rec, start, n)
        want = rec[start : start + n].copy()
        assert got.dtype == rec.dtype
        assert got.shape == (n,)
        assert got.tobytes() == want.tobytes()
        for name in rec.dtype.names or ():
            assert np.array_equal(got[name], want[name])
        # evicting the session must free its rows: nothing may pin the shared gather
        assert not np.shares_memory(got, rec)


def test_canned_stream_carries_sessions_across_batches() -> None:
    chunks = _canned_stream()
    assert len(chunks) >= 2
    sids = [{line.split(b'"sid":"')[1].split(b'"')[0] for line in c.splitlines()} for c in chunks]
    assert b"w" in sids[0] and b"w" in sids[-1]  # one session spans every batch
    for chunk in chunks:
        ts = [int(line[6 : line.index(b",")]) for line in chunk.splitlines()]
        assert ts == sorted(ts)


def test_warm_pipeline_runs_detectors_and_analytics_end_to_end() -> None:
    from uxtop.analytics import Analytics
    from uxtop.detect import Detector

    snap = warm_pipeline(Detector(), Analytics())
    assert snap.events == sum(c.count(b"\n") for c in _canned_stream())
    assert snap.flags > 0  # the canned rage clicks reach the flag path
    assert snap.sessions >= 3
    assert snap.analytics is not None
    assert snap.detectors.judged == snap.events
