"""Hypothesis strategies and batch builders for detector tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from uxtop.batch import EVENT_COLUMNS, INT_NA, NONE_ID, SESSION_COLUMNS, STRING_TABLES, EventBatch
from uxtop.schema import Kind

#: (target, tag) pairs covering every suppression class
TARGETS = [
    ('button#buy "Buy"', "button"),
    ('button.qty-plus "+"', "button"),
    ("input#email", "input[type=email]"),
    ('a.spec[download] "PDF"', "a[download]"),
    ('a.help[target=_blank] "Help"', "a[target=_blank]"),
    ("p.text", "p"),
    ('a.nav "Next page"', "a"),
    ("div.card", "div"),
    ('button.uxtop-ignore "X"', "button"),
    ("input#name", "input[type=text]"),
]
URLS = ["/", "/a", "/b", "/c"]
T0 = 1_700_000_000_000

KIND_WEIGHTS = [
    (Kind.CLICK, 10),
    (Kind.MOVE, 10),
    (Kind.SCROLL, 6),
    (Kind.PAGEVIEW, 3),
    (Kind.MUTATION, 4),
    (Kind.REQUEST, 3),
    (Kind.ERROR, 1),
    (Kind.DBLCLICK, 1),
    (Kind.SELECTION, 1),
    (Kind.FOCUS, 3),
    (Kind.INPUT, 3),
    (Kind.BLUR, 2),
    (Kind.SUBMIT, 1),
    (Kind.VISIBILITY, 1),
]
_KINDS = [k for k, w in KIND_WEIGHTS for _ in range(w)]


@st.composite
def session_events(draw: Any, max_segments: int = 25) -> list[dict[str, Any]]:
    """One session's events in time order: single random events mixed with bursts (clicks on
    one target, page ping-pong, cursor shakes, scroll bounces, form fills), with gaps that sit
    on and around every threshold (ties, 999/1000/1001 ms ...)."""
    n = draw(st.integers(1, max_segments))
    t = T0 + draw(st.integers(0, 20_000))
    state = {"x": 500, "y": 400, "sy": 0}
    out: list[dict[str, Any]] = []

    def ev(kind: Kind, **kw: Any) -> dict[str, Any]:
        e: dict[str, Any] = {
            "ts": t,
            "kind": int(kind),
            "url": kw.pop("url", 0),
            "target": NONE_ID,
            "tag": NONE_ID,
            "x": INT_NA,
            "y": INT_NA,
            "sy": INT_NA,
            "value": float("nan"),
            "status": 0,
            "flags": 0,
        }
        e.update(kw)
        out.append(e)
        return e

    gap = st.sampled_from(
        [0, 1, 40, 120, 300, 600, 999, 1000, 1001, 1500, 2600, 3500, 7000, 16_000]
    )
    short = st.sampled_from([0, 30, 80, 150, 300, 500, 999, 1000, 1001, 1400])
    url = draw(st.integers(0, len(URLS) - 1))
    for _ in range(n):
        t += draw(gap)
        seg = draw(st.sampled_from(["single"] * 6 + ["burst", "nav", "shake", "bounce", "form"]))
        if seg == "single":
            kind = draw(st.sampled_from(_KINDS))
            kw: dict[str, Any] = {"url": url}
            if kind == Kind.PAGEVIEW:
                url = draw(st.integers(0, len(URLS) - 1))
                kw["url"] = url
            if kind in (Kind.CLICK, Kind.DBLCLICK, Kind.MOVE):
                state["x"] += draw(st.sampled_from([-150, -40, -5, 0, 5, 40, 150]))
                state["y"] += draw(st.sampled_from([-60, -3, 0, 3, 60]))
                kw["x"], kw["y"] = state["x"], state["y"]
            if kind in (
                Kind.CLICK,
                Kind.DBLCLICK,
                Kind.FOCUS,
                Kind.INPUT,
                Kind.BLUR,
                Kind.SELECTION,
            ):
                ti = draw(st.integers(0, len(TARGETS) - 1))
                kw["target"] = kw["tag"] = ti
                if kind == Kind.CLICK and draw(st.integers(0, 15)) == 0:
                    kw["flags"] = 1
            if kind == Kind.SCROLL:
                state["sy"] = max(
                    0, state["sy"] + draw(st.sampled_from([-400, -30, -5, 10, 30, 400]))
                )
                kw["sy"] = state["sy"]
            if kind == Kind.REQUEST:
                kw["value"] = float(draw(st.sampled_from([80, 1500, 3000, 3500, 9000])))
                kw["status"] = draw(st.sampled_from([200, 200, 404, 500, 503]))
            ev(kind, **kw)
        elif seg == "burst":
            ti = draw(st.integers(0, len(TARGETS) - 1))
            for j in range(draw(st.integers(2, 7))):
                if j:
                    t += draw(short)
                dx = draw(st.sampled_from([0, 2, 10, 25, 31, 60]))
                ev(
                    Kind.CLICK,
                    url=url,
                    target=ti,
                    tag=ti,
                    x=state["x"] + dx,
                    y=state["y"] - dx // 2,
                    flags=1 if draw(st.integers(0, 20)) == 0 else 0,
                )
                extra = draw(
                    st.sampled_from(
                        [None] * 6
                        + [
                            Kind.DBLCLICK,
                            Kind.SCROLL,
                            Kind.SELECTION,
                            Kind.MUTATION,
                            Kind.ERROR,
                            Kind.REQUEST,
                        ]
                    )
                )
                if extra is not None:
                    t += draw(st.sampled_from([0, 50, 299, 300, 301, 900]))
                    ev(
                        extra,
                        url=url,
                        target=ti if extra != Kind.SCROLL else NONE_ID,
                        tag=ti if extra != Kind.SCROLL else NONE_ID,
                        sy=state["sy"] + 50 if extra == Kind.SCROLL else INT_NA,
                        value=float(draw(st.sampled_from([500, 3000, 4000])))
                        if extra == Kind.REQUEST
                        else float("nan"),
                        status=draw(st.sampled_from([200, 500])) if extra == Kind.REQUEST else 0,
                    )
        elif seg == "nav":
            pages = [url, draw(st.integers(0, len(URLS) - 1))]
            for j in range(draw(st.integers(2, 6))):
                if j:
                    t += draw(
                        st.sampled_from([500, 3000, 6999, 7000, 7001, 14_000, 15_000, 15_001])
                    )
                url = (
                    pages[j % 2] if draw(st.integers(0, 4)) else draw(st.integers(0, len(URLS) - 1))
                )
                ev(Kind.PAGEVIEW, url=url)
        elif seg in ("shake", "bounce"):
            amp = draw(st.sampled_from([2, 3, 20, 60, 200]))
            sign = 1
            for _ in range(draw(st.integers(3, 14))):
                t += draw(st.sampled_from([10, 40, 100, 499, 500, 501, 1600]))
                sign = -sign if draw(st.integers(0, 5)) else sign
                if seg == "shake":
                    axis = draw(st.sampled_from(["x", "x", "y"]))
                    state[axis] += sign * amp
                    ev(Kind.MOVE, url=url, x=state["x"], y=state["y"])
                else:
                    state["sy"] = max(0, state["sy"] + sign * amp * 3)
                    ev(Kind.SCROLL, url=url, sy=state["sy"])
        else:
            fields = [2, 9]
            for _ in range(draw(st.integers(1, 6))):
                f = draw(st.sampled_from(fields))
                for kind in draw(
                    st.sampled_from(
                        [
                            (Kind.FOCUS, Kind.INPUT, Kind.BLUR),
                            (Kind.FOCUS, Kind.BLUR),
                            (Kind.FOCUS, Kind.INPUT),
                            (Kind.SUBMIT,),
                            (Kind.CHANGE,),
                        ]
                    )
                ):
                    t += draw(st.sampled_from([0, 200, 2999, 3000, 3001, 10_000]))
                    ev(kind, url=url, target=f, tag=f)
    return out


def tables() -> dict[str, list[str]]:
    t: dict[str, list[str]] = {name: [] for name in STRING_TABLES}
    t["target"] = [a for a, _ in TARGETS]
    t["tag"] = [b for _, b in TARGETS]
    t["url"] = list(URLS)
    return t


def build_batch(
    sessions: list[list[dict[str, Any]]],
    session_ids: list[int] | None = None,
    closed: list[bool] | None = None,
    watermark: int = -(2**63),
    end_ts: list[int] | None = None,
) -> EventBatch:
    """An EventBatch from per-session event dicts (rows numbered in order)."""
    n_sess = len(sessions)
    flat = [e for s in sessions for e in s]
    cols: dict[str, np.ndarray] = {}
    for k, dt in EVENT_COLUMNS.items():
        if k == "session":
            cols[k] = np.repeat(np.arange(n_sess, dtype=np.int32), [len(s) for s in sessions])
        elif k == "row":
            cols[k] = np.asarray([e.get("row", i) for i, e in enumerate(flat)], dtype=np.int64)
        elif flat and k in flat[0]:
            cols[k] = np.asarray([e[k] for e in flat], dtype=dt)
        elif k in ("x", "y", "sy", "sh", "vh"):
            cols[k] = np.full(len(flat), INT_NA, dtype=dt)
        elif k in ("route", "msg", "tab", "target", "tag", "url"):
            cols[k] = np.full(len(flat), NONE_ID, dtype=dt)
        elif k == "value":
            cols[k] = np.full(len(flat), np.nan, dtype=dt)
        else:
            cols[k] = np.zeros(len(flat), dtype=dt)
    offsets = np.zeros(n_sess + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sessions], out=offsets[1:])
    ids = session_ids if session_ids is not None else list(range(n_sess))
    ends = end_ts if end_ts is not None else [s[-1]["ts"] if s else 0 for s in sessions]
    sess = {k: np.zeros(n_sess, dtype=dt) for k, dt in SESSION_COLUMNS.items()}
    sess["session_id"] = np.asarray(ids, dtype=np.uint64)
    sess["end_ts"] = np.asarray(ends, dtype=np.int64)
    sess["start_ts"] = np.asarray([s[0]["ts"] if s else 0 for s in sessions], dtype=np.int64)
    sess["closed"] = np.asarray(closed if closed is not None else [True] * n_sess, dtype=np.bool_)
    return EventBatch(
        columns=cols,
        offsets=offsets,
        sessions=sess,
        keys=[f"k{i}" for i in ids],
        uids=[None] * n_sess,
        watermark=watermark,
    )


def split_stream(sessions: list[list[dict[str, Any]]], cuts: list[int]) -> list[EventBatch]:
    """Cut a stream at times ``cuts``: batch k holds each session's events with ts in
    (cut[k-1], cut[k]] and watermark cut[k] + 1 (all later events are > cut[k]); the final
    batch closes every session (empty slices for sessions with nothing new), like the core."""
    for s_i, s in enumerate(sessions):
        for j, e in enumerate(s):
            e["row"] = s_i * 10_000 + j
    bounds = sorted(set(cuts))
    batches = []
    lo = -(2**63)
    for cut in bounds + [None]:
        parts, ids, ends = [], [], []
        for s_i, s in enumerate(sessions):
            evs = [e for e in s if e["ts"] > lo and (cut is None or e["ts"] <= cut)]
            if evs or cut is None:
                parts.append(evs)
                ids.append(s_i)
                seen = [e["ts"] for e in s if cut is None or e["ts"] <= cut]
                ends.append(seen[-1] if seen else 0)
        closed = [cut is None] * len(parts)
        batches.append(
            build_batch(
                parts, ids, closed, watermark=(cut + 1) if cut is not None else 2**62, end_ts=ends
            )
        )
        if cut is not None:
            lo = cut
    return batches
