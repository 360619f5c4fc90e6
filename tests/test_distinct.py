"""The sort-based distinct-value helpers against ``np.unique`` (the meaning they replace)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.distinct import unique_counts, unique_first, unique_ints, unique_inverse

# wide keys (hashes, session ids) and narrow ones with many repeats, signed and unsigned
values_st = st.lists(st.integers(-(2**62), 2**62), max_size=300) | st.lists(
    st.integers(-3, 9), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(values=values_st, unsigned=st.booleans())
def test_helpers_equal_np_unique(values: list[int], unsigned: bool) -> None:
    x = np.asarray(values, dtype=np.int64)
    if unsigned:
        x = x.astype(np.uint64)  # negative values wrap: large hashes
    u, first, counts = np.unique(x, return_index=True, return_counts=True)
    got = unique_ints(x)
    assert got.dtype == x.dtype and np.array_equal(got, u)
    gu, gc = unique_counts(x)
    assert np.array_equal(gu, u) and np.array_equal(gc, counts)
    fu, ff = unique_first(x)
    assert np.array_equal(fu, u) and np.array_equal(ff, first)
    fu, ff, fc = unique_first(x, counts=True)
    assert np.array_equal(fu, u) and np.array_equal(ff, first) and np.array_equal(fc, counts)
    iu, inv = unique_inverse(x)  # the narrow lists take the table, the wide ones np.unique
    assert iu.dtype == x.dtype and np.array_equal(iu, u) and np.array_equal(iu[inv], x)


def test_first_index_is_the_least_among_many_repeats() -> None:
    # long runs of one value: an unstable sort puts its indices in any order
    x = np.random.default_rng(7).integers(0, 3, 50_000)
    assert np.array_equal(unique_first(x)[1], np.unique(x, return_index=True)[1])


def test_inverse_by_table_on_a_narrow_span_of_many_values() -> None:
    rng = np.random.default_rng(3)
    for x in (
        rng.integers(1000, 1400, 5000).astype(np.int32),
        rng.integers(-128, 128, 5000).astype(np.int8),  # a span wider than int8 holds
        rng.integers(0, 256, 5000).astype(np.uint8),
    ):
        u, inv = np.unique(x, return_inverse=True)
        iu, iinv = unique_inverse(x)
        assert np.array_equal(iu, u) and np.array_equal(iinv, inv) and iu.dtype == x.dtype
