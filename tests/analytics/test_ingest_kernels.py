"""Ingest-path kernels of the analytics layer against plain numpy / plain-Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uxtop.analytics.config import StepConfig
from uxtop.analytics.funnel_kernel import _select_rows_kernel
from uxtop.analytics.matchers import MatchBits, StepMatcher, step_bits

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
    shuffled=st.booleans(),
)
def test_select_rows_kernel_equals_reference(
    data: list[tuple[int, int]], cuts: list[int], strict: bool, pairs: list[int], shuffled: bool
) -> None:
    sb = np.array([d[0] for d in data], dtype=np.uint32)
    eb = np.array([d[1] for d in data], dtype=np.uint32)
    n = sb.shape[0]
    # session starts (empty sessions repeat an offset), ending at n
    offsets = np.array(sorted([0] + [min(c, n) for c in cuts]) + [n], dtype=np.int64)
    session = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets)).astype(np.int32)
    if shuffled:
        session = session[::-1].copy()  # session rows out of order
    rows, out_sb, out_xb, srow, uniq, inv = (np.empty(n, np.int64) for _ in range(6))
    k, nu, grouped = _select_rows_kernel(
        sb, eb, np.asarray(pairs, np.int64), strict, offsets, session,
        rows, out_sb, out_xb, srow, uniq, inv,
    )  # fmt: skip
    r_rows, r_sb, r_xb = _select_rows_reference(sb, eb, pairs, strict, offsets)
    assert np.array_equal(rows[:k], r_rows)
    assert np.array_equal(out_sb[:k], r_sb)
    assert np.array_equal(out_xb[:k], r_xb)
    r_srow = session[r_rows].astype(np.int64)
    assert np.array_equal(srow[:k], r_srow)
    assert grouped == bool((r_srow[1:] >= r_srow[:-1]).all())
    if grouped and k:
        # runs of equal session rows: the grouping the funnel engine takes without a sort
        u, i = np.unique(r_srow, return_inverse=True)
        assert np.array_equal(uniq[:nu], u) and np.array_equal(inv[:k], i)


def test_latency_bin_equals_bucket_of() -> None:
    from uxtop.analytics.hist import N_BUCKETS, bucket_of
    from uxtop.analytics.series import _latency_bin

    rng = np.random.default_rng(0)
    special = [np.nan, np.inf, -np.inf, 0.0, -1.0, 0.25, 0.2499, 1.0, 2.0, 4.0, 1e-30, 1e30]
    edges = 0.25 * 2.0 ** (np.arange(-8, 170) / 8.0)
    d = np.concatenate(
        [special, edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)]
        + [rng.lognormal(3, 3, 2000)]
    ).astype(np.float32)
    ref = bucket_of(d)
    got = np.array([_latency_bin(np.float64(x), N_BUCKETS) for x in d])
    assert np.array_equal(got, ref)


def _fold_batch_reference(
    b, kind, srow, route, status, value, msg, sids, scols, buckets, route_lut, R, C
):  # type: ignore[no-untyped-def]
    """Plain Python: per bucket the counts, the session rows with a user event, the requests."""
    from uxtop.analytics.hist import N_BUCKETS, bucket_of
    from uxtop.analytics.series import _LATE

    nb = len(buckets)
    cnt = np.zeros((nb, R, C), np.int64)
    err = np.zeros((nb, R, C), np.int64)
    hist = np.zeros((nb, R, C, N_BUCKETS), np.int32)
    users: list[set[int]] = [set() for _ in range(nb)]
    reqs: list[list[tuple]] = [[] for _ in range(nb)]
    ret = []
    dropped = 0
    for j in range(len(b)):
        if b[j] == _LATE:
            continue
        g = list(buckets).index(b[j])
        s = int(srow[j])
        if kind[j] != 14:
            users[g].add(s)
            continue
        if route[j] < 0:
            continue
        r = int(route_lut[route[j]])
        if r < 0:
            dropped += 1
            continue
        e = bool(status[j] >= 500)
        h = int(bucket_of(np.array([value[j]]))[0])
        for c in scols[s]:
            if c >= 0:
                cnt[g, r, c] += 1
                err[g, r, c] += e
                hist[g, r, c, h] += 1
        score = (1e12 if e else 0.0) + float(np.nan_to_num(value[j : j + 1], nan=0.0)[0])
        reqs[g].append((r, int(sids[s]), score, e, int(msg[j])))
        ret.append((s, r))
    return cnt, err, hist, users, reqs, ret, dropped


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), late=st.booleans())
def test_fold_batch_kernel_equals_reference(seed: int, n: int, late: bool) -> None:
    from uxtop.analytics.hist import N_BUCKETS
    from uxtop.analytics.series import _LATE, NO_BUCKET, _buckets_kernel, _fold_batch_kernel

    rng = np.random.default_rng(seed)
    R, C, ns = 3, 5, 6
    ts = np.sort(rng.integers(0, 60_000, n)).astype(np.int64)
    b = np.empty(n, np.int64)
    _buckets_kernel(ts, 10_000, 20_000 if late else -(2**62), b)
    if (b == _LATE).all():
        return
    buckets = np.unique(b[b != _LATE])
    kind = rng.choice([0, 1, 14], n).astype(np.uint8)
    srow = np.sort(rng.integers(0, ns, n)).astype(np.int32)
    route = rng.integers(-1, 4, n).astype(np.int32)
    status = rng.choice([200, 404, 500, 503], n).astype(np.int16)
    value = rng.choice([np.nan, np.inf, 0.0, 3.5, 120.0, 7.25], n).astype(np.float32)
    msg = rng.integers(-1, 3, n).astype(np.int32)
    sids = rng.permutation(1000)[:ns].astype(np.int64)
    scols = rng.integers(-1, C, (ns, 3)).astype(np.int64)
    scols[:, 0] = 0
    route_lut = np.array([0, 2, -1, 1], np.int64)  # intern id 2: over max_routes
    K = len(buckets) + 2
    bslot = rng.permutation(K)[: len(buckets)].astype(np.int64)
    cnt = np.zeros((K, R, C), np.int64)
    err = np.zeros((K, R, C), np.int64)
    hist = np.zeros((K, R, C, N_BUCKETS), np.int32)
    nb = len(buckets)
    ro = np.empty(nb + 1, np.int64)
    rr, rs = (np.empty(n, np.int64) for _ in range(2))
    # active sessions: each session row at a table row of its own. An earlier batch counted
    # some in an earlier bucket, or in the first one they have a user event in here (never in
    # a later one: a session's events come in time order)
    table_row = rng.permutation(ns + 3)[:ns].astype(np.int64)
    last0 = np.full(ns + 3, NO_BUCKET, np.int64)
    for u in range(ns):
        mine = b[(srow == u) & (kind != 14) & (b != _LATE)]
        if mine.size:
            last0[table_row[u]] = rng.choice([NO_BUCKET, mine.min(), mine.min() - 1])
    last = last0.copy()
    # routes called per bucket: likewise, an earlier batch saw some routes of a session in the
    # first bucket it calls a route in here (bits of those routes set), or in an earlier one
    rbucket0 = np.full(ns + 3, NO_BUCKET, np.int64)
    rseen0 = np.zeros((ns + 3, 1), np.uint64)
    for u in range(ns):
        mine = b[(srow == u) & (kind == 14) & (b != _LATE)]
        if mine.size:
            rbucket0[table_row[u]] = rng.choice([NO_BUCKET, mine.min(), mine.min() - 1])
            rseen0[table_row[u], 0] = rng.integers(0, 8)  # local routes 0-2
    rbucket, rseen = rbucket0.copy(), rseen0.copy()
    route_sessions = np.zeros((K, R), np.int64)
    active = np.zeros((K, C), np.int64)
    err_msgs = np.empty(nb, np.int64)
    sc, ee, mm = np.empty(n, np.float64), np.empty(n, np.bool_), np.empty(n, np.int64)
    ret_s, ret_r = np.empty(n, np.int64), np.empty(n, np.int64)
    big = float(np.finfo(np.float32).max)
    gi = np.where(b == _LATE, -1, np.searchsorted(buckets, b))
    n_ret, dropped = _fold_batch_kernel(
        gi, kind, srow, route, status, value, msg, 14, big, sids, scols, bslot,
        route_lut, cnt, err, hist, buckets, table_row, last, active, rbucket, rseen,
        route_sessions, ro, rr, rs, sc, ee, mm,
        err_msgs,
        ret_s, ret_r,
    )  # fmt: skip
    r_cnt, r_err, r_hist, users, reqs, ret, r_dropped = _fold_batch_reference(
        b, kind, srow, route, status, value, msg, sids, scols, buckets, route_lut, R, C
    )
    assert dropped == r_dropped
    assert list(zip(ret_s[:n_ret].tolist(), ret_r[:n_ret].tolist(), strict=True)) == ret
    for g in range(nb):
        k = bslot[g]
        assert np.array_equal(cnt[k], r_cnt[g])
        assert np.array_equal(err[k], r_err[g])
        assert np.array_equal(hist[k], r_hist[g])
        # a session with a user event here counts once at each of its columns, unless an
        # earlier batch counted it in this bucket
        counted = [u for u in users[g] if last0[table_row[u]] != buckets[g]]
        want = np.zeros(C, np.int64)
        for u in counted:
            for c in scols[u]:
                if c >= 0:
                    want[c] += 1
        assert np.array_equal(active[k], want)
        # distinct (route, session) pairs, but for those an earlier batch saw in this bucket
        row_of = {int(x): i for i, x in enumerate(sids.tolist())}
        pairs = {(q[0], row_of[q[1]]) for q in reqs[g]}
        want_rs = np.zeros(R, np.int64)
        for r, u in pairs:
            t = table_row[u]
            if not (rbucket0[t] == buckets[g] and (int(rseen0[t, 0]) >> r) & 1):
                want_rs[r] += 1
        assert np.array_equal(route_sessions[k], want_rs)
        assert err_msgs[g] == sum(1 for q in reqs[g] if q[3] and q[4] >= 0)
        got = list(
            zip(
                rr[ro[g] : ro[g + 1]].tolist(),
                rs[ro[g] : ro[g + 1]].tolist(),
                sc[ro[g] : ro[g + 1]].tolist(),
                ee[ro[g] : ro[g + 1]].tolist(),
                mm[ro[g] : ro[g + 1]].tolist(),
                strict=True,
            )
        )
        assert got == reqs[g]
    unused = np.setdiff1d(np.arange(K), bslot)
    assert not cnt[unused].any() and not hist[unused].any() and not active[unused].any()
    # each session's last bucket is the latest it had a user event in (else unchanged)
    for u in range(ns):
        seen = [int(buckets[g]) for g in range(nb) if u in users[g]]
        assert last[table_row[u]] == (max(seen) if seen else last0[table_row[u]])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_fold_flags_kernel_equals_add_at(seed: int, n: int) -> None:
    from uxtop.analytics.series import _LATE, _fold_flags_kernel

    rng = np.random.default_rng(seed)
    R, F, C = 70, 4, 6
    buckets = np.array([3, 5, 9], np.int64)
    b = rng.choice([3, 5, 9, _LATE], n).astype(np.int64)
    kind = rng.integers(0, F, n).astype(np.int64)
    cols = rng.integers(-1, C, (n, 4)).astype(np.int64)
    routes = rng.random((n, R)) < 0.1
    bits = np.packbits(routes, axis=1, bitorder="little")
    bits = np.pad(bits, ((0, 0), (0, 16 - bits.shape[1]))).view(np.uint64)
    bslot = np.array([2, 0, 1], np.int64)
    flags = np.zeros((3, F, C), np.int64)
    flags_route = np.zeros((3, R, F), np.int64)
    gi = np.where(b == _LATE, -1, np.searchsorted(buckets, b))
    _fold_flags_kernel(gi, kind, cols, bits, bslot, flags, flags_route)
    for g, bk in enumerate(buckets.tolist()):
        sel = np.flatnonzero(b == bk)
        ref = np.zeros((F, C), np.int64)
        ref_r = np.zeros((R, F), np.int64)
        for i in sel.tolist():
            ref[kind[i], 0] += 1
            for c in cols[i, 1:]:
                if c >= 0:
                    ref[kind[i], c] += 1
            for r in np.flatnonzero(routes[i]).tolist():
                ref_r[r, kind[i]] += 1
        assert np.array_equal(flags[bslot[g]], ref)
        assert np.array_equal(flags_route[bslot[g]], ref_r)


def _journey_reference(kind, route, url, sess, ts, a_sess, a_ts, a_step, horizon):  # type: ignore[no-untyped-def]
    """The numpy code the kernel replaced (JourneyMap.update before the kernel)."""
    req = np.flatnonzero((kind == 14) & (route >= 0))
    r_route = route[req].astype(np.int64)
    r_url = url[req].astype(np.int64)
    has = r_url >= 0
    pages = sorted(zip(r_url[has].tolist(), r_route[has].tolist(), strict=True))
    if a_ts.size == 0 or req.size == 0:
        return req.size, pages, []
    span = np.int64(1) << np.int64(44)
    base = int(min(a_ts.min(), ts[req].min()))
    a_key = a_sess * span + (a_ts - base)
    order = np.argsort(a_key, kind="stable")
    a_key, a_step, a_ts = a_key[order], a_step[order], a_ts[order]
    r_sess = sess[req].astype(np.int64)
    r_ts = ts[req]
    pos = np.searchsorted(a_key, r_sess * span + (r_ts - base), side="right") - 1
    ok = pos >= 0
    pos_c = np.where(ok, pos, 0)
    ok &= (a_key[pos_c] // span) == r_sess
    ok &= (r_ts - a_ts[pos_c]) <= horizon
    pairs = sorted(zip(a_step[pos_c[ok]].tolist(), r_route[ok].tolist(), strict=True))
    return req.size, pages, pairs


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 80),
    m=st.integers(0, 30),
    shuffled=st.booleans(),
)
def test_journey_kernel_equals_reference(seed: int, n: int, m: int, shuffled: bool) -> None:
    from uxtop.analytics.journey import _journey_kernel, _sorted_by_session_ts

    rng = np.random.default_rng(seed)
    sess = np.sort(rng.integers(0, 5, n)).astype(np.int32)
    ts = rng.integers(0, 200, n).astype(np.int64)
    if not shuffled:
        o = np.lexsort((ts, sess))
        sess, ts = sess[o], ts[o]
    kind = rng.choice([0, 14], n).astype(np.uint8)
    route = rng.integers(-1, 3, n).astype(np.int32)
    url = rng.integers(-1, 3, n).astype(np.int32)
    a_sess = rng.integers(0, 5, m).astype(np.int64)
    a_ts = rng.integers(0, 200, m).astype(np.int64)
    a_step = rng.integers(0, 4, m).astype(np.int64)
    ref = _journey_reference(kind, route, url, sess, ts, a_sess, a_ts, a_step, 50)
    o = np.lexsort((a_ts, a_sess))  # stable: ties keep arrival order
    a_sess, a_ts, a_step = a_sess[o], a_ts[o], a_step[o]
    assert _sorted_by_session_ts(a_sess, a_ts)
    out = [np.empty(n, np.int64) for _ in range(4)]
    n_req, n_page, n_pair = _journey_kernel(
        kind, route, url, sess, ts, 14, a_sess, a_ts, a_step, 50, *out
    )
    pages = sorted(zip(out[0][:n_page].tolist(), out[1][:n_page].tolist(), strict=True))
    pairs = sorted(zip(out[2][:n_pair].tolist(), out[3][:n_pair].tolist(), strict=True))
    assert (n_req, pages, pairs) == ref


@settings(max_examples=200, deadline=None)
@given(
    ts=st.lists(
        st.integers(-(2**62), 2**62) | st.integers(-(10**13), 10**13) | st.integers(-5, 5),
        max_size=50,
    ),
    bucket_s=st.sampled_from([1, 10, 60, 3600]),
    closed_until=st.integers(-(10**13), 10**13),
)
def test_buckets_kernel_equals_floor_division(
    ts: list[int], bucket_s: int, closed_until: int
) -> None:
    from uxtop.analytics.series import _LATE, _buckets_kernel

    B = bucket_s * 1000
    closed_until = closed_until // B * B
    t = np.asarray(ts, dtype=np.int64)
    b = np.empty(t.shape[0], np.int64)
    late, lo, hi = _buckets_kernel(t, B, closed_until, b)
    ref = t // B
    is_late = ref * B < closed_until
    assert late == int(is_late.sum())
    assert np.array_equal(b, np.where(is_late, _LATE, ref))
    if (~is_late).any():
        assert (lo, hi) == (int(ref[~is_late].min()), int(ref[~is_late].max()))


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(0, 7), st.integers(0, 3)),
        max_size=60,
    ),
    order=st.sampled_from(["ordered", "strict", "unordered"]),
)
def test_feed_rows_names_the_row_of_each_arrival(
    rows: list[tuple[int, int, int, int]], order: str
) -> None:
    from uxtop.analytics.funnel_kernel import FunnelState

    state = FunnelState(3, cap=2)
    slots = state.alloc_many(4)
    rows.sort(key=lambda r: r[1])
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    sl, ts = slots[arr[:, 0]], arr[:, 1]
    sb, xb = arr[:, 2].astype(np.uint32), arr[:, 3].astype(np.uint32)
    ref = FunnelState(3, cap=2)
    ref.alloc_many(4)
    r_slot, r_step, r_ts = ref.feed(order, 20, sl, ts, sb, xb)
    a_slot, a_step, a_ts, a_row = state.feed_rows(order, 20, sl, ts, sb, xb)
    assert np.array_equal(a_slot, r_slot) and np.array_equal(a_step, r_step)
    assert np.array_equal(a_ts, r_ts)
    # each arrival's row is the fed row of its unit and time, the first such row that reached it
    assert np.array_equal(sl[a_row], a_slot) and np.array_equal(ts[a_row], a_ts)
    assert (np.diff(a_row) >= 0).all()


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 199)), max_size=80))
def test_or_route_bits_equals_python_sets(pairs: list[tuple[int, int]]) -> None:
    from uxtop.analytics.live import _or_route_bits

    bits = np.zeros((6, 4), np.uint64)
    rows = np.array([p[0] for p in pairs], np.int64)
    routes = np.array([p[1] for p in pairs], np.int64)
    _or_route_bits(bits, rows, routes)
    for r in range(6):
        called = {q for p, q in pairs if p == r}
        got = {w * 64 + b for w in range(4) for b in range(64) if (int(bits[r, w]) >> b) & 1}
        assert got == called


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    k=st.integers(1, 25),
    levels=st.sampled_from([3, 50, 10**9]),
)
def test_top_desc_equals_argsort(seed: int, n: int, k: int, levels: int) -> None:
    from uxtop.analytics.series import top_desc

    rng = np.random.default_rng(seed)
    # few levels: many ties (the full sort decides); many: distinct scores (partial selection)
    score = rng.integers(0, levels, n).astype(np.float64) + np.where(rng.random(n) < 0.1, 1e12, 0.0)
    assert np.array_equal(top_desc(score, k), np.argsort(-score)[:k])


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.lists(st.integers(-1, 40), max_size=30), max_size=6))
def test_cohort_columns_equal_a_dict_reference(batches: list[list[int]]) -> None:
    from uxtop.analytics.series import CohortColumns

    cc = CohortColumns(top_values=3)
    strings = {"dev": [f"d{i}" for i in range(41)]}
    ref: dict[int, int] = {}
    for ids in batches:
        want = []
        # new values take the next own column in ascending order; after 3, the "other" column
        for v in sorted(set(ids)):
            if v >= 0 and v not in ref:
                ref[v] = 1 + len(ref) if len(ref) < 3 else 4
        want = [ref[v] if v >= 0 else -1 for v in ids]
        got = cc.columns(0, np.asarray(ids, dtype=np.int32), strings)
        assert got.tolist() == want
    assert [lab for lab in cc.labels[1:4] if lab[0]] == [
        ("dev", f"d{v}") for v in sorted(ref, key=lambda v: ref[v]) if ref[v] < 4
    ]


@settings(max_examples=200, deadline=None)
@given(
    group=st.lists(st.integers(0, 4), max_size=120),
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(0, 5),
)
def test_first_distinct_equals_a_scan(group: list[int], seed: int, k: int) -> None:
    from uxtop.analytics.series import first_distinct

    g = np.asarray(group, np.int64)
    v = np.random.default_rng(seed).integers(0, 6, g.shape[0]).astype(np.int64)
    seen: dict[int, list[int]] = {}
    ref = []
    for i, (gg, vv) in enumerate(zip(g.tolist(), v.tolist(), strict=True)):
        lst = seen.setdefault(gg, [])
        if vv not in lst and len(lst) < k:
            lst.append(vv)
            ref.append(i)
    assert first_distinct(g, v, k).tolist() == ref


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 4), n=st.integers(0, 300))
def test_flag_examples_equal_the_per_flag_rule(seed: int, batches: int, n: int) -> None:
    """BucketAggregator.add_flags keeps, per bucket and flag kind, the first ``example_sessions``
    distinct sessions in flag order, across batches: the per-flag loop it replaced."""
    from uxtop.analytics.config import AnalyticsConfig
    from uxtop.analytics.series import BucketAggregator

    rng = np.random.default_rng(seed)
    cfg = AnalyticsConfig()
    agg = BucketAggregator(cfg)
    E, B = cfg.example_sessions, agg.bucket_ms
    ref: dict[int, dict[int, list[int]]] = {}
    for _ in range(batches):
        kind = rng.integers(0, 5, n).astype(np.int64)
        sid = rng.integers(1, 12, n).astype(np.uint64)
        ts = (rng.integers(0, 4, n) * B + rng.integers(0, B, n)).astype(np.int64)
        cols = np.zeros((n, 1), np.int64)
        agg.add_flags(kind, sid, ts, ["a", "b", "c", "d", "e"], cols, np.zeros((n, 1), np.uint64))
        for k, s, t in zip(kind.tolist(), sid.tolist(), ts.tolist(), strict=True):
            ex = ref.setdefault(t // B, {}).setdefault(k, [])
            if len(ex) < E and s not in ex:
                ex.append(s)
    got = {b: o.flag_examples for b, o in agg.open.items() if o.flag_examples}
    assert got == ref
    # the kinds appear in the order of their first flag in the bucket, as in the loop
    assert [list(d) for d in got.values()] == [list(ref[b]) for b in got]
