"""KeptSessions (the kept flagged sessions as columns) against a plain-Python model of them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from uxtop.batch import NONE_ID
from uxtop.engine.kept_sessions import KeptSessions

NAMES = [f"s{i}" for i in range(40)]  # string codes -> text (kinds, pages, elements share it)


def _batch(rng: np.random.Generator, n: int, n_sessions: int) -> dict[str, np.ndarray]:
    """Flags of one batch: session, kind code, severity, start/end, page, element."""
    start = np.sort(rng.integers(0, 1000, n))
    return {
        "sid": rng.integers(1, n_sessions + 1, n).astype(np.uint64),
        "kind": rng.integers(0, 6, n),  # codes 0..5
        "sev": rng.integers(1, 4, n).astype(np.float64),
        "start": start,
        "end": start + rng.integers(0, 50, n),
        "url": rng.integers(10, 20, n),
        "target": rng.integers(20, 30, n),
    }


def _add(kept: KeptSessions, b: dict[str, np.ndarray]) -> np.ndarray:
    """What the engine's _apply_flags hands over: sums per session (in order of first flag)
    and (session, kind) counts (each session's in order of first appearance)."""
    sid = b["sid"]
    firsts: dict[int, int] = {}
    for i, s in enumerate(sid.tolist()):
        firsts.setdefault(s, i)
    order = sorted(firsts, key=firsts.__getitem__)
    at = {s: j for j, s in enumerate(order)}
    per = {s: np.flatnonzero(sid == s) for s in order}
    pairs: list[tuple[int, int, int]] = []
    for s in order:
        c = Counter(b["kind"][per[s]].tolist())  # insertion order = first appearance
        pairs += [(at[s], k, n) for k, n in c.items()]
    return kept.add_flags(
        np.array(order, np.uint64),
        np.array([per[s].size for s in order], np.int64),
        np.array([b["sev"][per[s]].sum() for s in order]),
        np.array([b["end"][per[s]].max() for s in order], np.int64),
        np.array([b["start"][per[s][0]] for s in order], np.int64),
        np.array([b["url"][per[s][-1]] for s in order], np.int64),
        np.array([b["target"][per[s][-1]] for s in order], np.int64),
        np.array([p[0] for p in pairs], np.int64),
        np.array([p[1] for p in pairs], np.int64),
        np.array([p[2] for p in pairs], np.int64),
    )


@pytest.mark.parametrize("seed", range(6))
def test_flags_drops_and_rows_match_a_plain_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kept = KeptSessions(cap=4)  # small: growth and slot reuse both happen
    model: dict[int, dict] = {}
    seq = 0
    for _ in range(12):
        b = _batch(rng, int(rng.integers(1, 40)), 25)
        new = _add(kept, b)
        for i, s in enumerate(b["sid"].tolist()):
            m = model.get(s)
            if m is None:
                seq += 1
                m = model[s] = {"seq": seq, "kinds": Counter(), "n": 0, "score": 0.0,
                                "last": 0, "first_ts": int(b["start"][i])}  # fmt: skip
            m["kinds"][int(b["kind"][i])] += 1
            m["n"] += 1
            m["score"] += float(b["sev"][i])
            m["last"] = max(m["last"], int(b["end"][i]))
            m["url"], m["target"] = int(b["url"][i]), int(b["target"][i])
        assert set(new.tolist()) <= set(model)
        # evict a few at random, as the engine's eviction would
        gone = rng.choice(sorted(model), size=min(3, len(model)), replace=False).tolist()
        kept.drop(kept.slots_of(np.array(gone, np.uint64)))
        for s in gone:
            del model[s]
        assert len(kept) == len(model)
        assert kept.ids().tolist() == sorted(model)
    rows = {}
    for slot in kept.newest_first().tolist():
        r = kept.session_rows([slot], NAMES, lambda table, i: "")[0]
        rows[r.session_id] = r
    assert [r.session_id for r in rows.values()] == sorted(
        model, key=lambda s: model[s]["seq"], reverse=True
    )
    for s, m in model.items():
        r = rows[s]
        assert r.kinds == tuple(NAMES[k] for k, _ in m["kinds"].most_common())
        assert (r.n_flags, r.last_flag_ts, r.start_ts) == (m["n"], m["last"], m["first_ts"])
        assert r.score == round(m["score"], 2)
        assert (r.url, r.target) == (NAMES[m["url"]], NAMES[m["target"]])


def test_scores_fields_and_cached_rows() -> None:
    kept = KeptSessions()
    b = {
        "sid": np.array([7, 9, 7], np.uint64),
        "kind": np.array([1, 2, 2]),
        "sev": np.array([1.0, 2.0, 3.0]),
        "start": np.array([100, 200, 300]),
        "end": np.array([110, 210, 310]),
        "url": np.array([10, 11, 12]),
        "target": np.array([20, 21, 22]),
    }
    assert _add(kept, b).tolist() == [7, 9]
    assert _add(kept, b).size == 0  # known now
    slot7, slot9 = kept.slots_of(np.array([7, 9], np.uint64)).tolist()
    assert kept.slot_of(8) == -1
    text = {("dev", 3): "mobile", ("dev", 4): "desktop", ("rel", 5): "2.0", ("geo", 6): "DE"}

    def row(slot: int):  # type: ignore[no-untyped-def]
        return kept.session_rows([slot], NAMES, lambda t, i: text.get((t, i), ""))[0]

    first = row(slot7)
    assert row(slot7) is first  # cached while nothing changes
    # the detector's score replaces the summed severities; unknown sessions are ignored
    kept.set_scores(np.array([7, 8], np.uint64), np.array([42.5, 1.0]))
    assert row(slot7).score == 42.5 and row(slot9).score == 4.0
    # fields from a batch; the cohort from the first batch that names a device
    none = np.array([NONE_ID, NONE_ID])
    kept.read_fields(
        np.array([slot7, slot9]), np.array([50, 60]), np.array([5, 6]),
        np.array([False, True]), np.array([NONE_ID, 3]), none, none,
    )  # fmt: skip
    kept.read_fields(
        np.array([slot7, slot9]), np.array([50, 60]), np.array([8, 9]),
        np.array([True, True]), np.array([4, 4]), np.array([5, 5]), np.array([6, 6]),
    )  # fmt: skip
    r7, r9 = row(slot7), row(slot9)
    assert (r7.dev, r7.rel, r7.geo, r7.n_events, r7.closed) == ("desktop", "2.0", "DE", 8, True)
    assert (r9.dev, r9.rel, r9.geo, r9.start_ts) == ("mobile", "", "", 60)
    # rows copied out count as events when the batches said fewer
    kept.add_kept_rows(np.array([slot7]), np.array([20]))
    assert row(slot7).n_events == 20
    # a dropped slot comes back blank for the next session
    kept.drop(np.array([slot9]))
    _add(kept, {**b, "sid": np.array([11, 11, 11], np.uint64)})
    r11 = row(kept.slot_of(11))
    assert r11.n_flags == 3 and r11.dev == "" and r11.seq == 3 and not r11.closed
