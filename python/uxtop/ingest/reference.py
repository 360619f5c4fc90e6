"""Plain-Python twin of the Rust core: msgspec per line + a Python sessioniser.

It is the executable specification of parsing and sessionisation (tests compare the Rust core
against it on generated streams) and the "msgspec + Python" peer in the benchmarks. Slow on
purpose: clarity over speed.

Semantics, per key (``sid`` if non-empty, else ``uid``), in arrival order, with G the largest
``ts`` seen so far on the whole stream (before this event), L the allowed lateness, and ``a`` the
arrival number of this event among valid events:

* expired: if ``a - last_arrival > evict_after_events`` and ``G - L - max_ts > idle_gap`` the
  key's state is forgotten (a fresh start: a new session, no floor).
* sealed: if ``G - L > max_ts`` the key's floor rises to ``max_ts`` (the stream has moved on; the
  events up to ``max_ts`` may already be out).
* effective floor = ``max(floor, max_ts - L)``; an event whose ``id`` was accepted for this key
  at ``ts >= floor`` is a ``duplicate``; else one with ``ts < floor`` is ``late``; else accepted.
* accepted events of a key are put in (ts, arrival) order and cut into sessions: a new session
  when the gap to the previous event exceeds ``idle_gap`` or the session would reach
  ``max_session``; a forgotten key's next event starts a new session too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from uxtop.batch import (
    EVENT_COLUMNS,
    FLAG_MODIFIER,
    INT_NA,
    NONE_ID,
    SESSION_COLUMNS,
    STRING_TABLES,
    EventBatch,
)
from uxtop.ingest.config import IngestConfig
from uxtop.schema import EVENT_CODES, Event, EventType, Kind, ts_to_ms

BAD_REASONS = ("too_long", "utf8", "json", "not_object", "wrong_type", "missing_ts", "missing_key")
MODIFIER_KEYS = ("ctrlKey", "metaKey", "shiftKey", "altKey", "mod")
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


class BadLine(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class _LooseEvent(Event, kw_only=True):
    """Event with ``ts`` optional, so a missing ts is told apart from a wrongly typed field."""

    ts: int | float | str | None = None  # type: ignore[assignment]


_decode_any = msgspec.json.Decoder().decode


def normalize_url(url: str, keep_query: bool) -> str:
    """Drop scheme and host; drop ``?query`` unless kept; always drop ``#fragment``."""
    needs_slash = False
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            ends = [i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0]
            url = rest[min(ends) :] if ends else ""
            needs_slash = not url.startswith("/")
            break
    cuts = [i for i in (url.find("#"), -1 if keep_query else url.find("?")) if i >= 0]
    if cuts:
        url = url[: min(cuts)]
    return "/" + url if needs_slash else url


def _key_text(v: str | int | None) -> str | None:
    if v is None:
        return None
    if isinstance(v, int):
        if not I64_MIN <= v <= I64_MAX:
            raise BadLine("wrong_type", "integer key out of range")
        return str(v)
    return v


def _to_i32(v: int | float | None) -> int:
    if v is None:
        return INT_NA
    if isinstance(v, float):
        if not math.isfinite(v):
            raise BadLine("wrong_type", "non-finite coordinate")
        v = int(v)  # truncation toward zero
    if not I32_MIN < v <= I32_MAX:
        raise BadLine("wrong_type", "coordinate out of range")
    return v


