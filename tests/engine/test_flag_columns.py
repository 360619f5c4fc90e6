"""Flags from a detector, as the engine keeps them: columns with coded strings, rows on demand."""

from __future__ import annotations

import numpy as np

from uxtop.batch import NONE_ID
from uxtop.engine.flag_store import MIN_ROWS, FlagStore
from uxtop.engine.flag_tally import StringCodes
from uxtop.engine.flags import FlagAdapter, flag_columns, rows_of_columns
from uxtop.snapshot import FlagRow


class Tables:
    """The intern tables a FlagBatch's ids point into."""

    def __init__(self, **tables: list[str]) -> None:
        self.tables = tables

    def table(self, name: str) -> list[str]:
        return self.tables.get(name, [])

    def get(self, name: str, ident: int) -> str | None:
        t = self.tables.get(name, [])
        return t[ident] if 0 <= ident < len(t) else None


def test_id_columns_resolve_to_the_rows_the_detector_meant() -> None:
    fb = {
        "kind": np.array([0, 1], np.uint8),
        "session_id": np.array([7, 9], np.uint64),
        "start_ts": np.array([100, 200]),
        "end_ts": np.array([150, 260]),
        "url": np.array([1, 0], np.int32),
        "target": np.array([0, NONE_ID], np.int32),
        "count": np.array([3, 1], np.int32),
        "severity": np.array([1.5, 2.0], np.float32),
        "rule": np.array([0, 0], np.uint8),
        "row_start": np.array([10, 20]),
        "row_end": np.array([12, 20]),
    }
    codes = StringCodes()
    tables = Tables(url=["/a", "/checkout"], target=["button#pay"])
    cols = flag_columns(fb, tables, FlagAdapter(), codes)  # type: ignore[arg-type]
    assert cols is not None
    rows = rows_of_columns(cols, np.arange(2), codes.names)
    assert [(r.kind, r.session_id, r.url, r.target, r.count, r.evidence) for r in rows] == [
        ("rage_click", 7, "/checkout", "button#pay", 3, (10, 12)),
        ("dead_click", 9, "/a", "", 1, (20,)),
    ]
    assert rows[0].severity == 1.5 and rows[1].end_ts == 260 and rows[0].rule


def test_a_detector_that_names_its_strings_and_lists_its_evidence() -> None:
    # the other encoding the adapter accepts: strings instead of ids, a row list per flag
    fb = {
        "kind": ["u_turn", "page_loop"],
        "session_id": [1, 1],
        "start_ts": [5, 6],
        "url": ["/x", "/y"],
        "target": ["", "a.more"],
        "rule": ["back within 5 s", "3 visits"],
        "evidence": [[4, 5, 9], []],
    }
    codes = StringCodes()
    cols = flag_columns(fb, Tables(), FlagAdapter(), codes)  # type: ignore[arg-type]
    assert cols is not None
    rows = rows_of_columns(cols, np.arange(2), codes.names)
    assert rows == [
        FlagRow("u_turn", 1, 5, 5, "/x", "", 1, 1.0, "back within 5 s", (4, 9)),
        FlagRow("page_loop", 1, 6, 6, "/y", "a.more", 1, 1.0, "3 visits", ()),
    ]
    assert flag_columns({"kind": []}, Tables(), FlagAdapter(), codes) is None  # type: ignore[arg-type]


def test_the_store_gives_back_a_sessions_newest_flags_and_forgets_evicted_ones() -> None:
    codes = StringCodes()
    store = FlagStore(per_session=3)
    for batch in range(1000):  # 24 000 rows: more than the columns start with
        sid = np.array([1, 2] + [100 + batch] * 22, np.uint64)
        fb = {
            "kind": np.zeros(sid.size, np.uint8),
            "session_id": sid,
            "start_ts": np.arange(sid.size) + 1000 * batch,
        }
        cols = flag_columns(fb, Tables(), FlagAdapter(), codes)  # type: ignore[arg-type]
        assert cols is not None
        store.append(cols)
        if batch % 5 == 4:  # the short-lived sessions are evicted now and then
            store.drop(np.arange(100 + batch - 4, 100 + batch + 1, dtype=np.uint64))
    got = store.rows_of(1, codes.names)
    assert [f.start_ts for f in got] == [1000 * b for b in (997, 998, 999)]
    assert store.rows_of(150, codes.names) == []  # evicted
    store._compact()
    # what is left: the three newest of sessions 1 and 2, nothing of the evicted ones; the
    # columns were compacted when they filled (and once more here) instead of growing: little
    # of them was live
    assert store.live == 6 and store.n == 6
    assert store.compactions >= 2 and store.capacity == MIN_ROWS


def test_score_arrays_take_the_first_source_a_detector_publishes() -> None:
    from types import SimpleNamespace

    from uxtop.detect.score import SessionScores

    arrays = SessionScores(np.array([5, 3], np.uint64), np.array([1.5, 2.0]), np.zeros((2, 1)))
    adapter = FlagAdapter()
    # the batch's own scores come first, whether a dict or arrays
    fb = SimpleNamespace(scores={7: 4.25})
    ids, scores = adapter.score_arrays(fb, SimpleNamespace(scores=arrays))
    assert ids.tolist() == [7] and scores.tolist() == [4.25]
    ids, scores = adapter.score_arrays(SimpleNamespace(scores=None), SimpleNamespace(scores=arrays))
    assert ids.tolist() == [5, 3] and scores.tolist() == [1.5, 2.0]
    assert ids.dtype == np.uint64 and scores.dtype == np.float64
    ids, scores = adapter.score_arrays(None, None)
    assert ids.size == 0 and scores.size == 0
