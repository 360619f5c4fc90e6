"""Funnels: the incremental evaluator against path enumeration, and the engine on real batches."""

from __future__ import annotations

import os

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.analytics.config import AnalyticsConfigError, ExclusionConfig, FunnelConfig, StepConfig
from uxtop.analytics.funnels import FunnelEngine, evaluate_unit
from uxtop.ingest.reference import reference_ingest, result_to_batch


def brute_force(n: int, w: int, order: str, rows: list[tuple[int, int, int]]) -> tuple[int, bool]:
    """The definitions of funnels.py, literally: enumerate every path, check every condition."""
    m = len(rows)
    ts = [r[0] for r in rows]
    if order == "unordered":
        best = 0
        for e in range(m):
            for s in range(e + 1):
                if ts[e] - ts[s] <= w:
                    bits = 0
                    for r in rows[s : e + 1]:
                        bits |= r[1]
                    best = max(best, bin(bits).count("1"))
        return best, False
    clean, dirty = 0, 0

    def interrupted(path: list[int]) -> bool:
        k = len(path) - 1
        for x in range(m):
            xb = rows[x][2]
            if rows[x][1] or not xb or ts[x] - ts[path[0]] > w:
                continue
            for i in range(k + 1):
                if (xb >> i) & 1 and x > path[i] and (i == k or x < path[i + 1]):
                    return True
        return False

    def extend(path: list[int]) -> None:
        nonlocal clean, dirty
        if interrupted(path):
            dirty = max(dirty, len(path))
        else:
            clean = max(clean, len(path))
        i = len(path)
        if i == n:
            return
        for j in range(path[-1] + 1, m):
            if order == "strict" and any(
                not (rows[b][1] >> (i - 1)) & 1 for b in range(path[-1] + 1, j)
            ):
                break
            if (rows[j][1] >> i) & 1 and ts[j] - ts[path[0]] <= w:
                extend(path + [j])

    for j0 in range(m):
        if rows[j0][1] & 1:
            extend([j0])
    return clean, dirty > clean


@st.composite
def unit_rows(
    draw: st.DrawFn, with_exclusions: bool
) -> tuple[int, int, list[tuple[int, int, int]]]:
    n = draw(st.integers(2, 4))
    w = draw(st.sampled_from([0, 3, 7, 20, 1000]))
    m = draw(st.integers(0, 11))
    t = 0
    rows = []
    for _ in range(m):
        t += draw(st.sampled_from([0, 1, 2, 5]))
        what = draw(st.integers(0, 9))
        if what < 6:
            sb = (
                draw(st.integers(1, (1 << n) - 1)) if what < 2 else 1 << draw(st.integers(0, n - 1))
            )
            rows.append((t, sb, 0))
        elif what < 8 and with_exclusions:
            lo = draw(st.integers(0, n - 2))
            hi = draw(st.integers(lo + 1, n - 1))
            rows.append((t, 0, sum(1 << i for i in range(lo, hi))))
        else:
            rows.append((t, 0, 0))
    return n, w, rows


@pytest.mark.parametrize("order", ["ordered", "strict"])
@settings(max_examples=int(os.environ.get("UXTOP_HYPOTHESIS_EXAMPLES", 600)), deadline=None)
@given(case=unit_rows(with_exclusions=True))
def test_ordered_and_strict_equal_brute_force(order: str, case) -> None:
    n, w, rows = case
    assert evaluate_unit(n, w, order, rows) == brute_force(n, w, order, rows)


@settings(max_examples=400, deadline=None)
@given(case=unit_rows(with_exclusions=False))
def test_unordered_equals_brute_force(case) -> None:
    n, w, rows = case
    assert evaluate_unit(n, w, "unordered", rows) == brute_force(n, w, "unordered", rows)


