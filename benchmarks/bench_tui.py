"""Responsiveness of the engine + TUI, measured (not a unit test).

    python benchmarks/bench_tui.py                 # everything, ~3 min
    python benchmarks/bench_tui.py --soak-minutes 10 --soak-rate 200000
    python benchmarks/bench_tui.py --only keys,throughput

Sections
  throughput  engine over pre-generated shop traffic as fast as it goes: ingest only,
              + detectors, + analytics (events/s); --throughput-runs passes of each, the
              first (heap still growing) and the best later one (warm heap) reported.
              --traffic ingest-file: over the ingest benchmark's file instead (200 k sessions
              interleaved over an hour, a flag every ~13 events: many sessions open at once).
  longrun     one engine over --loops loops of the traffic back to back: capacity per loop,
              as retention fills and churns and analytics builds history (steady state).
              --copies N: each loop N copies of the traffic side by side (N times the
              visitors: N times the open sessions and events per second of event time).
  keepup      a paced generator at --rates events/s into the threaded engine for --keepup-seconds:
              offered vs ingested, backlog over time (flat = keeps up), event-to-screen lag.
              The generator runs on a thread of the engine's process (it takes GIL time).
  pipe        the same with the generator in a child process writing into a pipe that the
              engine reads like `producer | uxtop tail -` (events come from outside).
  keys        Pilot: >= 200 key presses (screen switches, list motions, drill-down and back)
              on the app over a live engine; press -> screen updated, p50/p95/max.
  lag         event-to-screen lag as the app computes it (bytes read -> frame), while keys runs.
  soak        memory (RSS) of the engine at --soak-rate for --soak-minutes: start, end, slope.
  coldstart   `uxtop demo` in tmux with an empty numba cache: time to the first frame.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "uxtop-bench-tui"


def _mallinfo() -> Any:
    """glibc's mallinfo2 (summed over all arenas), or None elsewhere."""
    import ctypes

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        return libc.mallinfo2()
    except (OSError, AttributeError):
        return None


def heap_in_use_mb() -> float:
    """malloc'd bytes in use (glibc mallinfo2): Python objects, numpy buffers below the mmap
    threshold and the Rust core's heap, without the replay buffers' big mmaps that make RSS
    swing by hundreds of MB as each loop of shifted traffic is made. NaN elsewhere."""
    m = _mallinfo()
    return float("nan") if m is None else m.uordblks / 1e6


