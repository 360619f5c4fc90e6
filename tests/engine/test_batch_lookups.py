"""EventBatch's lookups against plain references: keys_of / uids_of and key(i) / uid(i)
against the lists the keys were packed from (packed and listed), rows_with_ids against np.isin."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.batch import EventBatch

texts_st = st.lists(st.text(max_size=6), max_size=12)


def _packed(texts: list[str]) -> tuple[bytes, np.ndarray]:
    raw = [t.encode() for t in texts]
    return b"".join(raw), np.cumsum([0] + [len(r) for r in raw]).astype(np.int64)


@settings(max_examples=150, deadline=None)
@given(keys=texts_st, uids=texts_st, picks=st.lists(st.integers(0, 15), max_size=20))
def test_key_lookups_equal_the_packed_lists(
    keys: list[str], uids: list[str], picks: list[int]
) -> None:
    n = len(keys)
    uids = (uids + [""] * n)[:n]  # a uid per session row; "" is "none"
    kb, ko = _packed(keys)
    ub, uo = _packed(uids)
    cols: dict[str, np.ndarray] = {"ts": np.zeros(0, np.int64)}
    offsets = np.zeros(n + 1, np.int64)
    packed = EventBatch(cols, offsets, {}, packed_keys=(kb, ko, ub, uo))
    listed = EventBatch(cols, offsets, {}, keys=keys, uids=[u or None for u in uids])
    rows = np.asarray(picks, dtype=np.intp)  # some past the last row: "" / None
    want_keys = [keys[i] if i < n else "" for i in picks]
    want_uids = [(uids[i] or None) if i < n else None for i in picks]
    for b in (packed, listed):
        assert b.keys_of(rows) == want_keys and b.uids_of(rows) == want_uids
        assert [b.key(i) for i in picks] == want_keys and [b.uid(i) for i in picks] == want_uids
        assert b.keys == keys  # the whole table decoded at once agrees


@settings(max_examples=200, deadline=None)
@given(
    sids=st.lists(st.integers(0, 60), unique=True, max_size=40),
    ids=st.lists(st.integers(0, 70), max_size=30),
)
def test_rows_with_ids_equal_isin(sids: list[int], ids: list[int]) -> None:
    n = len(sids)
    batch = EventBatch(
        {"ts": np.zeros(0, np.int64)},
        np.zeros(n + 1, np.int64),
        {"session_id": np.asarray(sids, np.uint64)},
        keys=[""] * n,
    )
    want = np.unique(np.asarray(ids, np.uint64))
    for _ in range(2):  # the second call uses the kept index
        got = batch.rows_with_ids(want)
        assert got.tolist() == np.flatnonzero(np.isin(batch.sessions["session_id"], want)).tolist()
