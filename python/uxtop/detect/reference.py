"""Plain-Python twins of the kernels: the executable specification of each detector.

Written for clarity, per session over lists, on whole (closed) sessions: tests compare every
kernel against these on generated batches, and the benchmark measures them as the
"plain Python" peer. Each function returns episodes as tuples
``(session, start_ts, end_ts, count, rule, tier, target, url, first_row, last_row)``, rows being
indices into the batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from uxtop.batch import FLAG_MODIFIER, INT_NA
from uxtop.detect import classify as C
from uxtop.detect.classify import mask_of
from uxtop.detect.config import DetectConfig
from uxtop.detect.flags import Rule, Tier
from uxtop.schema import Kind

Episode = tuple[int, int, int, int, int, int, int, int, int, int]

QUICK_REACTIONS = {
    Kind.SCROLL,
    Kind.SELECTION,
    Kind.FOCUS,
    Kind.BLUR,
    Kind.VISIBILITY,
    Kind.INPUT,
    Kind.CHANGE,
}
SLOW_REACTIONS = {Kind.MUTATION, Kind.PAGEVIEW, Kind.SUBMIT}


class Ev:
    """One event as a plain object (row = index in the batch)."""

    __slots__ = (
        "row",
        "ts",
        "kind",
        "target",
        "tag",
        "url",
        "x",
        "y",
        "sy",
        "value",
        "status",
        "flags",
        "cls",
    )
    # declared for the type checker (the slots are filled by keyword in ``__init__``)
    row: int
    ts: int
    kind: int
    target: int
    tag: int
    url: int
    x: int
    y: int
    sy: int
    value: float
    status: int
    flags: int
    cls: int

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def sessions_of(
    cols: Mapping[str, np.ndarray],
    offsets: np.ndarray,
    tag_bits: np.ndarray,
    target_bits: np.ndarray,
) -> Iterator[list[Ev]]:
    lists = {
        k: cols[k].tolist()
        for k in ("ts", "kind", "target", "tag", "url", "x", "y", "sy", "value", "status", "flags")
    }
    tb, gb = tag_bits.tolist(), target_bits.tolist()
    off = offsets.tolist()
    for s in range(len(off) - 1):
        evs = []
        for i in range(off[s], off[s + 1]):
            e = Ev(row=i, **{k: v[i] for k, v in lists.items()})
            e.cls = tb[e.tag + 1] | gb[e.target + 1]
            evs.append(e)
        yield evs


# -------------------------------------------------------------------------------------- rage


def rage(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    r = cfg.rage
    if r.require_dead:
        return [
            (e[0], *e[1:4], int(Rule.RAGE_DEAD), *e[5:])
            for e in dead(s, evs, cfg)
            if e[3] >= r.min_clicks
        ]
    suppress = mask_of(r.suppress)
    clicks = [e for e in evs if e.kind == Kind.CLICK]

    def candidate(c: Ev) -> bool:
        return not c.flags & FLAG_MODIFIER and not c.cls & suppress

    def links(chain: list[Ev], c: Ev) -> bool:
        last = chain[-1]
        if c.ts - last.ts > r.max_gap_ms or (r.same_target and c.target != chain[0].target):
            return False
        if r.metric == "none" or c.x == INT_NA or last.x == INT_NA:
            return True
        if r.metric == "euclid":
            return (c.x - last.x) ** 2 + (c.y - last.y) ** 2 <= r.radius_px**2
        if r.metric == "manhattan":
            return abs(c.x - last.x) + abs(c.y - last.y) <= r.radius_px
        pts = [p for p in chain if p.x != INT_NA] + [c]
        return (
            max(p.x for p in pts) - min(p.x for p in pts) <= r.radius_px
            and max(p.y for p in pts) - min(p.y for p in pts) <= r.radius_px
        )

    chains: list[list[Ev]] = []
    cur: list[Ev] | None = None
    for c in clicks:
        if cur is not None and candidate(c) and links(cur, c):
            cur.append(c)
            continue
        cur = [c] if candidate(c) else None
        if cur is not None:
            chains.append(cur)
    out = []
    for chain in chains:
        first, last = chain[0], chain[-1]
        # events seen while the chain was open: up to the next click after it
        after = [c.row for c in clicks if c.row > last.row]
        close_row = after[0] if after else evs[-1].row + 1 if evs else 0
        open_events = [e for e in evs if first.row < e.row < close_row and e.kind != Kind.CLICK]
        n_dbl = 0
        cancelled = False
        for e in open_events:
            prev = max((c for c in chain if c.row < e.row), key=lambda c: c.row)
            if (
                e.kind == Kind.DBLCLICK
                and e.ts - prev.ts <= r.max_gap_ms
                and (not r.same_target or e.target == first.target)
            ):
                n_dbl += 1
            if (
                e.kind == Kind.SCROLL
                and r.cancel_on_scroll
                and e.ts - prev.ts <= r.reaction_window_ms
            ):
                cancelled = True
            if (
                e.kind == Kind.SELECTION
                and r.cancel_on_selection
                and e.ts - prev.ts <= r.reaction_window_ms
            ):
                cancelled = True
        eff = len(chain) - n_dbl if r.fold_double_clicks else len(chain)
        window_ok = r.window_ms <= 0 or any(
            chain[j + r.min_clicks - 1].ts - chain[j].ts <= r.window_ms
            for j in range(len(chain) - r.min_clicks + 1)
        )
        if eff >= r.min_clicks and not cancelled and window_ok:
            out.append(
                (
                    s,
                    first.ts,
                    last.ts,
                    len(chain),
                    int(Rule.RAGE_BURST),
                    int(Tier.NONE),
                    first.target,
                    first.url,
                    first.row,
                    last.row,
                )
            )
    return out


# ----------------------------------------------------------------- click groups: dead, slow, error


def click_groups(evs: Sequence[Ev], fold_ms: int) -> list[tuple[list[Ev], Ev | None]]:
    """Runs of clicks on one target, each within fold_ms of the previous; with the next click."""
    clicks = [e for e in evs if e.kind == Kind.CLICK]
    groups: list[list[Ev]] = []
    for c in clicks:
        if groups and c.target == groups[-1][0].target and c.ts - groups[-1][-1].ts <= fold_ms:
            groups[-1].append(c)
        else:
            groups.append([c])
    return [(g, groups[i + 1][0] if i + 1 < len(groups) else None) for i, g in enumerate(groups)]


def first_reaction(
    evs: Sequence[Ev], group: list[Ev], nxt: Ev | None, cfg: DetectConfig, request_react: bool
) -> tuple[Ev | None, int]:
    d = cfg.dead
    first, last = group[0], group[-1]
    wend = first.ts + d.dead_ms
    if d.credit_until_next_click and nxt is not None:
        wend = min(wend, nxt.ts - 1)
    for e in evs:
        if e.row <= first.row or e.ts > wend:
            continue
        if e.kind in SLOW_REACTIONS:
            return e, wend
        if e.kind in QUICK_REACTIONS and e.ts <= last.ts + d.quick_reaction_ms:
            return e, wend
        if request_react and e.kind == Kind.REQUEST:
            return e, wend
    return None, wend


def dead(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    d = cfg.dead
    suppress = mask_of(d.suppress)
    out = []
    for group, nxt in click_groups(evs, d.fold_ms):
        first, last = group[0], group[-1]
        if (
            first.flags & FLAG_MODIFIER
            or first.cls & suppress
            or (d.interactive_only and not first.cls & C.INTERACTIVE)
        ):
            continue
        reaction, wend = first_reaction(evs, group, nxt, cfg, d.request_is_reaction)
        if reaction is None and wend - first.ts >= d.min_observe_ms:
            out.append(
                (
                    s,
                    first.ts,
                    last.ts,
                    len(group),
                    int(Rule.DEAD_NO_REACTION),
                    int(Tier.DEAD),
                    first.target,
                    first.url,
                    first.row,
                    last.row,
                )
            )
    return out


def _before_next(evs: Sequence[Ev], first: Ev, nxt: Ev | None, until: int) -> list[Ev]:
    """Events after ``first`` up to ``until`` (ts), before the next click elsewhere and before
    the next page view."""
    out = []
    for e in evs:
        if e.row <= first.row:
            continue
        if e.ts > until or (nxt is not None and e.row >= nxt.row) or e.kind == Kind.PAGEVIEW:
            break
        out.append(e)
    return out


def slow(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    d, sl = cfg.dead, cfg.slow
    suppress = mask_of(sl.suppress)
    out = []
    for group, nxt in click_groups(evs, d.fold_ms):
        first, last = group[0], group[-1]
        if first.flags & FLAG_MODIFIER or first.cls & suppress:
            continue
        bits, end, ev1, worst = 0, last.ts, last.row, 0.0
        if sl.late_reaction:
            reaction, _ = first_reaction(evs, group, nxt, cfg, False)
            if reaction is not None and reaction.ts - first.ts >= d.slow_ms:
                bits |= 2
                end, ev1, worst = reaction.ts, reaction.row, (reaction.ts - first.ts) / d.slow_ms
        for e in _before_next(evs, first, nxt, last.ts + sl.trigger_ms):
            if e.kind == Kind.REQUEST and e.value >= sl.request_ms:
                bits |= 1
                end = max(end, e.ts + int(e.value))
                ev1 = max(ev1, e.row)
                worst = max(worst, e.value / sl.request_ms)
        if bits:
            out.append(
                (
                    s,
                    first.ts,
                    end,
                    len(group),
                    int(Rule.SLOW_REQUEST) - 1 + bits,
                    int(Tier.SLOW),
                    first.target,
                    first.url,
                    first.row,
                    ev1,
                )
            )
    return out


def error(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    e_cfg = cfg.error
    suppress = mask_of(e_cfg.suppress)
    out = []
    for group, nxt in click_groups(evs, cfg.dead.fold_ms):
        first, last = group[0], group[-1]
        if first.flags & FLAG_MODIFIER or first.cls & suppress:
            continue
        bits, ev1 = 0, last.row
        for e in _before_next(evs, first, nxt, last.ts + e_cfg.window_ms):
            if e.kind == Kind.ERROR:
                bits |= 1
                ev1 = max(ev1, e.row)
            elif e.kind == Kind.REQUEST and e.status >= e_cfg.status_min:
                bits |= 2
                ev1 = max(ev1, e.row)
        if bits:
            end_ts = next(e.ts for e in evs if e.row == ev1)
            out.append(
                (
                    s,
                    first.ts,
                    end_ts,
                    len(group),
                    int(Rule.ERROR_JS) - 1 + bits,
                    int(Tier.NONE),
                    first.target,
                    first.url,
                    first.row,
                    ev1,
                )
            )
    return out


# ---------------------------------------------------------------------- reversals: thrash, scroll


def reversals(
    s: int,
    evs: Sequence[Ev],
    kind: Kind,
    axes: tuple[str, ...],
    min_rev: int,
    window_ms: int,
    chain_gap: int,
    max_chain: int,
    min_delta: int,
    rules: tuple[int, int, int],
) -> list[Episode]:
    # positions per page (a page view starts the sequence over)
    seqs: list[list[Ev]] = [[]]
    for e in evs:
        if e.kind == Kind.PAGEVIEW:
            seqs.append([])
        elif e.kind == kind and all(getattr(e, a) != INT_NA for a in axes):
            seqs[-1].append(e)
    revs: list[tuple[Ev, bool, bool]] = []
    for seq in seqs:
        for j in range(2, len(seq)):
            a, b, c = seq[j - 2], seq[j - 1], seq[j]
            flips = []
            for ax in ("x", "y"):
                if ax not in axes:
                    flips.append(False)
                    continue
                d1, d2 = getattr(b, ax) - getattr(a, ax), getattr(c, ax) - getattr(b, ax)
                flips.append(
                    (d1 >= min_delta and d2 <= -min_delta) or (d1 <= -min_delta and d2 >= min_delta)
                )
            if any(flips):
                revs.append((c, flips[0], flips[1]))
    chains: list[list[tuple[Ev, bool, bool]]] = []
    for r in revs:
        if (
            chains
            and r[0].ts - chains[-1][-1][0].ts <= chain_gap
            and r[0].ts - chains[-1][0][0].ts <= max_chain
        ):
            chains[-1].append(r)
        else:
            chains.append([r])
    out = []
    for ch in chains:
        hits = []
        for side in (1, 2):
            times = [r[0].ts for r in ch if r[side]]
            hits.append(
                any(
                    times[j + min_rev - 1] - times[j] <= window_ms
                    for j in range(len(times) - min_rev + 1)
                )
            )
        if any(hits):
            count = max(sum(1 for r in ch if r[1]), sum(1 for r in ch if r[2]))
            rule = rules[2] if all(hits) else rules[0] if hits[0] else rules[1]
            first, last = ch[0][0], ch[-1][0]
            out.append(
                (
                    s,
                    first.ts,
                    last.ts,
                    count,
                    rule,
                    int(Tier.NONE),
                    -1,
                    first.url,
                    first.row,
                    last.row,
                )
            )
    return out


def thrash(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    t = cfg.thrash
    return reversals(
        s,
        evs,
        Kind.MOVE,
        ("x", "y"),
        t.min_reversals,
        t.window_ms,
        t.chain_gap_ms,
        t.max_episode_ms,
        t.min_delta_px,
        (int(Rule.THRASH_X), int(Rule.THRASH_Y), int(Rule.THRASH_XY)),
    )


def scroll(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    sc = cfg.scroll
    # the scroll position is the vertical axis
    proxy = [Ev(**{k: getattr(e, k) for k in Ev.__slots__ if k != "y"}, y=e.sy) for e in evs]
    r = int(Rule.SCROLL_BOUNCE)
    return reversals(
        s,
        proxy,
        Kind.SCROLL,
        ("y",),
        sc.min_reversals,
        sc.window_ms,
        sc.chain_gap_ms,
        sc.max_episode_ms,
        sc.min_delta_px,
        (r, r, r),
    )


# ------------------------------------------------------------------------------- navigation


def uturn(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    pvs = [e for e in evs if e.kind == Kind.PAGEVIEW]
    out = []
    for a, b, c in zip(pvs, pvs[1:], pvs[2:], strict=False):
        if (
            c.url >= 0
            and c.url == a.url
            and b.url != a.url
            and c.ts - b.ts <= cfg.uturn.max_dwell_ms
        ):
            out.append(
                (
                    s,
                    b.ts,
                    c.ts,
                    1,
                    int(Rule.U_TURN_QUICK_BACK),
                    int(Tier.NONE),
                    -1,
                    b.url,
                    b.row,
                    c.row,
                )
            )
    return out


def loop(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    lc = cfg.loop
    by_url: dict[int, list[Ev]] = {}
    for e in evs:
        if e.kind == Kind.PAGEVIEW and e.url >= 0:
            by_url.setdefault(e.url, []).append(e)
    out = []
    for url, visits in by_url.items():
        chains: list[list[Ev]] = []
        for v in visits:
            if chains and v.ts - chains[-1][-1].ts <= lc.window_ms:
                chains[-1].append(v)
            else:
                chains.append([v])
        for ch in chains:
            n = lc.min_visits
            if any(ch[j + n - 1].ts - ch[j].ts <= lc.window_ms for j in range(len(ch) - n + 1)):
                out.append(
                    (
                        s,
                        ch[0].ts,
                        ch[-1].ts,
                        len(ch),
                        int(Rule.PAGE_LOOP_REVISITS),
                        int(Tier.NONE),
                        -1,
                        url,
                        ch[0].row,
                        ch[-1].row,
                    )
                )
    return out


def form(s: int, evs: Sequence[Ev], cfg: DetectConfig) -> list[Episode]:
    fc = cfg.form
    visits: list[list[Ev]] = [[]]
    for e in evs:
        if e.kind == Kind.PAGEVIEW:
            visits.append([])
        else:
            visits[-1].append(e)
    out = []
    for visit in visits:
        rows = [
            e
            for e in visit
            if e.kind == Kind.SUBMIT
            or (e.kind in (Kind.FOCUS, Kind.INPUT, Kind.CHANGE, Kind.BLUR) and e.cls & C.FIELD)
        ]
        if not rows:
            continue
        had_input: set[int] = set()
        left: set[int] = set()
        focus_at: dict[int, int] = {}
        returns = hes = 0
        submitted = False
        last_field = None
        for e in rows:
            if e.kind == Kind.SUBMIT:
                submitted = True
                continue
            f = e.target
            last_field = e
            if e.kind == Kind.FOCUS:
                if f in had_input and f in left:
                    returns += 1
                    left.discard(f)
                focus_at[f] = e.ts
            elif e.kind == Kind.BLUR:
                if f in had_input:
                    left.add(f)
                focus_at.pop(f, None)
            else:
                if f in focus_at and e.ts - focus_at[f] >= fc.hesitation_ms:
                    hes += 1
                focus_at.pop(f, None)
                had_input.add(f)
        bits = (
            (1 if returns >= fc.min_returns else 0)
            | (2 if hes else 0)
            | (4 if len(had_input) >= fc.abandon_min_fields and not submitted else 0)
        )
        if bits:
            first, last = rows[0], rows[-1]
            out.append(
                (
                    s,
                    first.ts,
                    last.ts,
                    returns + hes,
                    int(Rule.FORM_REENTRY) - 1 + bits,
                    int(Tier.NONE),
                    last_field.target if last_field is not None else -1,
                    first.url,
                    first.row,
                    last.row,
                )
            )
    return out


REFERENCE = {
    "rage": rage,
    "dead": dead,
    "error": error,
    "slow": slow,
    "thrash": thrash,
    "uturn": uturn,
    "loop": loop,
    "scroll": scroll,
    "form": form,
}


def reference_episodes(
    cols: Mapping[str, np.ndarray],
    offsets: np.ndarray,
    cfg: DetectConfig,
    tag_bits: np.ndarray,
    target_bits: np.ndarray,
) -> dict[str, list[Episode]]:
    """Every detector over every (closed) session of a batch."""
    out: dict[str, list[Episode]] = {k: [] for k in REFERENCE}
    for s, evs in enumerate(sessions_of(cols, offsets, tag_bits, target_bits)):
        for name, fn in REFERENCE.items():
            out[name].extend(fn(s, evs, cfg))
    return out
