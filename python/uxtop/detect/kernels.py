"""Numba kernels: one per detector, each a loop over the CSR session slices of a batch.

Contract shared by all kernels (the streaming driver in ``detector.py`` relies on it):

* Session ``s`` owns rows ``start_row[s]:offsets[s+1]``; the kernel scans from ``start_row[s]``
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

import numpy as np
from numba import njit

from uxtop.batch import FLAG_MODIFIER, INT_NA
from uxtop.detect import classify as C
from uxtop.detect.flags import Rule, Tier
from uxtop.schema import Kind

I64_MAX = np.iinfo(np.int64).max

# output columns
O_SESS, O_ANCHOR, O_EV0, O_EV1, O_START, O_END, O_DEC, O_COUNT, O_RULE, O_TIER, O_TARGET, O_URL, O_SEV = range(13)
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
METRICS = {"none": METRIC_NONE, "euclid": METRIC_EUCLID, "manhattan": METRIC_MANHATTAN, "box": METRIC_BOX}


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
def _lower_bound(idx, m, row):
    lo = 0
    hi = m
    while lo < hi:
        mid = (lo + hi) >> 1
        if idx[mid] < row:
            lo = mid + 1
        else:
            hi = mid
    return lo


# ---------------------------------------------------------------------------------------- rage


@njit(cache=True, nogil=True, inline="always")
def _rage_session(s, lo, hi, F, ts, kind, target, tag, url, x, y, flags, tag_bits, target_bits, min_clicks, max_gap, window_ms, radius, metric, same_target, fold_dbl, cancel_scroll, cancel_sel, react_ms, suppress, out, need, next_dec, ring, n):
    settle = max(max_gap, react_ms)
    need[s] = hi
    next_dec[s] = I64_MAX
    c_n = 0
    c_first = -1
    c_last = -1
    c_dbl = 0
    c_cancel = False
    c_win = False
    minx = 0
    maxx = 0
    miny = 0
    maxy = 0
    i = lo
    while i <= hi:
        # i == hi closes the last chain; otherwise a click that does not link closes it
        closing = i == hi
        cand = False
        if not closing:
            k = kind[i]
            if k == K_CLICK:
                cand = (flags[i] & MOD) == 0 and (_cls(i, tag, target, tag_bits, target_bits) & suppress) == 0
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
                            linked = (max(maxx, x[i]) - min(minx, x[i]) <= radius
                                      and max(maxy, y[i]) - min(miny, y[i]) <= radius)
                if linked:
                    ring[c_n % min_clicks] = ts[i]
                    c_n += 1
                    if c_n >= min_clicks and ts[i] - ring[c_n % min_clicks] <= window_ms:
                        c_win = True
                    c_last = i
                    if x[i] != NA:
                        minx = min(minx, x[i])
                        maxx = max(maxx, x[i])
                        miny = min(miny, y[i])
                        maxy = max(maxy, y[i])
                    i += 1
                    continue
                closing = True
            elif c_n > 0:
                if k == K_DBLCLICK:
                    if ts[i] - ts[c_last] <= max_gap and ((not same_target) or target[i] == target[c_first]):
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
                    _emit(out, n, s, c_first, c_first, c_last, ts[c_first], ts[c_last], dec, c_n,
                          R_RAGE, T_NONE, target[c_first], url[c_first], SEV_SCALE * eff // min_clicks)
                    n += 1
                c_n = 0
            if i == hi:
                break
            if cand:
                c_n = 1
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
        i += 1
    return n




# ------------------------------------------------------------------ click groups (dead, slow, error)


@njit(cache=True, nogil=True, inline="always")
def _group_end(ts, target, cpos, ci, nc, fold):
    """The group starting at click ``cpos[ci]``: its last click, its size, the next click not in
    it (-1: none) and that click's index in ``cpos`` (``nc``: none). ``cpos``: the rows of the
    session's clicks, in order."""
    first = cpos[ci]
    last = first
    cnt = 1
    cj = ci + 1
    while cj < nc:
        j = cpos[cj]
        if target[j] == target[first] and ts[j] - ts[last] <= fold:
            last = j
            cnt += 1
            cj += 1
        else:
            return last, cnt, j, cj
    return last, cnt, -1, nc


@njit(cache=True, nogil=True, inline="always")
def _first_reaction(ts, kind, first, last, nxt, hi, dead_ms, quick_ms, credit_next, request_react):
    """Row of the first event credited as a visible reaction to the group, or -1; and the
    inclusive end of the window that was observed."""
    wend = ts[first] + dead_ms
    if credit_next and nxt >= 0 and ts[nxt] - 1 < wend:
        wend = ts[nxt] - 1
    qend = ts[last] + quick_ms
    r = first + 1
    while r < hi and ts[r] <= wend:
        rk = kind[r]
        if rk == K_MUTATION or rk == K_PAGEVIEW or rk == K_SUBMIT:
            return r, wend
        if (rk == K_SCROLL or rk == K_SELECTION or rk == K_FOCUS or rk == K_BLUR or rk == K_VISIBILITY
                or rk == K_INPUT or rk == K_CHANGE) and ts[r] <= qend:
            return r, wend
        if request_react and rk == K_REQUEST:
            return r, wend
        r += 1
    return -1, wend