def parse_line(line: bytes, cfg: IngestConfig) -> dict[str, Any] | None:
    """One line → normalised field dict, or None for a blank line. Raises BadLine."""
    if len(line) > cfg.max_line_bytes:
        raise BadLine("too_long")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine("utf8", str(exc)) from None
    if not text.strip(" \t\r\n"):
        return None
    try:
        obj = _decode_any(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        # ValidationError here is a number out of float range (1e400): not representable JSON
        raise BadLine("json", str(exc)) from None
    if not isinstance(obj, dict):
        raise BadLine("not_object")
    try:
        ev = msgspec.convert(obj, _LooseEvent)
    except msgspec.ValidationError as exc:
        raise BadLine("wrong_type", str(exc)) from None
    # every type problem first, then the missing required keys (the Rust core's order)
    ts: int | None = None
    if ev.ts is not None:
        try:
            ts = ts_to_ms(ev.ts)
        except ValueError as exc:
            raise BadLine("wrong_type", str(exc)) from None
        if not I64_MIN <= ts <= I64_MAX:
            raise BadLine("wrong_type", "ts out of range")
    sid, uid, ident = _key_text(ev.sid), _key_text(ev.uid), _key_text(ev.id)
    key = sid if sid else uid if uid else None
    x, y, sy, sh, vh = (_to_i32(v) for v in (ev.x, ev.y, ev.sy, ev.sh, ev.vh))
    status = 0
    if ev.status is not None:
        s = ev.status
        if isinstance(s, float):
            s = int(s)
        if not -32768 <= s <= 32767:
            raise BadLine("wrong_type", "status out of range")
        status = s
    raw_value = ev.dur if ev.dur is not None else ev.score if ev.score is not None else math.nan
    try:
        with np.errstate(over="ignore"):
            value = float(np.float32(float(raw_value)))
        if ev.score is not None:
            float(ev.score)  # an int too large for a float is a type error even when dur wins
    except OverflowError:
        raise BadLine("wrong_type", "number out of range") from None
    if ts is None:
        raise BadLine("missing_ts")
    if key is None:
        raise BadLine("missing_key")
    flags = 0
    if ev.props and any(ev.props.get(k) is True for k in MODIFIER_KEYS):
        flags |= FLAG_MODIFIER
    return {
        "ts": ts,
        "id": ident,
        "key": key,
        "uid": uid if uid else None,
        "kind": EVENT_CODES[ev.type if ev.type is not None else EventType.CUSTOM],
        "url": normalize_url(ev.url, cfg.keep_query) if ev.url is not None else None,
        "target": ev.target,
        "tag": ev.tag,
        "route": ev.route,
        "msg": ev.msg,
        "tab": ev.tab,
        "dev": ev.dev,
        "rel": ev.rel,
        "geo": ev.geo,
        "x": x,
        "y": y,
        "sy": sy,
        "sh": sh,
        "vh": vh,
        "value": value,
        "status": status,
        "flags": flags,
    }


@dataclass
class _Session:
    session_id: int
    key: str
    start_ts: int
    end_ts: int
    n_events: int = 0
    first_url: str | None = None
    last_url: str | None = None
    uid: str | None = None
    dev: str | None = None
    rel: str | None = None
    geo: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _KeyState:
    max_ts: int
    last_arrival: int
    floor: int = I64_MIN
    ids: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReferenceResult:
    """Everything the stream produced: closed sessions with their events, and the counters."""

    sessions: list[_Session]
    counters: dict[str, Any]
    bad_lines: list[tuple[int, str, bytes]]


class ReferenceIngestor:
    """Whole-stream reference: ``feed`` bytes in any chunks, then ``finish`` once."""

    def __init__(self, cfg: IngestConfig | None = None) -> None:
        self.cfg = cfg or IngestConfig()
        self._tail = b""
        self._row = 0
        self._g: int | None = None
        self._arrivals = 0
        self._keys: dict[str, _KeyState] = {}
        self._retired: list[_KeyState] = []
        self.bad_lines: list[tuple[int, str, bytes]] = []
        self.counters: dict[str, Any] = {
            "lines": 0,
            "events": 0,
            "late": 0,
            "duplicates": 0,
            "bad_lines": 0,
        }
        self.bad_by_reason: dict[str, int] = {r: 0 for r in BAD_REASONS}

    def feed(self, data: bytes) -> None:
        buf = self._tail + data
        lines = buf.split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        row = self._row
        self._row += 1
        self.counters["lines"] += 1
        try:
            ev = parse_line(line, self.cfg)
        except BadLine as bad:
            self.counters["bad_lines"] += 1
            self.bad_by_reason[bad.reason] += 1
            # too-long lines are kept up to the limit: the core never buffers more than that
            self.bad_lines.append((row, bad.reason, line[: self.cfg.max_line_bytes]))
            return
        if ev is None:
            return
        ev["row"] = row
        self._accept(ev)

    def _accept(self, ev: dict[str, Any]) -> None:
        lat, ts = self.cfg.lateness_ms, ev["ts"]
        g = self._g
        a = self._arrivals
        self._arrivals += 1
        st = self._keys.get(ev["key"])
        if st is not None and g is not None:
            if (
                a - st.last_arrival > self.cfg.evict_after_events
                and g - lat - st.max_ts > self.cfg.idle_gap_ms
            ):
                self._retired.append(st)
                st = None
            elif g - lat > st.max_ts:
                st.floor = max(st.floor, st.max_ts)
        if st is None:
            st = _KeyState(max_ts=ts, last_arrival=a)
            self._keys[ev["key"]] = st
        st.last_arrival = a
        floor = max(st.floor, st.max_ts - lat)
        ident = ev["id"]
        if ident is not None and ident in st.ids and st.ids[ident] >= floor:
            self.counters["duplicates"] += 1
        elif ts < floor:
            self.counters["late"] += 1
        else:
            st.max_ts = max(st.max_ts, ts)
            if ident is not None:
                st.ids[ident] = ts
            st.events.append(ev)
            self.counters["events"] += 1
        self._g = ts if g is None else max(g, ts)

    def finish(self) -> ReferenceResult:
        if self._tail:
            self._line(self._tail)
            self._tail = b""
        sessions: list[_Session] = []
        for st in [*self._retired, *self._keys.values()]:
            evs = sorted(st.events, key=lambda e: (e["ts"], e["row"]))
            cur: _Session | None = None
            for e in evs:
                if (
                    cur is None
                    or e["ts"] - cur.end_ts > self.cfg.idle_gap_ms
                    or e["ts"] - cur.start_ts >= self.cfg.max_session_ms
                ):
                    cur = _Session(session_id=-1, key=e["key"], start_ts=e["ts"], end_ts=e["ts"])
                    sessions.append(cur)
                cur.end_ts = e["ts"]
                cur.n_events += 1
                cur.events.append(e)
                if e["url"] is not None:
                    cur.first_url = cur.first_url if cur.first_url is not None else e["url"]
                    cur.last_url = e["url"]
                for k in ("uid", "dev", "rel", "geo"):
                    if getattr(cur, k) is None and e[k] is not None:
                        setattr(cur, k, e[k])
        sessions.sort(key=lambda s: (s.start_ts, s.key))
        for i, s in enumerate(sessions):
            s.session_id = i
        counters = dict(
            self.counters, sessions=len(sessions), bad_by_reason=dict(self.bad_by_reason)
        )
        return ReferenceResult(sessions=sessions, counters=counters, bad_lines=self.bad_lines)


def reference_ingest(
    data: bytes | Iterable[bytes], cfg: IngestConfig | None = None
) -> ReferenceResult:
    ing = ReferenceIngestor(cfg)
    for chunk in [data] if isinstance(data, bytes) else data:
        ing.feed(chunk)
    return ing.finish()


def result_to_batch(result: ReferenceResult) -> tuple[EventBatch, dict[str, list[str]]]:
    """All sessions of a reference run as one EventBatch (closed), with its own string tables.

    Lets detectors and analytics be tested on the reference path, independent of the Rust core.
    """
    tables: dict[str, list[str]] = {t: [] for t in STRING_TABLES}
    index: dict[str, dict[str, int]] = {t: {} for t in STRING_TABLES}

    def intern(table: str, s: str | None) -> int:
        if s is None:
            return NONE_ID
        ids = index[table]
        if s not in ids:
            ids[s] = len(tables[table])
            tables[table].append(s)
        return ids[s]

    cols: dict[str, list[Any]] = {k: [] for k in EVENT_COLUMNS}
    offsets = [0]
    scol: dict[str, list[Any]] = {k: [] for k in SESSION_COLUMNS}
    for si, s in enumerate(result.sessions):
        for e in s.events:
            for k in EVENT_COLUMNS:
                if k == "session":
                    cols[k].append(si)
                elif k in ("url", "target", "tag", "route", "msg", "tab"):
                    cols[k].append(intern(k, e[k]))
                else:
                    cols[k].append(e[k])
        offsets.append(offsets[-1] + len(s.events))
        scol["session_id"].append(s.session_id)
        scol["start_ts"].append(s.start_ts)
        scol["end_ts"].append(s.end_ts)
        scol["n_events"].append(s.n_events)
        scol["first_url"].append(intern("url", s.first_url))
        scol["last_url"].append(intern("url", s.last_url))
        for k in ("dev", "rel", "geo", "uid"):
            scol[k].append(intern(k, getattr(s, k)))
        scol["closed"].append(True)
    batch = EventBatch(
        columns={k: np.asarray(v, dtype=EVENT_COLUMNS[k]) for k, v in cols.items()},
        offsets=np.asarray(offsets, dtype=np.int64),
        sessions={k: np.asarray(v, dtype=SESSION_COLUMNS[k]) for k, v in scol.items()},
        keys=[s.key for s in result.sessions],
        uids=[s.uid for s in result.sessions],
    )
    return batch, tables


__all__ = [
    "BAD_REASONS",
    "ReferenceIngestor",
    "ReferenceResult",
    "parse_line",
    "reference_ingest",
    "result_to_batch",
    "normalize_url",
    "Kind",
]