def heap_free_mb() -> tuple[float, float]:
    """(free bytes held in malloc's arenas, bytes in malloc's own mmaps), MB: RSS can grow
    through either while the bytes in use stay flat (fragmentation, big blocks)."""
    m = _mallinfo()
    return (float("nan"), float("nan")) if m is None else (m.fordblks / 1e6, m.hblkhd / 1e6)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def traffic(sessions: int = 6000, seed: int = 11) -> bytes:
    """Pre-generated shop traffic (cached on disk: generating is slower than consuming)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"shop-{seed}-{sessions}.ndjson"
    if not path.exists():
        from uxtop.synth import Incident, SynthConfig, generate

        run = generate(
            SynthConfig(
                seed=seed,
                sessions=sessions,
                sessions_per_s=20,
                incident=Incident(start_s=120, duration_s=120),
            )
        )
        path.write_bytes(b"".join(run.chunks()))
    return path.read_bytes()


class PacedReplay:
    """Replays ``data`` in a loop at ``rate`` lines/s of wall clock. Each loop is the next
    stretch of the same traffic, rewritten in place with numpy: every event time moves on by
    the data's span, so the stream's clock runs on without a jump, and every session id gets
    the loop's tag, so the next loop's visitors are new sessions, as on a real site.

    (Earlier loops moved time on past the 30-min idle gap instead, to make the sessions new:
    at 1 M events/s that was a 31-minute jump every 1.5 s, ~190 empty analytics buckets per
    loop, 150 bucket ticks per wall second — a quarter of the analysis thread, on work no live
    stream asks for. Event time still runs ~220x the wall clock here.)"""

    def __init__(self, data: bytes, rate: float, tick: float = 0.01, preload: int = 0) -> None:
        self.data = data
        self.rate = rate
        self.tick = tick
        arr = np.frombuffer(data, dtype=np.uint8)
        self.ends = np.flatnonzero(arr == ord("\n")) + 1
        starts = np.concatenate([[0], self.ends[:-1]])
        # synth lines start with {"ts":<13 digits>
        assert data.startswith(b'{"ts":') and bool(np.all(arr[starts + 5] == ord(":")))
        # only the low 9 digits change (no carry beyond them for ~2000 loops)
        self.digit_pos = (starts + 10)[:, None] + np.arange(9)
        digits = arr[self.digit_pos].astype(np.int64) - 48
        self.ts = digits @ (10 ** np.arange(8, -1, -1, dtype=np.int64))
        # the next loop starts a second after this one ends
        self.span = int(self.ts.max() - self.ts.min()) + 1000
        # synth lines go on ,"sid":"s<2-digit seed>-: those two digits are the loop's tag (a
        # session id comes back after 100 loops, hours of event time later: a new session)
        tag_at = starts + 19
        sid = b',"sid":"s'
        assert all(bool(np.all(arr[tag_at + i] == c)) for i, c in enumerate(sid))
        self.tag_pos = (tag_at + len(sid))[:, None] + np.arange(2)
        assert bool(np.all(arr[self.tag_pos[:, 1] + 1] == ord("-")))
        self.tag0 = int((arr[self.tag_pos[0]].astype(np.int64) - 48) @ np.array([10, 1]))
        self._next: dict[int, bytes | bytearray] = {}
        # later loops are rewritten in place in one of two buffers made once: a fresh copy of
        # the traffic per loop made the process's RSS jump between two levels in the soak
        self._ring = (bytearray(data), bytearray(data))
        # loops made before the measurement: making one copies the traffic three times with the
        # GIL held (~0.1 s), a stall no real source causes, so latency runs make theirs first
        self.preload = preload
        for loop in range(1, preload + 1):
            self._next[loop] = self._shifted(loop)
        self._prep(preload + 1)
        self.offered = 0  # lines handed to the engine's source queue
        self.t0: float | None = None  # wall clock of the first chunk: the schedule starts here
        self.stop = threading.Event()
        #: the schedule starts when this is set (after the engine is started and its detectors
        #: are compiled), so a warm-up does not turn into a burst of overdue traffic
        self.go = threading.Event()

    def scheduled(self) -> float:
        """Lines the schedule says are due by now (what a real producer would have written)."""
        return 0.0 if self.t0 is None else (time.perf_counter() - self.t0) * self.rate

    def _prep(self, loop: int) -> None:
        # the next loop's bytes are made on a side thread while this loop is served
        def work() -> None:
            self._next[loop] = self._shift_into(self._ring[loop % 2], loop)

        self._prep_thread = threading.Thread(target=work, daemon=True)
        self._prep_thread.start()

    def _shifted(self, loop: int) -> bytes:
        return bytes(self._shift_into(bytearray(self.data), loop))

    def _shift_into(self, buf: bytearray, loop: int, copy: int = 0, copies: int = 1) -> bytearray:
        ts = (self.ts + loop * self.span).astype(np.int32)
        digits = (ts[:, None] // (10 ** np.arange(8, -1, -1, dtype=np.int32))) % 10 + 48
        view = np.frombuffer(buf, dtype=np.uint8)
        view[self.digit_pos] = digits.astype(np.uint8)
        tag = (self.tag0 + loop * copies + copy) % 100
        view[self.tag_pos] = np.array([48 + tag // 10, 48 + tag % 10], dtype=np.uint8)
        return buf

    def overlaid(self, loops: int, copies: int, block: int = 2000) -> Iterator[bytes]:
        """``loops`` loops, each ``copies`` copies of the traffic at the same event times, each
        copy's sessions with their own tag: a site with ``copies`` times the visitors, so
        ``copies`` times the events per second of event time. The copies are interleaved
        ``block`` lines at a time (~0.4 s of event time, well inside the ingest's 5-s
        lateness, which puts them in order)."""
        bufs = [bytearray(self.data) for _ in range(copies)]
        n = len(self.ends)
        for loop in range(loops):
            for j, buf in enumerate(bufs):
                self._shift_into(buf, loop, j, copies)
            for a in range(0, n, block):
                lo = 0 if a == 0 else int(self.ends[a - 1])
                hi = int(self.ends[min(a + block, n) - 1])
                for buf in bufs:
                    yield bytes(memoryview(buf)[lo:hi])

    def chunks(self) -> Iterator[bytes]:
        n = len(self.ends)
        pos = 0
        loop = 0
        buf: bytes | bytearray = self.data
        while not self.go.wait(0.05):
            if self.stop.is_set():
                return
            yield b""
        t0 = self.t0 = time.perf_counter()
        while not self.stop.is_set():
            due = int((time.perf_counter() - t0) * self.rate)
            want = due - self.offered
            if want <= 0:
                time.sleep(self.tick)
                yield b""
                continue
            take = min(want, n - pos, 100_000)
            a = 0 if pos == 0 else int(self.ends[pos - 1])
            b = int(self.ends[pos + take - 1])
            yield bytes(memoryview(buf)[a:b])  # a copy: the buffer is rewritten two loops on
            self.offered += take
            pos += take
            if pos >= n:
                loop += 1
                pos = 0
                if loop > self.preload:
                    self._prep_thread.join()
                    buf = self._next.pop(loop)
                    self._prep(loop + 1)
                else:
                    buf = self._next.pop(loop)


def bench_throughput(data: bytes, runs: int = 3) -> dict[str, float]:
    """Each configuration ``runs`` times in this process, in turn, a fresh engine each time.
    The first pass grows the heap: the engine's window keeps the last 1 M events' batches and
    the record store its flagged sessions, so every batch written before they are full lands on
    fresh pages (~2.3 us a page on this host; 100-190 MB in a first pass here). Later passes
    reuse what the earlier ones freed. A fresh engine's retention and analytics history are
    still small, though: what a live engine settles to is ``bench_longrun``'s later loops."""
    from uxtop.engine import BytesSource, Engine

    out: dict[str, float] = {}
    lines = data.count(b"\n")
    configs = (
        ("ingest", dict(detector=False, analytics=False)),
        ("ingest+detect", dict(analytics=False)),
        ("full pipeline", {}),
    )
    seen: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, _ in configs}
    for run in range(runs):
        for label, kw in configs:
            eng = Engine([BytesSource(data)], live=True, **kw)  # paced as a started engine
            eng.wait_for_detectors(300)
            t = time.perf_counter()
            snap = eng.run_until_done(600)
            dt = time.perf_counter() - t
            # wall time on a shared machine says little; each half's own CPU time says what the
            # two-thread pipeline sustains with a core each: the slower half sets the pace
            ing = lines / snap.ingest_cpu_s if snap.ingest_cpu_s else float("nan")
            ana = lines / snap.analysis_cpu_s if snap.analysis_cpu_s else float("nan")
            seen[label].append((lines / dt, ing, ana, min(ing, ana)))
            print(
                f"  pass {run + 1} {label:<15} {lines / dt / 1e6:6.2f} M events/s one thread"
                f" ({lines:,} events in {dt:.2f} s); per CPU-s: ingest {ing / 1e6:.2f} M,"
                f" analysis {ana / 1e6:.2f} M → pipelined capacity {min(ing, ana) / 1e6:.2f} M"
                f" events/s (detector {snap.detectors.events_per_s / 1e6:.1f} M ev/s of its own"
                " time)"
            )
    for label, rows in seen.items():
        first, later = rows[0], rows[1:] or rows
        steady = max(later, key=lambda r: r[3])
        out[label] = first[0]
        out[label + " capacity"] = first[3]
        out[label + " warm capacity"] = steady[3]
        print(
            f"  {label:<15} pipelined capacity: first pass {first[3] / 1e6:.2f} M events/s;"
            f" warm heap (best of passes 2-{len(rows)}) {steady[3] / 1e6:.2f} M"
            f" (ingest {steady[1] / 1e6:.2f} M, analysis {steady[2] / 1e6:.2f} M per CPU-s)"
        )
    return out


