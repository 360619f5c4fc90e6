"""SessionTable against a dict model: which ids it holds, their values, growth and the bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.analytics.session_table import SessionTable

# batches of operations on ids drawn near a moving front (as the core numbers sessions), with
# some far-off ids that share rows with live ones
op_st = st.tuples(
    st.sampled_from(["insert", "pop", "get"]),
    st.lists(st.integers(0, 300) | st.integers(10_000, 10_050), max_size=40),
)


def _table(max_size: int) -> SessionTable:
    return SessionTable({"v": ((2,), np.int64, -1), "b": ((), np.uint8, 0)}, 4, max_size)


def test_at_its_bound_a_colliding_session_gets_an_overflow_row() -> None:
    t = _table(8)
    t.insert(np.arange(8))
    assert t.size == 8 and len(t) == 8
    t.cols["v"][t.get(np.arange(8))] = np.arange(16).reshape(8, 2)
    rows = t.insert(np.array([9, 10, 3]))  # 9 and 10 want the rows of 1 and 2
    assert t.size == 8 and rows[0] >= 8 and rows[1] >= 8 and rows[2] == 3
    assert (t.cols["v"][rows[:2]] == -1).all()  # the newcomers start at the fill
    # the sessions they collided with keep their rows and values
    assert t.get(np.array([1, 2])).tolist() == [1, 2]
    assert t.cols["v"][[1, 2]].tolist() == [[2, 3], [4, 5]]
    t.pop(np.array([9, 1]))
    assert t.get(np.array([9, 1, 10])).tolist() == [-1, -1, rows[1]]
    assert len(t) == 8


@pytest.mark.parametrize("max_size", [1 << 16, 4])
@settings(max_examples=200, deadline=None)
@given(ops=st.lists(op_st, max_size=30))
def test_each_live_session_has_its_own_row_and_values(
    max_size: int, ops: list[tuple[str, list[int]]]
) -> None:
    """A dict model. With room for every id (2^16 rows) no row is shared; with 4 rows and ids
    up to 10 050 most sessions want a row another holds: none may see another's values, and
    each keeps its own from insert to pop (the overflow backstop of max_size entries drops the
    oldest, which then have no row)."""
    t = _table(max_size)
    model: dict[int, tuple[int, int, int]] = {}
    for n, (op, ids) in enumerate(ops):
        sids = np.asarray(ids, dtype=np.int64)
        if op == "insert":
            rows = t.insert(sids)
            for i in ids:
                model.setdefault(i, (-1, -1, 0))
            for i, r in zip(ids, rows.tolist(), strict=True):
                if r < 0:  # dropped by the backstop: gone from the table
                    model.pop(i, None)
            held = rows >= 0
            assert len(set(rows[held].tolist())) == len(set(sids[held].tolist()))
            for i, r in zip(ids, rows.tolist(), strict=True):
                if r >= 0:
                    assert tuple(t.cols["v"][r]) + (int(t.cols["b"][r]),) == model[i]
            t.cols["v"][rows[held]] = np.stack([sids[held], sids[held] + n], axis=1)
            t.cols["b"][rows[held]] = n % 7
            for i, r in zip(ids, rows.tolist(), strict=True):
                if r >= 0:
                    model[i] = (i, i + n, n % 7)
        elif op == "pop":
            t.pop(sids)
            for i in ids:
                model.pop(i, None)
        live = sorted(model)
        got = t.get(np.asarray(live, np.int64))
        dropped = [i for i, r in zip(live, got.tolist(), strict=True) if r < 0]
        for i in dropped:  # dropped by the backstop after its insert
            model.pop(i)
        held = got[got >= 0]
        assert len(set(held.tolist())) == held.shape[0]  # no two live sessions share a row
        for i, r in zip(live, got.tolist(), strict=True):
            if r >= 0:
                assert tuple(t.cols["v"][r]) + (int(t.cols["b"][r]),) == model[i]
        assert len(t) == len(model)
        if max_size > 4 and op == "insert":
            assert all(i in model for i in ids)  # room for every id: none dropped


def test_growth_keeps_every_live_id_and_its_values() -> None:
    t = _table(1 << 13)
    ids = np.arange(0, 3000, 3, dtype=np.int64)
    rows = t.insert(ids)
    t.cols["v"][rows] = np.stack([ids, -ids], axis=1)
    t.insert(np.array([4999]))  # 4999 and 903 share a row of 4096: the table grows
    got = t.get(ids)
    assert (got >= 0).all() and t.size == 8192 and t.get(np.array([4999]))[0] >= 0
    assert np.array_equal(t.cols["v"][got], np.stack([ids, -ids], axis=1))
