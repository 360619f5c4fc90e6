"""Helpers to run the Rust core and the plain-Python reference on the same bytes and compare."""

from __future__ import annotations

import math
from typing import Any

from uxtop.batch import STRING_TABLES
from uxtop.ingest import IngestConfig, Ingestor
from uxtop.ingest.reference import ReferenceResult, reference_ingest

STRING_COLS = ("url", "target", "tag", "route", "msg", "tab")
VALUE_COLS = ("ts", "kind", "x", "y", "sy", "sh", "vh", "value", "status", "flags", "row")


def _norm_value(v: float) -> Any:
    return "nan" if isinstance(v, float) and math.isnan(v) else v


def run_core(chunks: list[bytes], cfg: IngestConfig) -> tuple[dict, dict, list]:
    """Sessions keyed by (key, start_ts) with their events as comparable tuples, counters, bad lines."""
    ing = Ingestor(cfg)
    sessions: dict[int, dict[str, Any]] = {}
    bad: list[tuple[int, str, bytes]] = []
    batches = [ing.feed(c) for c in chunks]
    bad.extend(ing.take_bad_lines())
    batches.append(ing.finish())
    bad.extend(ing.take_bad_lines())
    get = ing.strings.get
    last_ts: dict[int, int] = {}
    for b in batches:
        ids = b.sessions["session_id"].tolist()
        assert len(ids) == len(set(ids)), "a session listed twice in one batch"
        assert (
            b.offsets[0] == 0
            and b.offsets[-1] == len(b)
            and (b.offsets[1:] >= b.offsets[:-1]).all()
        )
        for i in range(b.n_sessions):
            sid = int(b.sessions["session_id"][i])
            s = sessions.setdefault(sid, {"key": b.keys[i], "events": [], "closed": False})
            assert not s["closed"], "events after a session closed"
            s["uid"] = b.uids[i]
            for k in ("start_ts", "end_ts", "n_events"):
                s[k] = int(b.sessions[k][i])
            s["first_url"] = get("url", int(b.sessions["first_url"][i]))
            s["last_url"] = get("url", int(b.sessions["last_url"][i]))
            for k in ("dev", "rel", "geo"):
                s[k] = get(k, int(b.sessions[k][i]))
            s["closed"] = bool(b.sessions["closed"][i])
            lo, hi = int(b.offsets[i]), int(b.offsets[i + 1])
            for j in range(lo, hi):
                ev = tuple(_norm_value(b.columns[c][j].item()) for c in VALUE_COLS) + tuple(
                    get(c, int(b.columns[c][j])) for c in STRING_COLS
                )
                # each session's events arrive in time order across batches
                assert ev[0] >= last_ts.get(sid, ev[0]), "events out of order across batches"
                last_ts[sid] = ev[0]
                s["events"].append(ev)
    assert all(s["closed"] for s in sessions.values()), "finish() left a session open"
    out = {(s["key"], s["start_ts"]): _session_view(s) for s in sessions.values()}
    counters = ing.counters()
    return out, counters, bad


def _session_view(s: dict[str, Any]) -> dict[str, Any]:
    return {
        k: s[k]
        for k in (
            "uid",
            "end_ts",
            "n_events",
            "first_url",
            "last_url",
            "dev",
            "rel",
            "geo",
            "events",
        )
    }


def run_reference(chunks: list[bytes], cfg: IngestConfig) -> tuple[dict, ReferenceResult]:
    res = reference_ingest(chunks, cfg)
    out = {}
    for s in res.sessions:
        events = [
            tuple(_norm_value(e[c]) for c in VALUE_COLS) + tuple(e[c] for c in STRING_COLS)
            for e in s.events
        ]
        out[(s.key, s.start_ts)] = {
            "uid": s.uid,
            "end_ts": s.end_ts,
            "n_events": s.n_events,
            "first_url": s.first_url,
            "last_url": s.last_url,
            "dev": s.dev,
            "rel": s.rel,
            "geo": s.geo,
            "events": events,
        }
    return out, res


def assert_core_matches_reference(chunks: list[bytes], cfg: IngestConfig) -> dict:
    core_sessions, counters, bad = run_core(chunks, cfg)
    ref_sessions, ref = run_reference(chunks, cfg)
    for k in ("lines", "events", "late", "duplicates", "bad_lines", "sessions"):
        assert counters[k] == ref.counters[k], (k, counters[k], ref.counters[k])
    assert counters["bad_by_reason"] == ref.counters["bad_by_reason"]
    assert bad == ref.bad_lines
    assert core_sessions.keys() == ref_sessions.keys()
    for key, s in ref_sessions.items():
        assert core_sessions[key] == s, key
    return counters


assert STRING_TABLES[:6] == STRING_COLS
