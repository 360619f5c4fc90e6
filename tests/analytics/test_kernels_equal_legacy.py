"""The fast ingest path of ``Analytics.update`` (numba kernels, numpy grouping, array-backed key
maps) against its frozen plain-Python twin (``_legacy_analytics``, the code before the kernels):
same snapshot bytes, same series history, same evidence, same funnel state, batch by batch."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from _legacy_analytics.live import Analytics as LegacyAnalytics

from uxtop.analytics import Analytics, load_analytics_config
from uxtop.analytics.simulate import Incident, ShopTraffic, checkout_funnel_config

START = 1_767_225_600_000


def _cfgs() -> dict[str, dict]:
    fc = checkout_funnel_config()
    strict = dict(fc, name="strict", order="strict")
    unord = dict(fc, name="unord", order="unordered", breakdown=["geo"])
    return {
        "inferred": {},
        "checkout": {"funnels": [fc]},
        "three": {"funnels": [fc, strict, unord]},
        "no_funnel": {"infer_funnel": False},
    }


def _same_evidence(a, b) -> None:  # noqa: ANN001
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.t0 == y.t0
        for f in ("route_sessions", "flags_route", "errors", "count"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f)
        assert x.flag_examples == y.flag_examples
        assert x.examples == y.examples
        assert x.messages == y.messages
        assert list(x.messages) == list(y.messages)


def _compare(new: Analytics, old: LegacyAnalytics) -> None:
    assert new.ticks == old.ticks and new.events == old.events
    assert new.agg.late_events == old.agg.late_events
    assert new.agg.route_labels == old.agg.route_labels
    assert [k.label() for k in new.bank.keys] == [k.label() for k in old.bank.keys]
    np.testing.assert_array_equal(new.bank.history, old.bank.history)
    _same_evidence(new._evidence, old._evidence)
    for d in ("pair", "page", "arrivals"):
        assert list(getattr(new.journey, d).items()) == list(getattr(old.journey, d).items()), d
    assert len(new.funnels) == len(old.funnels)
    for e, f in zip(new.funnels, old.funnels, strict=True):
        assert e.cfg == f.cfg
        np.testing.assert_array_equal(e.depth_hist, f.depth_hist)
        np.testing.assert_array_equal(e.friction, f.friction)
        for r, s in zip(e._res, f._res, strict=True):
            np.testing.assert_array_equal(r, s)
    enc = msgspec.json.encode
    assert enc(new.snapshot()) == enc(old.snapshot())


@pytest.mark.parametrize(
    "cfg_name,chunk_s,seed",
    [
        ("inferred", 10, 1),
        ("inferred", 600, 2),
        ("checkout", 60, 3),
        ("three", 10, 4),
        ("three", 600, 5),
        ("no_funnel", 60, 6),
    ],
)
def test_update_equals_legacy(cfg_name: str, chunk_s: int, seed: int) -> None:
    cfg = load_analytics_config(_cfgs()[cfg_name])
    tr = ShopTraffic(
        sessions_per_min=200,
        amplitude=0.3,
        seed=seed,
        incidents=[
            Incident("POST /api/pay", START + 12 * 60_000, minutes=5),
            Incident("GET /api/cart", START + 25 * 60_000, minutes=5, release="2.3"),
        ],
    )
    tables = tr.tables()
    new, old = Analytics(cfg), LegacyAnalytics(cfg)
    for i, (batch, flags) in enumerate(tr.batches(0.6, chunk_s=chunk_s)):
        assert new.update(batch, tables, flags) == old.update(batch, tables, flags)
        if i % max(1, 2160 // chunk_s // 4) == 3:
            _compare(new, old)
    new.flush()
    old.flush()
    _compare(new, old)


# -- kernels against their plain-Python twins ---------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_fold_requests_kernel_equals_python(k: int, ncols: int, seed: int) -> None:
    from uxtop.analytics.series import _fold_requests_kernel

    rng = np.random.default_rng(seed)
    R, C, H = 3, 5, 7
    route = rng.integers(0, R, k)
    hbin = rng.integers(0, H, k)
    err = rng.integers(0, 2, k)
    cols = rng.integers(-1, C, (k, ncols))
    cnt, er, hist = (
        np.zeros((R, C), np.int64),
        np.zeros((R, C), np.int64),
        np.zeros((R, C, H), np.int32),
    )
    _fold_requests_kernel(cnt, er, hist, route, hbin, err, cols)
    c2, e2, h2 = np.zeros_like(cnt), np.zeros_like(er), np.zeros_like(hist)
    for i in range(k):
        for c in cols[i].tolist():
            if c >= 0:
                c2[route[i], c] += 1
                e2[route[i], c] += err[i]
                h2[route[i], c, hbin[i]] += 1
    np.testing.assert_array_equal(cnt, c2)
    np.testing.assert_array_equal(er, e2)
    np.testing.assert_array_equal(hist, h2)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_add_steps_kernel_equals_python(k: int, seed: int) -> None:
    from uxtop.analytics.series import _add_steps_kernel

    rng = np.random.default_rng(seed)
    g = rng.integers(0, 4, k)
    cols = rng.integers(-1, 6, (k, 4))
    a = np.zeros((4, 6), np.int64)
    _add_steps_kernel(a, g, cols)
    b = np.zeros_like(a)
    for i in range(k):
        for c in cols[i].tolist():
            if c >= 0:
                b[g[i], c] += 1
    np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 199)), st.integers(0, 9))
def test_or_route_bits_equals_python_sets(routes, nrows: int) -> None:  # noqa: ANN001
    from uxtop.analytics.live import _or_route_bits

    rows = np.arange(routes.shape[0], dtype=np.int64) % (nrows + 1)
    bits = np.zeros((nrows + 1, 4), np.uint64)
    _or_route_bits(bits, rows, routes)
    sets: list[set[int]] = [set() for _ in range(nrows + 1)]
    for r, x in zip(rows.tolist(), routes.tolist(), strict=True):
        sets[r].add(x)
    for r in range(nrows + 1):
        got = np.flatnonzero(np.unpackbits(bits[r].view(np.uint8), bitorder="little"))
        assert got.tolist() == sorted(sets[r])


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.int64, st.integers(1, 80), elements=st.integers(0, 30)),
    hnp.arrays(np.int64, st.integers(1, 80), elements=st.integers(0, 5000)),
)
def test_pair_counts_equal_unique_axis1(a, b) -> None:  # noqa: ANN001
    from uxtop.analytics.journey import _add_pair_counts

    m = min(a.shape[0], b.shape[0])
    a, b = a[:m], b[:m]
    d: dict[tuple[int, int], int] = {(1, 1): 5}
    _add_pair_counts(d, a, b)
    ref: dict[tuple[int, int], int] = {(1, 1): 5}
    keys, counts = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    for (x, y), c in zip(keys.T.tolist(), counts.tolist(), strict=False):
        ref[(x, y)] = ref.get((x, y), 0) + c
    assert list(d.items()) == list(ref.items())


@pytest.mark.parametrize("seed", [0, 1])
def test_funnel_inferrer_equals_legacy(seed: int) -> None:
    from _legacy_analytics.funnels import FunnelInferrer as LegacyInferrer

    from uxtop.analytics.funnels import FunnelInferrer

    new, old = FunnelInferrer(), LegacyInferrer()
    for batch, _ in ShopTraffic(sessions_per_min=300, seed=seed).batches(0.2, chunk_s=60):
        new.update(batch)
        old.update(batch)
        assert new.sessions == old.sessions
        assert list(new.visits.items()) == list(old.visits.items())
        assert list(new.rank_sum.items()) == list(old.rank_sum.items())