def test_known_cases() -> None:
    A, B, C, X = (0, 1, 0), (0, 2, 0), (0, 4, 0), (0, 0, 1)  # X: exclusion between step 0 and 1

    def seq(*evs, gap=1):
        return [(i * gap, e[1], e[2]) for i, e in enumerate(evs)]

    assert evaluate_unit(3, 100, "ordered", seq(A, B, C)) == (3, False)
    assert evaluate_unit(3, 1, "ordered", seq(A, B, C)) == (2, False)  # window from step 0
    assert evaluate_unit(3, 100, "ordered", seq(A, X, B)) == (0, True)  # excluded user is removed
    assert evaluate_unit(3, 100, "ordered", seq(A, X, A, B)) == (
        2,
        False,
    )  # re-entry after exclusion
    assert evaluate_unit(3, 100, "ordered", seq(A, B, X)) == (2, False)  # exclusion after the pair
    other = (0, 0, 0)
    assert evaluate_unit(3, 100, "strict", seq(A, other, B)) == (1, False)
    assert evaluate_unit(3, 100, "strict", seq(A, B, B, C)) == (
        3,
        False,
    )  # PostHog keeps a repeated step
    assert evaluate_unit(3, 100, "unordered", seq(C, A, B)) == (3, False)


def _ndjson(events: list[dict]) -> bytes:
    return b"\n".join(msgspec.json.encode(e) for e in events) + b"\n"


def test_engine_on_batches_matches_evaluator() -> None:
    """The engine (matchers + batches split across calls) agrees with per-unit evaluation."""
    rng = np.random.default_rng(7)
    pages = ["/", "/product/1", "/cart", "/checkout", "/done"]
    events = []
    for s in range(300):
        t = 1_700_000_000_000 + s * 1000
        for k in range(rng.integers(1, 12)):
            t += int(rng.integers(1, 90_000))
            if rng.random() < 0.15:
                events.append(
                    {
                        "ts": t,
                        "sid": f"s{s}",
                        "type": "click",
                        "target": "a#coupon",
                        "url": "/cart",
                        "dev": ["mobile", "desktop"][s % 2],
                    }
                )
            else:
                events.append(
                    {
                        "ts": t,
                        "sid": f"s{s}",
                        "type": "pageview",
                        "url": pages[min(int(rng.integers(0, 5)), k)],
                        "dev": ["mobile", "desktop"][s % 2],
                    }
                )
    cfg = FunnelConfig(
        name="checkout",
        window_s=600,
        breakdown=["dev"],
        steps=[
            StepConfig(type="pageview", url="/product/*"),
            StepConfig(type="pageview", url="/cart"),
            StepConfig(type="pageview", url="/checkout"),
            StepConfig(type="pageview", url="/done"),
        ],
        exclusions=[ExclusionConfig(type="click", target="a#coupon", from_step=1, to_step=2)],
    )
    batch, tables = result_to_batch(reference_ingest(_ndjson(events)))
    eng = FunnelEngine(cfg)
    # feed in two halves of the session table to exercise incremental state
    half = batch.n_sessions // 2
    for lo, hi in ((0, half), (half, batch.n_sessions)):
        a, b = int(batch.offsets[lo]), int(batch.offsets[hi])
        cols = {k: v[a:b] for k, v in batch.columns.items()}
        cols["session"] = cols["session"] - lo
        sub = type(batch)(
            columns=cols,
            offsets=batch.offsets[lo : hi + 1] - a,
            sessions={k: v[lo:hi] for k, v in batch.sessions.items()},
            keys=batch.keys[lo:hi],
            uids=batch.uids[lo:hi],
        )
        eng.update(sub, tables)
    res = eng.result()
    # independent: per session, rows → evaluate_unit
    import fnmatch

    expect = np.zeros(5, np.int64)
    removed = 0
    by_sid: dict[str, list] = {}
    for e in sorted(events, key=lambda e: e["ts"]):
        by_sid.setdefault(e["sid"], []).append(e)
    for evs in by_sid.values():
        rows = []
        for e in evs:
            sb = 0
            if e["type"] == "pageview":
                for i, st_ in enumerate(cfg.steps):
                    if fnmatch.fnmatchcase(e["url"], st_.url):
                        sb |= 1 << i
            xb = 1 << 1 if (e["type"] == "click" and not sb) else 0
            rows.append((e["ts"], sb, xb))
        d, rem = evaluate_unit(4, 600_000, "ordered", rows)
        if rem:
            removed += 1
        else:
            expect[d] += 1
    assert [s.entered for s in res.steps] == [int(expect[i + 1 :].sum()) for i in range(4)]
    assert res.removed == removed
    assert res.steps[0].entered > 50 and 0 < res.steps[-1].entered < res.steps[0].entered
    assert {r.value for r in res.breakdown} == {"mobile", "desktop"}
    assert sum(r.entered[0] for r in res.breakdown) == res.steps[0].entered
    assert res.steps[1].median_time_to_convert_s is not None


