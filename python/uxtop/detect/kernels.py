"""Numba kernels: one per detector, each a loop over the CSR session slices of a batch.

Contract shared by all kernels (the streaming driver in ``detector.py`` relies on it):

* Session ``s`` owns rows ``start_row[s]:offsets[s+1]`` (only the ends are read: sessions need
  not be contiguous with each other); the kernel scans from ``start_row[s]``
  (where the kernel itself asked to resume last time, so its episodes segment exactly as on
  the whole stream).
* ``frontier[s]``: event time up to which the session's future is known (the watermark, or
  int64 max once the session closed). An episode is emitted only when its *decision time*
  (the last instant any future event could still change it) is <= frontier.
* ``need[s]`` (out): the first row the kernel must see again next time: the start of its
  earliest undecided episode, or the past context its next episodes need. ``offsets[s+1]`` if
  nothing. ``next_dec[s]`` (out): earliest decision time still pending (int64 max if none).
* Episodes go to ``out`` (int64, one row per flag, ``O_*`` columns); the return value is the
  count, or -1 if ``out`` is too small (the caller grows it and retries).

Windows are inclusive on both ends: a click ``max_gap_ms`` after the previous one still links,
so a burst's verdict is final only at ``last + max_gap_ms``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from uxtop.batch import FLAG_MODIFIER, INT_NA
from uxtop.detect import classify as C
from uxtop.detect.flags import Rule, Tier
from uxtop.schema import Kind

I64_MAX = np.iinfo(np.int64).max

# output columns
(
    O_SESS,
    O_ANCHOR,
    O_EV0,
    O_EV1,
    O_START,
    O_END,
    O_DEC,
    O_COUNT,
    O_RULE,
    O_TIER,
    O_TARGET,
    O_URL,
    O_SEV,
) = range(13)
N_OUT = 13
#: severities travel as integer thousandths in the int64 output
SEV_SCALE = 1000

K_PAGEVIEW = int(Kind.PAGEVIEW)
K_CLICK = int(Kind.CLICK)
K_DBLCLICK = int(Kind.DBLCLICK)
K_MOVE = int(Kind.MOVE)
K_SCROLL = int(Kind.SCROLL)
K_INPUT = int(Kind.INPUT)
K_CHANGE = int(Kind.CHANGE)
K_SUBMIT = int(Kind.SUBMIT)
K_FOCUS = int(Kind.FOCUS)
K_BLUR = int(Kind.BLUR)
K_SELECTION = int(Kind.SELECTION)
K_MUTATION = int(Kind.MUTATION)
K_ERROR = int(Kind.ERROR)
K_REQUEST = int(Kind.REQUEST)
K_VISIBILITY = int(Kind.VISIBILITY)

MOD = FLAG_MODIFIER
NA = INT_NA
B_INTERACTIVE = C.INTERACTIVE
B_FIELD = C.FIELD

R_RAGE = int(Rule.RAGE_BURST)
R_DEAD = int(Rule.DEAD_NO_REACTION)
R_ERROR_BASE = int(Rule.ERROR_JS) - 1  # + bits (1 js, 2 request)
R_SLOW_BASE = int(Rule.SLOW_REQUEST) - 1  # + bits (1 request, 2 late reaction)
R_FORM_BASE = int(Rule.FORM_REENTRY) - 1  # + bits (1 re-entry, 2 hesitation, 4 abandon)
R_UTURN = int(Rule.U_TURN_QUICK_BACK)
R_LOOP = int(Rule.PAGE_LOOP_REVISITS)
T_NONE = int(Tier.NONE)
T_SLOW = int(Tier.SLOW)
T_DEAD = int(Tier.DEAD)

METRIC_NONE, METRIC_EUCLID, METRIC_MANHATTAN, METRIC_BOX = 0, 1, 2, 3
METRICS = {
    "none": METRIC_NONE,
    "euclid": METRIC_EUCLID,
    "manhattan": METRIC_MANHATTAN,
    "box": METRIC_BOX,
}


@njit(cache=True, nogil=True, inline="always")
def _emit(out, n, s, anchor, ev0, ev1, start, end, dec, count, rule, tier, target, url, sev):
    out[n, O_SESS] = s
    out[n, O_ANCHOR] = anchor
    out[n, O_EV0] = ev0
    out[n, O_EV1] = ev1
    out[n, O_START] = start
    out[n, O_END] = end
    out[n, O_DEC] = dec
    out[n, O_COUNT] = count
    out[n, O_RULE] = rule
    out[n, O_TIER] = tier
    out[n, O_TARGET] = target
    out[n, O_URL] = url
    out[n, O_SEV] = sev


@njit(cache=True, nogil=True, inline="always")
def _cls(i, tag, target, tag_bits, target_bits):
    return tag_bits[tag[i] + 1] | target_bits[target[i] + 1]


@njit(cache=True, nogil=True, inline="always")
def _search(a, lo, hi, x):
    """The first index in ``lo:hi`` of sorted ``a`` whose value is >= ``x`` (``hi`` if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _lower_bound(idx, m, row):
    return _search(idx, 0, m, row)


I64_MIN = np.iinfo(np.int64).min

# positions in the int64 parameter vector of ``fused_kernel`` (built by detector.fused_params)
(
    P_RAGE_ON,
    P_RAGE_MIN,
    P_RAGE_GAP,
    P_RAGE_WINDOW,
    P_RAGE_RADIUS,
    P_RAGE_METRIC,
    P_RAGE_SAME,
    P_RAGE_FOLD,
    P_RAGE_CSCROLL,
    P_RAGE_CSEL,
    P_RAGE_REACT,
    P_RAGE_SUPP,
    P_DEAD_MS,
    P_FOLD,
    P_QUICK,
    P_MINOBS,
    P_CREDIT,
    P_REQREACT,
    P_INTERACTIVE,
    P_DEAD_SUPP,
    P_SLOW_MS,
    P_REQ_MS,
    P_TRIGGER,
    P_LATE,
    P_SLOW_SUPP,
    P_ERR_WIN,
    P_ERR_STATUS,
    P_ERR_SUPP,
    P_TH_MIN,
    P_TH_WIN,
    P_TH_GAP,
    P_TH_MAX,
    P_TH_DELTA,
    P_SC_MIN,
    P_SC_WIN,
    P_SC_GAP,
    P_SC_MAX,
    P_SC_DELTA,
    P_UT_DWELL,
    P_LOOP_MIN,
    P_LOOP_WIN,
    P_FORM_RET,
    P_FORM_HES,
    P_FORM_AB,
    P_ENABLED,
    N_PARAMS,
) = range(46)

R_THRASH_X = int(Rule.THRASH_X)
R_THRASH_Y = int(Rule.THRASH_Y)
R_THRASH_XY = int(Rule.THRASH_XY)
R_SCROLL = int(Rule.SCROLL_BOUNCE)


# ---------------------------------------------------------------------------------------- rage


@njit(cache=True, nogil=True, inline="always")
def _rage_session(
    s,
    rl,
    j0,
    nr,
    hi,
    F,
    ts,
    kind,
    target,
    tag,
    url,
    x,
    y,
    flags,
    tag_bits,
    target_bits,
    p,
    out,
    need,
    next_dec,
    ring,
    n,
):
    """``rl[j0:nr]``: the session's rows of the kinds read here (clicks, double clicks, scrolls,
    selections), in order."""
    min_clicks, max_gap, window_ms, radius, metric = (
        p[P_RAGE_MIN],
        p[P_RAGE_GAP],
        p[P_RAGE_WINDOW],
        p[P_RAGE_RADIUS],
        p[P_RAGE_METRIC],
    )
    same_target, fold_dbl = p[P_RAGE_SAME] != 0, p[P_RAGE_FOLD] != 0
    cancel_scroll, cancel_sel = p[P_RAGE_CSCROLL] != 0, p[P_RAGE_CSEL] != 0
    react_ms, suppress = p[P_RAGE_REACT], p[P_RAGE_SUPP]
    settle = max(max_gap, react_ms)
    need[s] = hi
    next_dec[s] = I64_MAX
    c_n = 0
    c_w = 0
    c_first = -1
    c_last = -1
    c_dbl = 0
    c_cancel = False
    c_win = False
    minx = 0
    maxx = 0
    miny = 0
    maxy = 0
    j = j0
    while j <= nr:
        # j == nr closes the last chain; otherwise a click that does not link closes it
        closing = j == nr
        cand = False
        i = hi
        if not closing:
            i = rl[j]
            k = kind[i]
            if k == K_CLICK:
                cand = (flags[i] & MOD) == 0 and (
                    _cls(i, tag, target, tag_bits, target_bits) & suppress
                ) == 0
                linked = False
                if c_n > 0 and cand and ts[i] - ts[c_last] <= max_gap:
                    linked = (not same_target) or target[i] == target[c_first]
                    if linked and metric != METRIC_NONE and x[i] != NA and x[c_last] != NA:
                        if metric == METRIC_EUCLID:
                            dx = x[i] - x[c_last]
                            dy = y[i] - y[c_last]
                            linked = dx * dx + dy * dy <= radius * radius
                        elif metric == METRIC_MANHATTAN:
                            linked = abs(x[i] - x[c_last]) + abs(y[i] - y[c_last]) <= radius
                        else:
                            linked = (
                                max(maxx, x[i]) - min(minx, x[i]) <= radius
                                and max(maxy, y[i]) - min(miny, y[i]) <= radius
                            )
                if linked:
                    ring[c_w] = ts[i]
                    c_n += 1
                    c_w += 1  # == c_n % min_clicks, without a division
                    if c_w == min_clicks:
                        c_w = 0
                    if c_n >= min_clicks and ts[i] - ring[c_w] <= window_ms:
                        c_win = True
                    c_last = i
                    if x[i] != NA:
                        minx = min(minx, x[i])
                        maxx = max(maxx, x[i])
                        miny = min(miny, y[i])
                        maxy = max(maxy, y[i])
                    j += 1
                    continue
                closing = True
            elif c_n > 0:
                if k == K_DBLCLICK:
                    if ts[i] - ts[c_last] <= max_gap and (
                        (not same_target) or target[i] == target[c_first]
                    ):
                        c_dbl += 1
                elif k == K_SCROLL:
                    if cancel_scroll and ts[i] - ts[c_last] <= react_ms:
                        c_cancel = True
                elif k == K_SELECTION:
                    if cancel_sel and ts[i] - ts[c_last] <= react_ms:
                        c_cancel = True
        if closing:
            if c_n > 0:
                dec = ts[c_last] + settle
                if dec > F:
                    need[s] = c_first
                    next_dec[s] = dec
                    break
                eff = c_n - c_dbl if fold_dbl else c_n
                if eff >= min_clicks and not c_cancel and (window_ms <= 0 or c_win):
                    if n >= out.shape[0]:
                        return -1
                    _emit(
                        out,
                        n,
                        s,
                        c_first,
                        c_first,
                        c_last,
                        ts[c_first],
                        ts[c_last],
                        dec,
                        c_n,
                        R_RAGE,
                        T_NONE,
                        target[c_first],
                        url[c_first],
                        SEV_SCALE * eff // min_clicks,
                    )
                    n += 1
                c_n = 0
            if j == nr:
                break
            if cand:
                c_n = 1
                c_w = 1 if min_clicks > 1 else 0
                c_first = i
                c_last = i
                c_dbl = 0
                c_cancel = False
                c_win = False
                ring[0] = ts[i]
                if min_clicks <= 1:
                    c_win = True
                if x[i] != NA:
                    minx = x[i]
                    maxx = x[i]
                    miny = y[i]
                    maxy = y[i]
                else:
                    minx = 2**31 - 1
                    maxx = -(2**31)
                    miny = 2**31 - 1
                    maxy = -(2**31)
        j += 1
    return n


# ------------------------------------------------------------------ click groups (dead, slow, error)
# These read the session's non-move rows through compact copies of their times and kinds
# (``nts``, ``nk``; position j is batch row ``nm[j]``), so the forward scans after a click skip
# the cursor moves and stay in cache.


@njit(cache=True, nogil=True, inline="always")
def _group_end(nts, target, nm, cpos, ci, nc, fold):
    """The group starting at click ``cpos[ci]``: its last click, its size, the next click not in
    it (-1: none) and that click's index in ``cpos`` (``nc``: none). ``cpos``: the positions of
    the session's clicks, in order."""
    first = cpos[ci]
    last = first
    cnt = 1
    tgt = target[nm[first]]
    cj = ci + 1
    while cj < nc:
        j = cpos[cj]
        if target[nm[j]] == tgt and nts[j] - nts[last] <= fold:
            last = j
            cnt += 1
            cj += 1
        else:
            return last, cnt, j, cj
    return last, cnt, -1, nc


@njit(cache=True, nogil=True, inline="always")
def _first_reaction(nts, nk, first, last, nxt, hi, dead_ms, quick_ms, credit_next, request_react):
    """Position of the first event credited as a visible reaction to the group, or -1; and the
    inclusive end of the window that was observed."""
    wend = nts[first] + dead_ms
    if credit_next and nxt >= 0 and nts[nxt] - 1 < wend:
        wend = nts[nxt] - 1
    qend = nts[last] + quick_ms
    r = first + 1
    while r < hi and nts[r] <= wend:
        rk = nk[r]
        if rk == K_MUTATION or rk == K_PAGEVIEW or rk == K_SUBMIT:
            return r, wend
        if (
            rk == K_SCROLL
            or rk == K_SELECTION
            or rk == K_FOCUS
            or rk == K_BLUR
            or rk == K_VISIBILITY
            or rk == K_INPUT
            or rk == K_CHANGE
        ) and nts[r] <= qend:
            return r, wend
        if request_react and rk == K_REQUEST:
            return r, wend
        r += 1
    return -1, wend


@njit(cache=True, nogil=True, inline="always")
def _click_groups_session(
    s,
    F,
    nts,
    nk,
    nm,
    nnm,
    cpos,
    nc,
    c_dead,
    c_error,
    c_slow,
    target,
    tag,
    url,
    flags,
    value,
    status,
    tag_bits,
    target_bits,
    p,
    o_dead,
    o_error,
    o_slow,
    need,
    next_dec,
    n1,
    n2,
    n3,
):
    """Dead, error and slow detection in one walk over the session's click groups (they group
    clicks alike): each group is found once, the dead detector's first reaction serves the slow
    one, and one forward scan looks for both errors and slow requests. ``c_*``: the click index
    where each detector resumes (groups before it are skipped for it). Returns the three counts
    and False if an output array was too small."""
    dead_ms = p[P_DEAD_MS]
    fold_ms = p[P_FOLD]
    quick_ms = p[P_QUICK]
    min_observe = p[P_MINOBS]
    credit_next = p[P_CREDIT] != 0
    request_react = p[P_REQREACT] != 0
    interactive_only = p[P_INTERACTIVE] != 0
    dead_supp = p[P_DEAD_SUPP]
    slow_ms = p[P_SLOW_MS]
    request_ms = p[P_REQ_MS]
    trigger_ms = p[P_TRIGGER]
    late_reaction = p[P_LATE] != 0
    slow_supp = p[P_SLOW_SUPP]
    err_win = p[P_ERR_WIN]
    status_min = p[P_ERR_STATUS]
    err_supp = p[P_ERR_SUPP]
    dead_settle = max(fold_ms, quick_ms)
    slow_settle = max(fold_ms, quick_ms, trigger_ms)
    err_settle = max(err_win, fold_ms)
    en = p[P_ENABLED]
    act1 = (en & 2) != 0
    act2 = (en & 4) != 0
    act3 = (en & 8) != 0
    ci = nc
    if act1:
        ci = min(ci, c_dead)
    if act2:
        ci = min(ci, c_error)
    if act3:
        ci = min(ci, c_slow)
    while ci < nc and (act1 or act2 or act3):
        first = cpos[ci]
        last, cnt, nxt, cnext = _group_end(nts, target, nm, cpos, ci, nc, fold_ms)
        fr = nm[first]
        t0 = nts[first]
        tl = nts[last]
        cls = _cls(fr, tag, target, tag_bits, target_bits)
        plain = (flags[fr] & MOD) == 0
        r_dead = -2  # -2: the dead detector did not look for this group's first reaction
        if act1 and ci >= c_dead:
            dec = max(t0 + dead_ms, tl + dead_settle)
            if dec > F:
                need[1, s] = fr
                next_dec[1, s] = dec
                act1 = False
            elif (
                plain
                and (cls & dead_supp) == 0
                and ((not interactive_only) or (cls & B_INTERACTIVE) != 0)
            ):
                r, wend = _first_reaction(
                    nts, nk, first, last, nxt, nnm, dead_ms, quick_ms, credit_next, request_react
                )
                if not request_react:
                    r_dead = r  # the slow detector asks the same question
                if r < 0 and wend - t0 >= min_observe:
                    if n1 >= o_dead.shape[0]:
                        return False, n1, n2, n3
                    _emit(
                        o_dead,
                        n1,
                        s,
                        fr,
                        fr,
                        nm[last],
                        t0,
                        tl,
                        dec,
                        cnt,
                        R_DEAD,
                        T_DEAD,
                        target[fr],
                        url[fr],
                        SEV_SCALE + (SEV_SCALE // 4) * (cnt - 1),
                    )
                    n1 += 1
        do_err = False
        dec_err = 0
        if act2 and ci >= c_error:
            dec_err = tl + err_settle
            if dec_err > F:
                need[2, s] = fr
                next_dec[2, s] = dec_err
                act2 = False
            else:
                do_err = plain and (cls & err_supp) == 0
        do_slow = False
        dec_slow = 0
        if act3 and ci >= c_slow:
            dec_slow = max(t0 + dead_ms, tl + slow_settle)
            if dec_slow > F:
                need[3, s] = fr
                next_dec[3, s] = dec_slow
                act3 = False
            else:
                do_slow = plain and (cls & slow_supp) == 0
        if do_err or do_slow:
            e_bits = 0
            e_ev1 = last
            s_bits = 0
            s_end = tl
            s_ev1 = last
            worst = 0.0
            if do_slow and late_reaction:
                r = r_dead
                if r == -2:
                    r = _first_reaction(
                        nts, nk, first, last, nxt, nnm, dead_ms, quick_ms, credit_next, False
                    )[0]
                if r >= 0 and nts[r] - t0 >= slow_ms:
                    s_bits |= 2
                    s_end = nts[r]
                    s_ev1 = r
                    worst = (nts[r] - t0) / slow_ms
            # errors / requests after the group: same page, before a click elsewhere
            e_end = tl + err_win if do_err else I64_MIN
            s_trig = tl + trigger_ms if do_slow else I64_MIN
            until = max(e_end, s_trig)
            stop = nxt if nxt >= 0 else nnm
            r = first + 1
            while r < stop and nts[r] <= until:
                rk = nk[r]
                if rk == K_PAGEVIEW:
                    break
                if rk == K_ERROR:
                    if nts[r] <= e_end:
                        e_bits |= 1
                        e_ev1 = max(e_ev1, r)
                elif rk == K_REQUEST:
                    row = nm[r]
                    if nts[r] <= e_end and status[row] >= status_min:
                        e_bits |= 2
                        e_ev1 = max(e_ev1, r)
                    if nts[r] <= s_trig and value[row] >= request_ms:
                        s_bits |= 1
                        fin = nts[r] + np.int64(value[row])
                        if fin > s_end:
                            s_end = fin
                        if r > s_ev1:
                            s_ev1 = r
                        if value[row] / request_ms > worst:
                            worst = value[row] / request_ms
                r += 1
            if e_bits != 0:
                if n2 >= o_error.shape[0]:
                    return False, n1, n2, n3
                _emit(
                    o_error,
                    n2,
                    s,
                    fr,
                    fr,
                    nm[e_ev1],
                    t0,
                    nts[e_ev1],
                    dec_err,
                    cnt,
                    R_ERROR_BASE + e_bits,
                    T_NONE,
                    target[fr],
                    url[fr],
                    SEV_SCALE * (1 + (e_bits == 3)),
                )
                n2 += 1
            if s_bits != 0:
                if n3 >= o_slow.shape[0]:
                    return False, n1, n2, n3
                _emit(
                    o_slow,
                    n3,
                    s,
                    fr,
                    fr,
                    nm[s_ev1],
                    t0,
                    s_end,
                    dec_slow,
                    cnt,
                    R_SLOW_BASE + s_bits,
                    T_SLOW,
                    target[fr],
                    url[fr],
                    np.int64(worst * SEV_SCALE),
                )
                n3 += 1
        ci = cnext
    return True, n1, n2, n3


# ------------------------------------------------------------- direction reversals (thrash, scroll)


@njit(cache=True, nogil=True, inline="always")
def _close_chain(
    s,
    F,
    ts,
    url,
    ch_first,
    ch_last,
    ch_need,
    hit_x,
    hit_y,
    nx,
    ny,
    min_rev,
    chain_gap,
    max_chain,
    rule_x,
    rule_y,
    rule_xy,
    out,
    need,
    next_dec,
    n,
):
    """Close a reversal chain (a gap or its length limit ended it, or the session did): flag it
    if either axis hit, or defer the verdict past the frontier ``F``. Returns (n, stop): with
    ``stop`` the caller returns ``n`` at once (deferred, or -1 when ``out`` is full)."""
    dec = min(ts[ch_last] + chain_gap, ts[ch_first] + max_chain)
    if dec > F:
        need[s] = ch_need
        next_dec[s] = dec
        return n, True
    if hit_x or hit_y:
        if n >= out.shape[0]:
            return -1, True
        rule = rule_xy if (hit_x and hit_y) else (rule_x if hit_x else rule_y)
        cnt = max(nx, ny)
        _emit(
            out,
            n,
            s,
            ch_first,
            ch_first,
            ch_last,
            ts[ch_first],
            ts[ch_last],
            dec,
            cnt,
            rule,
            T_NONE,
            -1,
            url[ch_first],
            SEV_SCALE * cnt // min_rev,
        )
        n += 1
    return n, False


@njit(cache=True, nogil=True, inline="always")
def _reversals(
    s,
    rows,
    j0,
    nrows,
    hi,
    F,
    ts,
    kind,
    url,
    cx,
    cy,
    use_x,
    min_rev,
    window_ms,
    chain_gap,
    max_chain,
    min_delta,
    rule_x,
    rule_y,
    rule_xy,
    out,
    need,
    next_dec,
    ring_x,
    ring_y,
    n,
):
    """Chains of direction reversals of (cx, cy) (or cy alone) over ``rows[j0:nrows]``: the
    session's positioned events of one kind and its page views, in order."""
    need[s] = hi
    next_dec[s] = I64_MAX
    p1 = -1
    p2 = -1
    ch_first = -1
    ch_need = -1
    ch_last = -1
    nx = 0
    ny = 0
    wx = 0  # == nx % min_rev
    wy = 0
    hit_x = False
    hit_y = False
    # the two previous positions, kept in registers
    x1 = x2 = y1 = y2 = 0
    for j in range(j0, nrows):
        i = rows[j]
        if kind[i] == K_PAGEVIEW:
            # a new page: positions start over, no reversal spans the navigation
            p1 = -1
            p2 = -1
            continue
        xi = cx[i]
        yi = cy[i]
        if (use_x and xi == NA) or yi == NA:
            continue
        rx = False
        ry = False
        if p2 >= 0:
            if use_x:
                dx1 = x1 - x2
                dx2 = xi - x1
                rx = ((dx1 >= min_delta) & (dx2 <= -min_delta)) | (
                    (dx1 <= -min_delta) & (dx2 >= min_delta)
                )
            dy1 = y1 - y2
            dy2 = yi - y1
            ry = ((dy1 >= min_delta) & (dy2 <= -min_delta)) | (
                (dy1 <= -min_delta) & (dy2 >= min_delta)
            )
        if rx | ry:
            t = ts[i]
            if ch_first >= 0 and (t - ts[ch_last] > chain_gap or t - ts[ch_first] > max_chain):
                n, stop = _close_chain(
                    s, F, ts, url, ch_first, ch_last, ch_need, hit_x, hit_y, nx, ny, min_rev,
                    chain_gap, max_chain, rule_x, rule_y, rule_xy, out, need, next_dec, n,
                )  # fmt: skip
                if stop:
                    return n
                ch_first = -1
            if ch_first < 0:
                ch_first = i
                ch_need = p2
                nx = 0
                ny = 0
                wx = 0
                wy = 0
                hit_x = False
                hit_y = False
            # ring slots wrap by compare, not ``% min_rev`` (an integer division per reversal)
            if rx:
                ring_x[wx] = t
                nx += 1
                wx += 1
                if wx == min_rev:
                    wx = 0
                if nx >= min_rev and t - ring_x[wx] <= window_ms:
                    hit_x = True
            if ry:
                ring_y[wy] = t
                ny += 1
                wy += 1
                if wy == min_rev:
                    wy = 0
                if ny >= min_rev and t - ring_y[wy] <= window_ms:
                    hit_y = True
            ch_last = i
        p2 = p1
        p1 = i
        x2 = x1
        x1 = xi
        y2 = y1
        y1 = yi
    # the session's end closes the last chain
    if ch_first >= 0:
        n, stop = _close_chain(
            s, F, ts, url, ch_first, ch_last, ch_need, hit_x, hit_y, nx, ny, min_rev,
            chain_gap, max_chain, rule_x, rule_y, rule_xy, out, need, next_dec, n,
        )  # fmt: skip
        if stop:
            return n
    need[s] = p2 if p2 >= 0 else (p1 if p1 >= 0 else hi)
    return n


# ------------------------------------------------------------------------- navigation (u-turn, loop)


@njit(cache=True, nogil=True, inline="always")
def _uturn_session(s, pv, j0, npv, hi, F, ts, url, max_dwell, out, need, next_dec, n):
    """``pv[j0:npv]``: the session's page-view rows."""
    next_dec[s] = I64_MAX
    a = -1  # page before the last one
    b = -1  # last page
    for j in range(j0, npv):
        i = pv[j]
        if ts[i] > F:
            need[s] = a if a >= 0 else (b if b >= 0 else i)
            next_dec[s] = ts[i]
            return n
        if (
            a >= 0
            and url[i] >= 0
            and url[i] == url[a]
            and url[b] != url[a]
            and ts[i] - ts[b] <= max_dwell
        ):
            if n >= out.shape[0]:
                return -1
            dwell = ts[i] - ts[b]
            _emit(
                out,
                n,
                s,
                a,
                b,
                i,
                ts[b],
                ts[i],
                ts[i],
                1,
                R_UTURN,
                T_NONE,
                -1,
                url[b],
                SEV_SCALE + SEV_SCALE * (max_dwell - dwell) // max_dwell,
            )
            n += 1
        a = b
        b = i
    need[s] = a if a >= 0 else (b if b >= 0 else hi)
    return n


@njit(cache=True, nogil=True, inline="always")
def _loop_session(
    s,
    pv,
    j0,
    npv,
    hi,
    F,
    ts,
    url,
    min_visits,
    window_ms,
    out,
    need,
    next_dec,
    c_url,
    c_first,
    c_last,
    c_lts,
    c_n,
    c_hit,
    ring,
    n,
):
    """``pv[j0:npv]``: the session's page-view rows."""
    cap = 64
    need[s] = hi
    next_dec[s] = I64_MAX
    m = 0
    for j in range(j0, npv + 1):
        now = I64_MAX
        i = hi
        if j < npv:
            i = pv[j]
            if url[i] < 0:
                continue
            now = ts[i]
            if now > F:
                need[s] = i
                next_dec[s] = now
                now = I64_MAX  # stop: finalise every chain below
        # finalise chains that can no longer grow (all of them at the end)
        q = 0
        while q < m:
            if now == I64_MAX or c_lts[q] + window_ms < now:
                dec = c_lts[q] + window_ms
                if dec > F:
                    need[s] = min(need[s], c_first[q])
                    next_dec[s] = min(next_dec[s], dec)
                elif c_hit[q]:
                    if n >= out.shape[0]:
                        return -1
                    _emit(
                        out,
                        n,
                        s,
                        c_first[q],
                        c_first[q],
                        c_last[q],
                        ts[c_first[q]],
                        ts[c_last[q]],
                        dec,
                        c_n[q],
                        R_LOOP,
                        T_NONE,
                        -1,
                        c_url[q],
                        SEV_SCALE * c_n[q] // min_visits,
                    )
                    n += 1
                m -= 1
                c_url[q] = c_url[m]
                c_first[q] = c_first[m]
                c_last[q] = c_last[m]
                c_lts[q] = c_lts[m]
                c_n[q] = c_n[m]
                c_hit[q] = c_hit[m]
                for v in range(min_visits):
                    ring[q, v] = ring[m, v]
            else:
                q += 1
        if now == I64_MAX:
            break
        # extend or start the chain of this URL
        q = 0
        while q < m and c_url[q] != url[i]:
            q += 1
        if q == m:
            if m == cap:
                continue  # too many pages in flight: untracked
            m += 1
            c_url[q] = url[i]
            c_first[q] = i
            c_n[q] = 0
            c_hit[q] = False
        ring[q, c_n[q] % min_visits] = ts[i]
        c_n[q] += 1
        if c_n[q] >= min_visits and ts[i] - ring[q, c_n[q] % min_visits] <= window_ms:
            c_hit[q] = True
        c_last[q] = i
        c_lts[q] = ts[i]
    return n


# ------------------------------------------------------------------------------------------ forms


@njit(cache=True, nogil=True, inline="always")
def _form_session(
    s,
    lo,
    hi,
    F,
    ts,
    kind,
    target,
    tag,
    url,
    tag_bits,
    target_bits,
    fpos,
    nf,
    min_returns,
    hesitation_ms,
    abandon_min_fields,
    out,
    need,
    next_dec,
    f_tgt,
    f_input,
    f_left,
    f_focus,
    n,
):
    cap = 32
    need[s] = hi
    next_dec[s] = I64_MAX
    m = 0
    returns = 0
    hes = 0
    n_filled = 0
    submitted = False
    first = -1
    last = -1
    last_field = -1
    # walk the rows listed in ``fpos`` (the kinds read here: page views, field events, submits),
    # then hi, which ends the last visit
    for jj in range(_lower_bound(fpos, nf, lo), nf + 1):
        i = fpos[jj] if jj < nf else hi
        at_end = i == hi
        k = -1 if at_end else kind[i]
        if at_end or k == K_PAGEVIEW:
            if first >= 0:
                dec = I64_MAX if at_end else ts[i]
                if dec > F:
                    need[s] = first
                    next_dec[s] = dec
                    break
                bits = 0
                if returns >= min_returns:
                    bits |= 1
                if hes > 0:
                    bits |= 2
                if n_filled >= abandon_min_fields and not submitted:
                    bits |= 4
                if bits != 0:
                    if n >= out.shape[0]:
                        return -1
                    sev = (
                        SEV_SCALE * max(1, returns) // max(1, min_returns) + (SEV_SCALE // 2) * hes
                    )
                    if bits & 4:
                        sev += SEV_SCALE
                    tgt = target[last_field] if last_field >= 0 else -1
                    _emit(
                        out,
                        n,
                        s,
                        first,
                        first,
                        last,
                        ts[first],
                        ts[last],
                        dec,
                        returns + hes,
                        R_FORM_BASE + bits,
                        T_NONE,
                        tgt,
                        url[first],
                        sev,
                    )
                    n += 1
            if at_end:
                break
            m = 0
            returns = 0
            hes = 0
            n_filled = 0
            submitted = False
            first = -1
            last = -1
            last_field = -1
            continue
        if k == K_SUBMIT:
            submitted = True
            if first < 0:
                first = i
            last = i
            continue
        if k != K_FOCUS and k != K_INPUT and k != K_CHANGE and k != K_BLUR:
            continue
        if (_cls(i, tag, target, tag_bits, target_bits) & B_FIELD) == 0:
            continue
        j = 0
        while j < m and f_tgt[j] != target[i]:
            j += 1
        if j == m:
            if m == cap:
                continue
            m += 1
            f_tgt[j] = target[i]
            f_input[j] = False
            f_left[j] = False
            f_focus[j] = -1
        if first < 0:
            first = i
        last = i
        last_field = i
        if k == K_FOCUS:
            if f_input[j] and f_left[j]:
                returns += 1
                f_left[j] = False
            f_focus[j] = ts[i]
        elif k == K_BLUR:
            if f_input[j]:
                f_left[j] = True
            f_focus[j] = -1
        else:
            if f_focus[j] >= 0 and ts[i] - f_focus[j] >= hesitation_ms:
                hes += 1
            f_focus[j] = -1
            if not f_input[j]:
                f_input[j] = True
                n_filled += 1
    return n


# --------------------------------------------------------------------------------- fused driver

#: per event kind, the row lists of ``fused_kernel`` it goes to (bits): the split passes are
#: branch-free (each row is stored into every list, and the list grows only if its bit is set)
L_MOVES = 1  # thrash: cursor moves and page views
L_OTHER = 2  # everything but cursor moves (the list the rest below is drawn from)
L_CLICK = 4  # dead / error / slow
L_PAGE = 8  # u-turn, loop
L_FORM = 16  # the kinds the form detector reads (``detector.KERNEL_READS["form"]``)
L_SCROLL = 32  # scroll bounce: scrolls and page views
L_RAGE = 64  # rage: clicks, double clicks, scrolls, selections
KIND_LISTS = np.full(256, L_OTHER, np.uint8)
KIND_LISTS[K_MOVE] = L_MOVES
KIND_LISTS[K_PAGEVIEW] |= L_MOVES | L_PAGE | L_FORM | L_SCROLL
KIND_LISTS[K_CLICK] |= L_CLICK | L_RAGE
KIND_LISTS[K_DBLCLICK] |= L_RAGE
KIND_LISTS[K_SCROLL] |= L_SCROLL | L_RAGE
KIND_LISTS[K_SELECTION] |= L_RAGE
for _k in (K_FOCUS, K_INPUT, K_CHANGE, K_BLUR, K_SUBMIT):
    KIND_LISTS[_k] |= L_FORM


# ``_nrt=False``: no reference counting. The per-session detectors are inlined functions with
# loops, and numba would otherwise take and drop a reference to each array they read on every
# call (atomic operations that refcount pruning cannot remove around a loop): ~1.3 us per
# session, a third of the time on typical sessions. Hence no allocation in here (``work``,
# ``work_kind``, ``small``, ``flags_small``: scratch from ``new_workspace``).
# (`_nrt` is a private numba option, absent from its type stubs)
@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)  # type: ignore[call-overload]
def fused_kernel(
    ts,
    kind,
    target,
    tag,
    url,
    x,
    y,
    sy,
    value,
    status,
    flags,
    tag_bits,
    target_bits,
    offsets,
    start_rows,
    frontier,
    p,
    o_rage,
    o_dead,
    o_error,
    o_slow,
    o_thrash,
    o_uturn,
    o_loop,
    o_scroll,
    o_form,
    need,
    next_dec,
    counts,
    work,
    work_kind,
    small,
    flags_small,
    c_ring,
):
    """The nine detectors (bit k of ``p[P_ENABLED]`` enables slot k of ``detector.KERNELS``),
    session by session. Two branch-free passes list the session's rows by kind (cursor moves
    and page views; all other rows, with compact copies of their times and kinds; and from
    those clicks, page views, form rows, scrolls, rage rows); each detector then walks only its
    list, reading the batch columns through the listed rows, so nothing but time and kind is
    copied and no detector steps over rows it ignores. Dead, error and slow share one walk over
    the click groups. One compiled function for any selection keeps the one-time JIT cost down.
    Disabled slots report ``need = offsets[s+1]``. ``counts[k]`` gets each one's episode count;
    returns False if some output array was too small."""
    # scratch comes from the caller: this function runs without numba's reference counting
    ring = small[0, :16]
    ring_x = small[1]
    ring_y = small[2]
    c_url = small[3]
    c_first = small[4]
    c_last = small[5]
    c_lts = small[6]
    c_n = small[7]
    f_tgt = small[8, :32]
    f_focus = small[9, :32]
    c_hit = flags_small[0]
    f_input = flags_small[1, :32]
    f_left = flags_small[2, :32]
    mv = work[0]  # rows: cursor moves and page views
    nm = work[1]  # rows: all but cursor moves
    nts = work[2]  # their times
    cpos = work[3]  # positions in nm: clicks
    pv = work[4]  # rows: page views
    fl = work[5]  # rows: what the form detector reads
    sl = work[6]  # rows: scrolls and page views
    rl = work[7]  # rows: what the rage detector reads
    nk = work_kind  # kinds of the nm rows
    lists = KIND_LISTS
    nd0, nd1, nd2, nd3, nd4, nd5, nd6, nd7, nd8 = (
        need[0],
        need[1],
        need[2],
        need[3],
        need[4],
        need[5],
        need[6],
        need[7],
        need[8],
    )
    nx0, nx1, nx2, nx3, nx4, nx5, nx6, nx7, nx8 = (
        next_dec[0],
        next_dec[1],
        next_dec[2],
        next_dec[3],
        next_dec[4],
        next_dec[5],
        next_dec[6],
        next_dec[7],
        next_dec[8],
    )
    n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = n8 = 0
    en = p[P_ENABLED]
    rage_on = p[P_RAGE_ON] != 0 and (en & 1) != 0
    on1, on2, on3, on4 = (en & 2) != 0, (en & 4) != 0, (en & 8) != 0, (en & 16) != 0
    on5, on6, on7, on8 = (en & 32) != 0, (en & 64) != 0, (en & 128) != 0, (en & 256) != 0
    # parameters in locals: loads from ``p`` could not be hoisted past the stores into the
    # (possibly aliasing, as far as the compiler knows) int64 output arrays
    th_min, th_win, th_gap, th_max, th_delta = (
        p[P_TH_MIN],
        p[P_TH_WIN],
        p[P_TH_GAP],
        p[P_TH_MAX],
        p[P_TH_DELTA],
    )
    sc_min, sc_win, sc_gap, sc_max, sc_delta = (
        p[P_SC_MIN],
        p[P_SC_WIN],
        p[P_SC_GAP],
        p[P_SC_MAX],
        p[P_SC_DELTA],
    )
    ut_dwell, lp_min, lp_win = p[P_UT_DWELL], p[P_LOOP_MIN], p[P_LOOP_WIN]
    fm_ret, fm_hes, fm_ab = p[P_FORM_RET], p[P_FORM_HES], p[P_FORM_AB]
    for s in range(offsets.shape[0] - 1):
        hi = offsets[s + 1]
        F = frontier[s]
        nd0[s] = nd1[s] = nd2[s] = nd3[s] = nd4[s] = nd5[s] = nd6[s] = nd7[s] = nd8[s] = hi
        nx0[s] = nx1[s] = nx2[s] = nx3[s] = nx4[s] = nx5[s] = nx6[s] = nx7[s] = nx8[s] = I64_MAX
        # lists from where the earliest kernel resumes (each kernel starts at its own row)
        lo = hi
        for k in range(9):
            lo = min(lo, start_rows[k, s])
        n_mv = 0
        n_nm = 0
        for i in range(lo, hi):
            b = lists[kind[i]]
            mv[n_mv] = i
            n_mv += b & L_MOVES
            nm[n_nm] = i
            n_nm += (b & L_OTHER) >> 1
        nc = 0
        n_pv = 0
        n_fl = 0
        n_sl = 0
        n_rl = 0
        for j in range(n_nm):
            i = nm[j]
            k = kind[i]
            b = lists[k]
            nts[j] = ts[i]
            nk[j] = k
            cpos[nc] = j
            nc += (b & L_CLICK) >> 2
            pv[n_pv] = i
            n_pv += (b & L_PAGE) >> 3
            fl[n_fl] = i
            n_fl += (b & L_FORM) >> 4
            sl[n_sl] = i
            n_sl += (b & L_SCROLL) >> 5
            rl[n_rl] = i
            n_rl += (b & L_RAGE) >> 6
        if on4:
            n4 = _reversals(
                s,
                mv,
                _lower_bound(mv, n_mv, start_rows[4, s]),
                n_mv,
                hi,
                F,
                ts,
                kind,
                url,
                x,
                y,
                True,
                th_min,
                th_win,
                th_gap,
                th_max,
                th_delta,
                R_THRASH_X,
                R_THRASH_Y,
                R_THRASH_XY,
                o_thrash,
                nd4,
                nx4,
                ring_x,
                ring_y,
                n4,
            )
            if n4 < 0:
                return False
        if on7:
            n7 = _reversals(
                s,
                sl,
                _lower_bound(sl, n_sl, start_rows[7, s]),
                n_sl,
                hi,
                F,
                ts,
                kind,
                url,
                sy,
                sy,
                False,
                sc_min,
                sc_win,
                sc_gap,
                sc_max,
                sc_delta,
                R_SCROLL,
                R_SCROLL,
                R_SCROLL,
                o_scroll,
                nd7,
                nx7,
                ring_x,
                ring_y,
                n7,
            )
            if n7 < 0:
                return False
        if rage_on:
            n0 = _rage_session(
                s,
                rl,
                _lower_bound(rl, n_rl, start_rows[0, s]),
                n_rl,
                hi,
                F,
                ts,
                kind,
                target,
                tag,
                url,
                x,
                y,
                flags,
                tag_bits,
                target_bits,
                p,
                o_rage,
                nd0,
                nx0,
                ring,
                n0,
            )
            if n0 < 0:
                return False
        if on1 or on2 or on3:
            c1 = _lower_bound(cpos, nc, _lower_bound(nm, n_nm, start_rows[1, s]))
            c2 = _lower_bound(cpos, nc, _lower_bound(nm, n_nm, start_rows[2, s]))
            c3 = _lower_bound(cpos, nc, _lower_bound(nm, n_nm, start_rows[3, s]))
            ok, n1, n2, n3 = _click_groups_session(
                s,
                F,
                nts,
                nk,
                nm,
                n_nm,
                cpos,
                nc,
                c1,
                c2,
                c3,
                target,
                tag,
                url,
                flags,
                value,
                status,
                tag_bits,
                target_bits,
                p,
                o_dead,
                o_error,
                o_slow,
                need,
                next_dec,
                n1,
                n2,
                n3,
            )
            if not ok:
                return False
        if on5:
            n5 = _uturn_session(
                s,
                pv,
                _lower_bound(pv, n_pv, start_rows[5, s]),
                n_pv,
                hi,
                F,
                ts,
                url,
                ut_dwell,
                o_uturn,
                nd5,
                nx5,
                n5,
            )
            if n5 < 0:
                return False
        if on6:
            n6 = _loop_session(
                s,
                pv,
                _lower_bound(pv, n_pv, start_rows[6, s]),
                n_pv,
                hi,
                F,
                ts,
                url,
                lp_min,
                lp_win,
                o_loop,
                nd6,
                nx6,
                c_url,
                c_first,
                c_last,
                c_lts,
                c_n,
                c_hit,
                c_ring,
                n6,
            )
            if n6 < 0:
                return False
        if on8:
            n8 = _form_session(
                s,
                start_rows[8, s],
                hi,
                F,
                ts,
                kind,
                target,
                tag,
                url,
                tag_bits,
                target_bits,
                fl,
                n_fl,
                fm_ret,
                fm_hes,
                fm_ab,
                o_form,
                nd8,
                nx8,
                f_tgt,
                f_input,
                f_left,
                f_focus,
                n8,
            )
            if n8 < 0:
                return False
    counts[0] = n0
    counts[1] = n1
    counts[2] = n2
    counts[3] = n3
    counts[4] = n4
    counts[5] = n5
    counts[6] = n6
    counts[7] = n7
    counts[8] = n8
    return True


def new_workspace(
    offsets: np.ndarray, longest: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scratch for ``fused_kernel`` over sessions ``offsets`` (or sessions of at most
    ``longest`` rows): (work, work_kind, small, flags_small, c_ring)."""
    if longest is None:
        longest = int(np.max(np.diff(offsets))) if offsets.shape[0] > 1 else 0
    return (
        np.empty((8, longest + 1), np.int64),
        np.empty(longest + 1, np.uint8),
        np.empty((10, 64), np.int64),
        np.empty((3, 64), np.bool_),
        np.empty((64, 16), np.int64),
    )


@njit(cache=True, nogil=True)
def count_sized_kinds(kind):
    """Clicks, page views, cursor moves and scrolls in ``kind`` (what the output buffers are
    sized by): branch-free compares that LLVM vectorises, unlike a 256-bin histogram."""
    n_click = 0
    n_pv = 0
    n_move = 0
    n_scroll = 0
    for i in range(kind.shape[0]):
        k = kind[i]
        n_click += k == K_CLICK
        n_pv += k == K_PAGEVIEW
        n_move += k == K_MOVE
        n_scroll += k == K_SCROLL
    return n_click, n_pv, n_move, n_scroll


@njit(cache=True, nogil=True)
def session_positions(offsets, first_pos):
    """Each row's position in its session: ``first_pos[s] + (row - offsets[s])`` for the rows
    ``offsets[s]:offsets[s+1]`` (one pass, instead of numpy's repeat + arange + add)."""
    out = np.empty(offsets[-1], np.int64)
    for s in range(offsets.shape[0] - 1):
        shift = first_pos[s] - offsets[s]
        for i in range(offsets[s], offsets[s + 1]):
            out[i] = i + shift
    return out


@njit(cache=True, nogil=True)
def carry_open(
    kind, pos, starts, ends, runs, need_rel, next_dec, next_pos, read_bits, skip_out, dec_out
):
    """What the open sessions ``runs`` carry to the next batch, in one pass per session.

    Session r has rows ``starts[r]:ends[r]``. Kernel k asked to see row ``need_rel[k, r]`` of
    it again: as a position in the session that is ``pos`` of that row, or ``next_pos[r]``
    (the next event's) when the row is past r's last. The rows some kernel will read again
    (kernel k reads the kinds with bit k set in ``read_bits[kind]``, from its position on) are
    returned in order, with how many each of ``runs`` keeps; for the j-th of ``runs``,
    ``skip_out[j, k]`` is how many of its kept rows come before kernel k's position (next
    batch, kernel k resumes that many rows into the session: its carried rows come first, and
    every new row is past every position asked for), and ``dec_out[j]`` the earliest pending
    decision over the kernels. (The numpy version made ~8 passes over [sessions, kernels]
    arrays: 14 MB each at 190 k open sessions; and resuming searched each kernel's position
    among the rows again.)"""
    nk = need_rel.shape[0]
    total = 0
    for r in runs:
        total += ends[r] - starts[r]
    rows = np.empty(total, np.int64)
    kept = np.empty(runs.shape[0], np.int64)
    nd = np.empty(nk, np.int64)
    m = 0
    for j in range(runs.shape[0]):
        r = runs[j]
        hi = ends[r]
        dec = next_dec[0, r]
        for k in range(nk):
            q = need_rel[k, r]
            nd[k] = pos[q] if q < hi else next_pos[r]
            dec = min(dec, next_dec[k, r])
            skip_out[j, k] = 0
        dec_out[j] = dec
        start = m
        # rows before the earliest position asked for are needed by no kernel: skip them
        for q in range(_search(pos, starts[r], hi, nd.min()), hi):
            p = pos[q]
            # kernels that still need this position (branch-free: most rows are not kept)
            live = 0
            for k in range(nk):
                live |= np.int64(p >= nd[k]) << k
            rows[m] = q
            m += (read_bits[kind[q]] & live) != 0
        for i in range(start, m):
            p = pos[rows[i]]
            for k in range(nk):
                skip_out[j, k] += p < nd[k]
        kept[j] = m - start
    return rows[:m], kept


class CarryColumns(NamedTuple):
    """The columns the detector carries between batches (``detector.CARRY_COLUMNS``, in its
    order), as one value numba can take: ``join_carried`` copies every column in one pass."""

    ts: Any
    kind: Any
    target: Any
    tag: Any
    url: Any
    x: Any
    y: Any
    sy: Any
    value: Any
    status: Any
    flags: Any
    row: Any
    pos: Any


@njit(cache=True, nogil=True, inline="always")
def _copy_carried_row(src, r, out, w):
    """``out[w] = src[r]`` for every column of ``CarryColumns`` (numba cannot loop over a
    tuple of mixed arrays: the fields are written out once, here)."""
    out.ts[w] = src.ts[r]
    out.kind[w] = src.kind[r]
    out.target[w] = src.target[r]
    out.tag[w] = src.tag[r]
    out.url[w] = src.url[r]
    out.x[w] = src.x[r]
    out.y[w] = src.y[r]
    out.sy[w] = src.sy[r]
    out.value[w] = src.value[r]
    out.status[w] = src.status[r]
    out.flags[w] = src.flags[r]
    out.row[w] = src.row[r]
    out.pos[w] = src.pos[r]


@njit(cache=True, nogil=True)
def join_carried(a, a_start, a_len, b, b_start, b_len, out):
    """For each session i in turn: its carried rows ``a[a_start[i]:][:a_len[i]]``, then its new
    ones ``b[b_start[i]:][:b_len[i]]``, for every column of ``CarryColumns``, into ``out``
    (sized to fit): the detector joins carry and batch this way every batch. One walk over the
    segments instead of one per column: with many sessions open a segment is 1-3 rows, and
    the walk, not the copying, was most of the cost (measured 1.8x faster than 13 calls).
    Each row's fields are written out (``_copy_carried_row``, inlined), not looped over: numba
    cannot index a tuple of mixed arrays by a runtime number, and a tuple of same-typed ones
    indexed so was 2x slower than the 13 calls."""
    o = 0
    for i in range(a_len.shape[0]):
        s = a_start[i]
        for j in range(a_len[i]):
            _copy_carried_row(a, s + j, out, o)
            o += 1
        s = b_start[i]
        for j in range(b_len[i]):
            _copy_carried_row(b, s + j, out, o)
            o += 1


@njit(cache=True, nogil=True)
def take_carried(src, rows, out, at):
    """``out[at + i] = src[rows[i]]`` for every column of ``CarryColumns``, in one walk (the
    carry pool's appends and compactions; see ``join_carried`` for why one walk)."""
    for i in range(rows.shape[0]):
        _copy_carried_row(src, rows[i], out, at + i)


@njit(cache=True, nogil=True)
def plan_run(
    st_sid, st_alive, st_next_dec, st_end, st_start, st_len, st_next_pos, st_fprev,
    b_sid, b_closed, b_end, b_off, wm_front, close_all,
    r_state, r_sid, r_closed, r_end, c_start, c_len, n_start, n_len, next_pos, fprev, frontier,
):  # fmt: skip
    """The sessions a detector step judges, in one pass over the batch's and the open ones.

    First each batch session (in batch order), continuing the open session of its id if any
    (``st_sid`` sorted; a closed one's tombstone does not count); then each open session
    without new events whose earliest pending decision (``st_next_dec``) may have come due:
    its frontier, max(end − 1, ``wm_front``), reached it, or ``close_all``. Per run session:
    its open-table row (−1: new), id, closed, last event time, carried rows (start, length)
    in the pool, new rows (start, length) in the batch, positions seen, the previous
    frontier and the new one (int64 max once closed). Returns the number of run sessions."""
    n_state = st_sid.shape[0]
    in_batch = np.zeros(n_state, np.bool_)
    m = 0
    for j in range(b_sid.shape[0]):
        x = b_sid[j]
        lo = _search(st_sid, 0, n_state, x)
        row = -1
        if lo < n_state and st_sid[lo] == x and st_alive[lo]:
            row = lo
            in_batch[lo] = True
        r_state[m] = row
        r_sid[m] = x
        r_closed[m] = b_closed[j] or close_all
        r_end[m] = b_end[j]
        n_start[m] = b_off[j]
        n_len[m] = b_off[j + 1] - b_off[j]
        if row >= 0:
            c_start[m] = st_start[row]
            c_len[m] = st_len[row]
            next_pos[m] = st_next_pos[row]
            fprev[m] = st_fprev[row]
        else:
            c_start[m] = 0
            c_len[m] = 0
            next_pos[m] = 0
            fprev[m] = -I64_MAX - 1
        m += 1
    for i in range(n_state):
        if not st_alive[i] or in_batch[i]:
            continue
        if not close_all and st_next_dec[i] > max(st_end[i] - 1, wm_front):
            continue
        r_state[m] = i
        r_sid[m] = st_sid[i]
        r_closed[m] = close_all
        r_end[m] = st_end[i]
        n_start[m] = 0
        n_len[m] = 0
        c_start[m] = st_start[i]
        c_len[m] = st_len[i]
        next_pos[m] = st_next_pos[i]
        fprev[m] = st_fprev[i]
        m += 1
    for q in range(m):
        if r_closed[q]:
            frontier[q] = I64_MAX
        else:
            frontier[q] = max(max(r_end[q] - 1, wm_front), fprev[q])
    return m


@njit(cache=True, nogil=True)
def store_open(
    runs, rows, next_pos, frontier, end_ts, skip, next_dec, start, length,
    st_next_pos, st_skip, st_fprev, st_end, st_next_dec, st_start, st_len,
):  # fmt: skip
    """The open run sessions ``runs`` (j-th at open-table row ``rows[j]``) into the table:
    run-indexed positions seen, frontier and last event time, and open-indexed skips, pending
    decision and carried rows (``carry_open``'s outputs)."""
    for j in range(runs.shape[0]):
        r = runs[j]
        row = rows[j]
        st_next_pos[row] = next_pos[r]
        for k in range(skip.shape[1]):
            st_skip[row, k] = skip[j, k]
        st_fprev[row] = frontier[r]
        st_end[row] = end_ts[r]
        st_next_dec[row] = next_dec[j]
        st_start[row] = start[j]
        st_len[row] = length[j]


@njit(cache=True, nogil=True)
def resume_rows(starts, runs, skip, state_row, start_rows):
    """Where each kernel resumes: for session r in ``runs`` (rows from ``starts[r]`` on) and
    kernel k, ``skip[state_row[r], k]`` rows in (``carry_open``'s count of carried rows before
    the position it asked for), written to ``start_rows[k, r]``."""
    for r in runs:
        row = state_row[r]
        for k in range(skip.shape[1]):
            start_rows[k, r] = starts[r] + skip[row, k]


@njit(cache=True, nogil=True)
def merge_running_scores(sid, parts, ids, add, closed, out_sid, out_parts):
    """The running score parts of open flagged sessions, updated by one batch, in one walk.

    ``sid``/``parts``: the running rows (sorted by session id); ``ids``/``add``: the batch's
    sessions (sorted, unique) and their parts; ``closed``: sessions to drop (sorted, unique).
    Writes the merged rows (sorted, closed ones gone) to ``out_*`` (room for ``len(sid) +
    len(ids)``) and the batch's sessions' running totals over ``add``; returns the row count.
    (An insert then a delete copied every row twice, into fresh arrays, each batch.)"""
    n, m, nc = sid.shape[0], ids.shape[0], closed.shape[0]
    nk = parts.shape[1]
    i = j = c = w = 0
    while i < n or j < m:
        if j >= m or (i < n and sid[i] < ids[j]):
            s = sid[i]
            src_old = True
            src_new = False
        elif i >= n or ids[j] < sid[i]:
            s = ids[j]
            src_old = False
            src_new = True
        else:
            s = sid[i]
            src_old = True
            src_new = True
        if src_new:
            if src_old:
                for k in range(nk):
                    add[j, k] += parts[i, k]
            row = add[j]
        else:
            row = parts[i]
        while c < nc and closed[c] < s:
            c += 1
        if not (c < nc and closed[c] == s):
            out_sid[w] = s
            for k in range(nk):
                out_parts[w, k] = row[k]
            w += 1
        if src_old:
            i += 1
        if src_new:
            j += 1
    return w
