"""Engine: sources → Rust ingest → (detector) → snapshots; retention, drill-down, commands.

A tiny stand-in detector (flags every click on ``button#pay``) keeps these tests about the
engine's plumbing; the real detectors are tested in tests/detect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from pay_detector import PayDetector

import uxtop.engine.core as core
from uxtop.engine import (
    BytesSource,
    Engine,
    FileTail,
    IterSource,
    Retention,
    StreamSource,
    parse_filter,
    snapshot_status,
)
from uxtop.snapshot import SetFilter, SetPaused

T0 = 1_767_225_600_000


def make_events(n_sessions: int = 20, clicks: int = 4, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    lines = []
    for s in range(n_sessions):
        t = T0 + s * 1000
        lines.append(
            {
                "ts": t,
                "sid": f"s{s}",
                "type": "pageview",
                "url": "/checkout",
                "dev": "mobile" if s % 2 else "desktop",
            }
        )
        for _ in range(10):
            t += 50
            lines.append(
                {
                    "ts": t,
                    "sid": f"s{s}",
                    "type": "move",
                    "url": "/checkout",
                    "x": int(rng.integers(0, 1200)),
                    "y": int(rng.integers(0, 900)),
                }
            )
        target = "button#pay" if s % 3 == 0 else "a.link"
        for _ in range(clicks):
            t += 200
            lines.append(
                {
                    "ts": t,
                    "sid": f"s{s}",
                    "type": "click",
                    "url": "/checkout",
                    "target": target,
                    "x": 800,
                    "y": 400,
                }
            )
        lines.append(
            {
                "ts": t + 100,
                "sid": f"s{s}",
                "type": "scroll",
                "url": "/checkout",
                "sy": 1000,
                "sh": 4000,
                "vh": 900,
            }
        )
    lines.sort(key=lambda e: e["ts"])
    return ("\n".join(json.dumps(e) for e in lines) + "\n").encode()


def run(data: bytes, **kw) -> Engine:
    eng = Engine(
        [BytesSource(data)],
        detector=kw.pop("detector", PayDetector()),
        analytics=False,
        warmup_detectors=False,
        **kw,
    )
    eng.run_until_done(30)
    return eng


def test_engine_counts_and_flags_from_bytes() -> None:
    eng = run(make_events())
    snap = eng.latest()
    assert snap.events == 20 * 16
    assert snap.sessions == 20
    assert snap.active_sessions == 0  # finish() closed them all
    assert not snap.running
    flagged = {r.key for r in snap.session_rows}
    assert flagged == {f"s{s}" for s in range(0, 20, 3)}
    assert snap.flags == len(flagged) * 4
    rage = next(k for k in snap.kind_rates if k.kind == "rage_click")
    assert rage.total == snap.flags
    assert snap.pages[0].url == "/checkout"
    assert snap.elements[0].target == "button#pay"
    heat = snap.heat[0]
    assert heat.url == "/checkout" and heat.n_clicks == 20 * 4 and heat.n_moves == 200
    assert sum(heat.depth) == 20
    assert not heat.clicks.flags.writeable  # published arrays are immutable


def test_worst_pages_and_elements_group_id_pages_heat_maps_stay_per_url() -> None:
    """The same broken button on many product pages is one row of the worst pages and one of
    the worst elements (``/product/*``, flags summed, sessions distinct), while each URL's heat
    map keeps that URL's own elements and counts."""
    lines = []
    for s in range(12):
        sid, url = f"s{s}", f"/product/{100 + s % 4}"  # 4 products, 3 sessions each
        t = T0 + s * 1000
        lines.append({"ts": t, "sid": sid, "type": "pageview", "url": url})
        for c in range(2):
            lines.append(
                {"ts": t + 200 * (c + 1), "sid": sid, "type": "click", "url": url,
                 "target": "button#pay", "x": 800, "y": 400}
            )  # fmt: skip
        # a second page view of another product: the session counts once per template
        other = f"/product/{200 + s}"
        lines.append({"ts": t + 700, "sid": sid, "type": "pageview", "url": other})
        lines.append(
            {"ts": t + 800, "sid": sid, "type": "click", "url": other, "target": "button#pay",
             "x": 800, "y": 400}
        )  # fmt: skip
    lines.sort(key=lambda e: e["ts"])
    eng = run(("\n".join(json.dumps(e) for e in lines) + "\n").encode())
    snap = eng.latest()
    assert snap.flags == 12 * 3
    assert [p.url for p in snap.pages] == ["/product/*"]
    assert snap.pages[0].flags == 36 and snap.pages[0].sessions == 12
    assert [(e.url, e.target) for e in snap.elements] == [("/product/*", "button#pay")]
    assert snap.elements[0].flags == 36 and snap.elements[0].sessions == 12
    # per URL: /product/100 had sessions 0, 4, 8 with two flagged clicks each
    heat = {h.url: h for h in snap.heat}
    assert "/product/*" not in heat
    (row,) = heat["/product/100"].elements
    assert (row.url, row.flags, row.sessions) == ("/product/100", 6, 3)
    (row,) = heat["/product/205"].elements
    assert (row.url, row.flags, row.sessions) == ("/product/205", 1, 1)


def test_friction_spike_alert_names_the_page_template() -> None:
    """A rage-click spike spread over product pages names ``/product/*`` as its worst page,
    not whichever single product had the most clicks."""
    lines = []
    for m in range(6):  # a pay click a minute on /checkout for five minutes, then a burst
        t = T0 + m * 60_000
        clicks = [(t + 30_000, "/checkout")] if m < 5 else [
            (t + 1_000 * i, f"/product/{i % 10}") for i in range(30)
        ]  # fmt: skip
        for k, (ts, url) in enumerate(clicks):
            sid = f"m{m}-{k}"
            lines.append({"ts": ts, "sid": sid, "type": "pageview", "url": url})
            lines.append(
                {"ts": ts + 100, "sid": sid, "type": "click", "url": url,
                 "target": "button#pay", "x": 800, "y": 400}
            )  # fmt: skip
    lines.append({"ts": T0 + 6 * 60_000 + 10_000, "sid": "tail", "type": "pageview", "url": "/"})
    lines.sort(key=lambda e: e["ts"])
    eng = run(("\n".join(json.dumps(e) for e in lines) + "\n").encode())
    spikes = [a for a in eng.latest().alerts if "rage click spike" in a.title]
    assert spikes, [a.title for a in eng.latest().alerts]
    assert spikes[0].title.endswith("worst page /product/*"), spikes[0].title


def test_drill_returns_events_flags_and_ndjson() -> None:
    eng = run(make_events())
    row = next(r for r in eng.latest().session_rows if r.key == "s3")
    d = eng.drill(row.session_id)
    assert d is not None and d.key == "s3"
    assert len(d.ndjson) == 16  # every event of the session was retained
    assert sum(1 for e in d.entries if e.kind == "flag") == 4
    assert sum(1 for e in d.entries if e.level == "flag" and e.kind == "click") == 4
    assert d.entries[0].kind == "pageview"
    back = [json.loads(x) for x in d.ndjson]
    assert all(e["sid"] == "s3" for e in back) and back[0]["type"] == "pageview"
    assert d.path_url == "/checkout" and len(d.path) == 14
    assert eng.drill(10**9) is None


def test_unflagged_sessions_are_not_retained_and_eviction_caps_memory() -> None:
    eng = run(make_events(n_sessions=60), retention=Retention(max_sessions=5))
    snap = eng.latest()
    assert 4 <= snap.flagged_sessions <= 5  # evicted down to 90 % of the cap
    assert snap.retained_events <= 5 * 16
    # the survivors are the most recently flagged
    assert {r.key for r in snap.session_rows} <= {f"s{s}" for s in (45, 48, 51, 54, 57)}
    assert "s57" in {r.key for r in snap.session_rows}


def test_event_cap_evicts_even_without_new_flags() -> None:
    eng = run(make_events(n_sessions=30, clicks=4), retention=Retention(max_events=40))
    snap = eng.latest()
    assert snap.retained_events <= 40


def test_filter_and_pause_commands() -> None:
    eng = Engine(
        [BytesSource(make_events())],
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
    )
    eng.run_until_done(30)
    eng.send(SetFilter(text="s12"))
    eng.send(SetPaused(paused=True))
    eng.step()
    snap = eng._publish(time.monotonic())
    assert [r.key for r in snap.session_rows] == ["s12"]
    assert snap.session_filter == "s12" and snap.paused
    assert parse_filter("kind:rage url:/x foo") == [
        ("kind", "rage"),
        ("url", "/x"),
        ("text", "foo"),
    ]
    eng.send(SetFilter(text="kind:dead"))
    eng.step()
    assert eng._publish(time.monotonic()).session_rows == ()


def test_bad_lines_are_counted_and_quarantined(tmp_path) -> None:
    q = tmp_path / "bad.ndjson"
    data = make_events(3) + b'not json\n{"sid": "x"}\n'
    eng = Engine([BytesSource(data)], detector=False, analytics=False, quarantine_path=str(q))
    eng.run_until_done(10)
    snap = eng.latest()
    assert snap.bad_lines == 2 and snap.quarantine_path == str(q)
    assert q.read_bytes().count(b"\n") == 2


def test_threaded_engine_follows_a_growing_file(tmp_path) -> None:
    path = tmp_path / "live.ndjson"
    data = make_events(9)
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    path.write_bytes(data[:half])
    eng = Engine(
        [FileTail(str(path))],
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
        publish_interval=0.05,
    ).start()
    try:
        deadline = time.monotonic() + 10
        while eng.latest().events == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        first = eng.latest().events
        assert 0 < first
        with open(path, "ab") as fh:
            fh.write(data[half:])
        total = data.count(b"\n")
        # the ingest counter includes events still held back by the lateness rule
        while eng.latest().events < total and time.monotonic() < deadline:
            time.sleep(0.02)
        assert eng.latest().events == total
        snap = eng.latest()
        assert snap.running  # a followed file never "ends"
        # drill-down through the engine thread (Future) works while it runs
        rows = snap.session_rows
        if rows:
            assert eng.drill(rows[0].session_id) is not None
        status = snapshot_status(snap, time.monotonic())
        assert status["events"] == total and status["type"] == "status"
    finally:
        eng.stop()


def test_stdin_source_reads_a_pipe_to_eof() -> None:
    r, w = os.pipe()
    data = make_events(4)

    def writer() -> None:
        with os.fdopen(w, "wb") as fh:
            fh.write(data)

    threading.Thread(target=writer).start()
    with os.fdopen(r, "rb") as fh:
        eng = Engine([StreamSource(fh, name="pipe")], detector=False, analytics=False)
        snap = eng.run_until_done(10)
    assert snap.events == data.count(b"\n") and not snap.running


def test_a_full_pipe_queue_is_not_a_trickle() -> None:
    """The ingest thread waits to gather input after a read smaller than ``trickle_bytes()``.
    A pipe's queue can never hold more than ``max_buffered``: were the threshold above that,
    every read of a saturated pipe would wait, and the producer would block (it did with a
    threshold of half a 64 MB read budget)."""
    with open(os.devnull, "rb") as fh:
        src = StreamSource(fh, name="pipe")
        assert core.trickle_bytes() <= src.max_buffered // 2
        assert core.trickle_bytes() <= core.READ_BUDGET // 2


def test_the_handoff_holds_several_full_reads() -> None:
    """A full read is ~READ_BUDGET / 110 events (the canonical ~110-byte event). If the count
    bound held fewer than three, one batch waiting through a moment's stall plus the next read
    would shed a whole batch at once, whatever its age (it did at 1 M with 64 MB reads)."""
    assert core.MAX_HANDOFF_EVENTS >= 3 * core.READ_BUDGET // 110


def test_an_engine_turns_numpys_huge_page_advice_off() -> None:
    """(see ``core.skip_huge_page_advice``: page faults in fresh batch arrays compacted memory)"""
    setting = np._core.multiarray._set_madvise_hugepage
    before = setting(True)
    try:
        Engine([BytesSource(b"")], detector=False, analytics=False)
        assert setting(True) is False  # the engine had turned it off
    finally:
        setting(before)


def test_engine_is_headless() -> None:
    """The engine, snapshots and sources never import a UI toolkit (harlequin's rule)."""
    code = "import sys, uxtop.engine, uxtop.snapshot; assert 'textual' not in sys.modules and 'rich' not in sys.modules, sorted(m for m in sys.modules if m.startswith(('textual','rich')))"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cap", [3])
def test_per_session_cap_keeps_newest_events(cap: int) -> None:
    eng = run(make_events(6, clicks=6), retention=Retention(per_session_events=cap))
    row = eng.latest().session_rows[0]
    d = eng.drill(row.session_id)
    assert d is not None and len(d.ndjson) == cap  # its newest events, exactly


def rage_events(n: int = 10) -> bytes:
    lines = []
    for s in range(n):
        t = T0 + s * 100_000
        lines.append(
            {"ts": t, "sid": f"r{s}", "type": "pageview", "url": "/checkout", "dev": "mobile"}
        )
        for _ in range(5):
            t += 150
            lines.append(
                {
                    "ts": t,
                    "sid": f"r{s}",
                    "type": "click",
                    "url": "/checkout",
                    "target": "button#pay",
                    "tag": "button",
                    "x": 800,
                    "y": 400,
                }
            )
        t += 20_000
        lines.append({"ts": t, "sid": f"r{s}", "type": "pageview", "url": "/cart"})
    return ("\n".join(json.dumps(e) for e in lines) + "\n").encode()


def test_real_detectors_end_to_end() -> None:
    """With uxtop.detect's Detector: rage bursts become flagged sessions with rule + evidence."""
    pytest.importorskip("uxtop.detect")
    eng = Engine([BytesSource(rage_events())], analytics=False)
    assert eng.wait_for_detectors(120)  # background JIT warm-up finished
    snap = eng.run_until_done(60)
    assert snap.detectors.state == "ready", snap.detectors.error
    rage = next(k for k in snap.kind_rates if k.kind == "rage_click")
    assert rage.total == 10
    assert len(snap.session_rows) == 10 and all(r.score > 0 for r in snap.session_rows)
    assert snap.detectors.profile == "uxtop"
    assert dict(snap.detectors.rows[0].thresholds)["min_clicks"] == "3"
    d = eng.drill(snap.session_rows[0].session_id)
    flag = next(e for e in d.entries if e.kind == "flag")
    assert "rage" in flag.text and "rule:" in flag.text
    assert sum(1 for e in d.entries if e.kind == "click" and e.level == "flag") == 5


class SlowAnalytics:
    """Analytics stand-in that takes ``delay`` seconds per batch (an overloaded analysis side)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.events = 0

    def update(self, batch, strings, flags) -> None:  # noqa: ANN001
        time.sleep(self.delay)
        self.events += len(batch)

    def snapshot(self) -> None:
        return None


def _run_threaded(eng: Engine, timeout: float = 20) -> None:
    eng.start()
    try:
        deadline = time.monotonic() + timeout
        while eng.latest().running and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        eng.stop()


def test_threaded_pipeline_matches_synchronous_run() -> None:
    """Ingest and analysis on two threads give the same picture as one synchronous loop."""
    data = make_events(30)
    sync = run(data).latest()
    eng = Engine(
        [BytesSource(data)],
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
        publish_interval=0.02,
    )
    _run_threaded(eng)
    snap = eng.latest()
    assert not snap.running
    assert (snap.events, snap.sessions, snap.flags, snap.flagged_sessions) == (
        sync.events,
        sync.sessions,
        sync.flags,
        sync.flagged_sessions,
    )
    assert {r.key for r in snap.session_rows} == {r.key for r in sync.session_rows}
    assert snap.unanalysed_events == 0 and snap.analysis_backlog == 0


def test_overloaded_analysis_sheds_oldest_batches_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core, "READ_BUDGET", 4096)  # many small batches
    monkeypatch.setattr(core, "MAX_HANDOFF_EVENTS", 100)
    data = make_events(200)
    slow = SlowAnalytics(delay=0.05)
    eng = Engine([BytesSource(data)], detector=False, analytics=slow, publish_interval=0.02)
    _run_threaded(eng, timeout=60)
    snap = eng.latest()
    total = data.count(b"\n")
    assert snap.events == total  # every event is still counted and sessionised
    assert snap.unanalysed_events > 0
    assert (
        slow.events + snap.unanalysed_events == total
    )  # analysed or reported, never lost silently
    assert any(n.startswith("overload:") for n in snap.notes)


def test_handoff_sheds_by_age_so_a_burst_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches read together wait for analysis however many they are (a burst is work, not
    overload); once the oldest has waited past MAX_HANDOFF_AGE_S, the next read sheds the old
    ones and keeps the newest; a backlog too small to matter is never shed for its age. Driven
    on a manual clock, the ingest side only."""
    monkeypatch.setattr(core, "READ_BUDGET", 4096)  # many small batches
    now = [100.0]
    eng = Engine(
        [BytesSource(make_events(200))],
        detector=False,
        analytics=False,
        warmup_detectors=False,
        clock=lambda: now[0],
    )
    for _ in range(8):
        eng._ingest_once()
    waiting = len(eng._handoff)
    burst = eng._handoff_events
    assert waiting >= 4 and burst > 0
    assert eng._shed_events == 0  # a burst inside the age bound is analysed, all of it

    now[0] += core.MAX_HANDOFF_AGE_S * 0.9
    eng._ingest_once()
    assert eng._shed_events == 0  # still inside the bound

    now[0] += core.MAX_HANDOFF_AGE_S * 0.2
    monkeypatch.setattr(core, "MIN_SHED_EVENTS", eng._handoff_events + 10**6)
    eng._ingest_once()
    assert eng._shed_events == 0  # old, but small enough to clear at once: kept

    monkeypatch.setattr(core, "MIN_SHED_EVENTS", 0)
    eng._ingest_once()
    # every batch read at the first moment is now too old: shed, counted; the fresh ones wait
    assert eng._shed_events == burst
    assert eng._handoff and all(now[0] - at <= core.MAX_HANDOFF_AGE_S for _, at in eng._handoff)


def test_member_matches_isin() -> None:
    from uxtop.engine.core import member

    rng = np.random.default_rng(3)
    for n_ids in (0, 1, 7, 500):
        ids = np.sort(rng.choice(2**40, size=n_ids, replace=False).astype(np.uint64))
        values = np.concatenate([ids[: n_ids // 2], rng.integers(0, 2**40, 300).astype(np.uint64)])
        assert np.array_equal(member(values, ids), np.isin(values, ids))


def test_iter_source_reads_every_byte_in_order_within_the_budget() -> None:
    rng = np.random.default_rng(8)
    chunks = [
        bytes(rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8)) for _ in range(300)
    ]
    src = IterSource(iter(chunks), name="t")
    got: list[bytes] = []
    deadline = time.monotonic() + 20
    while not src.done and time.monotonic() < deadline:
        budget = int(rng.integers(1, 9000))
        data = src.read(budget)
        assert len(data) <= budget
        got.append(data)
    assert b"".join(got) == b"".join(chunks)


class _SmallReads(BytesSource):
    """At most ``cap`` bytes per read: many small batches, as a live stream gives."""

    def __init__(self, data: bytes, cap: int) -> None:
        super().__init__(data)
        self.cap = cap

    def read(self, max_bytes: int) -> bytes:
        return super().read(min(max_bytes, self.cap))


@pytest.mark.parametrize("batches_per_step", [1, 7])
def test_flagged_sessions_keep_their_whole_past_in_order(batches_per_step: int) -> None:
    """A session is flagged after some of its events went by; its drill-down still holds every
    event once, in order, however many batches one analysis step takes in."""
    # sessions of 40 s (well past the 5-s lateness, so each is released over many batches),
    # overlapping; every third clicks button#pay half-way through
    lines = []
    for s in range(12):
        for i in range(20):
            e = {"ts": T0 + s * 3000 + i * 2000, "sid": f"s{s}", "type": "move", "url": "/c"}
            if i == 10 and s % 3 == 0:
                e.update(type="click", target="button#pay", x=1, y=2)
            lines.append(e)
    lines.sort(key=lambda e: e["ts"])
    data = ("\n".join(json.dumps(e) for e in lines) + "\n").encode()
    eng = Engine(
        [_SmallReads(data, 400)], detector=PayDetector(), analytics=False, warmup_detectors=False
    )
    while not eng._input_done:
        for _ in range(batches_per_step):
            eng._ingest_once()
        eng._analyse_step()
    eng.run_until_done(30)
    want: dict[str, list[bytes]] = {}
    for line in data.splitlines():
        want.setdefault(json.loads(line)["sid"], []).append(line)
    rows = eng.latest().session_rows
    assert len(rows) == 4  # s0, s3, s6, s9 click button#pay
    for r in rows:
        d = eng.drill(r.session_id)
        assert d is not None
        got = [json.loads(x) for x in d.ndjson]
        assert [e["ts"] for e in got] == [json.loads(x)["ts"] for x in want[r.key]]
        assert [e["type"] for e in got] == [json.loads(x)["type"] for x in want[r.key]]


def test_parts_fed_as_one_equal_their_join() -> None:
    from uxtop.ingest import Ingestor

    data = make_events(12)
    cuts = [0, 1, 2, 333, 334, 2000, len(data) // 2, len(data) - 3, len(data)]
    parts = [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    one, many = Ingestor(), Ingestor()
    a = [one.feed(data), one.finish()]
    b = [many.feed_parts(parts), many.finish()]
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y) and x.n_sessions == y.n_sessions
        for k, v in x.columns.items():
            assert np.array_equal(v, y.columns[k], equal_nan=v.dtype.kind == "f"), k
    assert one.counters()["bytes"] == many.counters()["bytes"] == len(data)


@pytest.mark.parametrize("frame_up", [True, False])
def test_sources_are_read_after_the_first_frame_or_the_delay(frame_up: bool) -> None:
    """With a UI, nothing is read before its first frame (the GIL is the UI's while it draws);
    without one, reading starts after ``warmup_delay`` anyway."""
    pulled: list[float] = []

    def chunks():  # noqa: ANN202
        pulled.append(time.monotonic())
        yield make_events(3)

    eng = Engine(
        [IterSource(chunks, name="gen")],
        detector=PayDetector(),
        analytics=False,
        warmup_detectors=False,
        # far from the frame's 0.4 s, so a loaded machine's thread wake-ups cannot blur the two
        warmup_delay=5.0,
    )
    t0 = time.monotonic()
    eng.start()
    try:
        time.sleep(0.4)
        assert not pulled and eng.latest().events == 0
        if frame_up:
            eng.ui_ready.set()
        deadline = time.monotonic() + 10
        while eng.latest().running and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        eng.stop()
    assert pulled and eng.latest().events > 0
    waited = pulled[0] - t0
    assert waited < 4.0 if frame_up else waited >= 4.9


def test_live_engine_paces_insights_and_a_synchronous_run_does_not() -> None:
    from uxtop.analytics import Analytics

    sync = Engine([BytesSource(make_events())], detector=False, analytics=Analytics())
    sync.run_until_done()
    assert sync.latest().analytics is not None  # analytics ran
    assert sync._analytics.insight_interval_s == 0.0  # exact per bucket: reports, tests

    live = Engine(
        [BytesSource(make_events())],
        detector=False,
        analytics=Analytics(),
        publish_interval=0.25,
    ).start()
    try:
        assert live._analytics.insight_interval_s == 0.25  # no fresher than its snapshots
    finally:
        live.stop()


def test_a_file_read_comes_in_pieces_and_in_order(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of a file or bytes source is handed over as pieces of at most READ_PIECE (heap
    buffers, not fresh mmapped pages); the pieces are the bytes in order, and an engine over
    the file sees every event."""
    import uxtop.engine.sources as sources

    monkeypatch.setattr(sources, "READ_PIECE", 1000)
    data = make_events(40)
    path = tmp_path / "events.ndjson"
    path.write_bytes(data)
    tail = FileTail(str(path), follow=False)
    parts = tail.read_parts(4500)
    assert [len(p) for p in parts] == [1000] * 4 + [500]
    rest = tail.read_parts(10**9)
    assert b"".join(parts + rest) == data and max(map(len, rest)) <= 1000
    assert BytesSource(data).read_parts(2500) == [data[:1000], data[1000:2000], data[2000:2500]]
    monkeypatch.setattr(core, "READ_BUDGET", 3000)  # several reads of several pieces
    snap = Engine(
        [FileTail(str(path), follow=False)], detector=False, analytics=False
    ).run_until_done(10)
    assert snap.events == data.count(b"\n")
