"""The same rules in vectorised numpy: the "array programming" peer in the benchmarks.

One-shot semantics (closed sessions). Covers rage, dead, error, U-turn, page loop, thrashed
cursor and excessive scroll; form struggle and slow interaction need per-field / per-request
state machines that do not vectorise without Python loops, so they are left to the kernels.
Thrash/scroll chains here are not cut at ``max_episode_ms`` (a sequential rule); on normal
traffic no chain gets near it. Tests check these against the kernels on generated traffic.

Each function returns the same episode tuples as ``uxtop.detect.reference``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from uxtop.batch import FLAG_MODIFIER, INT_NA
from uxtop.detect import classify as C
from uxtop.detect.classify import mask_of
from uxtop.detect.config import DetectConfig
from uxtop.detect.flags import Rule, Tier
from uxtop.schema import Kind

Arr = npt.NDArray
VECTORIZED_KINDS = ("rage", "dead", "error", "uturn", "loop", "thrash", "scroll")


class _Ctx:
    """Per-batch derived arrays shared by the rules."""

    def __init__(
        self, cols: Mapping[str, Arr], offsets: Arr, tag_bits: Arr, target_bits: Arr
    ) -> None:
        self.cols = cols
        n = cols["ts"].shape[0]
        self.n = n
        self.ts = cols["ts"]
        self.kind = cols["kind"]
        self.sess = np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))
        self.clicks = np.flatnonzero(self.kind == Kind.CLICK)
        c = self.clicks
        self.c_cls = tag_bits[cols["tag"][c] + 1] | target_bits[cols["target"][c] + 1]
        self.c_mod = (cols["flags"][c] & FLAG_MODIFIER) != 0
        self.c_sess = self.sess[c]
        self.c_ts = self.ts[c]
        self.c_tgt = cols["target"][c]


def _episodes(
    s: Arr,
    start: Arr,
    end: Arr,
    count: Arr,
    rule: Arr | int,
    tier: int,
    target: Arr | int,
    url: Arr,
    r0: Arr,
    r1: Arr,
) -> list[tuple[int, ...]]:
    k = s.shape[0]
    rule_a = np.broadcast_to(np.asarray(rule, dtype=np.int64), (k,))
    tgt_a = np.broadcast_to(np.asarray(target, dtype=np.int64), (k,))
    cols = [s, start, end, count, rule_a, np.full(k, tier), tgt_a, url, r0, r1]
    return list(zip(*(np.asarray(a, dtype=np.int64).tolist() for a in cols), strict=False))


def _groups(x: _Ctx, link: Arr) -> tuple[Arr, Arr, Arr]:
    """Group ids for click positions given ``link[j]`` (click j joins j-1); starts, ends."""
    start = ~link
    gid = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:], link.shape[0]) - 1
    return gid, starts, ends


def rage(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    r = cfg.rage
    if r.require_dead or r.metric == "box" or r.window_ms > 0:
        raise NotImplementedError("vectorised rage covers the uxtop/posthog rule shapes")
    c = x.clicks
    cand = ~x.c_mod & ((x.c_cls & mask_of(r.suppress)) == 0)
    xs, ys = x.cols["x"][c].astype(np.int64), x.cols["y"][c].astype(np.int64)
    link = np.zeros(c.shape[0], dtype=bool)
    if c.shape[0] > 1:
        ok = (
            cand[1:]
            & cand[:-1]
            & (x.c_sess[1:] == x.c_sess[:-1])
            & (np.diff(x.c_ts) <= r.max_gap_ms)
        )
        if r.same_target:
            ok &= x.c_tgt[1:] == x.c_tgt[:-1]
        if r.metric != "none":
            dx, dy = np.diff(xs), np.diff(ys)
            na = (xs[1:] == INT_NA) | (xs[:-1] == INT_NA)
            near = (
                dx * dx + dy * dy <= r.radius_px**2
                if r.metric == "euclid"
                else np.abs(dx) + np.abs(dy) <= r.radius_px
            )
            ok &= near | na
        link[1:] = ok
    gid, starts, ends = _groups(x, link)
    n_clicks = ends - starts + 1
    valid = cand[starts]
    # events between clicks belong to the chain of the click just before them
    n_dbl = np.zeros(starts.shape[0], dtype=np.int64)
    cancel = np.zeros(starts.shape[0], dtype=bool)
    for k, active, window in (
        (Kind.DBLCLICK, True, r.max_gap_ms),
        (Kind.SCROLL, r.cancel_on_scroll, r.reaction_window_ms),
        (Kind.SELECTION, r.cancel_on_selection, r.reaction_window_ms),
    ):
        if not active:
            continue
        rows = np.flatnonzero(x.kind == k)
        j = np.searchsorted(c, rows) - 1  # last click before the event
        keep = j >= 0
        rows, j = rows[keep], j[keep]
        hit = cand[j] & (x.c_sess[j] == x.sess[rows]) & (x.ts[rows] - x.c_ts[j] <= window)
        if k == Kind.DBLCLICK:
            if r.same_target:
                hit &= x.cols["target"][rows] == x.c_tgt[starts[gid[j]]]
            np.add.at(n_dbl, gid[j[hit]], 1)
        else:
            cancel[gid[j[hit]]] = True
    eff = n_clicks - n_dbl if r.fold_double_clicks else n_clicks
    sel = np.flatnonzero(valid & (eff >= r.min_clicks) & ~cancel)
    f, last_rows = c[starts[sel]], c[ends[sel]]
    return _episodes(
        x.sess[f],
        x.ts[f],
        x.ts[last_rows],
        n_clicks[sel],
        int(Rule.RAGE_BURST),
        int(Tier.NONE),
        x.cols["target"][f],
        x.cols["url"][f],
        f,
        last_rows,
    )


def _click_groups(x: _Ctx, fold_ms: int) -> tuple[Arr, Arr, Arr, Arr]:
    """Rows of each group's first and last click, its size, and the next group's first row
    (-1 if none in the session)."""
    c = x.clicks
    link = np.zeros(c.shape[0], dtype=bool)
    if c.shape[0] > 1:
        link[1:] = (
            (x.c_sess[1:] == x.c_sess[:-1])
            & (x.c_tgt[1:] == x.c_tgt[:-1])
            & (np.diff(x.c_ts) <= fold_ms)
        )
    _, starts, ends = _groups(x, link)
    nxt = np.full(starts.shape[0], -1, dtype=np.int64)
    if starts.shape[0] > 1:
        same = x.c_sess[starts[1:]] == x.c_sess[starts[:-1]]
        nxt[:-1] = np.where(same, c[starts[1:]], -1)
    return c[starts], c[ends], ends - starts + 1, nxt


def _first_after(rows: Arr, after: Arr, x: _Ctx) -> Arr:
    """For each row in ``after``: the first row of ``rows`` after it in the same session, or -1."""
    i = np.searchsorted(rows, after, side="right")
    found = i < rows.shape[0]
    r = np.where(found, rows[np.minimum(i, rows.shape[0] - 1)] if rows.shape[0] else 0, -1)
    ok = r >= 0
    ok[ok] = x.sess[r[ok]] == x.sess[after[ok]]
    return np.where(ok, r, -1)


def dead(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    d = cfg.dead
    first, last, cnt, nxt = _click_groups(x, d.fold_ms)
    cls = x.c_cls[np.searchsorted(x.clicks, first)]
    mod = x.c_mod[np.searchsorted(x.clicks, first)]
    cand = ~mod & ((cls & mask_of(d.suppress)) == 0)
    if d.interactive_only:
        cand &= (cls & C.INTERACTIVE) != 0
    wend = x.ts[first] + d.dead_ms
    if d.credit_until_next_click:
        wend = np.where(nxt >= 0, np.minimum(wend, x.ts[np.maximum(nxt, 0)] - 1), wend)
    k = x.kind
    slow_rows = np.flatnonzero((k == Kind.MUTATION) | (k == Kind.PAGEVIEW) | (k == Kind.SUBMIT))
    quick_rows = np.flatnonzero(
        np.isin(
            k,
            [
                Kind.SCROLL,
                Kind.SELECTION,
                Kind.FOCUS,
                Kind.BLUR,
                Kind.VISIBILITY,
                Kind.INPUT,
                Kind.CHANGE,
            ],
        )
    )
    reacted = np.zeros(first.shape[0], dtype=bool)
    for rows, until in (
        (slow_rows, wend),
        (quick_rows, np.minimum(wend, x.ts[last] + d.quick_reaction_ms)),
    ):
        r = _first_after(rows, first, x)
        ok = r >= 0
        reacted[ok] |= x.ts[r[ok]] <= until[ok]
    if d.request_is_reaction:
        r = _first_after(np.flatnonzero(k == Kind.REQUEST), first, x)
        ok = r >= 0
        reacted[ok] |= x.ts[r[ok]] <= wend[ok]
    sel = np.flatnonzero(cand & ~reacted & (wend - x.ts[first] >= d.min_observe_ms))
    f, last_rows = first[sel], last[sel]
    return _episodes(
        x.sess[f],
        x.ts[f],
        x.ts[last_rows],
        cnt[sel],
        int(Rule.DEAD_NO_REACTION),
        int(Tier.DEAD),
        x.cols["target"][f],
        x.cols["url"][f],
        f,
        last_rows,
    )


def error(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    e = cfg.error
    first, last, cnt, nxt = _click_groups(x, cfg.dead.fold_ms)
    pos = np.searchsorted(x.clicks, first)
    cand = ~x.c_mod[pos] & ((x.c_cls[pos] & mask_of(e.suppress)) == 0)
    # scan bound: next click elsewhere, next page view, end of session, or the time window
    pv = _first_after(np.flatnonzero(x.kind == Kind.PAGEVIEW), first, x)
    sess_end = np.searchsorted(x.sess, x.sess[first], side="right")
    bound = np.minimum(np.where(nxt >= 0, nxt, sess_end), np.where(pv >= 0, pv, sess_end))
    # first row past the window: ts sorted within the session, so search in the global (sess, ts) order
    key = x.sess * (1 << 42) + (x.ts - x.ts.min() if x.n else x.ts)
    wend_row = np.searchsorted(
        key,
        x.sess[first] * (1 << 42) + (x.ts[last] + e.window_ms - (x.ts.min() if x.n else 0)),
        side="right",
    )
    bound = np.minimum(bound, wend_row)
    bits = np.zeros(first.shape[0], dtype=np.int64)
    ev1 = last.copy()
    js = np.flatnonzero(x.kind == Kind.ERROR)
    bad = np.flatnonzero((x.kind == Kind.REQUEST) & (x.cols["status"] >= e.status_min))
    for rows, bit in ((js, 1), (bad, 2)):
        lo = np.searchsorted(rows, first, side="right")
        hi = np.searchsorted(rows, bound, side="left")
        has = hi > lo
        bits[has] |= bit
        ev1[has] = np.maximum(ev1[has], rows[hi[has] - 1])
    sel = np.flatnonzero(cand & (bits > 0))
    f = first[sel]
    return _episodes(
        x.sess[f],
        x.ts[f],
        x.ts[ev1[sel]],
        cnt[sel],
        int(Rule.ERROR_JS) - 1 + bits[sel],
        int(Tier.NONE),
        x.cols["target"][f],
        x.cols["url"][f],
        f,
        ev1[sel],
    )


def uturn(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    p = np.flatnonzero(x.kind == Kind.PAGEVIEW)
    if p.shape[0] < 3:
        return []
    a, b, c = p[:-2], p[1:-1], p[2:]
    url = x.cols["url"]
    ok = (x.sess[a] == x.sess[c]) & (url[c] >= 0) & (url[c] == url[a]) & (url[b] != url[a])
    ok &= x.ts[c] - x.ts[b] <= cfg.uturn.max_dwell_ms
    b, c = b[ok], c[ok]
    return _episodes(
        x.sess[b],
        x.ts[b],
        x.ts[c],
        np.ones(b.shape[0]),
        int(Rule.U_TURN_QUICK_BACK),
        int(Tier.NONE),
        -1,
        url[b],
        b,
        c,
    )


def loop(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    lc = cfg.loop
    url = x.cols["url"]
    p = np.flatnonzero((x.kind == Kind.PAGEVIEW) & (url >= 0))
    if p.shape[0] == 0:
        return []
    p = p[np.lexsort((p, url[p], x.sess[p]))]  # by session, url, then time (row)
    same = np.zeros(p.shape[0], dtype=bool)
    same[1:] = (x.sess[p[1:]] == x.sess[p[:-1]]) & (url[p[1:]] == url[p[:-1]])
    link = same.copy()
    link[1:] &= np.diff(x.ts[p]) <= lc.window_ms
    gid = np.cumsum(~link) - 1
    starts = np.flatnonzero(~link)
    ends = np.append(starts[1:], p.shape[0]) - 1
    m = lc.min_visits
    hit = np.zeros(starts.shape[0], dtype=bool)
    if p.shape[0] >= m:
        span = x.ts[p[m - 1 :]] - x.ts[p[: p.shape[0] - m + 1]]
        inside = gid[m - 1 :] == gid[: p.shape[0] - m + 1]
        hit[gid[m - 1 :][inside & (span <= lc.window_ms)]] = True
    sel = np.flatnonzero(hit)
    f, last_rows = p[starts[sel]], p[ends[sel]]
    return _episodes(
        x.sess[f],
        x.ts[f],
        x.ts[last_rows],
        (ends - starts + 1)[sel],
        int(Rule.PAGE_LOOP_REVISITS),
        int(Tier.NONE),
        -1,
        url[f],
        f,
        last_rows,
    )


def _reversals(
    x: _Ctx,
    kind: Kind,
    cx: Arr | None,
    cy: Arr,
    min_rev: int,
    window_ms: int,
    chain_gap: int,
    min_delta: int,
    rules: tuple[int, int, int],
) -> list[tuple[int, ...]]:
    valid = (x.kind == kind) & (cy != INT_NA)
    if cx is not None:
        valid &= cx != INT_NA
    rows = np.flatnonzero(valid)
    if rows.shape[0] < 3:
        return []
    page = np.cumsum(x.kind == Kind.PAGEVIEW)  # a page view starts positions over
    seg = x.sess[rows] * (1 << 32) + page[rows]
    ok = (seg[2:] == seg[1:-1]) & (seg[1:-1] == seg[:-2])
    flips = []
    for coord in (cx, cy):
        if coord is None:
            flips.append(np.zeros(rows.shape[0] - 2, dtype=bool))
            continue
        v = coord[rows].astype(np.int64)
        d1, d2 = v[1:-1] - v[:-2], v[2:] - v[1:-1]
        flips.append(
            ok
            & (((d1 >= min_delta) & (d2 <= -min_delta)) | ((d1 <= -min_delta) & (d2 >= min_delta)))
        )
    rx, ry = flips
    anyr = rx | ry
    rev_rows = rows[2:][anyr]
    if rev_rows.shape[0] == 0:
        return []
    rts = x.ts[rev_rows]
    link = np.zeros(rev_rows.shape[0], dtype=bool)
    link[1:] = (x.sess[rev_rows[1:]] == x.sess[rev_rows[:-1]]) & (np.diff(rts) <= chain_gap)
    gid = np.cumsum(~link) - 1
    starts = np.flatnonzero(~link)
    ends = np.append(starts[1:], rev_rows.shape[0]) - 1
    n_ch = starts.shape[0]
    hits, counts = [], []
    for axis in (rx[anyr], ry[anyr]):
        idx = np.flatnonzero(axis)
        cnt = np.bincount(gid[idx], minlength=n_ch)
        h = np.zeros(n_ch, dtype=bool)
        if idx.shape[0] >= min_rev:
            a, b = idx[: idx.shape[0] - min_rev + 1], idx[min_rev - 1 :]
            good = (gid[a] == gid[b]) & (rts[b] - rts[a] <= window_ms)
            h[gid[b[good]]] = True
        hits.append(h)
        counts.append(cnt)
    hx, hy = hits
    sel = np.flatnonzero(hx | hy)
    rule = np.where(hx & hy, rules[2], np.where(hx, rules[0], rules[1]))[sel]
    f, last_rows = rev_rows[starts[sel]], rev_rows[ends[sel]]
    return _episodes(
        x.sess[f],
        x.ts[f],
        x.ts[last_rows],
        np.maximum(counts[0], counts[1])[sel],
        rule,
        int(Tier.NONE),
        -1,
        x.cols["url"][f],
        f,
        last_rows,
    )


def thrash(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    t = cfg.thrash
    return _reversals(
        x,
        Kind.MOVE,
        x.cols["x"],
        x.cols["y"],
        t.min_reversals,
        t.window_ms,
        t.chain_gap_ms,
        t.min_delta_px,
        (int(Rule.THRASH_X), int(Rule.THRASH_Y), int(Rule.THRASH_XY)),
    )


def scroll(x: _Ctx, cfg: DetectConfig) -> list[tuple[int, ...]]:
    s = cfg.scroll
    r = int(Rule.SCROLL_BOUNCE)
    return _reversals(
        x,
        Kind.SCROLL,
        None,
        x.cols["sy"],
        s.min_reversals,
        s.window_ms,
        s.chain_gap_ms,
        s.min_delta_px,
        (r, r, r),
    )


RULES = {
    "rage": rage,
    "dead": dead,
    "error": error,
    "uturn": uturn,
    "loop": loop,
    "thrash": thrash,
    "scroll": scroll,
}


def vectorized_episodes(
    cols: Mapping[str, Arr],
    offsets: Arr,
    cfg: DetectConfig,
    tag_bits: Arr,
    target_bits: Arr,
    only: tuple[str, ...] = VECTORIZED_KINDS,
) -> dict[str, list[tuple[int, ...]]]:
    x = _Ctx(cols, offsets, tag_bits, target_bits)
    return {name: RULES[name](x, cfg) for name in only}