@njit(cache=True, nogil=True, inline="always")
def _dead_session(s, lo, hi, F, ts, kind, target, tag, url, flags, tag_bits, target_bits, cpos, nc, dead_ms, fold_ms, quick_ms, min_observe, credit_next, request_react, interactive_only, suppress, out, need, next_dec, rc_s, rc_r, n):
    settle = max(fold_ms, quick_ms)
    need[s] = hi
    next_dec[s] = I64_MAX
    ci = _lower_bound(cpos, nc, lo)
    while ci < nc:
        first = cpos[ci]
        last, cnt, nxt, cnext = _group_end(ts, target, cpos, ci, nc, fold_ms)
        dec = max(ts[first] + dead_ms, ts[last] + settle)
        if dec > F:
            need[s] = first
            next_dec[s] = dec
            break
        cls = _cls(first, tag, target, tag_bits, target_bits)
        if (flags[first] & MOD) == 0 and (cls & suppress) == 0 and ((not interactive_only) or (cls & B_INTERACTIVE) != 0):
            r, wend = _first_reaction(ts, kind, first, last, nxt, hi, dead_ms, quick_ms, credit_next, request_react)
            if not request_react:
                # the slow detector asks the same question of the same group: remember the answer
                rc_s[ci] = s
                rc_r[ci] = r
            if r < 0 and wend - ts[first] >= min_observe:
                if n >= out.shape[0]:
                    return -1
                _emit(out, n, s, first, first, last, ts[first], ts[last], dec, cnt, R_DEAD, T_DEAD,
                      target[first], url[first], SEV_SCALE + (SEV_SCALE // 4) * (cnt - 1))
                n += 1
        ci = cnext
    return n




@njit(cache=True, nogil=True, inline="always")
def _slow_session(s, lo, hi, F, ts, kind, target, tag, url, flags, value, tag_bits, target_bits, cpos, nc, dead_ms, slow_ms, fold_ms, quick_ms, credit_next, request_ms, trigger_ms, late_reaction, suppress, out, need, next_dec, rc_s, rc_r, n):
    settle = max(fold_ms, quick_ms, trigger_ms)
    need[s] = hi
    next_dec[s] = I64_MAX
    ci = _lower_bound(cpos, nc, lo)
    while ci < nc:
        first = cpos[ci]
        last, cnt, nxt, cnext = _group_end(ts, target, cpos, ci, nc, fold_ms)
        dec = max(ts[first] + dead_ms, ts[last] + settle)
        if dec > F:
            need[s] = first
            next_dec[s] = dec
            break
        cls = _cls(first, tag, target, tag_bits, target_bits)
        if (flags[first] & MOD) == 0 and (cls & suppress) == 0:
            bits = 0
            end = ts[last]
            ev1 = last
            worst = 0.0
            if late_reaction:
                r = rc_r[ci]  # found by the dead detector (same parameters) ...
                if rc_s[ci] != s:  # ... or not
                    r = _first_reaction(ts, kind, first, last, nxt, hi, dead_ms, quick_ms, credit_next, False)[0]
                if r >= 0 and ts[r] - ts[first] >= slow_ms:
                    bits |= 2
                    end = ts[r]
                    ev1 = r
                    worst = (ts[r] - ts[first]) / slow_ms
            # requests started by the group: same page, before a click elsewhere
            tend = ts[last] + trigger_ms
            r = first + 1
            while r < hi and ts[r] <= tend:
                if nxt >= 0 and r >= nxt:
                    break
                rk = kind[r]
                if rk == K_PAGEVIEW:
                    break
                if rk == K_REQUEST and value[r] >= request_ms:
                    bits |= 1
                    fin = ts[r] + np.int64(value[r])
                    if fin > end:
                        end = fin
                    if r > ev1:
                        ev1 = r
                    if value[r] / request_ms > worst:
                        worst = value[r] / request_ms
                r += 1
            if bits != 0:
                if n >= out.shape[0]:
                    return -1
                _emit(out, n, s, first, first, ev1, ts[first], end, dec, cnt, R_SLOW_BASE + bits, T_SLOW,
                      target[first], url[first], np.int64(worst * SEV_SCALE))
                n += 1
        ci = cnext
    return n




@njit(cache=True, nogil=True, inline="always")
def _error_session(s, lo, hi, F, ts, kind, target, tag, url, flags, status, tag_bits, target_bits, cpos, nc, window_ms, fold_ms, status_min, suppress, out, need, next_dec, n):
    settle = max(window_ms, fold_ms)
    need[s] = hi
    next_dec[s] = I64_MAX
    ci = _lower_bound(cpos, nc, lo)
    while ci < nc:
        first = cpos[ci]
        last, cnt, nxt, cnext = _group_end(ts, target, cpos, ci, nc, fold_ms)
        dec = ts[last] + settle
        if dec > F:
            need[s] = first
            next_dec[s] = dec
            break
        cls = _cls(first, tag, target, tag_bits, target_bits)
        if (flags[first] & MOD) == 0 and (cls & suppress) == 0:
            bits = 0
            ev1 = last
            wend = ts[last] + window_ms
            r = first + 1
            while r < hi and ts[r] <= wend:
                if nxt >= 0 and r >= nxt:
                    break
                rk = kind[r]
                if rk == K_PAGEVIEW:
                    break
                if rk == K_ERROR:
                    bits |= 1
                    ev1 = max(ev1, r)
                elif rk == K_REQUEST and status[r] >= status_min:
                    bits |= 2
                    ev1 = max(ev1, r)
                r += 1
            if bits != 0:
                if n >= out.shape[0]:
                    return -1
                _emit(out, n, s, first, first, ev1, ts[first], ts[ev1], dec, cnt, R_ERROR_BASE + bits, T_NONE,
                      target[first], url[first], SEV_SCALE * (1 + (bits == 3)))
                n += 1
        ci = cnext
    return n




# ------------------------------------------------------------- direction reversals (thrash, scroll)


@njit(cache=True, nogil=True, inline="always")
def _reversal(a, b, c, m):
    d1 = b - a
    d2 = c - b
    return (d1 >= m and d2 <= -m) or (d1 <= -m and d2 >= m)


@njit(cache=True, nogil=True)
def _reversal_session(s, lo, hi, F, ts, kind, url, cx, cy, ev_kind, use_x, use_y, min_rev, window_ms, chain_gap, max_chain, min_delta, rule_x, rule_y, rule_xy, out, need, next_dec, ring_x, ring_y, n):
    need[s] = hi
    next_dec[s] = I64_MAX
    p1 = -1
    p2 = -1
    ch_first = -1
    ch_need = -1
    ch_last = -1
    nx = 0
    ny = 0
    hit_x = False
    hit_y = False
    stopped = False
    # the two previous positions, kept in registers (the hot loop runs once per cursor move)
    x1 = x2 = y1 = y2 = 0
    xi = yi = 0
    for i in range(lo, hi + 1):
        rx = False
        ry = False
        if i < hi:
            k = kind[i]
            if k != ev_kind:
                if k == K_PAGEVIEW:
                    # a new page: positions start over, no reversal spans the navigation
                    p1 = -1
                    p2 = -1
                continue
            xi = cx[i]
            yi = cy[i]
            if (use_x and xi == NA) or (use_y and yi == NA):
                continue
            if p2 >= 0:
                if use_x:
                    dx1 = x1 - x2
                    dx2 = xi - x1
                    rx = (dx1 >= min_delta and dx2 <= -min_delta) or (dx1 <= -min_delta and dx2 >= min_delta)
                if use_y:
                    dy1 = y1 - y2
                    dy2 = yi - y1
                    ry = (dy1 >= min_delta and dy2 <= -min_delta) or (dy1 <= -min_delta and dy2 >= min_delta)
        if ch_first >= 0 and (i == hi or ((rx or ry) and (ts[i] - ts[ch_last] > chain_gap
                                                          or ts[i] - ts[ch_first] > max_chain))):
            dec = min(ts[ch_last] + chain_gap, ts[ch_first] + max_chain)
            if dec > F:
                need[s] = ch_need
                next_dec[s] = dec
                stopped = True
                break
            if hit_x or hit_y:
                if n >= out.shape[0]:
                    return -1
                rule = rule_xy if (hit_x and hit_y) else (rule_x if hit_x else rule_y)
                cnt = max(nx, ny)
                _emit(out, n, s, ch_first, ch_first, ch_last, ts[ch_first], ts[ch_last], dec, cnt, rule,
                      T_NONE, -1, url[ch_first], SEV_SCALE * cnt // min_rev)
                n += 1
            ch_first = -1
        if i == hi:
            break
        if rx or ry:
            if ch_first < 0:
                ch_first = i
                ch_need = p2
                nx = 0
                ny = 0
                hit_x = False
                hit_y = False
            if rx:
                ring_x[nx % min_rev] = ts[i]
                nx += 1
                if nx >= min_rev and ts[i] - ring_x[nx % min_rev] <= window_ms:
                    hit_x = True
            if ry:
                ring_y[ny % min_rev] = ts[i]
                ny += 1
                if ny >= min_rev and ts[i] - ring_y[ny % min_rev] <= window_ms:
                    hit_y = True
            ch_last = i
        p2 = p1
        p1 = i
        x2 = x1
        x1 = xi
        y2 = y1
        y1 = yi
    if not stopped:
        need[s] = p2 if p2 >= 0 else (p1 if p1 >= 0 else hi)
    return n




# ------------------------------------------------------------------------- navigation (u-turn, loop)


@njit(cache=True, nogil=True, inline="always")
def _uturn_session(s, lo, hi, F, ts, kind, url, max_dwell, out, need, next_dec, n):
    next_dec[s] = I64_MAX
    a = -1  # page before the last one
    b = -1  # last page
    stopped = False
    for i in range(lo, hi):
        if kind[i] != K_PAGEVIEW:
            continue
        if ts[i] > F:
            need[s] = a if a >= 0 else (b if b >= 0 else i)
            next_dec[s] = ts[i]
            stopped = True
            break
        if a >= 0 and url[i] >= 0 and url[i] == url[a] and url[b] != url[a] and ts[i] - ts[b] <= max_dwell:
            if n >= out.shape[0]:
                return -1
            dwell = ts[i] - ts[b]
            _emit(out, n, s, a, b, i, ts[b], ts[i], ts[i], 1, R_UTURN, T_NONE, -1, url[b],
                  SEV_SCALE + SEV_SCALE * (max_dwell - dwell) // max_dwell)
            n += 1
        a = b
        b = i
    if not stopped:
        need[s] = a if a >= 0 else (b if b >= 0 else hi)
    return n




@njit(cache=True, nogil=True, inline="always")
def _loop_session(s, lo, hi, F, ts, kind, url, min_visits, window_ms, out, need, next_dec, c_url, c_first, c_last, c_lts, c_n, c_hit, ring, n):
    cap = 64
    need[s] = hi
    next_dec[s] = I64_MAX
    m = 0
    for i in range(lo, hi + 1):
        now = I64_MAX
        if i < hi:
            if kind[i] != K_PAGEVIEW or url[i] < 0:
                continue
            now = ts[i]
            if now > F:
                need[s] = i
                next_dec[s] = now
                now = I64_MAX  # stop: finalise every chain below
        # finalise chains that can no longer grow (all of them at the end)
        j = 0
        while j < m:
            if now == I64_MAX or c_lts[j] + window_ms < now:
                dec = c_lts[j] + window_ms
                if dec > F:
                    need[s] = min(need[s], c_first[j])
                    next_dec[s] = min(next_dec[s], dec)
                elif c_hit[j]:
                    if n >= out.shape[0]:
                        return -1
                    _emit(out, n, s, c_first[j], c_first[j], c_last[j], ts[c_first[j]], ts[c_last[j]], dec,
                          c_n[j], R_LOOP, T_NONE, -1, c_url[j], SEV_SCALE * c_n[j] // min_visits)
                    n += 1
                m -= 1
                c_url[j] = c_url[m]
                c_first[j] = c_first[m]
                c_last[j] = c_last[m]
                c_lts[j] = c_lts[m]
                c_n[j] = c_n[m]
                c_hit[j] = c_hit[m]
                for q in range(min_visits):
                    ring[j, q] = ring[m, q]
            else:
                j += 1
        if now == I64_MAX:
            break
        # extend or start the chain of this URL
        j = 0
        while j < m and c_url[j] != url[i]:
            j += 1
        if j == m:
            if m == cap:
                continue  # too many pages in flight: untracked
            m += 1
            c_url[j] = url[i]
            c_first[j] = i
            c_n[j] = 0
            c_hit[j] = False
        ring[j, c_n[j] % min_visits] = ts[i]
        c_n[j] += 1
        if c_n[j] >= min_visits and ts[i] - ring[j, c_n[j] % min_visits] <= window_ms:
            c_hit[j] = True
        c_last[j] = i
        c_lts[j] = ts[i]
    return n




# ------------------------------------------------------------------------------------------ forms


@njit(cache=True, nogil=True, inline="always")
def _form_session(s, lo, hi, F, ts, kind, target, tag, url, tag_bits, target_bits, fpos, nf, min_returns, hesitation_ms, abandon_min_fields, out, need, next_dec, f_tgt, f_input, f_left, f_focus, n):
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
                    sev = SEV_SCALE * max(1, returns) // max(1, min_returns) + (SEV_SCALE // 2) * hes
                    if bits & 4:
                        sev += SEV_SCALE
                    tgt = target[last_field] if last_field >= 0 else -1
                    _emit(out, n, s, first, first, last, ts[first], ts[last], dec, returns + hes,
                          R_FORM_BASE + bits, T_NONE, tgt, url[first], sev)
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

# positions in the int64 parameter vector of ``fused_kernel`` (built by detector.fused_params)
(P_RAGE_ON, P_RAGE_MIN, P_RAGE_GAP, P_RAGE_WINDOW, P_RAGE_RADIUS, P_RAGE_METRIC, P_RAGE_SAME, P_RAGE_FOLD,
 P_RAGE_CSCROLL, P_RAGE_CSEL, P_RAGE_REACT, P_RAGE_SUPP,
 P_DEAD_MS, P_FOLD, P_QUICK, P_MINOBS, P_CREDIT, P_REQREACT, P_INTERACTIVE, P_DEAD_SUPP,
 P_SLOW_MS, P_REQ_MS, P_TRIGGER, P_LATE, P_SLOW_SUPP,
 P_ERR_WIN, P_ERR_STATUS, P_ERR_SUPP,
 P_TH_MIN, P_TH_WIN, P_TH_GAP, P_TH_MAX, P_TH_DELTA,
 P_SC_MIN, P_SC_WIN, P_SC_GAP, P_SC_MAX, P_SC_DELTA,
 P_UT_DWELL, P_LOOP_MIN, P_LOOP_WIN, P_FORM_RET, P_FORM_HES, P_FORM_AB, P_ENABLED, N_PARAMS) = range(46)

R_THRASH_X = int(Rule.THRASH_X)
R_THRASH_Y = int(Rule.THRASH_Y)
R_THRASH_XY = int(Rule.THRASH_XY)
R_SCROLL = int(Rule.SCROLL_BOUNCE)


@njit(cache=True, nogil=True, inline="always")
def _back_to_rows(out, n_from, n_to, need, next_dec, s, idx, m, hi):
    """Compact positions -> batch rows for the episodes just emitted and the session's need."""
    for j in range(n_from, n_to):
        out[j, O_ANCHOR] = idx[out[j, O_ANCHOR]]
        out[j, O_EV0] = idx[out[j, O_EV0]]
        out[j, O_EV1] = idx[out[j, O_EV1]]
    need[s] = idx[need[s]] if need[s] < m else hi


#: the kinds the form detector reads (``detector.KERNEL_READS["form"]``): the split pass lists
#: their positions so the detector skips the rest
FORM_KINDS = np.zeros(256, np.bool_)
for _k in (K_PAGEVIEW, K_FOCUS, K_INPUT, K_CHANGE, K_BLUR, K_SUBMIT):
    FORM_KINDS[_k] = True


@njit(cache=True, nogil=True)
def fused_kernel(ts, kind, target, tag, url, x, y, sy, value, status, flags, tag_bits, target_bits,
                 offsets, start_rows, frontier, p,
                 o_rage, o_dead, o_error, o_slow, o_thrash, o_uturn, o_loop, o_scroll, o_form,
                 need, next_dec, counts):
    """The nine detectors (bit k of ``p[P_ENABLED]`` enables slot k of ``detector.KERNELS``),
    session by session. One pass over each session's rows runs the two reversal detectors inline
    (thrash over cursor moves, which are about two thirds of all events and are never copied;
    scroll bounce over scrolls) and copies every non-move row to small compact buffers (hot in
    cache), listing the positions of clicks, page views and form rows among them. The other
    detectors run over those buffers: dead/error/slow walk the click list, u-turn and loop the
    page views, form its rows. Every buffer keeps the batch row of each entry, so episodes and
    ``need`` are mapped back to batch rows afterwards. One compiled function for any selection
    keeps the one-time JIT cost down. Disabled slots report ``need = offsets[s+1]``.
    ``counts[k]`` gets each one's episode count; returns False if some output array was too small."""
    ring = np.empty(16, np.int64)
    ring_x = np.empty(64, np.int64)
    ring_y = np.empty(64, np.int64)
    c_url = np.empty(64, np.int64)
    c_first = np.empty(64, np.int64)
    c_last = np.empty(64, np.int64)
    c_lts = np.empty(64, np.int64)
    c_n = np.empty(64, np.int64)
    c_hit = np.empty(64, np.bool_)
    c_ring = np.empty((64, 16), np.int64)
    f_tgt = np.empty(32, np.int64)
    f_input = np.empty(32, np.bool_)
    f_left = np.empty(32, np.bool_)
    f_focus = np.empty(32, np.int64)
    longest = 1
    for s in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[s + 1] - offsets[s])
    longest = min(longest, ts.shape[0])
    # non-move rows
    idx = np.empty(longest, np.int64)
    k_ts = ts[:longest].copy()
    k_kind = kind[:longest].copy()
    k_target = target[:longest].copy()
    k_tag = tag[:longest].copy()
    k_url = url[:longest].copy()
    k_x = x[:longest].copy()
    k_y = y[:longest].copy()
    k_value = value[:longest].copy()
    k_status = status[:longest].copy()
    k_flags = flags[:longest].copy()
    cpos = np.empty(longest, np.int64)  # positions of the clicks among them
    ppos = np.empty(longest, np.int64)  # and of the page views
    fpos = np.empty(longest, np.int64)  # and of the rows the form detector reads
    form_kinds = FORM_KINDS
    # first reaction of each click group, per click position (session stamp, row)
    rc_s = np.full(longest, -1, np.int64)
    rc_r = np.empty(longest, np.int64)
    # page views gathered (u-turn, loop)
    v_idx = np.empty(longest, np.int64)
    v_ts = ts[:longest].copy()
    v_kind = kind[:longest].copy()
    v_url = url[:longest].copy()
    nd0, nd1, nd2, nd3, nd4, nd5, nd6, nd7, nd8 = need[0], need[1], need[2], need[3], need[4], need[5], need[6], need[7], need[8]
    nx0, nx1, nx2, nx3, nx4, nx5, nx6, nx7, nx8 = (next_dec[0], next_dec[1], next_dec[2], next_dec[3], next_dec[4],
                                                   next_dec[5], next_dec[6], next_dec[7], next_dec[8])
    n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = n8 = 0
    en = p[P_ENABLED]
    rage_on = p[P_RAGE_ON] != 0 and (en & 1) != 0
    on1, on2, on3, on4 = (en & 2) != 0, (en & 4) != 0, (en & 8) != 0, (en & 16) != 0
    on5, on6, on7, on8 = (en & 32) != 0, (en & 64) != 0, (en & 128) != 0, (en & 256) != 0
    th_min, th_win, th_gap, th_max, th_delta = p[P_TH_MIN], p[P_TH_WIN], p[P_TH_GAP], p[P_TH_MAX], p[P_TH_DELTA]
    sc_min, sc_win, sc_gap, sc_max, sc_delta = p[P_SC_MIN], p[P_SC_WIN], p[P_SC_GAP], p[P_SC_MAX], p[P_SC_DELTA]
    ring_s = np.empty(64, np.int64)
    for s in range(offsets.shape[0] - 1):
        hi = offsets[s + 1]
        F = frontier[s]
        nd0[s] = nd1[s] = nd2[s] = nd3[s] = nd4[s] = nd5[s] = nd6[s] = nd7[s] = nd8[s] = hi
        nx0[s] = nx1[s] = nx2[s] = nx3[s] = nx4[s] = nx5[s] = nx6[s] = nx7[s] = nx8[s] = I64_MAX
        # one pass from where the earliest kernel resumes (earlier rows in a buffer are harmless:
        # each kernel starts at its own resume row). Cursor moves feed the thrash detector right
        # here (the body of ``_reversal_session`` over moves, inlined: moves are never copied);
        # every other row goes to the compact buffers.
        lo = hi
        for k in range(9):
            lo = min(lo, start_rows[k, s])
        th_lo = start_rows[4, s]
        th_on = on4
        p1 = -1
        p2 = -1
        ch_first = -1
        ch_need = -1
        ch_last = -1
        c_nx = 0
        c_ny = 0
        hit_x = False
        hit_y = False
        x1 = x2 = y1 = y2 = 0
        sc_lo = start_rows[7, s]
        sc_on = on7
        q1 = -1
        q2 = -1
        sch_first = -1
        sch_need = -1
        sch_last = -1
        c_sy = 0
        sc_hit = False
        sy1 = sy2 = 0
        m = 0
        nc = 0
        npg = 0
        nf = 0
        for i in range(lo, hi):
            k = kind[i]
            if k == K_MOVE:
                if not th_on or i < th_lo:
                    continue
                xi = x[i]
                yi = y[i]
                if (xi == NA) | (yi == NA):
                    continue
                rx = False
                ry = False
                if p2 >= 0:
                    dx1 = x1 - x2
                    dx2 = xi - x1
                    rx = ((dx1 >= th_delta) & (dx2 <= -th_delta)) | ((dx1 <= -th_delta) & (dx2 >= th_delta))
                    dy1 = y1 - y2
                    dy2 = yi - y1
                    ry = ((dy1 >= th_delta) & (dy2 <= -th_delta)) | ((dy1 <= -th_delta) & (dy2 >= th_delta))
                if rx | ry:
                    t = ts[i]
                    if ch_first >= 0 and (t - ts[ch_last] > th_gap or t - ts[ch_first] > th_max):
                        dec = min(ts[ch_last] + th_gap, ts[ch_first] + th_max)
                        if dec > F:
                            nd4[s] = ch_need
                            nx4[s] = dec
                            th_on = False
                            continue
                        if hit_x or hit_y:
                            if n4 >= o_thrash.shape[0]:
                                return False
                            rule = R_THRASH_XY if (hit_x and hit_y) else (R_THRASH_X if hit_x else R_THRASH_Y)
                            cnt = max(c_nx, c_ny)
                            _emit(o_thrash, n4, s, ch_first, ch_first, ch_last, ts[ch_first], ts[ch_last], dec, cnt,
                                  rule, T_NONE, -1, url[ch_first], SEV_SCALE * cnt // th_min)
                            n4 += 1
                        ch_first = -1
                    if ch_first < 0:
                        ch_first = i
                        ch_need = p2
                        c_nx = 0
                        c_ny = 0
                        hit_x = False
                        hit_y = False
                    if rx:
                        ring_x[c_nx % th_min] = t
                        c_nx += 1
                        if c_nx >= th_min and t - ring_x[c_nx % th_min] <= th_win:
                            hit_x = True
                    if ry:
                        ring_y[c_ny % th_min] = t
                        c_ny += 1
                        if c_ny >= th_min and t - ring_y[c_ny % th_min] <= th_win:
                            hit_y = True
                    ch_last = i
                p2 = p1
                p1 = i
                x2 = x1
                x1 = xi
                y2 = y1
                y1 = yi
            else:
                cpos[nc] = m
                nc += k == K_CLICK
                ppos[npg] = m
                npg += k == K_PAGEVIEW
                fpos[nf] = m
                nf += form_kinds[k]
                idx[m] = i
                k_ts[m] = ts[i]
                k_kind[m] = k
                k_target[m] = target[i]
                k_tag[m] = tag[i]
                k_url[m] = url[i]
                k_x[m] = x[i]
                k_y[m] = y[i]
                k_value[m] = value[i]
                k_status[m] = status[i]
                k_flags[m] = flags[i]
                m += 1
                if k == K_PAGEVIEW:
                    # a new page: positions start over, no reversal spans the navigation
                    p1 = -1
                    p2 = -1
                    q1 = -1
                    q2 = -1
                elif k == K_SCROLL and sc_on and i >= sc_lo:
                    # the scroll-bounce detector (``_reversal_session`` on sy), inlined likewise
                    yi = sy[i]
                    if yi != NA:
                        ry = False
                        if q2 >= 0:
                            dy1 = sy1 - sy2
                            dy2 = yi - sy1
                            ry = ((dy1 >= sc_delta) & (dy2 <= -sc_delta)) | ((dy1 <= -sc_delta) & (dy2 >= sc_delta))
                        if ry:
                            t = ts[i]
                            stop = False
                            if sch_first >= 0 and (t - ts[sch_last] > sc_gap or t - ts[sch_first] > sc_max):
                                dec = min(ts[sch_last] + sc_gap, ts[sch_first] + sc_max)
                                if dec > F:
                                    nd7[s] = sch_need
                                    nx7[s] = dec
                                    sc_on = False
                                    stop = True
                                else:
                                    if sc_hit:
                                        if n7 >= o_scroll.shape[0]:
                                            return False
                                        _emit(o_scroll, n7, s, sch_first, sch_first, sch_last, ts[sch_first],
                                              ts[sch_last], dec, c_sy, R_SCROLL, T_NONE, -1, url[sch_first],
                                              SEV_SCALE * c_sy // sc_min)
                                        n7 += 1
                                    sch_first = -1
                            if not stop:
                                if sch_first < 0:
                                    sch_first = i
                                    sch_need = q2
                                    c_sy = 0
                                    sc_hit = False
                                ring_s[c_sy % sc_min] = t
                                c_sy += 1
                                if c_sy >= sc_min and t - ring_s[c_sy % sc_min] <= sc_win:
                                    sc_hit = True
                                sch_last = i
                        q2 = q1
                        q1 = i
                        sy2 = sy1
                        sy1 = yi
        if th_on:
            # the session's end closes the last chain
            if ch_first >= 0:
                dec = min(ts[ch_last] + th_gap, ts[ch_first] + th_max)
                if dec > F:
                    nd4[s] = ch_need
                    nx4[s] = dec
                    th_on = False
                elif hit_x or hit_y:
                    if n4 >= o_thrash.shape[0]:
                        return False
                    rule = R_THRASH_XY if (hit_x and hit_y) else (R_THRASH_X if hit_x else R_THRASH_Y)
                    cnt = max(c_nx, c_ny)
                    _emit(o_thrash, n4, s, ch_first, ch_first, ch_last, ts[ch_first], ts[ch_last], dec, cnt,
                          rule, T_NONE, -1, url[ch_first], SEV_SCALE * cnt // th_min)
                    n4 += 1
            if th_on:
                nd4[s] = p2 if p2 >= 0 else (p1 if p1 >= 0 else hi)
        if sc_on:
            if sch_first >= 0:
                dec = min(ts[sch_last] + sc_gap, ts[sch_first] + sc_max)
                if dec > F:
                    nd7[s] = sch_need
                    nx7[s] = dec
                    sc_on = False
                elif sc_hit:
                    if n7 >= o_scroll.shape[0]:
                        return False
                    _emit(o_scroll, n7, s, sch_first, sch_first, sch_last, ts[sch_first], ts[sch_last], dec, c_sy,
                          R_SCROLL, T_NONE, -1, url[sch_first], SEV_SCALE * c_sy // sc_min)
                    n7 += 1
            if sc_on:
                nd7[s] = q2 if q2 >= 0 else (q1 if q1 >= 0 else hi)
        if rage_on:
            b = n0
            n0 = _rage_session(s, _lower_bound(idx, m, start_rows[0, s]), m, F, k_ts, k_kind, k_target, k_tag, k_url,
                               k_x, k_y, k_flags, tag_bits, target_bits,
                               p[P_RAGE_MIN], p[P_RAGE_GAP], p[P_RAGE_WINDOW], p[P_RAGE_RADIUS], p[P_RAGE_METRIC],
                               p[P_RAGE_SAME] != 0, p[P_RAGE_FOLD] != 0, p[P_RAGE_CSCROLL] != 0, p[P_RAGE_CSEL] != 0,
                               p[P_RAGE_REACT], p[P_RAGE_SUPP], o_rage, nd0, nx0, ring, n0)
            if n0 < 0:
                return False
            _back_to_rows(o_rage, b, n0, nd0, nx0, s, idx, m, hi)
        if on1:
            b = n1
            n1 = _dead_session(s, _lower_bound(idx, m, start_rows[1, s]), m, F, k_ts, k_kind, k_target, k_tag, k_url,
                               k_flags, tag_bits, target_bits, cpos, nc,
                               p[P_DEAD_MS], p[P_FOLD], p[P_QUICK], p[P_MINOBS], p[P_CREDIT] != 0, p[P_REQREACT] != 0,
                               p[P_INTERACTIVE] != 0, p[P_DEAD_SUPP], o_dead, nd1, nx1, rc_s, rc_r, n1)
            if n1 < 0:
                return False
            _back_to_rows(o_dead, b, n1, nd1, nx1, s, idx, m, hi)
        if on2:
            b = n2
            n2 = _error_session(s, _lower_bound(idx, m, start_rows[2, s]), m, F, k_ts, k_kind, k_target, k_tag, k_url,
                                k_flags, k_status, tag_bits, target_bits, cpos, nc,
                                p[P_ERR_WIN], p[P_FOLD], p[P_ERR_STATUS], p[P_ERR_SUPP], o_error, nd2, nx2, n2)
            if n2 < 0:
                return False
            _back_to_rows(o_error, b, n2, nd2, nx2, s, idx, m, hi)
        if on3:
            b = n3
            n3 = _slow_session(s, _lower_bound(idx, m, start_rows[3, s]), m, F, k_ts, k_kind, k_target, k_tag, k_url,
                               k_flags, k_value, tag_bits, target_bits, cpos, nc,
                               p[P_DEAD_MS], p[P_SLOW_MS], p[P_FOLD], p[P_QUICK], p[P_CREDIT] != 0, p[P_REQ_MS],
                               p[P_TRIGGER], p[P_LATE] != 0, p[P_SLOW_SUPP], o_slow, nd3, nx3, rc_s, rc_r, n3)
            if n3 < 0:
                return False
            _back_to_rows(o_slow, b, n3, nd3, nx3, s, idx, m, hi)
        if on5 or on6:
            # page views only (positions listed by the split pass)
            nv = npg
            for j in range(nv):
                q = ppos[j]
                v_idx[j] = idx[q]
                v_ts[j] = k_ts[q]
                v_kind[j] = k_kind[q]
                v_url[j] = k_url[q]
            if on5:
                b = n5
                n5 = _uturn_session(s, _lower_bound(v_idx, nv, start_rows[5, s]), nv, F, v_ts, v_kind, v_url,
                                    p[P_UT_DWELL], o_uturn, nd5, nx5, n5)
                if n5 < 0:
                    return False
                _back_to_rows(o_uturn, b, n5, nd5, nx5, s, v_idx, nv, hi)
            if on6:
                b = n6
                n6 = _loop_session(s, _lower_bound(v_idx, nv, start_rows[6, s]), nv, F, v_ts, v_kind, v_url,
                                   p[P_LOOP_MIN], p[P_LOOP_WIN], o_loop, nd6, nx6, c_url, c_first, c_last, c_lts, c_n,
                                   c_hit, c_ring, n6)
                if n6 < 0:
                    return False
                _back_to_rows(o_loop, b, n6, nd6, nx6, s, v_idx, nv, hi)
        if on8:
            b = n8
            n8 = _form_session(s, _lower_bound(idx, m, start_rows[8, s]), m, F, k_ts, k_kind, k_target, k_tag, k_url,
                               tag_bits, target_bits, fpos, nf, p[P_FORM_RET], p[P_FORM_HES], p[P_FORM_AB], o_form, nd8, nx8,
                               f_tgt, f_input, f_left, f_focus, n8)
            if n8 < 0:
                return False
            _back_to_rows(o_form, b, n8, nd8, nx8, s, idx, m, hi)
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
