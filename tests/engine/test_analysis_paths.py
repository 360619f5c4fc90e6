"""Mechanisms behind the analysis thread's speed (issue 6): they must not change what it shows."""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from typing import Any

import numpy as np
import pytest

from uxtop.batch import EVENT_COLUMNS
from uxtop.engine.aggregates import MAX_HEAT_PAGES, Decayed, HeatGrids
from uxtop.engine.records import RecordStore, gather_into, gather_into_reference
from uxtop.engine.warmup import _canned_stream, warm_heat_kernel, warm_pipeline


def _records(n: int) -> np.ndarray:
    # a packed record array like the retained events' (unaligned fields of mixed widths)
    dt = np.dtype([("ts", "<i8"), ("kind", "u1"), ("x", "<i4"), ("value", "<f4"), ("row", "<i8")])
    rng = np.random.default_rng(5)
    rec = np.empty(n, dtype=dt)
    for name in dt.names or ():
        rec[name] = rng.integers(0, 200, n).astype(dt[name])
    return rec


def _rows(store: RecordStore, sid: int) -> bytes:
    return store.rows_of(sid).tobytes()


def _fill(store: RecordStore, rec: np.ndarray, sessions: int, seed: int) -> list[bytes]:
    """Batches of random sizes, each one block of several sessions' rows (as the engine writes
    them); returns each session's rows as the bytes it should read back."""
    want = [b""] * sessions
    rng = np.random.default_rng(seed)
    at = 0
    while at < rec.shape[0]:
        n = min(int(rng.integers(1, 400)), rec.shape[0] - at)
        cuts = np.sort(rng.integers(0, n + 1, sessions - 1))
        lens = np.diff(np.r_[0, cuts, n]).astype(np.int64)
        block = store.write(np.arange(sessions, dtype=np.uint64), lens, rec.dtype)
        block[...] = rec[at : at + n]
        for who, (lo, hi) in enumerate(zip(np.r_[0, cuts], np.r_[cuts, n], strict=True)):
            want[who] += rec[at + int(lo) : at + int(hi)].tobytes()
        at += n
    return want


def test_record_store_keeps_each_sessions_rows_exactly() -> None:
    rec = _records(20_000)
    store = RecordStore(slab_rows=700)
    want = _fill(store, rec, 8, seed=1)
    assert [_rows(store, s) for s in range(8)] == want
    assert store.live_rows == store.capacity == 20_000
    # every slab fully live: nothing to move
    assert store.compact() == 0
    assert [_rows(store, s) for s in range(8)] == want
    # half the sessions go: their slabs are mostly dead and get emptied, the rest read the same
    dead = store.drop(np.arange(1, 8, 2, dtype=np.uint64))
    assert dead == sum(len(w) for w in want[1::2]) // rec.dtype.itemsize
    assert store.live_rows == 20_000 - dead
    moved = store.compact()
    assert 0 < moved <= store.live_rows
    assert [_rows(store, s) for s in range(0, 8, 2)] == want[::2]
    assert all(_rows(store, s) == b"" for s in range(1, 8, 2))
    assert store.rows_of(0).dtype == rec.dtype