def bench_longrun(data: bytes, loops: int, copies: int = 1) -> list[dict[str, float]]:
    """One engine over ``loops`` loops of the traffic back to back (each loop's sessions new,
    event time running on, as PacedReplay makes them), as fast as it goes: each loop's events
    per CPU-second of each half. The later loops are what a live engine settles to: retention
    full (and churning), analytics with history and alarms, the heap reused.

    With ``copies`` > 1 each loop is that many copies of the traffic side by side (see
    ``PacedReplay.overlaid``): the work per event is the same, the work per 10-s analytics
    bucket is spread over ``copies`` times the events. The traffic alone has ~4 500 events a
    second of event time; a site at 1 M events/s has 220 times that, so its buckets cost it
    next to nothing, and here they are ~15 % of the settled analysis thread."""
    from uxtop.engine import BytesSource, Engine, IterSource

    per_loop = data.count(b"\n") * copies
    replay = PacedReplay(data, 1e9)
    if copies == 1:
        source: Any = BytesSource(b"".join(replay._shifted(i) for i in range(loops)))
    else:
        source = IterSource(replay.overlaid(loops, copies), name="overlaid")
    eng = Engine([source], live=True)  # paced as a started engine
    eng.wait_for_detectors(300)
    out = []
    mark = (0, 0.0, 0.0)
    while not eng._finished:
        eng.step()
        # a loop ends once its last event has been analysed (or at the very end)
        done = eng._judged if eng._detector is not None else eng._events_seen
        if done >= (len(out) + 1) * per_loop or eng._finished:
            now = (done, eng._ingest_cpu, eng._analysis_cpu)
            n = now[0] - mark[0]
            ing, ana = n / max(now[1] - mark[1], 1e-9), n / max(now[2] - mark[2], 1e-9)
            out.append({"ingest": ing, "analysis": ana, "capacity": min(ing, ana)})
            print(
                f"  loop {len(out)}: per CPU-s ingest {ing / 1e6:.2f} M, analysis"
                f" {ana / 1e6:.2f} M → pipelined capacity {min(ing, ana) / 1e6:.2f} M events/s"
                f" ({len(eng._kept):,} flagged sessions kept)"
            )
            mark = now
    return out


