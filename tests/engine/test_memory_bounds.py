"""The engine's state stays bounded on an endless stream of new sessions (issue 5, memory soak).

Each round brings new sessions that get flagged on the same page and element; once retention is
full, the Python containers the engine holds must stop growing from round to round, while the
per-page and per-element counts of distinct flagged sessions stay exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pay_detector import PayDetector

from uxtop.engine import Engine, Retention, core
from uxtop.engine.flag_tally import FlagTally
from uxtop.engine.kept_sessions import KeptSessions
from uxtop.ingest import IngestConfig, Ingestor

T0 = 1_767_225_600_000
ROUND_MS = 600_000  # each round starts 10 minutes after the previous one


class ChunkSource:
    """A live source fed by the test: ``read`` hands out the chunks pushed so far."""

    name = "test"
    done = False

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def read(self, max_bytes: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        pass


def round_lines(r: int, sessions: int, clicks: int) -> bytes:
    lines: list[dict[str, Any]] = []
    for s in range(sessions):
        t = T0 + r * ROUND_MS + s * 100
        sid = f"r{r}-s{s}"
        lines.append({"ts": t, "sid": sid, "type": "pageview", "url": "/checkout"})
        for c in range(clicks):
            lines.append(
                {
                    "ts": t + 10 * (c + 1),
                    "sid": sid,
                    "type": "click",
                    "url": "/checkout",
                    "target": "button#pay",
                    "x": 800,
                    "y": 400,
                }
            )
    lines.sort(key=lambda e: int(e["ts"]))
    return ("\n".join(json.dumps(e) for e in lines) + "\n").encode()


def pay_engine(src: ChunkSource, retention: Retention, publish_interval: float = 0.0) -> Engine:
    """An engine on ``src`` whose only flags are the pay clicks (no analytics)."""
    return Engine(
        [src],
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
        retention=retention,
        publish_interval=publish_interval,
    )


def held_items(obj: Any, seen: set[int] | None = None) -> int:
    """Entries in the Python containers reachable from the engine's own state (numpy arrays
    count once: their sizes are capped by retention, which other tests check)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, dict):
        return len(obj) + sum(held_items(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
        return len(obj) + sum(held_items(v, seen) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:  # keys, cached rows
        return sum(v is not None for v in obj.tolist())
    if isinstance(obj, (KeptSessions, FlagTally)):
        return sum(held_items(v, seen) for v in vars(obj).values())
    return 0


def engine_items(eng: Engine) -> int:
    skip = {"_snapshot", "_ingestor", "_detector", "_analytics", "sources", "_core_strings"}
    return sum(held_items(v) for k, v in vars(eng).items() if k not in skip)


def kept_column(eng: Engine, name: str) -> dict[int, int]:
    """A column of the kept sessions, by session id."""
    kept = eng._kept
    live = kept.live_slots()
    return dict(zip(kept.cols["sid"][live].tolist(), kept.cols[name][live].tolist(), strict=True))


def stream(eng: Engine, src: ChunkSource, rounds: int, sessions: int, clicks: int) -> Iterator[int]:
    """Feeds ``rounds`` rounds, yielding the engine's held entries after each."""
    for r in range(rounds):
        src.chunks.append(round_lines(r, sessions, clicks))
        while src.chunks:
            eng.step()
        eng.step()  # the round's last events are released by the next round's watermark
        yield engine_items(eng)


def test_engine_state_stops_growing_with_new_flagged_sessions() -> None:
    src = ChunkSource()
    # a window of about one round: kept sessions' rows leave it while they are still kept
    eng = pay_engine(src, Retention(max_sessions=60, window_events=200))
    sizes = list(stream(eng, src, rounds=16, sessions=40, clicks=3))
    flagged = 15 * 40  # every round's sessions, the last round's still held back by lateness
    snap = eng._publish(0.0)
    page = next(p for p in snap.pages if p.url == "/checkout")
    element = next(e for e in snap.elements if e.target == "button#pay")
    assert snap.flags == flagged * 3
    # distinct flagged sessions stay exact (each session is counted once, not per flag)
    assert page.sessions == flagged and element.sessions == flagged
    assert snap.flagged_sessions <= 60
    # once retention is full (round 2), what the engine holds no longer grows with the stream:
    # it saw-tooths with eviction to 90 % of the cap, and fixed-length logs (update times,
    # alerts) still fill by ~2 entries a round; a set per page or element would add ~80 a round
    assert max(sizes[-4:]) <= max(sizes[4:8]) + 40, sizes
    # the record store holds exactly the rows copied out for kept sessions (as their batches
    # left the window), one segment table entry or more each, and none of an evicted session's
    n_kept = kept_column(eng, "n_kept")
    kept_rows = sum(n_kept.values())
    assert eng._records.live_rows == eng._kept_events == kept_rows > 0
    copied = sum(1 for n in n_kept.values() if n)
    assert 0 < copied <= eng._records.segments <= kept_rows
    assert all(len(eng._records.rows_of(k)) == n for k, n in n_kept.items())


def test_a_sessions_flags_are_capped_but_all_counted() -> None:
    src = ChunkSource()
    eng = pay_engine(src, Retention(per_session_flags=50))
    for _ in stream(eng, src, rounds=2, sessions=1, clicks=400):
        pass
    assert list(kept_column(eng, "n_flags").values()) == [400]
    snap = eng._publish(0.0)
    row = snap.session_rows[0]
    assert row.n_flags == 400
    # one session, however many flags: counted once on its page and element
    page = next(p for p in snap.pages if p.url == "/checkout")
    element = next(e for e in snap.elements if e.target == "button#pay")
    assert (page.flags, page.sessions, element.sessions) == (400, 1, 1)
    detail = eng.drill(row.session_id)
    assert detail is not None
    assert "350 earlier flags not retained" in detail.note
    # the newest flags are the ones kept, oldest first, and the store holds no more
    assert [f.start_ts for f in detail.flags] == [T0 + 10 * (c + 1) for c in range(350, 400)]
    eng._flag_store._compact()
    assert eng._flag_store.live == 50


class RecordingAnalytics:
    """Stands in for uxtop.analytics: records which session closes reached it, and how."""

    def __init__(self) -> None:
        self.closed_in_batches: set[int] = set()
        self.told_closed: list[int] = []

    def update(self, batch: Any, strings: Any, flags: Any) -> int:
        s = batch.sessions
        self.closed_in_batches.update(s["session_id"][s["closed"]].tolist())
        return 0

    def sessions_closed(self, session_ids: np.ndarray) -> None:
        self.told_closed.extend(session_ids.tolist())

    def snapshot(self) -> None:
        return None


def test_closes_in_shed_batches_still_reach_analytics(monkeypatch: pytest.MonkeyPatch) -> None:
    # a tiny hand-off bound: analysis that does not run between feeds sheds the older batches
    monkeypatch.setattr(core, "MAX_HANDOFF_EVENTS", 50)
    src = ChunkSource()
    analytics = RecordingAnalytics()
    ing = Ingestor(IngestConfig(idle_gap_ms=60_000, lateness_ms=1000, evict_after_events=1))
    eng = Engine([src], ingestor=ing, detector=False, analytics=analytics, warmup_detectors=False)
    rounds, per_round = 8, 20
    for r in range(rounds):
        src.chunks.append(round_lines(r, per_round, clicks=2))
        eng._ingest_once()  # each round closes the previous round's sessions
        if r % 3 == 2:
            eng._analyse_step()
    eng._analyse_step()
    assert eng.latest().unanalysed_events > 0 or eng._shed_events > 0
    told = set(analytics.told_closed)
    assert told and not told & analytics.closed_in_batches
    # every closed session reached analytics, in a batch or told apart
    assert len(told | analytics.closed_in_batches) == (rounds - 1) * per_round


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(core._LIBC is None, reason="needs glibc malloc_trim")
def test_free_heap_pages_go_back_to_the_os() -> None:
    # 80 MB of heap blocks, then all but every 16th freed: the free chunks between the
    # survivors keep their pages (RSS) until the heap is trimmed
    blocks = [bytearray(4096) for _ in range(20_000)]
    survivors = blocks[::16]
    del blocks
    before = rss_bytes()
    assert core.release_free_heap()
    assert before - rss_bytes() > 30e6
    assert len(survivors) == 1250


def test_the_engine_trims_the_heap_on_its_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[float] = []
    now = [0.0]

    def trim() -> bool:
        trims.append(now[0])
        return True

    monkeypatch.setattr(core, "release_free_heap", trim)
    src = ChunkSource()
    eng = Engine([src], detector=False, analytics=False, clock=lambda: now[0])
    for _ in range(70):
        now[0] += 0.5
        eng.step()
    assert trims == [10.0, 20.0, 30.0]


def _long_sessions(sessions: int, events: int) -> list[bytes]:
    """Interleaved sessions, an event a second each, each with one pay click early on (at
    different times); as chunks of a few seconds of stream."""
    lines = []
    for i in range(events):
        for s in range(sessions):
            e: dict[str, Any] = {"ts": T0 + 1000 * i + s, "sid": f"long{s}", "url": "/checkout"}
            if i == 12 + 3 * s:
                e.update(type="click", target="button#pay", x=1, y=1)
            else:
                e.update(type="scroll", sy=10 * i)
            lines.append(json.dumps(e))
    step = 3 * sessions
    return [("\n".join(lines[i : i + step]) + "\n").encode() for i in range(0, len(lines), step)]


@pytest.mark.parametrize("publish_interval", [0.0, 1e9])
def test_a_flagged_sessions_past_survives_the_window(publish_interval: float) -> None:
    # a kept session's rows are copied out of the recent window batch by batch as the window
    # lets go of them; a drill-down joins them to those still in it: the same rows whether
    # snapshots come on every step (publish_interval 0) or never until the end (1e9)
    def retained(interval: float) -> dict[int, list[str]]:
        src = ChunkSource()
        eng = pay_engine(src, Retention(window_events=40), interval)
        for chunk in _long_sessions(sessions=4, events=60):
            src.chunks.append(chunk)
            eng.step()
        src.done = True
        eng.run_until_done(10)
        out = {}
        for sid in eng._kept.ids().tolist():
            d = eng.drill(sid)
            assert d is not None
            out[sid] = [
                line.decode() if isinstance(line, bytes) else str(line) for line in d.ndjson
            ]
        assert eng._records.live_rows == eng._kept_events
        return out

    got = retained(publish_interval)
    assert len(got) == 4
    # each kept more than the window holds: rows of batches that left the window
    assert all(len(rows) > 40 for rows in got.values())
    assert all(rows == sorted(rows, key=lambda r: json.loads(r)["ts"]) for rows in got.values())
    assert got == retained(0.0)


def test_a_session_whose_rows_all_left_the_window_before_a_snapshot_keeps_its_fields() -> None:
    # flagged in the first chunk, then silent while other traffic pushes the window on: its
    # rows and its fields (key, events) are taken from the batches as they leave, before any
    # snapshot reads the window
    src = ChunkSource()
    eng = pay_engine(src, Retention(window_events=30), publish_interval=1e9)
    src.chunks.append(round_lines(0, sessions=3, clicks=2))
    for i in range(40):
        t = T0 + 10_000 + 1000 * i
        filler = [
            {"ts": t + k, "sid": f"f{i}-{k}", "type": "scroll", "url": "/", "sy": k}
            for k in range(10)
        ]
        src.chunks.append(("\n".join(json.dumps(e) for e in filler) + "\n").encode())
    while src.chunks:
        eng.step()
    assert eng._window_events <= 30 + 10  # long gone from the window, before any snapshot
    assert list(kept_column(eng, "n_kept").values()) == [3, 3, 3]
    snap = eng._publish(0.0)  # the stream goes on: nothing has closed them yet
    assert sorted(r.key for r in snap.session_rows) == ["r0-s0", "r0-s1", "r0-s2"]
    for r in snap.session_rows:
        assert r.n_events == 3 and not r.closed
        d = eng.drill(r.session_id)
        assert d is not None and len(d.ndjson) == 3


def test_eviction_before_the_first_snapshot_still_puts_closed_sessions_first() -> None:
    # many sessions flagged between two snapshots: the snapshot evicts before it reads their
    # fields (most would be evicted again at once), so it must still know which have closed
    # The "b" sessions are flagged after the "a" ones but close; the "a" ones stay open, so
    # closed-first keeps every "a" session where newest-flag-first alone would drop them.
    def click(t: int, sid: str) -> dict[str, Any]:
        return {"ts": t, "sid": sid, "type": "click", "url": "/checkout",
                "target": "button#pay", "x": 800, "y": 400}  # fmt: skip

    def chunk(events: list[dict[str, Any]]) -> bytes:
        return ("\n".join(json.dumps(e) for e in events) + "\n").encode()

    src = ChunkSource()
    ing = Ingestor(IngestConfig(idle_gap_ms=60_000, lateness_ms=1000, evict_after_events=1))
    eng = Engine(
        [src],
        ingestor=ing,
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
        retention=Retention(max_sessions=8),
        publish_interval=1e9,  # no snapshot until the test asks
    )
    src.chunks.append(chunk([click(T0 + i, f"a{i}") for i in range(5)]))
    # in one chunk: the "b" sessions' flags, then the "a" sessions going on (every 20 s)
    # while the "b" ones fall silent past the idle gap, so they close in the batch that
    # flags them (a session kept before that batch has its close read as batches come)
    later = [click(T0 + 10_000 + i, f"b{i}") for i in range(5)]
    for step in range(1, 6):
        t = T0 + 10_000 + 20_000 * step
        later += [{"ts": t + i, "sid": f"a{i}", "type": "scroll", "url": "/", "sy": step}
                  for i in range(5)]  # fmt: skip
    src.chunks.append(chunk(later))
    while src.chunks:
        eng.step()
    assert len(eng._kept) == 10 and eng._unread  # all flagged, none read yet
    snap = eng._publish(0.0)
    # down to 90 % of the cap: 3 go, all closed "b" sessions, oldest flag first
    keys = sorted(r.key for r in snap.session_rows)
    assert keys == ["a0", "a1", "a2", "a3", "a4", "b3", "b4"]
    assert all(r.closed == r.key.startswith("b") for r in snap.session_rows)