def test_record_store_compaction_drops_the_old_slabs() -> None:
    rec = _records(5000)
    store = RecordStore(slab_rows=1000, pool_slabs=0)
    for i in range(0, 5000, 100):
        store.put((i // 100) % 50, rec[i : i + 100])
    slabs = [weakref.ref(b) for b in store._slabs.values()]
    assert len(slabs) == store.slabs == 5
    # evict most sessions, as retention does; the survivors' rows still pin every slab
    store.drop(np.arange(5, 50, dtype=np.uint64))
    live_rows = 5 * 100
    assert store.live_rows == live_rows
    assert store.needs_compaction()
    want = [_rows(store, s) for s in range(5)]
    assert store.compact() == live_rows
    gc.collect()
    assert all(ref() is None for ref in slabs), "an emptied slab is still alive"
    assert [_rows(store, s) for s in range(5)] == want
    assert store.segments == 5  # a session's moved rows sit together, one segment each
    assert store.capacity <= live_rows + store.slab_rows
    assert not store.needs_compaction()
    assert store.memory_bytes() == store.capacity * rec.dtype.itemsize


def test_record_store_counts_the_bytes_of_slabs_it_kept_without_a_current_one() -> None:
    # every slab still dense, the current one holding nothing live: the compaction moves
    # nothing and starts no slab, yet the kept slabs' bytes are still the store's
    rec = _records(3000)
    store = RecordStore(slab_rows=1000, pool_slabs=0)
    for i in range(3):
        store.put(i, rec[1000 * i : 1000 * (i + 1)])
    store.drop(np.array([2], dtype=np.uint64))
    assert store.compact() == 0
    assert store.capacity == 2000 and store.slabs == 2
    assert store.memory_bytes() == 2000 * rec.dtype.itemsize


def test_record_store_writes_into_emptied_slabs_again() -> None:
    # the pool: emptied slabs serve the next writes (their pages are already in memory), up to
    # its bound; their bytes are counted as the store's
    rec = _records(1000)
    store = RecordStore(slab_rows=1000, pool_slabs=2)
    for i in range(5):
        store.put(i, rec)
    assert store.slabs_made == 5
    store.drop(np.arange(4, dtype=np.uint64))
    assert store.compact() == 0  # four slabs emptied: two kept for reuse, two unmapped
    assert store.slabs == 1
    assert store.memory_bytes() == 3000 * rec.dtype.itemsize
    for i in range(5, 8):
        store.put(i, rec)
    assert store.slabs_made == 6  # two from the pool, one new
    assert [_rows(store, i) for i in range(4, 8)] == [rec.tobytes()] * 4


def test_record_store_trim_keeps_the_newest_rows() -> None:
    rec = _records(100)
    store = RecordStore(slab_rows=64)
    sizes = [30, 5, 40, 10, 20]
    want = b""
    for i, n in enumerate(sizes):
        store.put(7, rec[:n])
        want += rec[:n].tobytes()
        store.put(8, rec[i : i + 1])  # another session between them is left alone
    size = rec.dtype.itemsize
    assert store.trim(7, 50) == 55  # 30 and 5 go whole, 20 of the 40
    assert _rows(store, 7) == want[-50 * size :]
    assert store.trim(7, 50) == 0  # within the cap
    assert store.trim(7, 1) == 49
    assert _rows(store, 7) == want[-size:]
    assert _rows(store, 8) == rec[:5].tobytes()
    assert store.live_rows == 6


@pytest.mark.parametrize("seed", range(6))
def test_record_store_equals_a_plain_reference_under_random_operations(seed: int) -> None:
    # the reference: each session's segments as bytes, oldest first
    rng = np.random.default_rng(seed)
    rec = _records(500)
    store = RecordStore(slab_rows=int(rng.integers(50, 600)))
    ref: dict[int, list[bytes]] = {}
    size = rec.dtype.itemsize
    for _ in range(400):
        op = rng.random()
        if op < 0.6:  # a batch: a few sessions' rows, some empty
            sids = rng.choice(40, int(rng.integers(1, 8)), replace=False).astype(np.uint64)
            lens = rng.integers(0, 30, sids.size).astype(np.int64)
            block = store.write(sids, lens, rec.dtype)
            data = rec[rng.integers(0, 500, int(lens.sum()))]
            block[...] = data
            at = 0
            for sid, n in zip(sids.tolist(), lens.tolist(), strict=True):
                if n:
                    ref.setdefault(sid, []).append(data[at : at + n].tobytes())
                at += n
        elif op < 0.75:
            sids = rng.choice(40, int(rng.integers(1, 10)), replace=False).astype(np.uint64)
            dead = store.drop(sids)
            assert dead == sum(len(b) for s in sids.tolist() for b in ref.pop(s, [])) // size
        elif op < 0.85:
            sid, cap = int(rng.integers(40)), int(rng.integers(0, 80))
            held = b"".join(ref.get(sid, []))
            want = max(0, len(held) // size - cap)
            if sid in ref:
                ref[sid] = [held[want * size :]]
            assert store.trim(sid, cap) == want
        elif store.needs_compaction() or op > 0.95:
            store.compact()
        assert store.live_rows == sum(len(b) for v in ref.values() for b in v) // size
        assert store.capacity >= store.live_rows
    for sid in range(40):
        assert _rows(store, sid) == b"".join(ref.get(sid, []))
    assert store.compactions > 0


def test_record_store_stays_within_its_bound_under_churn() -> None:
    # retention's pattern: sessions keep arriving, the oldest go; the slabs never hold more
    # than 1.5x the live rows plus a slab once compaction has run, and moves stay a fraction
    rec = _records(400)
    store = RecordStore(slab_rows=2000)
    appended = idle = 0
    for step in range(600):
        for sid in range(max(0, step - 29), step + 1):
            store.put(sid, rec[: 10 + step % 40])
            appended += 10 + step % 40
        if step >= 60:
            store.drop(np.array([step - 60], dtype=np.uint64))
        if store.needs_compaction():
            idle += store.compact() == 0
            assert store.capacity <= 1.5 * store.live_rows + 2 * store.slab_rows
        # at any time: what the slabs hold stays within a bound of what is live
        assert store.capacity <= 1.75 * store.live_rows + 2 * store.slab_rows
    assert store.compactions > 5
    assert idle <= store.compactions // 4  # compactions that could move nothing are rare
    assert store.rows_moved < appended
    assert store.segments < 60 * 30  # merged by compactions, dropped with their sessions


def test_record_store_holds_one_record_layout() -> None:
    store = RecordStore()
    store.put(1, _records(3))
    with pytest.raises(ValueError, match="holds records"):
        store.put(1, np.zeros(3, dtype=[("ts", "<i8")]))


@pytest.mark.parametrize("seed", range(4))
def test_gather_into_equals_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    # the engine's own columns, values over each dtype's whole range (NaNs and negatives too)
    cols = {
        k: rng.integers(0, 256, n * np.dtype(t).itemsize, dtype=np.uint8).view(t)
        for k, t in EVENT_COLUMNS.items()
    }
    dt = np.dtype([(k, np.dtype(t)) for k, t in EVENT_COLUMNS.items()])
    # runs of consecutive rows like kept sessions, plus arbitrary repeats, > one core block
    rows = np.concatenate([np.arange(n)[n // 3 :], rng.integers(0, n, int(rng.integers(0, 700)))])
    got, want = np.zeros(rows.size, dt), np.zeros(rows.size, dt)
    gather_into(got, cols, rows)
    gather_into_reference(want, cols, rows)
    assert got.tobytes() == want.tobytes()
    # into a slice of a larger store, as the engine does
    store = np.zeros(rows.size + 10, dt)
    gather_into(store[5 : 5 + rows.size], cols, rows)
    assert store[5 : 5 + rows.size].tobytes() == want.tobytes() and not store[:5].tobytes().strip(
        b"\0"
    )


def test_gather_into_refuses_what_does_not_fit_and_writes_nothing() -> None:
    rec = _records(8)
    cols = {k: np.ascontiguousarray(rec[k]) for k in rec.dtype.names or ()}
    out = np.zeros(3, rec.dtype)
    with pytest.raises(ValueError, match=r"rows\[1\] = 8 is out of range for columns of 8 rows"):
        gather_into(out, cols, np.array([0, 8, 1]))
    assert not out.tobytes().strip(b"\0")
    with pytest.raises(ValueError, match="do not match the columns"):
        gather_into(out, {**cols, "x": cols["x"].astype(np.int64)}, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="contiguous 1-D"):
        gather_into(np.zeros(6, rec.dtype)[::2], cols, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="out holds"):
        gather_into(out, cols, np.array([0, 1]))


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


def test_warm_keymap_dispatches_every_keymap_kernel() -> None:
    """In a fresh interpreter (nothing dispatched yet), the warm-up reaches every KeyMap kernel,
    eviction included, so none compiles on the analysis thread later."""
    import subprocess
    import sys

    code = (
        "from uxtop.engine.warmup import warm_keymap; warm_keymap()\n"
        "from uxtop.analytics import keymap as k\n"
        "print(sorted(n for n in dir(k) if n.endswith('_kernel') and not getattr(k, n).signatures))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_warm_pipeline_dispatches_the_batch_and_bucket_kernels() -> None:
    """In a fresh interpreter, the pipeline warm-up reaches the series push and flag-example
    kernels, the flag tally's seen-pairs kernels and the detector's run bookkeeping (the canned
    stream has routes, flags, carried sessions and a bucket with every family registered), so
    none compiles on the analysis thread."""
    import subprocess
    import sys

    code = (
        "from uxtop.analytics import Analytics\n"
        "from uxtop.detect import Detector\n"
        "from uxtop.engine.warmup import warm_pipeline\n"
        "warm_pipeline(Detector(), Analytics())\n"
        "from uxtop.analytics import series as s\n"
        "from uxtop.engine import seen_pairs_kernel as f\n"
        "from uxtop.detect import kernels as d\n"
        "ks = [s._push_kernel, s._first_distinct_kernel, f.fresh_kernel, f.merge_into_kernel,"
        " d.plan_run, d.carry_open, d.store_open]\n"
        "print([k.py_func.__name__ for k in ks if not k.signatures])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def _heat_batches(seed: int) -> list[dict[str, np.ndarray]]:
    """Random batches over more pages than there are heat slots, with missing and negative
    coordinates, clicks of every click kind, moves, scrolls (some unusable) and other kinds."""
    from uxtop.batch import EVENT_COLUMNS, INT_NA

    rng = np.random.default_rng(seed)
    out = []
    for n in (0, 5, 4000, 20000, 3000):
        cols = {k: np.zeros(n, dtype=t) for k, t in EVENT_COLUMNS.items()}
        cols["kind"] = rng.integers(0, 12, n).astype(np.uint8)
        cols["url"] = rng.integers(-1, MAX_HEAT_PAGES + 30, n).astype(np.int32)
        for name, hi in (("x", 2500), ("y", 6000), ("sy", 5000), ("sh", 6000), ("vh", 1200)):
            v = rng.integers(-200, hi, n).astype(np.int32)
            v[rng.random(n) < 0.05] = INT_NA
            cols[name] = v
        out.append(cols)
    return out


class _Cols:
    """Just the columns HeatGrids reads."""

    def __init__(self, cols: dict[str, np.ndarray]) -> None:
        self.__dict__.update(cols)
        self._n = len(cols["kind"])

    def __len__(self) -> int:
        return self._n


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_heat_kernel_equals_numpy_reference(seed: int) -> None:
    pytest.importorskip("numba")
    from uxtop.engine import heat_kernel

    ref, fast = HeatGrids(), HeatGrids()
    for cols in _heat_batches(seed):
        batch: Any = _Cols(cols)
        ref.add_numpy(batch)
        if len(batch):
            fast._add_kernel(batch, heat_kernel)
    assert ref.urls == fast.urls
    assert len(ref.urls) == MAX_HEAT_PAGES  # the slots ran out: page order matters
    for name in ("clicks", "moves", "depth", "n_clicks", "n_moves"):
        assert np.array_equal(getattr(ref, name), getattr(fast, name)), name
    assert int(ref.clicks.sum()) > 0 and int(ref.moves.sum()) > 0 and int(ref.depth.sum()) > 0
    n = min(ref.slot_of_url.shape[0], fast.slot_of_url.shape[0])
    assert np.array_equal(ref.slot_of_url[:n], fast.slot_of_url[:n])


def test_heat_kernel_warm_up_switches_heat_grids() -> None:
    pytest.importorskip("numba")
    before = HeatGrids.kernels
    try:
        assert warm_heat_kernel()
        assert HeatGrids.kernels is not None
    finally:
        HeatGrids.kernels = before


def test_session_rows_kinds_order_equals_a_recount() -> None:
    from uxtop.detect import Detector
    from uxtop.engine import Engine
    from uxtop.engine.warmup import _Chunks

    # several loops so sessions gain events (row rebuilt, order cached) and flags (recounted)
    eng = Engine(
        [_Chunks(_canned_stream(loops=6))],
        detector=Detector(),
        analytics=False,
        warmup_detectors=False,
        publish_interval=0.0,
    )
    snap = eng.run_until_done(60.0)
    assert snap.session_rows
    by_id = {r.session_id: r for r in snap.session_rows}
    for sid in eng._kept.ids().tolist():
        # recounted from the session's flags as stored, in the order they came
        flags = eng._flag_store.rows_of(sid, eng._flag_codes.names)
        want = tuple(k for k, _ in Counter(f.kind for f in flags).most_common())
        assert by_id[sid].kinds == want
        assert len(want) >= 1


def test_spare_analytics_for_the_warm_up_runs_no_alert_commands() -> None:
    import msgspec

    from uxtop.analytics.config import FunnelConfig, StepConfig

    one = FunnelConfig(name="f", steps=[StepConfig(type="click"), StepConfig(type="scroll")])
    from uxtop.analytics import Analytics, AnalyticsConfig
    from uxtop.engine.core import _spare_analytics

    live = Analytics(AnalyticsConfig(), run_commands=True)
    spare = _spare_analytics(live)
    assert spare is not None and spare is not live
    assert spare.alerts.run_commands is False
    assert _spare_analytics(object()) is None
    # configured funnels are the live ones; with none (inferred later, from many sessions)
    # the spare gets one that the canned warm-up stream goes through, so the funnel kernels
    # compile in the warm-up and not on the analysis thread
    configured = Analytics(msgspec.structs.replace(live.cfg, funnels=[one]))
    assert _spare_analytics(configured).cfg is configured.cfg
    assert spare.cfg.funnels and not live.cfg.funnels
    from uxtop.detect import Detector
    from uxtop.engine.warmup import warm_pipeline

    warm_pipeline(Detector(), spare)
    (funnel,) = spare.funnels
    assert [s.entered for s in funnel.result().steps][-1] > 0  # the stream reached step 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decayed_top_and_eviction_equal_full_sorts(seed: int) -> None:
    # many ties on purpose (small integer weights): the ranking must keep first-seen order
    # among equal values, as the stable full sort it replaced did
    rng = np.random.default_rng(seed)
    d = Decayed(cap=200)
    ref: dict[object, float] = {}
    keys, weights = rng.integers(0, 400, 5000).tolist(), rng.integers(1, 4, 5000).tolist()
    for key, w in zip(keys, weights, strict=True):
        d.add(f"k{key}", float(w))
        ref[f"k{key}"] = ref.get(f"k{key}", 0.0) + float(w)
        if len(ref) > 200:
            for k, _ in sorted(ref.items(), key=lambda kv: kv[1])[:20]:
                del ref[k]
        assert d.values == ref
    for n in (1, 15, 200, 500):
        assert d.top(n) == sorted(ref.items(), key=lambda kv: -kv[1])[:n]


def test_importing_the_engine_and_app_leaves_numba_to_the_warm_up_thread() -> None:
    """numba's import takes ~0.3 s holding the GIL: the engine and the app must not pay it
    before their first frame (the warm-up thread imports it, then compiles)."""
    import subprocess
    import sys

    code = "import sys, uxtop.engine, uxtop.tui.app\nprint('numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False", out.stdout + out.stderr
