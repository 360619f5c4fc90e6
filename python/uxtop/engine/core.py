"""The engine: sources → ingest (Rust core) → detectors → analytics, on two worker threads.

* the ingest thread reads the sources and feeds the Rust core (which releases the GIL while it
  parses and sessionises), keeps the counters, and hands each batch over;
* the analysis thread runs detectors, flags, retention, analytics and publishes snapshots.

The two overlap, so the pipeline runs at the pace of its slower half, not of their sum. Between
them sits a bounded hand-off: when the oldest batch waiting for analysis was read more than
``MAX_HANDOFF_AGE_S`` ago (and the backlog is not one that clears at once), or when more than
``MAX_HANDOFF_EVENTS`` wait, the oldest waiting batches
are left unanalysed (still counted, sessionised and shown in the totals) and the snapshot says
how many, instead of a backlog and a lag that grow without end.
Only the ingest thread touches the Rust ingestor (its methods hold a mutable borrow while it
parses); the analysis thread reads intern tables through a mirror the ingest thread keeps.

The UI never calls into the pipeline. It reads ``Engine.latest()`` (an immutable Snapshot,
swapped as one reference ~4 times a second) and sends ``Command`` messages; drill-down requests
are answered on the engine thread too, because the intern tables belong to it, and handed back
through a Future so the caller's worker thread waits without holding anything.

Memory stays bounded: the engine keeps a short window of recent batches (so a flag can pull in
its session's past), and the events of flagged sessions only, evicting by the rule in
``Retention``. Aggregates (heat grids, rates, rankings) are fixed-size or capped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

import msgspec
import numpy as np
import numpy.typing as npt

from uxtop.batch import NONE_ID, STRING_TABLES, EventBatch, Strings, segment_rows
from uxtop.distinct import unique_first, unique_ints
from uxtop.engine.aggregates import (
    CELL_H,
    CELL_W,
    CLICK_FLAG_KINDS,
    MAX_HEAT_PAGES,
    HeatGrids,
    RateMeter,
)
from uxtop.engine.detail import build_detail
from uxtop.engine.flag_store import FlagStore
from uxtop.engine.flag_tally import FlagTally, StringCodes
from uxtop.engine.flags import FlagAdapter, flag_columns, rows_of_columns
from uxtop.engine.gc_pacing import FullCollections
from uxtop.engine.kept_sessions import KeptSessions
from uxtop.engine.records import RecordStore, gather_into, member
from uxtop.engine.sources import Source
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
    SetPaused,
    Snapshot,
    freeze,
)
from uxtop.urls import page_template

#: bytes read from each source per loop iteration: about FEED_INTERVAL of input at the 3 M
#: events/s bar (~110 bytes an event), so at any rate up to the bar the per-batch cost
#: downstream is paid about five times a second. The detectors' cost per event falls with the
#: batch (each open session in a batch re-reads its few carried rows): on the ingest bench's
#: file (200 k sessions interleaved) 64 MB reads against 16 MB took the analysis thread from
#: 1.25-1.59 to 1.81-1.92 M events/CPU-s on a fresh engine, 1.68-1.73 to 2.31-2.33 warm, in
#: two alternating pairs of `bench_tui.py --only throughput --traffic ingest-file --read-mb`
READ_BUDGET = 64 << 20
#: a read smaller than this is a trickle: the ingest thread waits to gather FEED_INTERVAL of
#: input. Not a fraction of READ_BUDGET: a pipe's queue holds 16 MB, so at 2 M events/s half
#: of a 64 MB budget never came and every read waited, and the producer blocked (the pipe run
#: of `bench_tui.py --only pipe` fell behind at 1 M events/s)
TRICKLE_BYTES = 8 << 20


def trickle_bytes() -> int:
    """Reads below this wait to gather (a small READ_BUDGET, in tests, lowers it too)."""
    return min(TRICKLE_BYTES, READ_BUDGET // 2)


#: the ingest thread feeds at most this often unless a full READ_BUDGET is waiting
FEED_INTERVAL = 0.2
#: a batch still waiting for analysis this long after it was read is dropped from analysis
#: when a newer one arrives, so overload costs coverage, not event-to-screen lag (analysis +
#: the next publish add <= ~0.35 s to it, under the 1 s the screen promises). The bound is an
#: age, not a count: at 1 M events/s work arrives in 90-170 k-event reads while a snapshot or a
#: compaction holds analysis for a moment, so a 0.2 s count bound shed ~20 % of the events
#: with analysis idle a third of the time (its capacity was never the limit)
MAX_HANDOFF_AGE_S = 0.5
#: ... once at least this many events wait: a smaller backlog clears in tens of milliseconds
#: after a stall (a GC pass, a drill-down), so dropping it would lose coverage and save no lag
MIN_SHED_EVENTS = 100_000
#: and whatever their age, at most this many events wait (~72 bytes each in columns: ~144 MB):
#: three full reads of ~600 k events, so a moment's stall with one batch waiting does not shed
#: the next (at 1 M, two 64 MB reads were over it); the age bound comes first below ~4 M
#: events/s, about what ingest can do
MAX_HANDOFF_EVENTS = 2_000_000
#: session rows in a snapshot after the filter (newest first); the screen shows a window anyway
MAX_SESSION_ROWS = 2000
#: seconds between handing the heap's free pages back to the OS (see ``release_free_heap``)
HEAP_TRIM_INTERVAL = 10.0


@dataclass(frozen=True)
class Retention:
    """What the engine keeps for drill-down, and the eviction rule.

    window_events: recent events of *all* sessions, so a session flagged now brings its past
        (a dead-click verdict comes seconds after the click). Oldest batches go first; as one
        leaves, the rows of the sessions kept then are copied out of it (the record store).
    max_sessions / max_events: flagged sessions kept, and their events in total. Over either
        cap, closed sessions with the oldest last flag are evicted first, then open ones.
    per_session_events: a single session keeps at most this many of its newest events.
    per_session_flags: ... and of its newest flags (all are counted).
    """

    window_events: int = 1_000_000
    max_sessions: int = 5_000
    max_events: int = 2_000_000
    per_session_events: int = 10_000
    per_session_flags: int = 1_000


class _Drill(Command, frozen=True):
    session_id: int


class Engine:
    """Runs the pipeline on a thread; ``latest()``/``send()``/``drill()`` are the UI's API.

    ``ingestor`` defaults to the Rust-backed ``uxtop.ingest.Ingestor``; ``detector`` and
    ``analytics`` default to the real ones when importable (pass ``False`` to disable).
    Call ``step()`` instead of ``start()`` to drive it synchronously (tests, benchmarks).
    """

    def __init__(
        self,
        sources: list[Source],
        *,
        ingestor: Any = None,
        detector: Any = None,
        analytics: Any = None,
        retention: Retention | None = None,
        publish_interval: float = 0.25,
        quarantine_path: str = "",
        source_desc: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        warmup_detectors: bool = True,
        warmup_delay: float = 0.0,
        detect_config: Any = None,
        pace_full_gc: bool = True,
        live: bool = False,
    ) -> None:
        self.sources = list(sources)
        skip_huge_page_advice()
        #: full garbage collections on a clock while the engine runs (see gc_pacing; False
        #: under the TUI, which runs them between keystrokes)
        self._full_gc = FullCollections() if pace_full_gc else None
        #: settings for the lazily built default detector (None: DetectConfig defaults)
        self._detect_config = detect_config
        self.retention = retention or Retention()
        self.publish_interval = publish_interval
        self.quarantine_path = quarantine_path
        self.source_desc = source_desc or ", ".join(s.name for s in self.sources) or "no input"
        self.clock = clock
        self._ingestor = ingestor if ingestor is not None else _default_ingestor(quarantine_path)
        self._feed_parts = getattr(self._ingestor, "feed_parts", None)
        self.quarantine_path = quarantine_path or str(
            getattr(self._ingestor, "quarantine_path", "") or ""
        )
        # the analysis side resolves ids through a mirror of the intern tables that the ingest
        # thread extends after each feed; only the ingest thread calls into the ingestor
        self._core_strings: Strings = self._ingestor.strings
        self._mirror: dict[str, list[str]] = {}
        self._strings = Strings(self._mirror_fetch)
        self._counters: dict[str, Any] = {}
        # detector=None: the default one, imported and compiled on the warm-up thread (numba's
        # import alone is ~0.2 s); False: no detectors
        self._detector = None if detector is None else (detector or None)
        self._detector_lazy = detector is None
        #: the longest the JIT warm-up and the first read of the sources wait for a UI's first
        #: frame (``ui_ready``) before they start anyway; 0: start at once (headless). Sources
        #: lose nothing meanwhile (files, pipes and generators hold their data until read)
        self.warmup_delay = warmup_delay
        #: set by a UI once its first frame is drawn (the warm-up need not wait any longer)
        self.ui_ready = threading.Event()
        # analytics: an instance, False (none), None (the default one) or a zero-argument
        # factory. With a warm-up thread (below), the default/factory is built there, after
        # warmup_delay: importing analytics imports numba (~1 s here), which must not hold up
        # the first frame; batches wait for the detectors anyway, and analytics runs after them
        self._analytics_factory: Callable[[], Any] | None = None
        if analytics is None or (callable(analytics) and not hasattr(analytics, "update")):
            self._analytics_factory = analytics or _default_analytics
            self._analytics = None
        else:
            self._analytics = analytics or None
        self._flag_adapter = FlagAdapter()
        self._lock = threading.Lock()
        self._commands: deque[tuple[Command, Future[Any] | None]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: as a started engine even when the caller steps it (benchmarks of the live engine):
        #: insights no fresher than snapshots, full collections paced until the input ends.
        #: Otherwise start() makes it live; run_until_done() stays synchronous (exact per bucket)
        self._live = live
        self._ingest_thread: threading.Thread | None = None
        # ingest → analysis hand-off: (batch, when its bytes were read); ingest appends, analysis
        # pops (deque ops are atomic under the GIL)
        self._handoff: deque[tuple[EventBatch, float]] = deque()
        self._handoff_events = 0
        self._handoff_lock = threading.Lock()
        self._handoff_ready = threading.Event()
        self._input_done = False
        self._shed_events = 0
        self._shed_batches = 0
        # session ids closed in shed batches, for the analytics' per-session state (which
        # would otherwise never hear of those closes); ingest appends, analysis drains
        self._shed_closed: deque[npt.NDArray[np.uint64]] = deque()
        # CPU seconds each half of the pipeline spent working (its own thread's time): the
        # pipeline sustains events / max(ingest, analysis) with a core for each
        self._ingest_cpu = 0.0
        self._analysis_cpu = 0.0
        self._core_memory = 0  # the Rust core's session state + intern tables, bytes
        self._partial: dict[int, bytes] = {}  # per-source incomplete trailing line
        self._finished = False
        self._paused = False
        self._filter = ""
        self._filter_terms: list[tuple[str, str]] = []
        self._seq = 0
        self._last_publish = 0.0
        self._last_heap_trim = clock()
        self._oldest_unseen: float | None = None
        self._engine_lag = 0.0
        self._bytes_in = 0
        self._rate = RateMeter()
        self._events_seen = 0
        self._closed_sessions = 0
        self._stream_ts = 0
        self._watermark = -(2**63)
        # detectors
        self._detector_state = (
            "off" if self._detector is None and not self._detector_lazy else "compiling"
        )
        self._detector_error = ""
        self._pending_detect: deque[EventBatch] = deque()
        self._detector_finish = False  # input ended: judge what the detectors still hold
        self._pending_events = 0
        self._unjudged = 0
        self._judged = 0
        self._detect_cpu = 0.0
        self._update_ms: deque[float] = deque(maxlen=200)
        self._recent_flags: deque[FlagRow] = deque(maxlen=200)
        # flags per kind, page and element (worst pages and elements are counted per page
        # template, ``/product/*``)
        self._flag_codes = StringCodes()
        self._tally = FlagTally(codes=self._flag_codes)
        self._flag_store = FlagStore(self.retention.per_session_flags)
        self._heat = HeatGrids()
        self._heat_cache: dict[int, PageHeat] = {}
        self._heat_dirty = True
        self._heat_built_at = 0.0
        self._alerts: deque[Alert] = deque(maxlen=20)
        self._alerted_at: dict[str, int] = {}
        self._first_flag_ts: int | None = None
        # retention
        self._window: deque[EventBatch] = deque()
        self._window_events = 0
        self._kept = KeptSessions()
        self._records = RecordStore()
        #: sessions flagged for the first time whose row fields are not yet read (the window's
        #: batches hold them; read once per snapshot, ``_read_new_kept``)
        self._unread: list[npt.NDArray[np.uint64]] = []
        self._notes: list[str] = []
        self._snapshot = self._build_snapshot(self.clock())
        warm_thread = self._detector_state == "compiling" and (
            warmup_detectors or self._detector_lazy
        )
        if self._analytics_factory is not None and not warm_thread:
            self._build_analytics()  # no warm-up thread to build it on: now
        if self._detector_state == "compiling":
            if warm_thread:
                threading.Thread(target=self._warm_detectors, name="uxtop-jit", daemon=True).start()
            else:
                self._detector_state = "ready"

    # ------------------------------------------------------------------ public, any thread

    def latest(self) -> Snapshot:
        return self._snapshot

    def send(self, command: Command) -> None:
        self._commands.append((command, None))

    def drill(self, session_id: int, timeout: float = 10.0) -> SessionDetail | None:
        """The session's retained events and flags. Blocks the calling (worker) thread."""
        if self._thread is None or not self._thread.is_alive():
            return self._drill(session_id)
        fut: Future[Any] = Future()
        self._commands.append((_Drill(session_id=session_id), fut))
        return fut.result(timeout=timeout)  # type: ignore[no-any-return]

    def describe(self) -> str:
        return self.source_desc

    @property
    def retained_bytes(self) -> int:
        """Bytes of the record slabs that hold flagged sessions' events (the live rows and the
        dead ones a compaction has not reclaimed yet)."""
        return self._records.memory_bytes()

    def start(self) -> Engine:
        if self._full_gc is not None:
            self._full_gc.take()
        self._live = True
        self._pace_insights()
        self._thread = threading.Thread(target=self._run, name="uxtop-engine", daemon=True)
        self._ingest_thread = threading.Thread(
            target=self._run_ingest, name="uxtop-ingest", daemon=True
        )
        self._thread.start()
        self._ingest_thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._handoff_ready.set()
        for t in (self._ingest_thread, self._thread):
            if t is not None:
                t.join(timeout)
        for s in self.sources:
            s.close()
        # alert commands run queued on their own threads; let the last ones (often a
        # "resolved") reach their hooks before the process goes
        alerts = getattr(self._analytics, "alerts", None)
        if alerts is not None and hasattr(alerts, "wait"):
            alerts.wait(timeout)
        if self._full_gc is not None:
            self._full_gc.release()

    @property
    def running(self) -> bool:
        return not self._finished

    @property
    def detector_ready(self) -> bool:
        return self._detector_state in ("ready", "off", "error")

    # ------------------------------------------------------------------ engine thread

    def _run(self) -> None:
        """The analysis thread (see the module docstring)."""
        try:
            while not self._stop.is_set():
                got = self._analyse_step()
                if not got:
                    # idle: wait for the next hand-off (or a short timeout for commands/publish)
                    self._handoff_ready.wait(0.01)
                    self._handoff_ready.clear()
        except Exception:  # keep the UI alive and say what broke
            self._crashed(traceback.format_exc())

    def _run_ingest(self) -> None:
        """The ingest thread: sources → Rust core → hand-off."""
        try:
            if self.warmup_delay > 0:
                # the first frame first: the sources' Python (a generator's warm burst, say)
                # and the feeds' glue would take the GIL from the UI while it draws
                self.ui_ready.wait(self.warmup_delay)
            while not self._stop.is_set() and not self._input_done:
                t0 = time.monotonic()
                bytes0 = self._bytes_in
                if not self._ingest_once():
                    self._stop.wait(0.01)  # idle: short sleep keeps lag low without spinning
                elif self._bytes_in - bytes0 < trickle_bytes():
                    # a trickle: let it gather into batches of >= FEED_INTERVAL, so the per-batch
                    # cost downstream (detectors, retention, analytics) is paid ~5 times a
                    # second, not once per 1000 events
                    self._stop.wait(max(0.0, FEED_INTERVAL - (time.monotonic() - t0)))
        except Exception:
            self._crashed(traceback.format_exc())
        finally:
            self._handoff_ready.set()

    def _crashed(self, tb: str) -> None:
        self._notes = ["engine crashed: " + tb.strip().splitlines()[-1]]
        self._finished = True
        self._input_done = True
        self._publish(self.clock())

    def step(self) -> int:
        """One synchronous iteration (no threads): read, ingest, analyse, maybe publish.

        Runs both halves of the pipeline in turn on the calling thread, through the same
        hand-off as the threaded engine. Returns events in."""
        gc_pacer = self._full_gc
        if gc_pacer is not None and self._live and not self._finished:
            gc_pacer.take()  # (a no-op once taken)
        n = self._ingest_once()
        self._analyse_step()
        if gc_pacer is not None and self._finished and self._thread is None:
            gc_pacer.release()  # stepped to the end of the input: the thresholds go back
        return n

    def _analyse_step(self) -> int:
        """Commands, the batches handed over since the last call, detectors, maybe publish."""
        self._apply_commands()
        cpu0 = time.thread_time()
        n = 0
        # what is queued now, not until the queue is empty: under a steady stream it never is,
        # and snapshots must still go out on time
        for _ in range(len(self._handoff)):
            with self._handoff_lock:
                if not self._handoff:
                    break  # shed by the ingest thread meanwhile
                batch, read_at = self._handoff.popleft()
                self._handoff_events -= len(batch)
            if self._oldest_unseen is None or read_at < self._oldest_unseen:
                self._oldest_unseen = read_at
            n += self._consume(batch)
            if self._detector_state == "ready" and self._pending_detect:
                self._drain_detect()
            now = self.clock()
            if now - self._last_publish >= self.publish_interval:
                self._publish(now)
        if self._input_done and not self._handoff and not self._finished:
            self._detector_finish = (
                self._detector is not None or self._detector_state == "compiling"
            )
            self._finished = True
            self._notes = ["input ended: " + self.source_desc]
        if self._detector_state == "ready" and (self._pending_detect or self._detector_finish):
            self._drain_detect()
        if self._finished:
            self._read_new_kept()
        if self._shed_closed and not self._pending_detect:
            # only once the batches before the shed ones reached analytics (a close applied
            # earlier would be undone by their events)
            self._tell_shed_closes()
        now = self.clock()
        if now - self._last_publish >= self.publish_interval:
            self._publish(now)
        if now - self._last_heap_trim >= HEAP_TRIM_INTERVAL:
            self._last_heap_trim = now
            release_free_heap()
        if self._full_gc is not None:
            self._full_gc.tick()
        if n:
            self._analysis_cpu += time.thread_time() - cpu0
        return n

    def run_until_done(self, max_seconds: float = 60.0) -> Snapshot:
        """Synchronously consume every source to its end, then publish (tests, batch runs)."""
        deadline = self.clock() + max_seconds
        took_gc = self._full_gc is not None and self._full_gc.take()
        try:
            while not self._finished and self.clock() < deadline:
                if not self.step():
                    if self._detector_state == "compiling":
                        time.sleep(0.01)
            self.wait_for_detectors(max(0.0, deadline - self.clock()))
            self._drain_detect()
            self._heat_built_at = 0.0  # the final picture is complete
            return self._publish(self.clock())
        finally:
            if took_gc:
                self._full_gc.release()  # type: ignore[union-attr]

    def wait_for_detectors(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while self._detector_state == "compiling" and time.monotonic() < end:
            time.sleep(0.01)
        return self._detector_state != "compiling"

    def _apply_commands(self) -> None:
        while self._commands:
            cmd, fut = self._commands.popleft()
            try:
                if isinstance(cmd, SetPaused):
                    self._paused = cmd.paused
                elif isinstance(cmd, SetFilter):
                    self._filter = cmd.text.strip()
                    self._filter_terms = parse_filter(self._filter)
                    self._last_publish = 0.0  # show the filtered list at once
                elif isinstance(cmd, _Drill):
                    result = self._drill(cmd.session_id)
                    if fut is not None:
                        fut.set_result(result)
            except Exception as exc:  # a bad command must not kill the engine
                if fut is not None:
                    fut.set_exception(exc)

    # ------------------------------------------------------------------ ingest side

    def _ingest_once(self) -> int:
        """Read every source once, feed the core, hand the batches over. Ingest thread only."""
        if self._input_done:
            return 0
        cpu0 = time.thread_time()
        total = 0
        for i, src in enumerate(self.sources):
            if len(self.sources) == 1 and self._feed_parts and hasattr(src, "read_parts"):
                # queued chunks go to the core as they are (no join): the ingestor carries a
                # partial last line itself
                parts = src.read_parts(READ_BUDGET)
                if parts:
                    read_at = self.clock()
                    self._bytes_in += sum(map(len, parts))
                    total += self._hand_over(self._feed_parts(parts), read_at)
                continue
            data = src.read(READ_BUDGET)
            if data:
                read_at = self.clock()
                self._bytes_in += len(data)
                if len(self.sources) == 1:
                    total += self._hand_over(self._ingestor.feed(data), read_at)
                    continue
                # feed whole lines only, so chunks from several sources never interleave mid-line
                buf = self._partial.pop(i, b"") + data
                cut = buf.rfind(b"\n")
                if cut < 0:
                    self._partial[i] = buf
                    continue
                if cut + 1 < len(buf):
                    self._partial[i] = buf[cut + 1 :]
                total += self._hand_over(self._ingestor.feed(buf[: cut + 1]), read_at)
        if all(s.done for s in self.sources):
            now = self.clock()
            for i in list(self._partial):
                tail = self._partial.pop(i)
                if tail:
                    total += self._hand_over(self._ingestor.feed(tail + b"\n"), now)
            total += self._hand_over(self._ingestor.finish(), now)
            self._input_done = True
            self._handoff_ready.set()
        if total:
            self._ingest_cpu += time.thread_time() - cpu0
        return total

    def _hand_over(self, batch: EventBatch, read_at: float) -> int:
        """Counters that must see every event, then queue the batch for analysis."""
        n = len(batch)
        now = self.clock()
        counters = self._ingestor.counters()
        self._counters = counters
        mem = getattr(self._ingestor, "memory_bytes", None)
        if callable(mem):
            self._core_memory = int(mem())
        arrived = int(counters.get("events", 0))
        self._rate.add(arrived - self._events_seen, now)
        self._events_seen = arrived
        if batch.n_sessions:
            self._closed_sessions += int(np.count_nonzero(batch.sessions["closed"]))
        if n:
            self._stream_ts = max(self._stream_ts, int(batch.ts.max()))
        self._watermark = max(self._watermark, int(batch.watermark))
        self._sync_mirror()
        if not (n or batch.n_sessions):
            return 0
        with self._handoff_lock:
            self._handoff.append((batch, read_at))
            self._handoff_events += n
            # overload: analysis is > MAX_HANDOFF_AGE_S (or MAX_HANDOFF_EVENTS) behind; the
            # oldest waiting batches go unanalysed (never the newest: the screen stays current)
            while len(self._handoff) > 1 and (
                (
                    now - self._handoff[0][1] > MAX_HANDOFF_AGE_S
                    and self._handoff_events > MIN_SHED_EVENTS
                )
                or self._handoff_events > MAX_HANDOFF_EVENTS
            ):
                old, _ = self._handoff.popleft()
                self._handoff_events -= len(old)
                self._shed_events += len(old)
                self._shed_batches += 1
                if old.n_sessions and self._analytics is not None:
                    closed = old.sessions["closed"]
                    if closed.any():
                        self._shed_closed.append(old.sessions["session_id"][closed])
        self._handoff_ready.set()
        return max(n, 1)

    def _sync_mirror(self) -> None:
        """Extend the analysis side's copy of the intern tables with what the last feed added."""
        for name in STRING_TABLES:
            if name == "uid":
                continue  # batch-local ids, read from EventBatch.uids
            fresh = self._core_strings.table(name)
            have = self._mirror.setdefault(name, [])
            if len(fresh) > len(have):
                have.extend(fresh[len(have) :])

    def _mirror_fetch(self, name: str, start: int) -> list[str]:
        return self._mirror.get(name, [])[start:]

    # ------------------------------------------------------------------ analysis side

    def _consume(self, batch: EventBatch) -> int:
        n = len(batch)
        if n:
            self._heat.add(batch)
            self._heat_dirty = True
        if n or batch.n_sessions:
            self._remember(batch)
            if self._detector is not None or self._detector_state == "compiling":
                self._pending_detect.append(batch)
                self._pending_events += n
                if self._detector_state == "compiling":
                    # bounded while the JIT compiles: the oldest batches go unjudged
                    while (
                        self._pending_events > self.retention.window_events
                        and len(self._pending_detect) > 1
                    ):
                        dropped = self._pending_detect.popleft()
                        self._pending_events -= len(dropped)
                        self._unjudged += len(dropped)
            elif self._analytics is not None:
                self._analytics.update(batch, self._strings, None)
        return max(n, 1) if (n or batch.n_sessions) else 0

    def _tell_shed_closes(self) -> None:
        ids = [self._shed_closed.popleft() for _ in range(len(self._shed_closed))]
        tell = getattr(self._analytics, "sessions_closed", None)
        if callable(tell) and ids:
            tell(np.concatenate(ids))

    def _drain_detect(self) -> None:
        if self._detector_state != "ready":
            return
        self._drain_pending()
        if self._detector_finish and not self._pending_detect:
            self._detector_finish = False
            finish = getattr(self._detector, "finish", None)
            if callable(finish):
                self._apply_flags(None, finish())

    def _drain_pending(self) -> None:
        assert self._detector is not None  # the caller checked it is ready
        while self._pending_detect:
            batch = self._pending_detect.popleft()
            self._pending_events -= len(batch)
            t0 = time.perf_counter()
            try:
                fb = self._detector.update(batch, self._strings)
            except Exception as exc:
                self._detector_state = "error"
                self._detector_error = f"{type(exc).__name__}: {exc}"
                self._pending_detect.clear()
                return
            dt = time.perf_counter() - t0
            self._detect_cpu += dt
            self._judged += len(batch)
            self._update_ms.append(dt * 1000)
            self._apply_flags(batch, fb)
            if self._analytics is not None:
                try:
                    self._analytics.update(batch, self._strings, fb)
                except Exception as exc:
                    self._notes = [f"analytics failed: {type(exc).__name__}: {exc}"]
                    self._analytics = None

    # ------------------------------------------------------------------ flags and retention

    def _remember(self, batch: EventBatch) -> None:
        """Window of recent batches. A kept session's rows stay in the window's batches and are
        copied to the record store only as their batch leaves it (``_copy_kept_rows``): under
        heavy flagging most kept sessions are evicted again before that, and never copied."""
        self._window.append(batch)
        self._window_events += len(batch)
        kept_ids = self._kept.ids()
        if kept_ids.size:
            hit = batch.rows_with_ids(kept_ids)
            if hit.size:
                self._read_meta(batch, hit)
        while self._window_events > self.retention.window_events and len(self._window) > 1:
            old = self._window.popleft()
            self._window_events -= len(old)
            if kept_ids.size:
                self._copy_kept_rows(old, kept_ids)
        if self._kept_events > self.retention.max_events:
            self._evict()  # long flagged sessions keep growing: enforce the cap every batch

    def _read_meta(self, batch: EventBatch, hit: npt.NDArray[np.intp]) -> None:
        """Kept sessions' row fields (start, events, closed, cohort, key) from their rows
        ``hit`` of ``batch``'s session table: a batch newer than the last one read."""
        s = batch.sessions
        kept = self._kept
        slots = kept.slots_of(s["session_id"][hit])
        ok = slots >= 0
        hit, slots = hit[ok], slots[ok]
        if not hit.size:
            return
        with self._lock:
            kept.read_fields(
                slots,
                s["start_ts"][hit],
                s["n_events"][hit],
                s["closed"][hit],
                s["dev"][hit],
                s["rel"][hit],
                s["geo"][hit],
            )
            # this row's key and uid only (batch.keys/uids would decode every row)
            unread = kept.without_key(slots)
            if unread.size:
                rows, at = hit[unread], slots[unread]
                kept.key[at] = batch.keys_of(rows)
                kept.uid[at] = [u or "" for u in batch.uids_of(rows)]

    def _copy_kept_rows(self, batch: EventBatch, ids: npt.NDArray[np.uint64]) -> None:
        """Copy the rows of the kept sessions ``ids`` out of ``batch``, which leaves the window."""
        sids = batch.sessions["session_id"]
        hit = batch.rows_with_ids(ids)
        if not hit.size:
            return
        # one gather per column for all kept sessions of the batch, straight into the record
        # store, whose segment table says whose rows they are (see records.py)
        starts = batch.offsets[hit]
        lens = batch.offsets[hit + 1] - starts
        if not lens.sum():
            return
        block = self._records.write(sids[hit], lens, _record_dtype(batch))
        gather_into(block, batch.columns, segment_rows(starts, lens))
        kept = self._kept
        slots = kept.slots_of(sids[hit])  # ``ids`` are kept sessions: all found
        with self._lock:
            kept.add_kept_rows(slots, lens)
            per_session = self.retention.per_session_events
            n_kept = kept.cols["n_kept"]
            for slot in slots[n_kept[slots] > per_session].tolist():
                sid = int(kept.cols["sid"][slot])
                n_kept[slot] -= self._records.trim(sid, per_session)
            if self._records.needs_compaction():
                self._records.compact()
        unread = kept.without_key(slots)
        if unread.size:
            # flagged since the last snapshot, and this may be the last of its batches: its
            # fields from here (a newer batch, if any, overrides them at the next read)
            self._read_meta(batch, hit[unread])

    def _apply_flags(self, batch: EventBatch | None, fb: Any) -> None:
        cols = flag_columns(fb, self._strings, self._flag_adapter, self._flag_codes)
        score_ids, scores = self._flag_adapter.score_arrays(fb, self._detector)
        if cols is None:
            with self._lock:
                self._kept.set_scores(score_ids, scores)
            return
        n = int(cols["sid"].shape[0])
        names = self._flag_codes.names
        # the batch's flags summed per session with numpy (thousands of flags a batch under an
        # incident); the kept sessions are columns too (kept_sessions.py), so nothing here
        # runs per flag or per session in Python
        sid = cols["sid"]
        order = np.argsort(sid, kind="stable")  # by session, each session's flags in order
        s_sorted = sid[order]
        starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
        ends = np.r_[starts[1:], n]
        group = np.repeat(np.arange(starts.size), ends - starts)
        # kinds per session, each session's in the order first seen
        n_kinds = len(names) + 1
        pair, first, count = unique_first(group * n_kinds + cols["kind"][order], counts=True)
        by = np.lexsort((first, pair // n_kinds))
        pair, count = pair[by], count[by]
        first_idx, last_idx = order[starts], order[ends - 1]
        # sessions in the order of their first flag in the batch (new ones are numbered so)
        g = np.argsort(first_idx)  # distinct (one first flag per session): any sort is stable
        rank = np.empty_like(g)
        rank[g] = np.arange(g.size)
        with self._lock:
            if self._first_flag_ts is None:
                self._first_flag_ts = int(cols["start"][0])
            self._tally.add_codes(
                cols["kind"], cols["url"], cols["target"], sid, cols["start"], self._stream_ts
            )
            recent = self._recent_flags.maxlen or 0
            self._recent_flags.extend(
                rows_of_columns(cols, np.arange(max(n - recent, 0), n), names)
            )
            new_ids = self._kept.add_flags(
                s_sorted[starts][g],
                (ends - starts)[g],
                np.add.reduceat(cols["severity"][order].astype(np.float64), starts)[g],
                np.maximum.reduceat(cols["end"][order], starts)[g],
                cols["start"][first_idx][g],
                cols["url"][last_idx][g].astype(np.int64),
                cols["target"][last_idx][g].astype(np.int64),
                rank[pair // n_kinds],
                (pair % n_kinds).astype(np.int64),
                count.astype(np.int64),
            )
            self._flag_store.append(cols)
            self._kept.set_scores(score_ids, scores)
        if new_ids.size:
            # their fields are read from the window for all sessions flagged since the last
            # snapshot in one pass (`_read_new_kept`), before a snapshot or drill-down shows
            # them; their rows stay in the window until its batches leave
            self._unread.append(new_ids)

    def _read_new_kept(self) -> None:
        """The row fields of the sessions flagged since the last call, from the newest window
        batch each appears in (from then on each new batch updates them, ``_remember``), with
        eviction in between: it needs only whether they closed (closed sessions go first), and
        under heavy flagging it evicts most of them again at once, so the rest of their fields
        (key: Python per session) are read for the ones it keeps."""
        if not self._unread:
            return
        left = unique_ints(np.concatenate(self._unread))
        self._unread.clear()
        found: list[tuple[EventBatch, npt.NDArray[np.intp]]] = []
        kept = self._kept
        for batch in reversed(self._window):
            if not left.size:
                break
            sids = batch.sessions["session_id"]
            hit = batch.rows_with_ids(left)
            if hit.size:
                found.append((batch, hit))
                closed = hit[batch.sessions["closed"][hit]]
                slots = kept.slots_of(sids[closed])  # (an event cap may have evicted some)
                with self._lock:
                    kept.cols["closed"][slots[slots >= 0]] = True
                left = left[~member(left, np.sort(sids[hit]))]
        self._evict()
        for batch, hit in found:
            self._read_meta(batch, hit)  # (it skips the sessions just evicted)

    @property
    def _kept_events(self) -> int:
        """Events copied out for the kept sessions: the record store's live rows (their rows
        still in the window are held by the window)."""
        return self._records.live_rows

    def _evict(self) -> None:
        r = self.retention
        kept = self._kept
        if len(kept) <= r.max_sessions and self._kept_events <= r.max_events:
            return
        # closed first, then by last flag time: what a person is least likely to open next
        live = kept.live_slots()
        c = kept.cols
        order = live[np.lexsort((c["last_flag_ts"][live], ~c["closed"][live]))]
        # down to 90 % of the caps, so eviction runs now and then, not on every batch
        max_s, max_e = int(r.max_sessions * 0.9), int(r.max_events * 0.9)
        # evict the first k in that order, k the least that brings both under their caps
        by_sessions = max(len(kept) - max_s, 0)
        over = self._kept_events - max_e
        by_events = int(np.searchsorted(np.cumsum(c["n_kept"][order]), over)) + 1 if over > 0 else 0
        gone_slots = order[: max(by_sessions, by_events)]
        gone = c["sid"][gone_slots]
        with self._lock:
            kept.drop(gone_slots)
            self._records.drop(gone)  # (each store orders the ids it is given)
            self._flag_store.drop(gone)

    def _drill(self, session_id: int) -> SessionDetail | None:
        self._read_new_kept()
        with self._lock:
            kept = self._kept
            slot = kept.slot_of(session_id)
            if slot < 0:
                return None
            rec = self._rows_of(session_id)
            flags = self._flag_store.rows_of(session_id, self._flag_codes.names)
            flags_dropped = int(kept.cols["n_flags"][slot]) - len(flags)
            c = kept.cols
            meta = (
                kept.key[slot] or "",
                kept.uid[slot] or "",
                self._str("dev", int(c["dev"][slot])),
                self._str("rel", int(c["rel"][slot])),
                self._str("geo", int(c["geo"][slot])),
                int(c["n_events"][slot]),
            )
        if rec.size:
            cols = {k: np.ascontiguousarray(rec[k]) for k in rec.dtype.names or ()}
        else:
            from uxtop.batch import EVENT_COLUMNS

            cols = {k: np.empty(0, dtype=t) for k, t in EVENT_COLUMNS.items()}
        note = ""
        n_kept = int(cols["ts"].shape[0])
        if meta[5] > n_kept:
            note = f"{meta[5] - n_kept} earlier events not retained (window or per-session cap)"
        if flags_dropped > 0:
            more = f"{flags_dropped} earlier flags not retained (per-session cap)"
            note = f"{note}; {more}" if note else more
        return build_detail(
            session_id=session_id,
            key=meta[0] or str(session_id),
            uid=meta[1],
            dev=meta[2],
            rel=meta[3],
            geo=meta[4],
            n_events=max(meta[5], n_kept),
            columns=cols,
            flags=flags,
            resolve=self._strings.get,
            note=note,
        )

    def _rows_of(self, session_id: int) -> npt.NDArray:
        """A kept session's rows, oldest first: those copied out, then those still in the window
        (the newest ``per_session_events`` of them)."""
        parts = [self._records.rows_of(session_id)]
        for batch in self._window:
            at = np.flatnonzero(batch.sessions["session_id"] == session_id)
            if at.size:
                start = batch.offsets[at]
                lens = batch.offsets[at + 1] - start
                block = np.empty(int(lens.sum()), dtype=_record_dtype(batch))
                gather_into(block, batch.columns, segment_rows(start, lens))
                parts.append(block)
        parts = [p for p in parts if p.size] or parts[:1]  # none: the store's empty answer
        rec = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return rec[-self.retention.per_session_events :]

    def _str(self, table: str, ident: int) -> str:
        if ident == NONE_ID:
            return ""
        return self._strings.get(table, ident) or ""

    # ------------------------------------------------------------------ detectors warm-up

    def _warm_detectors(self) -> None:
        """Compile the numba kernels on a throwaway detector, off the engine thread.

        Batches queue meanwhile (bounded), so the first frame never waits for the JIT.
        """
        if self.warmup_delay > 0:
            # let the first frame draw before numba (import and compile) takes the GIL
            self.ui_ready.wait(self.warmup_delay)
        if self._analytics_factory is not None:
            self._build_analytics()
        if self._detector_lazy:
            try:
                self._detector = _default_detector(self._detect_config)
            except Exception as exc:
                self._detector_error = f"detectors unavailable: {type(exc).__name__}: {exc}"
            if self._detector is None:
                self._detector_state = "off"
                self._pending_detect.clear()
                return
        try:
            warm = getattr(self._detector, "warmup", None)
            if callable(warm):
                warm()
            else:
                from uxtop.engine.warmup import warm_detector

                warm_detector(type(self._detector), getattr(self._detector, "cfg", None))
            if self._detector_lazy:
                self._warm_pipeline()
            self._detector_state = "ready"
        except Exception as exc:
            self._detector_state = "ready"  # the real batches will surface any real error
            self._detector_error = f"warm-up failed: {type(exc).__name__}: {exc}"

    def _build_analytics(self) -> None:
        factory, self._analytics_factory = self._analytics_factory, None
        if factory is None:
            return
        try:
            self._analytics = factory()
        except Exception as exc:
            self._notes = [f"analytics unavailable: {type(exc).__name__}: {exc}"]
            self._analytics = None
        self._pace_insights()

    def _pace_insights(self) -> None:
        """A live engine (threads, snapshots at a fixed rate) needs insights no fresher than
        its snapshots; a synchronous run (reports, tests) keeps them exact per bucket."""
        if (
            self._live
            and self._analytics is not None
            and hasattr(self._analytics, "insight_interval_s")
        ):
            self._analytics.insight_interval_s = self.publish_interval

    def _warm_pipeline(self) -> None:
        """The default pipeline's remaining kernels, on throwaway copies (see warm_pipeline)."""
        from uxtop.engine.warmup import warm_heat_kernel, warm_pipeline

        try:
            warm_heat_kernel()
        except Exception:
            pass  # the heat grids keep their numpy path
        try:
            det = _default_detector(self._detect_config)
            warm_pipeline(det, _spare_analytics(self._analytics))
        except Exception:
            pass  # a missed warm-up only moves the compile to the first real batch

    # ------------------------------------------------------------------ snapshots

    def _publish(self, now: float) -> Snapshot:
        self._read_new_kept()  # every session the snapshot lists has its past
        if self._oldest_unseen is not None:
            self._engine_lag = (now - self._oldest_unseen) * 1000
        snap = self._build_snapshot(now)
        self._oldest_unseen = None
        self._last_publish = now
        self._snapshot = snap  # one reference swap: readers see the old or the new, never half
        return snap

    def _build_snapshot(self, now: float) -> Snapshot:
        self._seq += 1
        counters = self._counters
        ts = self._stream_ts
        tally = self._tally
        tally.kinds.prune(ts)
        tally.decay_to(ts)
        kind_rates = tuple(
            KindRate(
                kind=k,
                total=tally.kinds.totals.get(k, 0),
                per_min=tally.kinds.per_min(k, ts),
                series=tally.kinds.series(k, ts),
            )
            for k in FLAG_KINDS
        )
        self._check_alerts(kind_rates, ts)
        pages = tuple(self._page_row(str(u), h) for u, h in tally.pages.top(15))
        elements = tuple(
            _element_row(k, h, tally.element_counts, tally.element_sessions)  # type: ignore[arg-type]
            for k, h in tally.elements.top(15)
        )
        sessions_total = int(counters.get("sessions", 0))
        notes = list(self._notes)
        if self._detector_state == "compiling":
            notes.insert(0, "compiling detectors (numba JIT, first run only)…")
        if self._detector_state == "error":
            notes.insert(0, "detectors stopped: " + self._detector_error)
        if self._paused:
            notes.insert(0, "display paused — the engine keeps ingesting")
        if self._shed_events:
            share = 100.0 * self._shed_events / max(1, self._events_seen)
            notes.append(
                f"overload: {self._shed_events:,} events ({share:.1f}%) counted but not analysed"
                f" — detectors/analytics fell > {MAX_HANDOFF_EVENTS:,} events behind"
            )
        analytics_snap = None
        if self._analytics is not None:
            try:
                analytics_snap = self._analytics.snapshot()
            except Exception as exc:
                notes.append(f"analytics snapshot failed: {type(exc).__name__}: {exc}")
        alerts = tuple(self._alerts)
        extra = getattr(analytics_snap, "alerts", None)
        if extra:
            alerts = tuple(_as_alert(a) for a in list(extra)[::-1][:10]) + alerts  # newest first
        bad = counters.get("bad_by_reason", {}) or {}
        return Snapshot(
            seq=self._seq,
            published_at=now,
            source=self.source_desc,
            running=not self._finished,
            paused=self._paused,
            events=int(counters.get("events", 0)),
            sessions=sessions_total,
            active_sessions=max(0, sessions_total - self._closed_sessions),
            bad_lines=int(counters.get("bad_lines", 0)),
            bad_by_reason=tuple((str(k), int(v)) for k, v in bad.items() if v),
            quarantine_path=self.quarantine_path,
            late=int(counters.get("late", 0)),
            duplicates=int(counters.get("duplicates", 0)),
            bytes_in=self._bytes_in,
            ingest_rate=self._rate.rate(now),
            rate_series=self._rate.series(now),
            oldest_unseen_read=self._oldest_unseen if self._oldest_unseen is not None else now,
            engine_lag_ms=self._engine_lag,
            stream_ts=ts,
            watermark=self._watermark,
            flags=self._tally.total,
            kind_rates=kind_rates,
            pages=pages,
            elements=elements,
            flagged_sessions=len(self._kept),
            session_rows=self._session_rows(),
            session_filter=self._filter,
            detectors=self._detector_stats(kind_rates),
            heat=self._heat_pages(),
            alerts=alerts,
            notes=tuple(notes),
            retained_events=self._kept_events,
            window_events=self._window_events,
            analytics=analytics_snap,
            lateness_ms=int(getattr(getattr(self._ingestor, "cfg", None), "lateness_ms", 0) or 0),
            unanalysed_events=self._shed_events,
            ingest_cpu_s=self._ingest_cpu,
            core_memory_bytes=self._core_memory,
            analysis_cpu_s=self._analysis_cpu,
            analysis_backlog=self._handoff_events,
        )

    def _page_row(self, url: str, heat: float) -> PageRow:
        c = self._tally.page_counts.get(url) or {}
        return PageRow(
            url=url,
            heat=heat,
            flags=sum(c.values()),
            rage=c.get("rage_click", 0),
            dead=c.get("dead_click", 0),
            error=c.get("error_click", 0),
            sessions=self._tally.page_sessions.get(url, 0),
        )

    def _session_rows(self) -> tuple[SessionRow, ...]:
        out: list[SessionRow] = []
        kept = self._kept
        names = self._flag_codes.names
        order = kept.newest_first().tolist()  # newest flagged first
        # rows are cached until the session changes (cheap 4 Hz snapshots), and made a screen's
        # worth at a time: a filter may need more of them
        for at in range(0, len(order), MAX_SESSION_ROWS):
            for row in kept.session_rows(order[at : at + MAX_SESSION_ROWS], names, self._str):
                if self._filter_terms and not match_filter(row, self._filter_terms):
                    continue
                out.append(row)
                if len(out) >= MAX_SESSION_ROWS:
                    return tuple(out)
        return tuple(out)

    def _detector_stats(self, kind_rates: tuple[KindRate, ...]) -> DetectorStats:
        det = self._detector
        thresholds = self._flag_adapter.thresholds(det)
        ms = sorted(self._update_ms)
        rows = tuple(
            DetectorRow(
                kind=kr.kind,
                total=kr.total,
                per_min=kr.per_min,
                thresholds=thresholds.get(kr.kind, ()),
            )
            for kr in kind_rates
        )
        return DetectorStats(
            state=self._detector_state,
            profile=self._flag_adapter.profile(det),
            events_per_s=self._judged / self._detect_cpu if self._detect_cpu > 0 else 0.0,
            judged=self._judged,
            update_ms_p50=ms[len(ms) // 2] if ms else 0.0,
            update_ms_max=ms[-1] if ms else 0.0,
            rows=rows,
            recent=tuple(reversed(self._recent_flags))[:50],
            error=self._detector_error
            + (f" ({self._unjudged} events not judged during JIT)" if self._unjudged else ""),
        )

    def _heat_pages(self) -> tuple[PageHeat, ...]:
        # heat maps are rebuilt at most once a second: nobody reads a heatmap at 4 Hz, and each
        # rebuild copies every page's grids
        now = self.clock()
        if self._heat_cache and (not self._heat_dirty or now - self._heat_built_at < 1.0):
            return tuple(
                self._heat_cache[s]
                for s in sorted(self._heat_cache, key=lambda s: -self._heat.n_clicks[s])
            )
        self._heat_dirty = False
        self._heat_built_at = now
        out: dict[int, PageHeat] = {}
        by_url: dict[str, list[ElementRow]] = {}
        tally = self._tally
        for key, h in tally.url_elements.top(200):
            url, target = cast(tuple[str, str], key)
            by_url.setdefault(url, []).append(
                _element_row((url, target), h, tally.url_element_counts, tally.url_element_sessions)
            )
        for slot, url_id in enumerate(self._heat.urls[:MAX_HEAT_PAGES]):
            clicks, moves, depth = self._heat.page(slot)
            url = self._str("url", url_id)
            out[slot] = PageHeat(
                url=url,
                clicks=freeze(clicks),
                moves=freeze(moves),
                cell_w=CELL_W,
                cell_h=CELL_H,
                n_clicks=int(self._heat.n_clicks[slot]),
                n_moves=int(self._heat.n_moves[slot]),
                depth=depth,
                elements=tuple(by_url.get(url, [])[:10]),
            )
        self._heat_cache = out
        return tuple(
            out[s]
            for s in sorted(
                out, key=lambda s: -(self._heat.n_clicks[s] + self._heat.n_moves[s] // 50)
            )
        )

    def _check_alerts(self, kind_rates: tuple[KindRate, ...], ts: int) -> None:
        """Friction spike: a click-flag kind at >= 3x its previous 4-minute rate (and >= 6/min).

        A built-in guard so a spike is called out even without an analytics config; the
        analytics layer's alerts (when present) are listed first.
        """
        if self._first_flag_ts is None or ts - self._first_flag_ts < 150_000:
            return  # no baseline yet: the first flags of a stream are not a "spike"
        for kr in kind_rates:
            if kr.kind not in CLICK_FLAG_KINDS or len(kr.series) < 30:
                continue
            now_rate = float(sum(kr.series[-6:]))
            prev = kr.series[:-6]
            per_min_prev = [sum(prev[i : i + 6]) for i in range(0, len(prev), 6)]
            base = float(np.median(per_min_prev)) if per_min_prev else 0.0
            if now_rate >= 6 and now_rate >= 3 * max(base, 1.0):
                last = self._alerted_at.get(kr.kind, -(2**62))
                if ts - last < 120_000:
                    continue
                self._alerted_at[kr.kind] = ts
                # by page template, as the worst pages list: a spike spread over product pages
                # names /product/*, not whichever product had the most of it
                urls = Counter(
                    page_template(f.url) for f in self._recent_flags if f.kind == kr.kind and f.url
                )
                where = f" — worst page {urls.most_common(1)[0][0]}" if urls else ""
                self._alerts.appendleft(
                    Alert(
                        ts=ts,
                        severity="critical" if now_rate >= 10 * max(base, 1.0) else "warning",
                        title=f"{kr.kind.replace('_', ' ')} spike: {now_rate:.0f}/min (baseline {base:.0f}/min){where}",
                        detail="friction spike rule: ≥3× the previous 4-minute median and ≥6/min",
                    )
                )


# ---------------------------------------------------------------------------------- helpers

_RECORD_DTYPES: dict[tuple[tuple[str, str], ...], np.dtype] = {}


def _element_row(
    key: tuple[str, str],
    heat: float,
    counts: dict[tuple[str, str], dict[str, int]],
    sessions: Counter[tuple[str, str]],
) -> ElementRow:
    c = counts.get(key) or {}
    top = max(c, key=c.__getitem__) if c else ""  # the first of equals, as most_common
    return ElementRow(
        url=key[0],
        target=key[1],
        heat=heat,
        flags=sum(c.values()),
        top_kind=top,
        sessions=sessions.get(key, 0),
    )


def _record_dtype(batch: EventBatch) -> np.dtype:
    key = tuple((k, v.dtype.str) for k, v in batch.columns.items())
    dt = _RECORD_DTYPES.get(key)
    if dt is None:
        dt = _RECORD_DTYPES[key] = np.dtype([(k, v.dtype) for k, v in batch.columns.items()])
    return dt


def _load_libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc()


def release_free_heap() -> bool:
    """Give the malloc heap's free pages back to the OS (glibc ``malloc_trim``; False elsewhere).

    Retention evicts in bulk and batches come and go in many sizes, so the heap fragments: its
    bytes in use stay flat while free chunks between live ones hold pages, and RSS creeps up
    (~2.7 MB per 1.5 M events at 100 k events/s). A trim every ``HEAP_TRIM_INTERVAL`` s costs
    ~10 ms (ctypes drops the GIL meanwhile) and keeps RSS with the memory in use."""
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def skip_huge_page_advice() -> bool:
    """Stop numpy asking for transparent huge pages on its arrays of >= 4 MB (process-wide;
    returns the previous setting).

    Where the kernel's THP defrag setting is "madvise" (the kernel's default, and this
    machine's), a first touch of such an array may compact memory to find a huge page, inside
    the page fault. The engine allocates its per-batch arrays fresh (a 64 MB read is ~600 k
    events, tens of MB of columns and kernel buffers), so a fresh process paid it on every
    batch: the detectors took 0.62-0.72 s of CPU on the ingest bench's file against 0.47-0.48
    s without the advice (mostly system time; two fresh processes each)."""
    multiarray: Any = np._core.multiarray  # type: ignore[attr-defined]  # (not in the stubs)
    return bool(multiarray._set_madvise_hugepage(False))


def parse_filter(text: str) -> list[tuple[str, str]]:
    """``kind:rage url:/checkout dev:mobile cohort:2.3 words`` → [(field, needle), ...]."""
    terms: list[tuple[str, str]] = []
    for tok in text.split():
        field_, sep, needle = tok.partition(":")
        if sep and field_ in (
            "kind",
            "url",
            "target",
            "dev",
            "rel",
            "geo",
            "cohort",
            "key",
            "page",
        ):
            terms.append(("url" if field_ == "page" else field_, needle.lower()))
        else:
            terms.append(("text", tok.lower()))
    return terms


def match_filter(row: SessionRow, terms: list[tuple[str, str]]) -> bool:
    for field_, needle in terms:
        if field_ == "kind":
            ok = any(needle in k for k in row.kinds)
        elif field_ == "cohort":
            ok = any(needle in v.lower() for v in (row.dev, row.rel, row.geo))
        elif field_ == "text":
            hay = " ".join(
                (row.key, row.url, row.target, row.dev, row.rel, row.geo, *row.kinds)
            ).lower()
            ok = needle in hay
        else:
            ok = needle in str(getattr(row, field_)).lower()
        if not ok:
            return False
    return True


def _as_alert(a: Any) -> Alert:
    if isinstance(a, Alert):
        return a
    state = getattr(a, "state", None)
    if state is not None and hasattr(a, "message"):  # uxtop.analytics AlertEvent
        return Alert(
            ts=int(a.ts),
            severity="info" if state == "resolved" else "critical",
            title=("resolved: " if state == "resolved" else "") + str(a.message),
            detail=f"{a.name}: {a.metric} {a.op} {a.threshold:g} on {a.subject}",
        )
    get = (
        (lambda k, d=None: a.get(k, d))
        if isinstance(a, dict)
        else (lambda k, d=None: getattr(a, k, d))
    )
    return Alert(
        ts=int(get("ts", 0) or 0),
        severity=str(get("severity", "warning") or "warning"),
        title=str(get("title", None) or get("text", None) or get("message", None) or a),
        detail=str(get("detail", "") or ""),
    )


def _default_ingestor(quarantine_path: str) -> Any:
    from uxtop.ingest import IngestConfig, Ingestor  # the Rust-backed core

    return Ingestor(IngestConfig(), quarantine=quarantine_path or None)


def _default_detector(cfg: Any = None) -> Any:
    try:
        from uxtop.detect import Detector
    except ImportError:
        return None
    try:
        from uxtop.detect import DetectConfig  # type: ignore[attr-defined]
    except ImportError:
        from uxtop.detect.config import DetectConfig
    return Detector(cfg if cfg is not None else DetectConfig())


def _default_analytics() -> Any:
    try:
        from uxtop.analytics import Analytics
    except ImportError:
        return None
    try:
        from uxtop.analytics import AnalyticsConfig  # type: ignore[attr-defined]

        return Analytics(AnalyticsConfig())
    except ImportError:
        return Analytics()  # type: ignore[call-arg]


def _spare_analytics(analytics: Any) -> Any:
    """A fresh ``Analytics`` with the same config for the warm-up run, or None for any other
    kind. It never runs alert commands nor writes alert JSON: canned traffic may fire a rule."""
    try:
        from uxtop.analytics import Analytics
    except ImportError:
        return None
    if not isinstance(analytics, Analytics):
        return None
    cfg = analytics.cfg
    if not cfg.funnels:
        # the default funnel is inferred only after many sessions, so the canned stream would
        # leave the funnel, step-series and journey kernels to the first real batches (~0.1 s
        # holding the GIL on the analysis thread): a funnel on the canned pages reaches them
        from uxtop.analytics.config import FunnelConfig, StepConfig

        warm = FunnelConfig(
            name="warm-up",
            steps=[StepConfig(type="pageview", url="/a"), StepConfig(type="pageview", url="/b")],
        )
        cfg = msgspec.structs.replace(cfg, funnels=[warm])
    return Analytics(cfg, json_out=None, run_commands=False)


def snapshot_status(snap: Snapshot, now: float) -> dict[str, Any]:
    """The one-line status ``tail --headless`` prints (also handy in tests)."""
    return {
        "type": "status",
        "seq": snap.seq,
        "events": snap.events,
        "sessions": snap.sessions,
        "active_sessions": snap.active_sessions,
        "rate": round(snap.ingest_rate, 1),
        "lag_ms": round(max(snap.engine_lag_ms, (now - snap.oldest_unseen_read) * 1000), 1),
        "bad_lines": snap.bad_lines,
        "late": snap.late,
        "duplicates": snap.duplicates,
        "flags": snap.flags,
        "flags_per_min": {k.kind: k.per_min for k in snap.kind_rates if k.per_min},
        "flagged_sessions": snap.flagged_sessions,
        "unanalysed": snap.unanalysed_events,
        "detectors": snap.detectors.state,
        "worst_pages": [p.url for p in snap.pages[:3]],
        "running": snap.running,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {"type": "alert", **msgspec.structs.asdict(alert)}
