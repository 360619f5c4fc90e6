"""Analytics keeps per-session state (cohort columns, routes called, for late flags) for live
sessions only: a session leaves when the batch that closes it has been folded in (issue 5)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from uxtop.analytics import Analytics
from uxtop.analytics.config import AnalyticsConfig, FunnelConfig, StepConfig
from uxtop.ingest import IngestConfig, Ingestor

T0 = 1_767_225_600_000
GAP_MS = 60_000  # idle gap of the test's sessions
ROUND_MS = 5 * GAP_MS  # rounds far enough apart that each closes the previous one's sessions


def round_lines(r: int, sessions: int) -> bytes:
    lines: list[dict[str, Any]] = []
    for s in range(sessions):
        t = T0 + r * ROUND_MS + s * 50
        sid = f"r{r}-s{s}"
        dev = "mobile" if s % 2 else "desktop"
        lines.append({"ts": t, "sid": sid, "type": "pageview", "url": "/", "dev": dev})
        lines.append(
            {"ts": t + 5, "sid": sid, "type": "request", "url": "/", "route": "GET /api/home",
             "dur": 100, "status": 200}
        )  # fmt: skip
        lines.append({"ts": t + 9, "sid": sid, "type": "click", "url": "/", "target": "a#x"})
    lines.sort(key=lambda e: int(e["ts"]))
    return ("\n".join(json.dumps(e) for e in lines) + "\n").encode()


def ingestor() -> Ingestor:
    # evict_after_events=1: a session is closed once the stream's clock is an idle gap past it
    return Ingestor(IngestConfig(idle_gap_ms=GAP_MS, lateness_ms=1000, evict_after_events=1))


def test_closed_sessions_leave_the_late_flag_maps() -> None:
    ing, an = ingestor(), Analytics(AnalyticsConfig())
    per_round, rounds = 300, 12
    closed = 0
    held = []
    for r in range(rounds):
        batch = ing.feed(round_lines(r, per_round))
        closed += int(np.count_nonzero(batch.sessions["closed"]))
        an.update(batch, ing.strings, None)
        held.append(len(an._sessions))
    assert closed >= (rounds - 2) * per_round  # the stream really closes sessions
    # live sessions only: at most the rounds not closed yet, not every session ever seen
    assert max(held) <= 2 * per_round, held


def test_a_flag_in_the_batch_that_closes_its_session_keeps_its_cohort(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ing, an = ingestor(), Analytics(AnalyticsConfig())
    first = ing.feed(round_lines(0, 10))
    an.update(first, ing.strings, None)
    closing = ing.feed(round_lines(1, 10))  # releases and closes round 0's sessions
    is_closed = closing.sessions["closed"]
    assert is_closed.any()
    sid = int(closing.sessions["session_id"][np.flatnonzero(is_closed)[0]])
    seen: dict[str, Any] = {}
    add_flags = an.agg.add_flags

    def spy(kind: Any, session_id: Any, start_ts: Any, names: Any, cols: Any, bits: Any) -> None:
        seen["cols"], seen["bits"] = np.array(cols), np.array(bits)
        add_flags(kind, session_id, start_ts, names, cols, bits)

    monkeypatch.setattr(an.agg, "add_flags", spy)
    flags = SimpleNamespace(
        kind=np.zeros(1, np.uint8),
        session_id=np.array([sid], np.uint64),
        start_ts=np.array([T0 + 9], np.int64),
    )
    an.update(closing, ing.strings, flags)
    # the flag was folded in with its session's cohort columns and routes, then the session left
    # (column 0 is the total, 1 the dev column; an unknown session would have −1 in all)
    assert (seen["cols"][:, :2] >= 0).all() and seen["bits"].any()
    assert an._sessions.get(np.array([sid]))[0] == -1


def test_sessions_closed_apart_from_batches_leave_every_per_session_map() -> None:
    """The engine tells analytics of closes in batches it shed under overload."""
    cfg = AnalyticsConfig(
        funnels=[
            FunnelConfig(
                name="home",
                steps=[
                    StepConfig(type="pageview", url="/"),
                    StepConfig(type="click", target="a#x"),
                ],
            )
        ]
    )
    # no lateness: a feed releases all its events
    ing = Ingestor(IngestConfig(idle_gap_ms=GAP_MS, lateness_ms=0, evict_after_events=1))
    an = Analytics(cfg)
    first = ing.feed(round_lines(0, 40))
    second = ing.feed(round_lines(1, 40))  # closes round 0: this batch is the one "shed"
    an.update(first, ing.strings, None)
    funnel = an.funnels[0]
    held = (len(an._sessions), len(funnel._units))
    closed = second.sessions["session_id"][second.sessions["closed"]]
    assert held == (40, 40) and closed.shape[0] == 40
    entered = funnel.result().steps[0].entered
    an.sessions_closed(closed)
    assert (len(an._sessions), len(funnel._units)) == (0, 0)
    assert funnel.result().steps[0].entered == entered  # finished units still count


def test_active_sessions_stay_exact_when_the_session_table_is_full() -> None:
    """40 sessions live across 20 batches of one bucket, with a session table of 8 rows: most
    share a row with another, and each must still count once as active in the bucket."""
    from uxtop.analytics.session_table import SessionTable

    ing = Ingestor(IngestConfig(idle_gap_ms=GAP_MS, lateness_ms=0, evict_after_events=1))
    an = Analytics(AnalyticsConfig())
    an._sessions = SessionTable(an._sessions._spec, size=8, max_size=8, max_overflow=64)
    for k in range(20):
        lines = [
            {"ts": T0 + k * 200 + s, "sid": f"s{s}", "type": "click", "url": "/", "target": "a#x"}
            for s in range(40)
        ]
        an.update(ing.feed(("\n".join(json.dumps(e) for e in lines) + "\n").encode()), ing.strings)
    an.flush()
    row = an.bank.lookup("sessions.active", 0, 0)
    t0, values = an.bank.tail(row)
    assert values[t0 == (T0 // 10_000) * 10_000].tolist() == [40.0]
    assert an._sessions.size == 8 and len(an._sessions) == 40  # (8 rows + 32 in the overflow)