def test_config_errors_name_the_key() -> None:
    from uxtop.analytics.config import load_analytics_config

    with pytest.raises(
        AnalyticsConfigError, match=r"analytics.funnels\[0\].steps\[1\].type: unknown event type"
    ):
        load_analytics_config(
            {
                "funnels": [
                    {"name": "f", "steps": [{"type": "pageview", "url": "/"}, {"type": "clik"}]}
                ]
            }
        )
    with pytest.raises(AnalyticsConfigError, match=r"analytics.funnels\[0\].exclusions"):
        load_analytics_config(
            {
                "funnels": [
                    {
                        "name": "f",
                        "order": "unordered",
                        "steps": [{"url": "/a"}, {"url": "/b"}],
                        "exclusions": [{"url": "/x"}],
                    }
                ]
            }
        )
    with pytest.raises(AnalyticsConfigError, match=r"analytics.funnels\[0\].order"):
        load_analytics_config(
            {
                "funnels": [
                    {"name": "f", "order": "sequential", "steps": [{"url": "/a"}, {"url": "/b"}]}
                ]
            }
        )
    with pytest.raises(AnalyticsConfigError, match=r"analytics.bucket_s"):
        load_analytics_config({"bucket_s": 7})


@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
@settings(max_examples=300, deadline=None)
@given(cases=st.lists(unit_rows(with_exclusions=True), min_size=1, max_size=4))
def test_numba_kernel_equals_python_twin(order: str, cases) -> None:
    """Several units interleaved in one kernel call == each unit alone in the Python twin."""
    from uxtop.analytics.funnel_kernel import NONE, FunnelState
    from uxtop.analytics.funnels import _UnitState

    n = cases[0][0]
    w = cases[0][1]
    state = FunnelState(n, cap=2)
    slots = [state.alloc() for _ in cases]
    rows = []
    for u, (_, _, rs) in enumerate(cases):
        for k, (ts, sb, xb) in enumerate(rs):
            rows.append(
                (
                    k,
                    u,
                    ts,
                    sb & ((1 << n) - 1),
                    0 if order == "unordered" else xb & ((1 << (n - 1)) - 1),
                )
            )
    rows.sort()  # interleave units
    arr = np.array([[slots[u], ts, sb, xb] for _, u, ts, sb, xb in rows], dtype=np.int64).reshape(
        -1, 4
    )
    a_slot, a_step, a_ts = state.feed(
        order, w, arr[:, 0], arr[:, 1], arr[:, 2].astype(np.uint32), arr[:, 3].astype(np.uint32)
    )
    for u in range(len(cases)):
        twin = _UnitState(n, w, order)
        for _, uu, ts, sb, xb in rows:
            if uu == u:
                twin.feed(ts, sb, xb)
        s = slots[u]
        depth = int(state.depth(np.array([s]), order)[0])
        assert (depth, bool(state.dx[s] > depth)) == twin.result()
        assert [None if r == NONE else int(r) for r in state.reach[s]] == twin.reach
        assert tuple(int(x) for x in state.best[s, : state.bestlen[s]]) == twin.best_path
        assert [list(state.S[s, i, : state.Sc[s, i]]) for i in range(n)] == (
            twin.S if order != "unordered" else [[]] * n
        )
        got = sorted(
            (int(st_), int(t)) for sl, st_, t in zip(a_slot, a_step, a_ts, strict=False) if sl == s
        )
        assert got == sorted((i, r) for i, r in enumerate(twin.reach) if r is not None)


def test_earliest_clean_start_keeps_a_prefix_whose_window_closed() -> None:
    """A@0 A@1 B@3 X@8 (window 7): the path from A@0 ends its window at 7, before X, so it is
    clean even though the latest start's path (from A@1) is interrupted."""
    rows = [(0, 1, 0), (1, 1, 0), (3, 2, 0), (8, 0, 3)]
    assert evaluate_unit(3, 7, "ordered", rows) == (2, False) == brute_force(3, 7, "ordered", rows)


