"""Drill-down: one retained session's events and flags as timeline entries, a mini-map path and
canonical NDJSON. Runs on the engine thread (it reads the intern tables, which belong to it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from uxtop.batch import INT_NA, NONE_ID
from uxtop.schema import EVENT_TYPES, Event, Kind, encode_event
from uxtop.snapshot import FlagRow, SessionDetail, TimelineEntry

#: a request slower than this is highlighted (ms)
SLOW_REQUEST_MS = 1000.0

Resolve = Callable[[str, int], "str | None"]


def _s(resolve: Resolve, table: str, ident: int) -> str:
    if ident == NONE_ID:
        return ""
    return resolve(table, int(ident)) or ""


def _i(v: int) -> int | None:
    return None if v == INT_NA else int(v)


def build_detail(
    *,
    session_id: int,
    key: str,
    uid: str,
    dev: str,
    rel: str,
    geo: str,
    n_events: int,
    columns: Mapping[str, npt.NDArray],
    flags: Sequence[FlagRow],
    resolve: Resolve,
    note: str = "",
) -> SessionDetail:
    """``columns`` are the retained events of one session, in time order."""
    n = int(columns["ts"].shape[0])
    ts = columns["ts"]
    kind = columns["kind"]
    # a flag's evidence is the span of source rows from its first to its last event; every
    # event of this session inside the span is part of the story and gets highlighted
    evidence: dict[int, int] = {}
    rows_arr = np.asarray(columns["row"])
    for fi, f in enumerate(flags):
        if not f.evidence:
            continue
        lo, hi = min(f.evidence), max(f.evidence)
        for r in rows_arr[(rows_arr >= lo) & (rows_arr <= hi)].tolist():
            evidence.setdefault(int(r), fi)

    entries: list[TimelineEntry] = []
    ndjson: list[bytes] = []
    flag_order = sorted(range(len(flags)), key=lambda i: (flags[i].start_ts, i))
    fpos = 0
    i = 0
    # resolve each column once per row lazily; sessions are at most tens of thousands of rows
    while i < n:
        t = int(ts[i])
        while fpos < len(flag_order) and flags[flag_order[fpos]].start_ts <= t:
            entries.append(_flag_entry(flags[flag_order[fpos]], flag_order[fpos]))
            fpos += 1
        k = int(kind[i])
        if k == Kind.MOVE:
            # fold a run of moves into one line: a session is mostly pointer samples
            j = i
            while (
                j + 1 < n
                and int(kind[j + 1]) == Kind.MOVE
                and int(columns["row"][j + 1]) not in evidence
            ):
                j += 1
            x0, y0, x1, y1 = (
                _i(columns["x"][i]),
                _i(columns["y"][i]),
                _i(columns["x"][j]),
                _i(columns["y"][j]),
            )
            cnt = j - i + 1
            text = f"move ×{cnt}" if cnt > 1 else "move"
            if x0 is not None and x1 is not None:
                text += f"  ({x0},{y0})" + (f" → ({x1},{y1})" if cnt > 1 else "")
            row = int(columns["row"][i])
            entries.append(
                TimelineEntry(
                    ts=t, kind="move", text=text, row=row, level="flag" if row in evidence else ""
                )
            )
            for m in range(i, j + 1):
                ndjson.append(_ndjson(columns, m, key, uid, dev, rel, geo, resolve))
            i = j + 1
            continue
        entries.append(_event_entry(columns, i, resolve, evidence))
        ndjson.append(_ndjson(columns, i, key, uid, dev, rel, geo, resolve))
        i += 1
    while fpos < len(flag_order):
        entries.append(_flag_entry(flags[flag_order[fpos]], flag_order[fpos]))
        fpos += 1

    path, path_url, pw, ph = _path(columns, flags, resolve)
    depth = _depth(columns, resolve)
    start = int(ts[0]) if n else (min(f.start_ts for f in flags) if flags else 0)
    end = int(ts[-1]) if n else (max(f.end_ts for f in flags) if flags else 0)
    return SessionDetail(
        session_id=session_id,
        key=key,
        uid=uid,
        dev=dev,
        rel=rel,
        geo=geo,
        start_ts=start,
        end_ts=end,
        n_events=n_events,
        entries=tuple(entries),
        flags=tuple(flags),
        path=path,
        depth=depth,
        ndjson=tuple(ndjson),
        retained_from=start,
        path_url=path_url,
        page_w=pw,
        page_h=ph,
        note=note,
    )


def _flag_entry(f: FlagRow, index: int) -> TimelineEntry:
    where = f.target or f.url
    text = f"⚑ {f.kind} ×{f.count} on {where}  sev {f.severity:.2f}  rule: {f.rule}"
    if f.evidence:
        text += f"  evidence rows {_span(f.evidence)}"
    return TimelineEntry(ts=f.start_ts, kind="flag", text=text, row=-1, flag=index, level="flag")


def _span(rows: tuple[int, ...]) -> str:
    lo, hi = min(rows), max(rows)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _event_entry(
    c: Mapping[str, npt.NDArray], i: int, resolve: Resolve, evidence: dict[int, int]
) -> TimelineEntry:
    k = int(c["kind"][i])
    name = EVENT_TYPES[k].value if k < len(EVENT_TYPES) else f"kind{k}"
    url = _s(resolve, "url", c["url"][i])
    target = _s(resolve, "target", c["target"][i])
    row = int(c["row"][i])
    value = float(c["value"][i])
    status = int(c["status"][i])
    level = ""
    if k == Kind.PAGEVIEW:
        text = f"pageview {url}"
    elif k == Kind.REQUEST:
        route = _s(resolve, "route", c["route"][i]) or url
        lat = (
            ""
            if math.isnan(value)
            else (f" {value / 1000:.1f}s" if value >= 1000 else f" {value:.0f}ms")
        )
        text = f"request {route} {status or '-'}{lat}"
        if status >= 500 or status == 0 and not route:
            level = "error"
        elif status >= 400:
            level = "warn"
        elif not math.isnan(value) and value >= SLOW_REQUEST_MS:
            level = "slow"
    elif k == Kind.ERROR:
        text = f"error {_s(resolve, 'msg', c['msg'][i]) or target}"
        level = "error"
    elif k == Kind.SCROLL:
        sy, sh, vh = _i(c["sy"][i]), _i(c["sh"][i]), _i(c["vh"][i])
        if sy is not None and sh and vh is not None:
            text = f"scroll {min(100, round(100 * (sy + vh) / sh))}%  (top {sy}px of {sh}px)"
        else:
            text = "scroll"
    elif k == Kind.VITAL:
        label = target or _s(resolve, "msg", c["msg"][i]) or "vital"
        text = f"vital {label} {'' if math.isnan(value) else f'{value:.0f}'}"
    elif k == Kind.FEEDBACK:
        text = (
            f"feedback {'' if math.isnan(value) else int(value)} {_s(resolve, 'msg', c['msg'][i])}"
        )
    else:
        text = name + (f" {target}" if target else "")
        x, y = _i(c["x"][i]), _i(c["y"][i])
        if x is not None and y is not None:
            text += f"  ({x},{y})"
        if int(c["flags"][i]) & 1:
            text += "  +mod"
    if row in evidence and not level:
        level = "flag"  # an error or failed request keeps its red: that is the story
    return TimelineEntry(
        ts=int(c["ts"][i]), kind=name, text=text, row=row, status=status, value=value, level=level
    )


def _ndjson(
    c: Mapping[str, npt.NDArray],
    i: int,
    key: str,
    uid: str,
    dev: str,
    rel: str,
    geo: str,
    resolve: Resolve,
) -> bytes:
    k = int(c["kind"][i])
    value = float(c["value"][i])
    etype = EVENT_TYPES[k] if k < len(EVENT_TYPES) else None
    ev = Event(
        ts=int(c["ts"][i]),
        sid=key,
        uid=uid or None,
        type=etype,
        url=_s(resolve, "url", c["url"][i]) or None,
        target=_s(resolve, "target", c["target"][i]) or None,
        tag=_s(resolve, "tag", c["tag"][i]) or None,
        tab=_s(resolve, "tab", c["tab"][i]) or None,
        x=_i(c["x"][i]),
        y=_i(c["y"][i]),
        sy=_i(c["sy"][i]),
        sh=_i(c["sh"][i]),
        vh=_i(c["vh"][i]),
        dur=None if math.isnan(value) or k == Kind.FEEDBACK else value,
        score=int(value) if k == Kind.FEEDBACK and not math.isnan(value) else None,
        status=int(c["status"][i]) or None,
        route=_s(resolve, "route", c["route"][i]) or None,
        msg=_s(resolve, "msg", c["msg"][i]) or None,
        props={"mod": True} if int(c["flags"][i]) & 1 else None,
        dev=dev or None,
        rel=rel or None,
        geo=geo or None,
    )
    return encode_event(ev)


def _path(
    c: Mapping[str, npt.NDArray], flags: Sequence[FlagRow], resolve: Resolve
) -> tuple[npt.NDArray[np.int32], str, int, int]:
    """Pointer samples on the page where the session's flags concentrate (else the busiest)."""
    n = int(c["ts"].shape[0])
    empty = np.zeros((0, 3), dtype=np.int32)
    if n == 0:
        return empty, "", 0, 0
    kind = c["kind"]
    pointer = (
        np.isin(kind, (Kind.MOVE, Kind.CLICK, Kind.DBLCLICK, Kind.CONTEXTMENU))
        & (c["x"] != INT_NA)
        & (c["y"] != INT_NA)
    )
    urls = c["url"][pointer]
    if urls.size == 0:
        return empty, "", 0, 0
    focus: int | None = None
    if flags:
        names = Counter(f.url for f in flags if f.url)
        if names:
            want = names.most_common(1)[0][0]
            for u in np.unique(urls):
                if _s(resolve, "url", u) == want:
                    focus = int(u)
                    break
    if focus is None:
        vals, counts = np.unique(urls, return_counts=True)
        focus = int(vals[np.argmax(counts)])
    sel = pointer & (c["url"] == focus)
    pts = np.stack([c["x"][sel], c["y"][sel], kind[sel].astype(np.int32)], axis=1).astype(np.int32)
    pw = int(max(pts[:, 0].max(initial=0), 1))
    ph = int(max(pts[:, 1].max(initial=0), 1))
    pts.flags.writeable = False
    return pts, _s(resolve, "url", focus), pw, ph


def _depth(c: Mapping[str, npt.NDArray], resolve: Resolve) -> tuple[tuple[str, float], ...]:
    sel = (
        (c["kind"] == Kind.SCROLL)
        & (c["sy"] != INT_NA)
        & (c["sh"] != INT_NA)
        & (c["vh"] != INT_NA)
        & (c["sh"] > 0)
    )
    if not sel.any():
        return ()
    frac = np.clip((c["sy"][sel].astype(np.float64) + c["vh"][sel]) / c["sh"][sel], 0, 1)
    urls = c["url"][sel]
    out: dict[int, float] = {}
    for u, f in zip(urls.tolist(), frac.tolist(), strict=True):
        out[u] = max(out.get(u, 0.0), f)
    return tuple((_s(resolve, "url", u), d) for u, d in out.items())
