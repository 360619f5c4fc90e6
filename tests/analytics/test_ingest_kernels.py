"""Ingest-path kernels of the analytics layer against plain numpy / plain-Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.analytics.config import StepConfig
from uxtop.analytics.funnel_kernel import _select_rows_kernel
from uxtop.analytics.grouping import first_occurrences, unique_ints
from uxtop.analytics.matchers import MatchBits, StepMatcher, step_bits

keys_st = st.lists(st.integers(-(2**62), 2**62), max_size=200) | st.lists(
    st.integers(-3, 12), max_size=200
)


@settings(max_examples=200, deadline=None)
@given(keys=keys_st)
def test_unique_ints_and_first_occurrences_equal_np_unique(keys: list[int]) -> None:
    x = np.asarray(keys, dtype=np.int64)
    u, first = np.unique(x, return_index=True)
    assert np.array_equal(unique_ints(x), u)
    assert np.array_equal(first_occurrences(x), np.sort(first))


TABLES = {
    "url": ["/", "/checkout", "/product/1", "/product/22", "/confirm", "/cart"],
    "target": ["button#pay", "button#add", "a#home"],
    "route": ["POST /api/pay", "GET /api/cart", "POST /api/cart"],
}
step_st = st.builds(
    StepConfig,
    type=st.sampled_from([None, "pageview", "click", "request"]),
    url=st.sampled_from([None, "/product/*", "/checkout", "/c*", "/?*"]),
    target=st.sampled_from([None, "button#*", "a#home"]),
    route=st.sampled_from([None, "POST *", "GET /api/cart"]),
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step_st, min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    grow=st.booleans(),
)
def test_match_bits_equal_step_bits(steps: list[StepConfig], seed: int, grow: bool) -> None:
    rng = np.random.default_rng(seed)
    tables = {k: list(v) for k, v in TABLES.items()}
    mb = MatchBits(steps)
    for _ in range(2 if grow else 1):
        n = 300
        cols = {
            "ts": np.arange(n, dtype=np.int64),
            "kind": rng.choice([0, 1, 2, 14], n).astype(np.uint8),
            "url": rng.integers(-1, len(tables["url"]), n).astype(np.int32),
            "target": rng.integers(-1, len(tables["target"]), n).astype(np.int32),
            "route": rng.integers(-1, len(tables["route"]), n).astype(np.int32),
        }
        ref = step_bits([StepMatcher(s) for s in steps], cols, tables)
        assert np.array_equal(mb.bits(cols, tables), ref)
        # intern tables only grow: the lookup tables must follow
        tables["url"].append(f"/checkout/{seed % 7}")
        tables["route"].append("POST /api/x")


def _select_rows_reference(
    sb: np.ndarray, eb: np.ndarray, pairs: list[int], strict: bool, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The numpy code the kernel replaced (FunnelEngine.update before the kernel)."""
    n = sb.shape[0]
    xb = np.zeros(n, dtype=np.int64)
    for e, p in enumerate(pairs):
        xb |= np.where((eb >> e) & 1 == 1, p, 0)
    xb[sb != 0] = 0
    keep = (sb != 0) | (xb != 0)
    if strict:
        prev = np.empty_like(keep)
        prev[0] = True
        prev[1:] = keep[:-1]
        starts = offsets[:-1][offsets[:-1] < n]
        prev[starts] = True
        keep |= prev
    rows = np.flatnonzero(keep)
    return rows, sb[rows].astype(np.int64), xb[rows]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=8),
    strict=st.booleans(),
    pairs=st.lists(st.integers(1, 7), min_size=2, max_size=2),
)
def test_select_rows_kernel_equals_reference(
    data: list[tuple[int, int]], cuts: list[int], strict: bool, pairs: list[int]
) -> None:
    sb = np.array([d[0] for d in data], dtype=np.uint32)
    eb = np.array([d[1] for d in data], dtype=np.uint32)
    n = sb.shape[0]
    # session starts (empty sessions repeat an offset), ending at n
    offsets = np.array(sorted([0] + [min(c, n) for c in cuts]) + [n], dtype=np.int64)
    rows = np.empty(n, np.int64)
    out_sb = np.empty(n, np.int64)
    out_xb = np.empty(n, np.int64)
    k = _select_rows_kernel(
        sb, eb, np.asarray(pairs, np.int64), strict, offsets, rows, out_sb, out_xb
    )
    r_rows, r_sb, r_xb = _select_rows_reference(sb, eb, pairs, strict, offsets)
    assert np.array_equal(rows[:k], r_rows)
    assert np.array_equal(out_sb[:k], r_sb)
    assert np.array_equal(out_xb[:k], r_xb)