def _split(batch, parts: int):  # noqa: ANN001, ANN202
    """``batch`` cut into ``parts`` batches by session, with no session closed (as when the
    batches that close them are shed under overload)."""
    bounds = np.linspace(0, batch.n_sessions, parts + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        a, b = int(batch.offsets[lo]), int(batch.offsets[hi])
        cols = {k: v[a:b] for k, v in batch.columns.items()}
        cols["session"] = cols["session"] - lo
        sessions = {k: v[lo:hi] for k, v in batch.sessions.items()}
        sessions["closed"] = np.zeros(hi - lo, np.bool_)
        yield type(batch)(
            columns=cols,
            offsets=batch.offsets[lo : hi + 1] - a,
            sessions=sessions,
            keys=batch.keys[lo:hi],
            uids=batch.uids[lo:hi],
        )


@pytest.mark.parametrize("unit", ["session", "user"])
def test_units_are_capped_oldest_first_without_changing_the_counts(unit: str) -> None:
    """Units never closed (users; sessions whose close was shed) are finished oldest first over
    ``max_units``: the state held stays under the cap, and the funnel counts are those of an
    uncapped engine when the finished units do not come back."""
    rng = np.random.default_rng(3)
    pages = ["/", "/product/1", "/cart", "/checkout"]
    events = []
    for s in range(400):
        t = 1_700_000_000_000 + s * 1000
        for k in range(int(rng.integers(1, 6))):
            t += int(rng.integers(1, 20_000))
            page = pages[min(int(rng.integers(0, 4)), k)]
            events.append(
                {"ts": t, "sid": f"s{s}", "uid": f"u{s}", "type": "pageview", "url": page}
            )
    cfg = FunnelConfig(
        name="checkout",
        unit=unit,
        window_s=600,
        steps=[StepConfig(type="pageview", url=u) for u in pages[1:]],
    )
    batch, tables = result_to_batch(reference_ingest(_ndjson(events)))
    capped, free = FunnelEngine(cfg, max_units=50), FunnelEngine(cfg)
    held = []
    for sub in _split(batch, 20):
        capped.update(sub, tables)
        free.update(sub, tables)
        held.append((len(capped._units), len(capped._user_ids)))
    # uncapped, nothing ever leaves: every session that reached some step holds a unit
    assert len(free._units) == len({e["sid"] for e in events if e["url"] != "/"})
    assert max(u for u, _ in held) <= 50 and max(k for _, k in held) <= 50, held
    a, b = capped.result(), free.result()
    assert [s.entered for s in a.steps] == [s.entered for s in b.steps]
    assert a.steps[0].entered > 100


def test_time_to_convert_counts_live_and_closed_units() -> None:
    """Each session walks /a → /b → /c once, so its path is known: the medians of the result
    are those of the step-to-step times over every unit, whether its session closed (folded
    into the reservoirs) or is still open (read from its live path at result time)."""
    rng = np.random.default_rng(5)
    events, gaps_ab, gaps_bc, totals = [], [], [], []
    for s in range(120):
        t = 1_700_000_000_000 + s * 1000
        ab, bc = int(rng.integers(1, 300)) * 1000, int(rng.integers(1, 300)) * 1000
        reach_c = s % 3 != 0
        events.append({"ts": t, "sid": f"s{s}", "type": "pageview", "url": "/a"})
        events.append({"ts": t + ab, "sid": f"s{s}", "type": "pageview", "url": "/b"})
        gaps_ab.append(ab / 1000)
        if reach_c:
            events.append({"ts": t + ab + bc, "sid": f"s{s}", "type": "pageview", "url": "/c"})
            gaps_bc.append(bc / 1000)
            totals.append((ab + bc) / 1000)
    cfg = FunnelConfig(
        name="abc",
        window_s=3600,
        steps=[StepConfig(type="pageview", url=u) for u in ("/a", "/b", "/c")],
    )
    batch, tables = result_to_batch(reference_ingest(_ndjson(events)))
    eng = FunnelEngine(cfg)
    # first half closed (their times go to the reservoirs), second half left open (live)
    half = batch.n_sessions // 2
    closed = batch.sessions["closed"].copy()
    closed[half:] = False
    batch.sessions["closed"] = closed
    eng.update(batch, tables)
    assert 0 < len(eng._units) < batch.n_sessions  # both kinds of unit are present
    res = eng.result()
    assert res.steps[1].median_time_to_convert_s == pytest.approx(np.median(gaps_ab))
    assert res.steps[2].median_time_to_convert_s == pytest.approx(np.median(gaps_bc))
    assert res.median_time_to_convert_s == pytest.approx(np.median(totals))
    assert res.steps[0].median_time_to_convert_s is None
