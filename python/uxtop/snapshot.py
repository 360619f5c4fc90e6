"""Immutable snapshots: everything a screen shows, published by the engine ~4 times a second.

The engine thread builds a new ``Snapshot`` per publish and swaps one reference; the UI thread
only ever reads the latest one, so no locks are needed and nothing per event reaches the UI.
All containers are tuples; numpy arrays inside are marked read-only before publication.
Commands go the other way as small frozen messages (``Command`` subclasses).

Nothing here imports textual: the headless report and ``tail --headless`` use the same types.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

#: flag kinds in display order (same names as ``uxtop.detect.FlagKind``)
FLAG_KINDS: tuple[str, ...] = (
    "rage_click",
    "dead_click",
    "error_click",
    "thrashed_cursor",
    "u_turn",
    "page_loop",
    "excessive_scroll",
    "form_struggle",
    "slow_interaction",
)

#: width of one bucket of the flags-per-kind series, ms of event time
SERIES_BUCKET_MS = 10_000
#: buckets kept in each series (5 minutes)
SERIES_BUCKETS = 30
#: scroll-depth histogram bins (0-10 %, ..., 90-100 %)
DEPTH_BINS = 10


class KindRate(msgspec.Struct, frozen=True):
    """Flags of one kind: total, rate over the last minute of event time, 10-s buckets."""

    kind: str
    total: int
    per_min: float
    series: tuple[int, ...]


class PageRow(msgspec.Struct, frozen=True):
    """A page ranked by recent friction (decayed flag count, half-life one minute)."""

    url: str
    heat: float
    flags: int
    rage: int
    dead: int
    error: int
    sessions: int


class ElementRow(msgspec.Struct, frozen=True):
    """An element (url + target) ranked by recent flags of the click kinds."""

    url: str
    target: str
    heat: float
    flags: int
    top_kind: str
    sessions: int


class FlagRow(msgspec.Struct, frozen=True):
    """One flag, resolved to strings; ``evidence`` are source rows of the events that fired it."""

    kind: str
    session_id: int
    start_ts: int
    end_ts: int
    url: str
    target: str
    count: int
    severity: float
    rule: str
    evidence: tuple[int, ...] = ()


class SessionRow(msgspec.Struct, frozen=True):
    """A flagged session as the Sessions screen lists it."""

    session_id: int
    key: str
    score: float
    n_flags: int
    kinds: tuple[str, ...]  # distinct kinds, most frequent first
    url: str  # page of the latest flag
    target: str  # element of the latest flag
    start_ts: int
    last_flag_ts: int
    n_events: int
    dev: str
    rel: str
    geo: str
    closed: bool
    seq: int  # order in which sessions were first flagged (follow mode jumps to the newest)


class DetectorRow(msgspec.Struct, frozen=True):
    kind: str
    total: int
    per_min: float
    thresholds: tuple[tuple[str, str], ...]


class DetectorStats(msgspec.Struct, frozen=True):
    """What the detectors are doing: the config in force and how fast they run."""

    state: str  # "off" | "compiling" | "ready"
    profile: str
    events_per_s: float  # detector throughput while running (events / detector CPU second)
    judged: int  # events passed through the detectors
    update_ms_p50: float
    update_ms_max: float
    rows: tuple[DetectorRow, ...]
    recent: tuple[FlagRow, ...]
    error: str = ""


class PageHeat(msgspec.Struct, frozen=True):
    """Per-page pointer data: click and move densities over page coordinates, scroll depth.

    ``clicks``/``moves`` are (rows, cols) int32 grids; cell (r, c) covers page pixels
    x in [c*cell_w, (c+1)*cell_w), y in [r*cell_h, (r+1)*cell_h).
    """

    url: str
    clicks: npt.NDArray[np.int32]
    moves: npt.NDArray[np.int32]
    cell_w: int
    cell_h: int
    n_clicks: int
    n_moves: int
    depth: tuple[int, ...]  # scroll events by depth reached, DEPTH_BINS bins
    elements: tuple[ElementRow, ...]  # dead/rage/error elements of this page, ranked


class Alert(msgspec.Struct, frozen=True):
    ts: int  # event time (ms) when it fired
    severity: str  # "info" | "warning" | "critical"
    title: str
    detail: str = ""


class Snapshot(msgspec.Struct, frozen=True):
    """Everything the TUI renders, as of one engine publish."""

    seq: int
    published_at: float  # engine clock (time.monotonic) at publish
    source: str  # human description of the inputs
    running: bool  # False once every source ended and the engine drained
    paused: bool
    # ingest
    events: int
    sessions: int
    active_sessions: int
    bad_lines: int
    bad_by_reason: tuple[tuple[str, int], ...]
    quarantine_path: str
    late: int
    duplicates: int
    bytes_in: int
    ingest_rate: float  # events / s over the last couple of seconds (wall clock)
    rate_series: tuple[float, ...]  # events / s, one value per second, oldest first
    #: engine clock when the oldest bytes in this snapshot (not in the previous one) were read;
    #: the screen's event-to-screen lag is ``now - oldest_unseen_read`` at render time.
    oldest_unseen_read: float
    engine_lag_ms: float  # read -> published, worst over the last publish interval
    stream_ts: int  # newest event time seen (ms)
    watermark: int
    # detectors
    flags: int
    kind_rates: tuple[KindRate, ...]
    pages: tuple[PageRow, ...]
    elements: tuple[ElementRow, ...]
    flagged_sessions: int  # all flagged sessions retained (before the filter)
    session_rows: tuple[SessionRow, ...]  # after the filter, newest first
    session_filter: str
    detectors: DetectorStats
    heat: tuple[PageHeat, ...]
    alerts: tuple[Alert, ...]
    notes: tuple[str, ...]  # transient notes for the status line (JIT, source ended, ...)
    #: events of flagged sessions copied out for drill-down: those older than the recent
    #: window (a kept session's newer ones are read from the window itself)
    retained_events: int
    analytics: Any = None  # uxtop.analytics snapshot, when the analytics layer is present
    lateness_ms: int = 0  # how long the ingestor holds events back to put them in order
    #: events of all sessions in the recent window (what a just-flagged session's past, and
    #: every kept session's newest events, are read from)
    window_events: int = 0
    #: events ingested and counted but never analysed (detectors/analytics fell too far behind)
    unanalysed_events: int = 0
    #: events ingested, waiting for the analysis thread
    analysis_backlog: int = 0
    #: CPU seconds spent by the ingest half (read, parse, sessionise) and the analysis half
    #: (detectors, flags, retention, analytics, snapshots) of the pipeline so far
    ingest_cpu_s: float = 0.0
    analysis_cpu_s: float = 0.0
    #: heap held by the Rust core's session state and intern tables (its own estimate)
    core_memory_bytes: int = 0


class TimelineEntry(msgspec.Struct, frozen=True):
    """One line of a session timeline (runs of pointer moves are folded into one entry)."""

    ts: int
    kind: str  # event type, or "flag"
    text: str
    row: int  # source row (-1 for flag lines)
    flag: int = -1  # index into SessionDetail.flags when this line is a flag
    status: int = 0
    value: float = float("nan")
    level: str = ""  # "" | "error" | "warn" | "flag" | "slow"


class SessionDetail(msgspec.Struct, frozen=True):
    """A drilled-into session: its retained events (columns, resolved strings) and flags."""

    session_id: int
    key: str
    uid: str
    dev: str
    rel: str
    geo: str
    start_ts: int
    end_ts: int
    n_events: int  # events ingested for the session
    entries: tuple[TimelineEntry, ...]
    flags: tuple[FlagRow, ...]
    #: pointer samples for the mini-map: (x, y, kind code) of moves and clicks, page coords
    path: npt.NDArray[np.int32]
    #: max scroll depth reached per page, (url, 0..1)
    depth: tuple[tuple[str, float], ...]
    #: events as canonical NDJSON lines, for export
    ndjson: tuple[bytes, ...]
    retained_from: int  # first retained event ts (older ones were never kept, or evicted)
    path_url: str = ""  # the page the mini-map shows (where most of the session's flags are)
    page_w: int = 0  # the page extent seen in the session's pointer data (px), for scaling
    page_h: int = 0
    note: str = ""

    @property
    def flag_entry_indices(self) -> tuple[int, ...]:
        return tuple(i for i, e in enumerate(self.entries) if e.flag >= 0)


# ---------------------------------------------------------------------------------- commands


class Command(msgspec.Struct, frozen=True, tag=True):
    """A message from the UI to the engine; applied on the engine thread between batches."""


class SetPaused(Command, frozen=True):
    paused: bool


class SetFilter(Command, frozen=True):
    """Filter of the Sessions list: ``kind:rage url:/checkout dev:mobile free text``."""

    text: str


class SnapshotFeed(Protocol):
    """What the TUI needs from an engine (the real one, or fixed data in tests)."""

    def latest(self) -> Snapshot: ...

    def send(self, command: Command) -> None: ...

    def drill(self, session_id: int) -> SessionDetail | None:
        """The session's retained events and flags; may block, call from a worker thread."""
        ...

    def describe(self) -> str: ...


def freeze(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A read-only copy-free view, so a published array cannot be mutated by a reader."""
    view = arr.view()
    view.flags.writeable = False
    return view
