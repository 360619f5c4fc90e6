"""Fixed, clock-free data for TUI tests and snapshot tests: a Snapshot and SessionDetails built
by hand (no engine, no threads), and a feed that serves them and records commands."""

from __future__ import annotations

import numpy as np

from uxtop.engine.detail import build_detail
from uxtop.schema import Kind
from uxtop.snapshot import (
    FLAG_KINDS,
    Alert,
    Command,
    DetectorRow,
    DetectorStats,
    ElementRow,
    FlagRow,
    KindRate,
    PageHeat,
    PageRow,
    SessionDetail,
    SessionRow,
    SetFilter,
    Snapshot,
    freeze,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = 1000.0  # the fixed "monotonic" clock of the fixture feed
URLS = ["/checkout", "/cart", "/product/42", "/search", "/"]
TARGETS = ["button#pay", "button.add-to-cart", "a.next-page", "input#coupon", "div.promo-banner"]
DEVS = ["mobile", "desktop", "tablet"]
RELS = ["2.3.0", "2.2.9"]
GEOS = ["DE", "US", "FR", "BR"]


def _series(seed: int, spike: bool) -> tuple[int, ...]:
    rng = np.random.default_rng(seed)
    base = rng.poisson(1.0, 30)
    if spike:
        base[-8:] += rng.poisson(6, 8)
    return tuple(int(v) for v in base)


def _flag(i: int, sid: int, kind: str, ts: int) -> FlagRow:
    return FlagRow(
        kind=kind,
        session_id=sid,
        start_ts=ts,
        end_ts=ts + 900,
        url=URLS[i % 3],
        target=TARGETS[i % 4],
        count=3 + i % 4,
        severity=round(0.5 + (i % 5) / 10, 2),
        rule={
            "rage_click": "≥3 clicks within 1000 ms inside 30 px",
            "dead_click": "no mutation/request/navigation within 2500 ms",
            "error_click": "JS error within 1000 ms of the click",
        }.get(kind, "kind-specific rule"),
        evidence=tuple(range(100 + i * 10, 104 + i * 10)),
    )


def session_rows(n: int = 40) -> tuple[SessionRow, ...]:
    rows = []
    for i in range(n):
        kinds = tuple(FLAG_KINDS[j % len(FLAG_KINDS)] for j in (i % 3, (i + 4) % 9)[: 1 + i % 2])
        rows.append(
            SessionRow(
                session_id=1000 + i,
                key=f"s-{1000 + i:05d}",
                score=round(((i * 37) % 97) / 9.7, 1),
                n_flags=1 + (i * 7) % 6,
                kinds=kinds,
                url=URLS[i % 3],
                target=TARGETS[i % 4],
                start_ts=T0 + i * 20_000,
                last_flag_ts=T0 + i * 20_000 + 15_000,
                n_events=150 + i * 13,
                dev=DEVS[i % 3],
                rel=RELS[i % 2],
                geo=GEOS[i % 4],
                closed=i % 5 == 0,
                seq=i + 1,
            )
        )
    return tuple(reversed(rows))


def _grid(seed: int, hot: tuple[int, int], spread: float, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.zeros((96, 64), dtype=np.int32)
    ys = np.clip(rng.normal(hot[0], spread, n).astype(int), 0, 95)
    xs = np.clip(rng.normal(hot[1], spread * 1.5, n).astype(int), 0, 63)
    np.add.at(g, (ys, xs), 1)
    ys = rng.integers(0, 40, n // 2)
    xs = rng.integers(0, 64, n // 2)
    np.add.at(g, (ys, xs), 1)
    return g


def heat() -> tuple[PageHeat, ...]:
    out = []
    for i, url in enumerate(URLS[:4]):
        clicks = _grid(10 + i, (18 + 3 * i, 44 - 5 * i), 2.0, 300)
        moves = _grid(20 + i, (14 + 2 * i, 30), 8.0, 4000)
        out.append(
            PageHeat(
                url=url,
                clicks=freeze(clicks),
                moves=freeze(moves),
                cell_w=30,
                cell_h=50,
                n_clicks=int(clicks.sum()),
                n_moves=int(moves.sum()),
                depth=tuple(int(v) for v in (400, 380, 320, 250, 200, 150, 90, 60, 30, 12 + i)),
                elements=tuple(
                    ElementRow(
                        url=url,
                        target=TARGETS[(i + j) % 5],
                        heat=9.0 - j,
                        flags=20 - 3 * j,
                        top_kind=FLAG_KINDS[j % 3],
                        sessions=12 - j,
                    )
                    for j in range(4)
                ),
            )
        )
    return tuple(out)


def snapshot(
    seq: int = 1, filter_text: str = "", rows: tuple[SessionRow, ...] | None = None
) -> Snapshot:
    kinds = tuple(
        KindRate(
            kind=k,
            total=40 + 11 * i,
            per_min=float(sum(_series(i, i < 3)[-6:])),
            series=_series(i, i < 3),
        )
        for i, k in enumerate(FLAG_KINDS)
    )
    all_rows = session_rows() if rows is None else rows
    shown = all_rows
    if filter_text:
        from uxtop.engine import match_filter, parse_filter

        terms = parse_filter(filter_text)
        shown = tuple(r for r in all_rows if match_filter(r, terms))
    recent = tuple(
        _flag(i, 1000 + i, FLAG_KINDS[i % 3], T0 + 600_000 - i * 5000) for i in range(12)
    )
    return Snapshot(
        seq=seq,
        published_at=NOW,
        source="fixture: synthetic shop",
        running=True,
        paused=False,
        events=1_234_567,
        sessions=8_910,
        active_sessions=1_234,
        bad_lines=17,
        bad_by_reason=(("json", 12), ("missing_ts", 5)),
        quarantine_path="/tmp/uxtop-quarantine.ndjson",
        late=42,
        duplicates=7,
        bytes_in=210_000_000,
        ingest_rate=48_250.0,
        rate_series=tuple(float(40_000 + (i * 977) % 12_000) for i in range(60)),
        oldest_unseen_read=NOW - 0.08,
        engine_lag_ms=35.0,
        stream_ts=T0 + 600_000,
        watermark=T0 + 595_000,
        flags=987,
        kind_rates=kinds,
        pages=tuple(
            PageRow(
                url=u,
                heat=30.0 - 6 * i,
                flags=300 - 50 * i,
                rage=90 - 10 * i,
                dead=120 - 20 * i,
                error=40 - 5 * i,
                sessions=80 - 9 * i,
            )
            for i, u in enumerate(URLS)
        ),
        elements=tuple(
            ElementRow(
                url=URLS[i % 3],
                target=TARGETS[i % 5],
                heat=20.0 - 3 * i,
                flags=60 - 8 * i,
                top_kind=FLAG_KINDS[i % 3],
                sessions=30 - 3 * i,
            )
            for i in range(5)
        ),
        flagged_sessions=len(all_rows),
        session_rows=shown,
        session_filter=filter_text,
        detectors=DetectorStats(
            state="ready",
            profile="default",
            events_per_s=3_400_000.0,
            judged=1_230_000,
            update_ms_p50=1.8,
            update_ms_max=12.5,
            rows=tuple(
                DetectorRow(
                    kind=k,
                    total=40 + 11 * i,
                    per_min=kinds[i].per_min,
                    thresholds=(("window_ms", "1000"), ("min_clicks", "3")),
                )
                for i, k in enumerate(FLAG_KINDS)
            ),
            recent=recent,
        ),
        heat=heat(),
        alerts=(
            Alert(
                ts=T0 + 590_000,
                severity="critical",
                title="dead click spike: 42/min (baseline 3/min) — worst page /checkout",
                detail="friction spike rule",
            ),
        ),
        notes=(),
        retained_events=45_678,
        lateness_ms=5_000,
        window_events=1_000_000,
    )


def detail(session_id: int) -> SessionDetail:
    """A deterministic session: a checkout visit with moves, a failing request, rage clicks."""
    rows: list[tuple[int, int, int, int, int, int, float, int, int, int]] = []
    # (dt, kind, url, target, x, y, value, status, route, msg)
    t = 0
    rows.append((t, Kind.PAGEVIEW, 0, -1, -(2**31), -(2**31), float("nan"), 0, -1, -1))
    for i in range(30):
        t += 40
        rows.append(
            (t, Kind.MOVE, 0, -1, 200 + i * 20, 300 + (i % 7) * 15, float("nan"), 0, -1, -1)
        )
    for _j, sy in enumerate((0, 600, 1400, 2200)):
        t += 300
        rows.append((t, Kind.SCROLL, 0, -1, sy, 0, float("nan"), 0, -1, -1))
    t += 500
    rows.append((t, Kind.CLICK, 0, 0, 812, 430, float("nan"), 0, -1, -1))
    rows.append((t + 120, Kind.REQUEST, 0, -1, -(2**31), -(2**31), 4200.0, 503, 0, -1))
    for k in range(4):
        t += 250
        rows.append((t, Kind.CLICK, 0, 0, 810 + k, 432 - k, float("nan"), 0, -1, -1))
    t += 200
    rows.append((t, Kind.ERROR, 0, -1, -(2**31), -(2**31), float("nan"), 0, -1, 0))
    for i in range(12):
        t += 30
        rows.append((t, Kind.MOVE, 0, -1, 800 - i * 25, 430 + i * 9, float("nan"), 0, -1, -1))
    t += 800
    rows.append((t, Kind.CLICK, 0, 1, 300, 900, float("nan"), 0, -1, -1))
    t += 3000
    rows.append((t, Kind.PAGEVIEW, 1, -1, -(2**31), -(2**31), float("nan"), 0, -1, -1))
    n = len(rows)
    ts = np.array([T0 + r[0] for r in rows], dtype=np.int64)
    kind = np.array([r[1] for r in rows], dtype=np.uint8)
    cols = {
        "ts": ts,
        "session": np.zeros(n, np.int32),
        "kind": kind,
        "url": np.array([r[2] for r in rows], np.int32),
        "target": np.array([r[3] for r in rows], np.int32),
        "tag": np.full(n, -1, np.int32),
        "route": np.array([r[8] for r in rows], np.int32),
        "msg": np.array([r[9] for r in rows], np.int32),
        "tab": np.full(n, -1, np.int32),
        "x": np.array([r[4] if r[1] != Kind.SCROLL else -(2**31) for r in rows], np.int32),
        "y": np.array([r[5] if r[1] != Kind.SCROLL else -(2**31) for r in rows], np.int32),
        "sy": np.array([r[4] if r[1] == Kind.SCROLL else -(2**31) for r in rows], np.int32),
        "sh": np.array([4000 if r[1] == Kind.SCROLL else -(2**31) for r in rows], np.int32),
        "vh": np.array([900 if r[1] == Kind.SCROLL else -(2**31) for r in rows], np.int32),
        "value": np.array([r[6] for r in rows], np.float32),
        "status": np.array([r[7] for r in rows], np.int16),
        "flags": np.zeros(n, np.uint8),
        "row": np.arange(5000, 5000 + n, dtype=np.int64),
    }
    clicks = [i for i in range(n) if kind[i] == Kind.CLICK]
    tables = {
        "url": ["/checkout", "/cart"],
        "target": ["button#pay", "a.back-to-cart"],
        "route": ["POST /api/checkout"],
        "msg": ["TypeError: cannot read properties of undefined (reading 'total')"],
    }
    flags = [
        FlagRow(
            kind="rage_click",
            session_id=session_id,
            start_ts=int(ts[clicks[0]]),
            end_ts=int(ts[clicks[4]]),
            url="/checkout",
            target="button#pay",
            count=5,
            severity=0.9,
            rule="≥3 clicks within 1000 ms inside 30 px",
            evidence=tuple(int(cols["row"][i]) for i in clicks[:5]),
        ),
        FlagRow(
            kind="error_click",
            session_id=session_id,
            start_ts=int(ts[clicks[4]]),
            end_ts=int(ts[clicks[4]]) + 200,
            url="/checkout",
            target="button#pay",
            count=1,
            severity=0.7,
            rule="JS error within 1000 ms of the click",
            evidence=(int(cols["row"][clicks[4]]), int(cols["row"][clicks[4] + 1])),
        ),
        FlagRow(
            kind="dead_click",
            session_id=session_id,
            start_ts=int(ts[clicks[5]]),
            end_ts=int(ts[clicks[5]]) + 2500,
            url="/checkout",
            target="a.back-to-cart",
            count=1,
            severity=0.5,
            rule="no mutation/request/navigation within 2500 ms",
            evidence=(int(cols["row"][clicks[5]]),),
        ),
    ]
    return build_detail(
        session_id=session_id,
        key=f"s-{session_id:05d}",
        uid="u-77",
        dev="mobile",
        rel="2.3.0",
        geo="DE",
        n_events=n,
        columns=cols,
        flags=flags,
        resolve=lambda table, i: tables[table][i],
    )


class FixtureFeed:
    """Serves fixed snapshots; records commands; applies SetFilter like the engine does."""

    def __init__(self, snap: Snapshot | None = None) -> None:
        self.snap = snap or snapshot()
        self.commands: list[Command] = []
        self.drilled: list[int] = []

    def latest(self) -> Snapshot:
        return self.snap

    def send(self, command: Command) -> None:
        self.commands.append(command)
        if isinstance(command, SetFilter):
            self.snap = snapshot(seq=self.snap.seq + 1, filter_text=command.text)

    def drill(self, session_id: int) -> SessionDetail | None:
        self.drilled.append(session_id)
        return detail(session_id)

    def describe(self) -> str:
        return "fixture"

    def bump(self) -> None:
        """A new publish with the same content (for refresh tests)."""
        import msgspec

        self.snap = msgspec.structs.replace(self.snap, seq=self.snap.seq + 1)


def fixed_clock() -> float:
    return NOW


async def until(pilot, cond, timeout: float = 10.0, what: str = "condition") -> None:  # noqa: ANN001
    """Let the app run until ``cond()`` holds: refreshes come on a 0.25 s timer and background
    work (screen builds, workers) can hold them up on a loaded machine, so a fixed pause is a
    race. Fails with ``what`` after ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)
