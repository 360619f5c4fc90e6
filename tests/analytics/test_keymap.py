"""``KeyMap`` (numba kernels) against its plain-Python twin, an ``OrderedDict``."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.analytics.keymap import KeyMap

keys_st = st.lists(
    st.one_of(st.integers(-5, 40), st.integers(-(2**63) + 1, 2**63 - 1)), max_size=60
)
ops_st = st.lists(
    st.tuples(st.sampled_from(["insert", "pop", "evict", "get"]), keys_st, st.integers(0, 30)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ops_st)
def test_keymap_equals_ordereddict(ops) -> None:  # noqa: ANN001
    km = KeyMap(capacity=4)
    ref: OrderedDict[int, int] = OrderedDict()
    vals = {}  # row -> key, to check rows stay attached to their keys
    for op, keys, cap in ops:
        if op == "insert":
            rows, new = km.insert(np.array(keys, np.int64))
            for k, r, n in zip(keys, rows.tolist(), new.tolist(), strict=True):
                assert n == (k not in ref)
                if n:
                    ref[k] = r
                    vals[r] = k
                assert ref[k] == r
        elif op == "pop":
            rows = km.pop(np.array(keys, np.int64))
            for k, r in zip(keys, rows.tolist(), strict=True):
                assert r == ref.pop(k, -1)
        elif op == "evict":
            rows = km.evict(cap)
            gone = []
            while len(ref) > cap:
                gone.append(ref.popitem(last=False)[1])
            assert rows.tolist() == gone
        else:
            got = km.get(np.array(keys, np.int64))
            assert got.tolist() == [ref.get(k, -1) for k in keys]
        assert len(km) == len(ref)
        k, r = km.items()
        assert k.tolist() == list(ref) and r.tolist() == list(ref.values())
        assert all(vals[r_] == k_ for k_, r_ in ref.items())


def test_keymap_many_sequential_ids() -> None:
    km = KeyMap()
    ids = np.arange(0, 300_000, dtype=np.uint64) << np.uint64(20)
    rows, new = km.insert(ids)
    assert new.all() and np.unique(rows).size == ids.size
    assert (km.get(ids) == rows).all()
    assert km.evict(1000).size == ids.size - 1000
    k, _ = km.items()
    assert (k == ids[-1000:].astype(np.int64)).all()