def bench_keepup(data: bytes, rate: float, seconds: float) -> dict[str, Any]:
    """The generator on a thread of the engine's own process (it competes for the GIL)."""
    from uxtop.engine import Engine, IterSource

    # every loop of the run made up front (at 1 M/s a loop lasts 1.5 s, and making one holds
    # the GIL ~0.1-0.3 s: the generator would take GIL time from the engine it measures)
    replay = PacedReplay(data, rate, preload=_loops(data, rate, seconds))
    eng = Engine([IterSource(replay.chunks, name="paced")], publish_interval=0.25)
    eng.start()
    eng.wait_for_detectors(300)
    replay.go.set()
    try:
        return _measure_keepup(eng, replay.scheduled, rate, seconds, "in-process generator")
    finally:
        replay.stop.set()


def bench_keepup_pipe(rate: float, seconds: float, sessions: int) -> dict[str, Any]:
    """The generator in a child process writing NDJSON into a pipe the engine reads, as
    `producer | uxtop tail -` runs: the events come from outside, as on a real deployment."""
    from uxtop.engine import Engine, StreamSource

    cmd = [sys.executable, __file__, "--generate", str(rate), str(seconds + 10)]
    proc = subprocess.Popen(
        cmd + ["--sessions", str(sessions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    eng = Engine([StreamSource(proc.stdout, name="pipe")], publish_interval=0.25)
    eng.start()
    eng.wait_for_detectors(300)
    try:
        ready = proc.stderr.readline()  # its loops are made: the schedule can start
        if ready.strip() != b"ready":
            raise RuntimeError(f"generator failed: {ready!r} {proc.stderr.read()!r}")
        proc.stdin.write(b"g")
        proc.stdin.flush()
        t_go = time.perf_counter()
        return _measure_keepup(
            eng, lambda: (time.perf_counter() - t_go) * rate, rate, seconds, "generator process"
        )
    finally:
        proc.kill()
        proc.wait()
        eng.stop()


def _loops(data: bytes, rate: float, seconds: float) -> int:
    return int((seconds + 10) * rate / data.count(b"\n")) + 2


def _generate(rate: float, seconds: float, sessions: int) -> int:
    """Child side of ``bench_keepup_pipe``: paced NDJSON on stdout once a byte comes on stdin."""
    data = traffic(sessions)
    replay = PacedReplay(data, rate, preload=_loops(data, rate, seconds))
    out = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    sys.stderr.buffer.write(b"ready\n")
    sys.stderr.flush()
    sys.stdin.buffer.read(1)
    replay.go.set()
    end = time.monotonic() + seconds
    try:
        for chunk in replay.chunks():
            if chunk:
                out.write(chunk)
            if time.monotonic() > end:
                break
    except BrokenPipeError:
        pass
    return 0


def _measure_keepup(
    eng: Any, scheduled: Callable[[], float], rate: float, seconds: float, how: str
) -> dict[str, Any]:
    time.sleep(3)  # settle
    samples = []
    lags = []
    t0 = time.monotonic()
    cpu0 = time.process_time()
    try:
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            snap = eng.latest()
            now = time.monotonic()
            lags.append(max(snap.engine_lag_ms, (now - snap.oldest_unseen_read) * 1000))
            samples.append((now - t0, scheduled(), snap.events))
    finally:
        eng.stop()
    cores = (time.process_time() - cpu0) / (time.monotonic() - t0)
    snap = eng.latest()
    # backlog = due by the schedule - ingested (the source queue is bounded, so a slow engine
    # shows up here, not as an unbounded queue); flat = keeps up, growing = falls behind
    half = len(samples) // 2
    backlog = [o - e for _, o, e in samples]
    slope = (
        np.polyfit([t for t, _, _ in samples[half:]], backlog[half:], 1)[0]
        if len(samples) > 4
        else float("nan")
    )
    ingested_rate = (samples[-1][2] - samples[half][2]) / (samples[-1][0] - samples[half][0])
    res = {
        "source": how,
        "offered_rate": rate,
        "ingested_rate": ingested_rate,
        "backlog_end": backlog[-1],
        "backlog_slope_per_s": slope,
        "lag_p50_ms": statistics.median(lags[half:]),
        "lag_p95_ms": float(np.percentile(lags[half:], 95)),
    }
    keeps = res["backlog_slope_per_s"] < 0.02 * rate
    res["unanalysed_share"] = snap.unanalysed_events / max(1, snap.events)
    res["process_cores"] = cores
    print(
        f"  {how}: offered {rate / 1e3:.0f}k ev/s → ingested {ingested_rate / 1e3:.0f}k ev/s (2nd half), backlog slope {slope / 1e3:+.1f}k ev/s"
        f" → {'keeps up' if keeps else 'FALLS BEHIND'}; engine lag p50 {res['lag_p50_ms']:.0f} ms, p95 {res['lag_p95_ms']:.0f} ms;"
        f" {res['unanalysed_share'] * 100:.1f}% of events shed from analysis; the engine's process got {cores:.2f} cores"
    )
    res["keeps_up"] = keeps
    return res


async def _keys(data: bytes, rate: float, presses: int) -> dict[str, Any]:
    """Key → frame latency on the app over a live engine.

    Pilot's own waits (``wait_for_idle``) wait for the *process* CPU to go quiet, which never
    happens with an engine thread ingesting in the same process, so they would measure the
    engine, not the UI. Here each key is sent to the driver, then we wait until every widget
    of the screen has processed its messages (Pilot's ``_wait_for_screen``) and until the next
    frame is written (``App._display``): that is "press → updated screen".
    """
    import textual._wait
    import textual.app
    import textual.pilot
    from textual import events

    from uxtop.engine import Engine, IterSource
    from uxtop.tui.app import create_app

    async def no_idle_wait(*_a: Any, **_k: Any) -> None:
        await asyncio.sleep(0)

    textual.app.wait_for_idle = no_idle_wait  # type: ignore[assignment]
    textual.pilot.wait_for_idle = no_idle_wait  # type: ignore[assignment]

    # enough loops made up front for the whole run (~0.15 s a press, plus the warm-up)
    lines_per_loop = data.count(b"\n")
    loops = int((presses * 0.15 + 15) * rate / lines_per_loop) + 1 if rate > 0 else 0
    replay = PacedReplay(data, rate, preload=loops)
    if rate > 0:
        eng = Engine([IterSource(replay.chunks, name="paced")])
        eng.start()
        eng.wait_for_detectors(300)
        replay.go.set()
    else:
        # UI cost alone: the engine has consumed the traffic and sits idle with its snapshot
        from uxtop.engine import BytesSource

        eng = Engine([BytesSource(data[: data.rfind(b"\n", 0, 60_000_000) + 1])])
        eng.wait_for_detectors(300)
        eng.run_until_done(600)
    app = create_app(eng)
    frames: list[float] = []
    orig_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        orig_display(screen, renderable)
        frames.append(time.perf_counter())

    app._display = display  # type: ignore[method-assign]
    times: dict[str, list[float]] = {}
    #: CPU time of the UI thread (the app's event loop runs on this one) per key: the UI's own
    #: work, without the waiting for a CPU that a shared machine adds to the wall-clock figure
    cpu_times: list[float] = []
    lags: list[float] = []
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await asyncio.sleep(5)  # traffic and flagged sessions first
            wall0, proc0 = time.perf_counter(), time.process_time()
            plan = [
                "2",
                "j",
                "j",
                "k",
                "G",
                "g",
                "3",
                "j",
                "m",
                "4",
                "j",
                "5",
                "6",
                "7",
                "2",
                "s",
                "r",
                "enter",
                "n",
                "N",
                "escape",
                "1",
            ]
            i = 0
            while sum(len(v) for v in times.values()) < presses:
                key = plan[i % len(plan)]
                i += 1
                t = time.perf_counter()
                c0 = time.thread_time()
                n_frames = len(frames)
                ev = events.Key(key, key if len(key) == 1 else None)
                ev.set_sender(app)
                screen = app.screen
                # straight into the app's queue, as the driver's thread-safe hand-off would, but
                # before the wait below queues its markers: the wait then ends only after the key
                # was handled (through the driver, the key could land behind the markers)
                await app._post_message(ev)
                await pilot._wait_for_screen()
                if app.screen is not screen:
                    await pilot._wait_for_screen()  # a screen switch: the new screen's work too
                if key == "enter":
                    await app.workers.wait_for_complete()  # the drill-down (engine thread) too
                    await pilot._wait_for_screen()
                # the first frame written after the key was handled; a key that changes nothing
                # visible (already on that screen) writes none: then "handled" is the answer
                handled = time.perf_counter()
                deadline = handled + 0.5
                while len(frames) <= n_frames and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                done = frames[-1] if len(frames) > n_frames else handled
                times.setdefault(key, []).append((done - t) * 1000)
                cpu_times.append((time.thread_time() - c0) * 1000)
                lags.append(app.lag_ms(app.snapshot))
                if os.environ.get("BENCH_VERBOSE"):
                    print(
                        f"    {key!r} {(done - t) * 1000:.1f} ms (UI CPU {cpu_times[-1]:.1f} ms)"
                        f" on {type(app.screen).__name__}",
                        flush=True,
                    )
                await asyncio.sleep(0.05)  # a fast typist; refresh ticks land between keys
            proc_share = (time.process_time() - proc0) / (time.perf_counter() - wall0)
    finally:
        replay.stop.set()
        eng.stop()
    allv = [v for vs in times.values() for v in vs]
    res = {
        "presses": len(allv),
        "p50_ms": statistics.median(allv),
        "p95_ms": float(np.percentile(allv, 95)),
        "max_ms": max(allv),
        "cpu_p50_ms": statistics.median(cpu_times),
        "cpu_p95_ms": float(np.percentile(cpu_times, 95)),
        "by_key_p95": {k: float(np.percentile(v, 95)) for k, v in times.items()},
        "lag_p50_ms": statistics.median(lags),
        "lag_p95_ms": float(np.percentile(lags, 95)),
        "frames": app.frames,
        "flagged_sessions": eng.latest().flagged_sessions,
        "engine_notes": eng.latest().notes,
    }
    print(
        f"  {res['presses']} presses at {rate / 1e3:.0f}k ev/s live ({res['flagged_sessions']} flagged sessions): press → screen updated p50 {res['p50_ms']:.1f} ms, p95 {res['p95_ms']:.1f} ms, max {res['max_ms']:.0f} ms"
    )
    print(
        f"  UI thread CPU per key (incl. the frame): p50 {res['cpu_p50_ms']:.1f} ms, p95 {res['cpu_p95_ms']:.1f} ms;"
        f" process CPU share of a core while pressing: {proc_share:.2f}"
    )
    notes = "; ".join(res["engine_notes"]) or "no notes"
    print(f"  engine meanwhile: {eng.latest().events:,} events ingested, {notes}")
    worst = sorted(res["by_key_p95"].items(), key=lambda kv: -kv[1])[:4]
    print("  slowest keys (p95): " + ", ".join(f"{k} {v:.0f} ms" for k, v in worst))
    print(
        f"  event-to-screen lag in the TUI: p50 {res['lag_p50_ms']:.0f} ms, p95 {res['lag_p95_ms']:.0f} ms"
    )
    return res


def bench_soak(data: bytes, rate: float, minutes: float) -> dict[str, Any]:
    from uxtop.engine import Engine, IterSource

    replay = PacedReplay(data, rate)
    eng = Engine([IterSource(replay.chunks, name="paced")])
    eng.wait_for_detectors(300)
    eng.start()
    replay.go.set()
    samples = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < minutes * 60:
            time.sleep(5)
            snap = eng.latest()
            samples.append(
                (
                    time.monotonic() - t0,
                    rss_mb(),
                    snap.events,
                    snap.retained_events,
                    snap.flagged_sessions,
                    heap_in_use_mb(),
                    snap.core_memory_bytes / 1e6,
                    *heap_free_mb(),
                    eng.retained_bytes / 1e6,
                )
            )
            print(
                f"    {samples[-1][0]:6.0f} s  RSS {samples[-1][1]:7.1f} MB  heap in use {samples[-1][5]:7.1f} MB"
                f" (free {samples[-1][7]:5.1f}, mmapped {samples[-1][8]:6.1f})"
                f"  core {samples[-1][6]:6.1f} MB  records {samples[-1][9]:6.1f} MB  events {samples[-1][2]:>12,}  kept {samples[-1][3]:>9,}"
                f" in {samples[-1][4]:,} sessions  unanalysed {snap.unanalysed_events:,}",
                flush=True,
            )
    finally:
        replay.stop.set()
        eng.stop()

    def slope_per_min(pts: list[tuple[float, float]], since: float, need: int) -> float:
        """Least-squares slope (per minute) of (seconds, MB) points from ``since`` on."""
        pts = [p for p in pts if p[0] >= since]
        if len(pts) < need:
            return float("nan")
        return float(np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0] * 60)

    def per_min(col: int, since: float) -> float:
        return slope_per_min([(s[0], s[col]) for s in samples], since, need=3)

    # after 1 min, and over the second half: the retained-session cap and the window fill up
    # over the first minutes, so a bounded process still rises early and then levels off
    half = minutes * 30
    # retention compacts its records now and then, so RSS is a sawtooth: a straight-line fit
    # over a few teeth depends on where the window cuts them. The floor and the peak of each
    # whole minute do not; their slopes over the second half say whether memory really grows.
    by_minute: dict[int, list[float]] = {}
    for s in samples:
        by_minute.setdefault(int(s[0] // 60), []).append(s[1])
    whole = sorted(m for m, v in by_minute.items() if len(v) >= 10)
    floors = [(m, min(by_minute[m])) for m in whole]
    peaks = [(m, max(by_minute[m])) for m in whole]

    def minute_slope(pts: list[tuple[int, float]]) -> float:
        return slope_per_min([(m * 60, v) for m, v in pts], half, need=2)

    res = {
        "heap_slope_mb_per_min": per_min(5, 60),
        "core_slope_mb_per_min": per_min(6, 60),
        "slope_mb_per_min_after_1min": per_min(1, 60),
        "second_half_mb_per_min": {
            "rss": per_min(1, half),
            "heap": per_min(5, half),
            "core": per_min(6, half),
            "heap_free": per_min(7, half),
            "mmapped": per_min(8, half),
            "records": per_min(9, half),
            "rss_floor": minute_slope(floors),
            "rss_peak": minute_slope(peaks),
        },
        "rss_floor_by_minute_mb": [round(v, 1) for _, v in floors],
        "rss_peak_by_minute_mb": [round(v, 1) for _, v in peaks],
        "minutes": minutes,
        "rate": rate,
        "rss_start_mb": samples[0][1],
        "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(s[1] for s in samples),
        "events": samples[-1][2],
    }
    h2 = res["second_half_mb_per_min"]
    print(
        f"  {minutes:.0f} min at {rate / 1e3:.0f}k ev/s ({res['events']:,} events): RSS {res['rss_start_mb']:.0f} → {res['rss_end_mb']:.0f} MB (max {res['rss_max_mb']:.0f})\n"
        f"    slope after 1 min: RSS {res['slope_mb_per_min_after_1min']:+.2f}, heap in use {res['heap_slope_mb_per_min']:+.2f}, Rust core {res['core_slope_mb_per_min']:+.2f} MB/min\n"
        f"    second half:       RSS {h2['rss']:+.2f}, heap in use {h2['heap']:+.2f}, Rust core {h2['core']:+.2f},"
        f" heap free {h2['heap_free']:+.2f}, malloc mmaps {h2['mmapped']:+.2f}, record slabs {h2['records']:+.2f} MB/min\n"
        f"    RSS per minute, floor: {' '.join(f'{v:.0f}' for v in res['rss_floor_by_minute_mb'])} MB"
        f" (second half {h2['rss_floor']:+.2f} MB/min)\n"
        f"                    peak:  {' '.join(f'{v:.0f}' for v in res['rss_peak_by_minute_mb'])} MB"
        f" (second half {h2['rss_peak']:+.2f} MB/min)"
    )
    return res


def bench_coldstart() -> dict[str, Any]:
    import shutil

    if shutil.which("tmux") is None:
        print("  skipped: tmux not installed")
        return {}
    session = f"uxtop-cold-{os.getpid()}"
    cache = tempfile.mkdtemp(prefix="uxtop-numba-")
    cmd = f"env NUMBA_CACHE_DIR={shlex.quote(cache)} {shlex.quote(sys.executable)} -m uxtop demo"
    t0 = time.monotonic()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", cmd], check=True
    )
    first = ready = None
    try:
        while time.monotonic() - t0 < 120:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            now = time.monotonic() - t0
            if first is None and "1 Overview" in screen:
                first = now
                print(
                    f"  first frame after {first:.2f} s; note on screen: {'compiling detectors' in screen}"
                )
            if first is not None and "detectors ready" in screen.replace("  ", " "):
                ready = now
                break
            time.sleep(0.05)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        shutil.rmtree(cache, ignore_errors=True)
    print(
        f"  detectors compiled in the background, ready after {ready:.1f} s"
        if ready
        else "  detectors not ready within 120 s"
    )
    return {"first_frame_s": first, "detectors_ready_s": ready}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="throughput,longrun,keepup,pipe,keys,soak,coldstart")
    ap.add_argument("--loops", type=int, default=4, help="loops of the traffic for longrun")
    ap.add_argument(
        "--copies",
        type=int,
        default=1,
        help="longrun: copies of the traffic side by side in each loop (a bigger site: more "
        "events per second of event time)",
    )
    ap.add_argument("--rates", default="250000,500000,1000000", help="keep-up rates, events/s")
    ap.add_argument(
        "--throughput-runs",
        type=int,
        default=3,
        help="passes of each throughput configuration (the first grows the heap)",
    )
    ap.add_argument("--keepup-seconds", type=float, default=20)
    ap.add_argument(
        "--keys-rate", type=float, default=100_000, help="live event rate while pressing keys"
    )
    ap.add_argument("--presses", type=int, default=220)
    ap.add_argument("--soak-minutes", type=float, default=1.0)
    ap.add_argument("--soak-rate", type=float, default=200_000)
    ap.add_argument("--sessions", type=int, default=6000, help="sessions of pre-generated traffic")
    ap.add_argument(
        "--traffic",
        choices=("shop", "ingest-file"),
        default="shop",
        help="throughput's input: the synthetic shop (default), or the ingest benchmark's file "
        "(2 M events, 200 k sessions interleaved over an hour: many sessions open at once)",
    )
    ap.add_argument(
        "--read-mb",
        type=float,
        default=None,
        help="the engine's read size in MB (default: the engine's READ_BUDGET): one batch per read, so "
        "this sets the batch size the throughput runs see",
    )
    ap.add_argument(
        "--generate", nargs=2, type=float, metavar=("RATE", "SECONDS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.read_mb is not None:
        if args.read_mb <= 0:
            ap.error("--read-mb must be > 0")
        from uxtop.engine import core

        core.READ_BUDGET = int(args.read_mb * (1 << 20))
    if args.generate:
        return _generate(args.generate[0], args.generate[1], args.sessions)
    only = set(args.only.split(","))
    if args.traffic == "ingest-file":
        if only - {"throughput"}:
            ap.error(
                "--traffic ingest-file is for --only throughput (the rest replay shop sessions)"
            )
        from uxtop.bench.data import cached_file

        data = cached_file(2_000_000).read_bytes()
        what = "the ingest benchmark's file"
    else:
        data = traffic(args.sessions)
        what = "synthetic shop, replayed"
    n_lines = data.count(b"\n")
    print(f"traffic: {n_lines:,} events, {len(data) / 1e6:.0f} MB ({what})")
    if "throughput" in only:
        print("throughput (engine, no UI, as fast as it goes)")
        bench_throughput(data, args.throughput_runs)
    if "longrun" in only:
        print(
            f"long run (one engine, {args.loops} loops of {args.copies} cop"
            f"{'y' if args.copies == 1 else 'ies'} of the traffic, as fast as it goes)"
        )
        bench_longrun(data, args.loops, args.copies)
    if "keepup" in only:
        print("keep-up (paced generator → threaded engine)")
        for r in args.rates.split(","):
            bench_keepup(data, float(r), args.keepup_seconds)
    if "pipe" in only:
        print("keep-up (generator process → pipe → threaded engine, as `producer | uxtop tail -`)")
        for r in args.rates.split(","):
            bench_keepup_pipe(float(r), args.keepup_seconds, args.sessions)
    if "keys" in only:
        print("keys (Pilot, headless app over a live engine)")
        asyncio.run(_keys(data, args.keys_rate, args.presses))
    if "soak" in only:
        print("memory soak")
        bench_soak(data, args.soak_rate, args.soak_minutes)
    if "coldstart" in only:
        print("cold start (empty numba cache)")
        bench_coldstart()
    return 0


if __name__ == "__main__":
    sys.exit(main())
