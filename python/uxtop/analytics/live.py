"""The analytics facade: ``Analytics(cfg).update(batch, strings, flags)`` → ``snapshot()``.

Per batch: funnels advance per unit, step arrivals and requests and flags are folded into
buckets; every bucket the watermark closes becomes one tick — series values → seasonal detector
→ alarms → cohort RCA → alerts. Insights and correlations are derived lazily when a snapshot is
asked for and cached until the next tick, so a 4 Hz screen costs nothing between ticks.

Per-session state on the ingest path lives in arrays, not in Python dicts: cohort columns and
routes called (for flags that arrive later) in a ``SessionTable`` at a row given by the session
id, funnel units in ``KeyMap`` arrays driven by numba kernels. A session leaves when a batch
says it closed (its last flags come with that batch); the tables' size bounds are the backstop
for closes never seen here (batches shed under overload). So a batch costs Python work per
bucket and per route, not per session or per event. Each kernel has a plain-Python reference
in ``tests/analytics/test_ingest_kernels.py`` (funnel kernels in ``test_funnels.py``,
``KeyMap`` in ``test_keymap.py``, ``SessionTable`` in ``test_session_table.py``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import IO, Any

import msgspec
import numpy as np
import numpy.typing as npt
from numba import njit

from uxtop.analytics.alerts import AlertEngine, AlertEvent
from uxtop.analytics.anomaly import Alarm
from uxtop.analytics.config import COHORT_DIMS, AlertRule, AnalyticsConfig
from uxtop.analytics.correlate import CorrelationLink, best_lags, judge, lagged_correlations
from uxtop.analytics.funnels import FunnelEngine, FunnelInferrer, FunnelResult
from uxtop.analytics.insights import Insight, fmt_ts, fmt_value, metric_name, rank, severity
from uxtop.analytics.journey import JourneyMap
from uxtop.analytics.matchers import string_of
from uxtop.analytics.rca import RootCause, adtributor
from uxtop.analytics.series import FAMILIES, NO_BUCKET, BucketAggregator, Frame, SeriesBank
from uxtop.analytics.session_table import SessionTable

_MIN_TS = -(2**62)
# families that fall when the input ends (no new sessions, sessions cut short), not only when
# users leave: their drops from the bucket of the last session start on are withdrawn at flush
_END_OF_INPUT_DROPS = (
    "sessions.active",
    "route.count",
    "step.arrivals",
    "step.conversion",
    "flags",
)


@njit(cache=True, nogil=True)
def _or_route_bits(bits, rows, routes):  # type: ignore[no-untyped-def]
    """Set bit ``routes[i]`` of row ``rows[i]`` (word r // 64, bit r % 64)."""
    for i in range(rows.shape[0]):
        r = routes[i]
        bits[rows[i], r >> 6] |= np.uint64(1) << np.uint64(r & 63)


def _flag_names() -> list[str]:
    # the one list of flag kinds in code order, importable without numba (test_flag_kinds
    # checks it against uxtop.detect.FlagKind)
    from uxtop.snapshot import FLAG_KINDS

    return list(FLAG_KINDS)


class RouteHealth(msgspec.Struct, frozen=True):
    """Latest finished bucket of a route, with its baseline and a p95 sparkline tail."""

    route: str
    count: int
    rps: float
    error_rate: float
    p50: float
    p95: float
    p99: float
    expected_p95: float | None
    z_p95: float
    alarm: bool
    p95_tail: list[float]
    error_tail: list[float]


class SeriesTail(msgspec.Struct, frozen=True):
    """``values[i]`` is the bucket starting at ``t0 + i·bucket_ms`` (NaN = no data)."""

    key: str
    t0: int
    bucket_ms: int
    values: list[float]
    expected: float | None
    alarm: bool


class AnomalyRecord(msgspec.Struct, frozen=True):
    series: str
    family: str
    entity: str
    dim: str
    value_label: str
    kind: str
    onset: int
    fired: int
    z: float
    value: float
    expected: float
    band_lo: float
    band_hi: float
    active: bool
    root_causes: list[RootCause]
    description: str


class AnalyticsSnapshot(msgspec.Struct, frozen=True):
    """Immutable view for screens and the report; cheap to build (cached per tick)."""

    watermark: int
    buckets: int
    bucket_ms: int
    funnels: list[FunnelResult]
    routes: list[RouteHealth]
    series: dict[str, SeriesTail]
    anomalies: list[AnomalyRecord]
    insights: list[Insight]
    alerts: list[AlertEvent]
    correlations: list[CorrelationLink]
    journey: dict[str, list[str]]
    stats: dict[str, float]


class _Evidence(msgspec.Struct):
    """Per finished bucket, what insights quote later (kept for the last 64 buckets)."""

    t0: int
    route_sessions: npt.NDArray
    flags_route: npt.NDArray
    flag_examples: dict[int, list[int]]
    examples: dict[int, list[int]]
    messages: dict[int, dict[int, int]]
    errors: npt.NDArray
    count: npt.NDArray


class Analytics:
    """Headless analytics over EventBatches. Not thread-safe: one engine thread calls it."""

    def __init__(
        self,
        cfg: AnalyticsConfig | None = None,
        json_out: IO[str] | None = None,
        run_commands: bool = True,
        lateness_ms: int = 5_000,
    ) -> None:
        self.cfg = cfg or AnalyticsConfig()
        self.bucket_ms = self.cfg.bucket_s * 1000
        self.lateness_ms = lateness_ms
        self.agg = BucketAggregator(self.cfg)
        self.bank = SeriesBank(self.cfg)
        self.funnels: list[FunnelEngine] = [FunnelEngine(f) for f in self.cfg.funnels]
        self.inferrer = FunnelInferrer() if not self.cfg.funnels and self.cfg.infer_funnel else None
        #: the inferrer saw enough sessions to know this traffic has no funnel
        self.inference_gave_up = False
        self.journey = JourneyMap(self.cfg.journey)
        self.alerts = AlertEngine(self.cfg.alerts, json_out=json_out, run_commands=run_commands)
        self.flag_names = _flag_names()
        self.anomalies: deque[AnomalyRecord] = deque(maxlen=500)
        # "insufficient volume" notes live apart, so many tiny cohorts cannot push real alarms out
        self.low_volume: deque[AnomalyRecord] = deque(maxlen=200)
        self._live: dict[int, AnomalyRecord] = {}  # row → its open alarm's record
        self._open_alarm: dict[int, int] = {}  # row → index into anomalies log (by identity)
        self._evidence: deque[_Evidence] = deque(maxlen=128)
        cc = self.cfg.correlation
        self._factor = cc.rollup_s // self.cfg.bucket_s
        # z rolled up per minute, for correlation: deseasonalised already, and 6× smaller than buckets
        self._zmin = np.zeros((512, max(cc.history_s // cc.rollup_s, 30)), dtype=np.float32)
        self._zacc = np.zeros(512, dtype=np.float32)
        self.minutes = 0
        self._insights: dict[str, Insight] = {}
        self._corr: list[CorrelationLink] = []
        self._corr_at = -1
        #: live consumers set this: while an alarm is on, insights are rebuilt at most this
        #: often (wall-clock seconds), and always on a tick where an alarm on a totals series
        #: fires (cohort and low-volume alarms make no insight of their own). A replay runs
        #: event time hundreds of times faster than the clock, and rebuilding them on every
        #: 10-s bucket (30 times a second at 1 M events/s) took a third of the tick's time for
        #: a screen that shows them 4 times a second. 0 (the default): every tick, exact and
        #: reproducible, as reports and tests need.
        self.insight_interval_s = 0.0
        self._insights_at = -float("inf")
        # per live session, for flags that arrive later: its cohort columns and the routes it
        # called (a bitset); and for the per-bucket counts, the buckets it was last counted in
        self._route_words = (self.cfg.max_routes + 63) // 64
        self._sessions = SessionTable(
            {
                "cohort": ((1 + len(COHORT_DIMS),), np.int64, -1),
                "routes": ((self._route_words,), np.uint64, 0),
                # the last bucket it was counted active in, and it called routes in (which)
                "bucket": ((), np.int64, NO_BUCKET),
                "route_bucket": ((), np.int64, NO_BUCKET),
                "route_seen": ((self._route_words,), np.uint64, 0),
            }
        )
        self._strings: object = {}
        self.max_ts = _MIN_TS
        self.last_start = _MIN_TS  # latest session start seen
        self.events = 0
        self.ticks = 0
        self._snap: AnalyticsSnapshot | None = None
        self._step_index: dict[tuple[str, int], int] = {}
        self._step_labels: list[str] = []
        self._step_prev: list[int] = []
        self._step_urls: list[str | None] = []
        # how a step is named in words (insight titles): "/product/* (inferred step 2)"
        self._step_texts: list[str] = []
        for eng in self.funnels:
            self._register_steps(eng)

    # -- wiring -------------------------------------------------------------------------------
    def _register_steps(self, eng: FunnelEngine) -> None:
        base = len(self._step_labels)
        for i, st in enumerate(eng.cfg.steps):
            self._step_index[(eng.cfg.name, i)] = base + i
            self._step_labels.append(f"{eng.cfg.name}/{i + 1} {st.label()}")
            self._step_prev.append(base + i - 1 if i else -1)
            self._step_urls.append(st.url)
            self._step_texts.append(f"{st.label()} ({eng.cfg.name} step {i + 1})")
        eng._gbase = base  # type: ignore[attr-defined]
        self.agg.n_steps = len(self._step_labels)

    def mark_deploy(self, ts: int) -> None:
        """Tell the detector a release went out at ``ts`` (rolling baseline for an hour)."""
        self.bank.detector.mark_deploy(ts)

    def _names(self, n: int) -> list[str]:
        names = list(self.flag_names)
        while len(names) < n:
            names.append(f"flag{len(names)}")
        return names

    # -- ingest -------------------------------------------------------------------------------
    def update(self, batch: Any, strings: object, flags: Any = None) -> int:
        """Fold one EventBatch (and the detector flags of this tick, columnar, duck-typed:
        ``kind, session_id, start_ts``) in. Returns the number of buckets this closed."""
        self._strings = strings
        n = len(batch)
        self.events += n
        scols = self.agg.session_columns(batch, strings)
        sids = batch.sessions["session_id"].astype(np.int64)
        srows = self._sessions.insert(sids)
        held = srows >= 0  # (all but sessions the table had to drop)
        self._sessions.cols["cohort"][srows[held]] = scols[held]
        if self.inferrer is not None:
            self.inferrer.update(batch, strings)
            inferred = self.inferrer.infer()
            if inferred is not None:
                eng = FunnelEngine(inferred, inferred=True)
                self.funnels.append(eng)
                self._register_steps(eng)
                self.inferrer = None
            elif self.inferrer.exhausted:
                self.inferrer = None
                self.inference_gave_up = True
        for fi, eng in enumerate(self.funnels):
            a_ts, a_step, a_sess = eng.update(batch, strings)
            if a_ts.size:
                g = a_step + eng._gbase  # type: ignore[attr-defined]
                self.agg.add_steps(a_ts, g, scols[a_sess])
                self.journey.update(batch, a_ts, g, a_sess, funnel=fi)
            else:
                self.journey.update(batch, a_ts, a_step, a_sess, funnel=fi)
        req_srow, req_route = self.agg.add_batch(batch, strings, scols, srows, self._sessions.cols)
        self._note_routes(srows, req_srow, req_route)
        if flags is not None and len(flags.kind):
            kind = np.asarray(flags.kind)
            names = self._names(int(kind.max()) + 1)
            fsid = np.asarray(flags.session_id).astype(np.int64)
            row = self._sessions.get(fsid)
            held, at = (row >= 0)[:, None], np.maximum(row, 0)
            fcols = np.where(held, self._sessions.cols["cohort"][at], -1)
            fbits = np.where(held, self._sessions.cols["routes"][at], 0)
            self.agg.add_flags(kind, fsid, np.asarray(flags.start_ts), names, fcols, fbits)
            for eng in self.funnels:
                eng.add_flags(kind, np.asarray(flags.session_id), np.asarray(flags.start_ts), names)
        if n:
            self.max_ts = max(self.max_ts, int(batch.columns["ts"].max()))
        if batch.n_sessions:
            self.last_start = max(self.last_start, int(batch.sessions["start_ts"].max()))
            self._forget_closed(sids, batch.sessions["closed"])
        wm = batch.watermark if batch.watermark > _MIN_TS else self.max_ts - self.lateness_ms
        return self._close(wm)

    def _note_routes(
        self, srows: npt.NDArray[np.int64], req_srow: npt.NDArray, req_route: npt.NDArray
    ) -> None:
        """OR the routes each session called into its bitset. ``srows`` is each batch session
        row's row in the session table, ``req_srow`` the batch session row of each request."""
        if req_srow.size:
            rows = srows[req_srow]
            held = rows >= 0
            _or_route_bits(
                self._sessions.cols["routes"], rows[held], req_route[held].astype(np.int64)
            )

    def sessions_closed(self, session_ids: npt.ArrayLike) -> None:
        """Sessions closed in batches that never reached ``update`` (the engine sheds batches
        under overload): their per-session state goes as if those batches had come."""
        sids = np.asarray(session_ids).astype(np.int64)
        if sids.shape[0]:
            self._forget_closed(sids, np.ones(sids.shape[0], np.bool_))
            for eng in self.funnels:
                eng.close_sessions(sids)

    def _forget_closed(self, sids: npt.NDArray[np.int64], closed: npt.NDArray[np.bool_]) -> None:
        """Closed sessions leave the late-flag maps: a closed session is judged completely in
        the batch that closes it, so no flag of it comes later. State stays per live session."""
        if closed.any():
            self._sessions.pop(sids[closed])

    def flush(self) -> int:
        """Close every open bucket (end of input).

        When the input ends, sessions stop starting and the last ones are cut short: from the
        bucket of the last session start on, session and traffic counts and conversions fall
        because the input ends, not because users left. Drops there are withdrawn (the anomaly
        records, the insights made only of them, and their alarm state)."""
        closed = self._close(2**62)
        self._withdraw_end_of_input_drops()
        return closed

    def _withdraw_end_of_input_drops(self) -> None:
        if self.last_start <= _MIN_TS:
            return
        tail_t0 = self.last_start // self.bucket_ms * self.bucket_ms

        def artefact(rec: AnomalyRecord) -> bool:
            return (
                rec.family in _END_OF_INPUT_DROPS
                and rec.onset >= tail_t0
                and rec.value < rec.expected
            )

        gone = [r for r in self.anomalies if artefact(r)]
        if not gone:
            return
        self.anomalies = deque(
            (r for r in self.anomalies if not artefact(r)), maxlen=self.anomalies.maxlen
        )
        det = self.bank.detector
        label_row = self.bank.label_rows()
        for rec in gone:
            row = label_row.get(rec.series, -1)
            if row >= 0:
                det.alarm[row] = False
                det.drift[row] = False
                self._live.pop(row, None)
        gone_ids = {f"{r.family}:{r.entity}:{r.onset}" for r in gone}
        kept = [r for r in self.anomalies if r.dim == "total"]
        for key, ins in list(self._insights.items()):
            if key.startswith("route:"):
                # a route insight stays while a kept alarm of its route backs it
                backed = any(
                    r.family.startswith("route.") and r.entity == ins.route and r.onset >= ins.since
                    for r in kept
                )
                if not backed:
                    del self._insights[key]
            elif key in gone_ids:
                del self._insights[key]
        self._snap = None

    def _close(self, until: int) -> int:
        frames = self.agg.finish(until)
        for fr in frames:
            self._tick(fr)
        if frames:
            self._snap = None
        return len(frames)

    # -- one bucket -----------------------------------------------------------------------------
    def _tick(self, fr: Frame) -> None:
        x, w = self.bank.push(fr, self.agg, self._step_labels, self._step_prev)
        det = self.bank.detector
        fired = det.update(fr.t0, x, w)
        n = self.bank.n
        if n > self._zmin.shape[0]:
            grow = max(n, self._zmin.shape[0])
            self._zmin = np.concatenate(
                [self._zmin, np.zeros((grow, self._zmin.shape[1]), np.float32)]
            )
            self._zacc = np.concatenate([self._zacc, np.zeros(grow, np.float32)])
        self._zacc[:n] += det.z[:n]
        self.ticks += 1
        if self.ticks % self._factor == 0:
            self._zmin[:, self.minutes % self._zmin.shape[1]] = self._zacc / self._factor
            self._zacc[:] = 0
            self.minutes += 1
        self._evidence.append(
            _Evidence(
                t0=fr.t0,
                route_sessions=fr.route_sessions,
                flags_route=fr.flags_route,
                flag_examples=fr.flag_examples,
                examples=fr.examples,
                messages=fr.messages,
                errors=fr.errors[:, 0].copy(),
                count=fr.count[:, 0].copy(),
            )
        )
        # an insight stands on a totals series' alarm: only such a firing needs one at once
        fired_total = False
        for a in fired:
            if not self.bank.detect[a.row]:
                continue
            rec = self._record(a, fr.t0)
            (self.low_volume if a.kind == "insufficient_volume" else self.anomalies).append(rec)
            if a.kind != "insufficient_volume":
                self._live[a.row] = rec
                fired_total = fired_total or rec.dim == "total"
        # RCA at fire time sees one or two bad buckets; redo it as the alarm goes on, on the whole run
        if self.ticks % self.cfg.anomaly.persist_n == 0 and self._live:
            for row, rec in list(self._live.items()):
                if not (det.alarm[row] or det.drift[row]):
                    del self._live[row]
                    continue
                if rec.dim != "total":
                    continue
                span = int((fr.t0 - rec.onset) // self.bucket_ms + 1)
                rcs = self._rca(row, rec.family, min(64, span))
                if rcs != rec.root_causes:
                    new = msgspec.structs.replace(
                        rec,
                        root_causes=rcs,
                        description=rec.description.split("; ")[0]
                        + ("; " + rcs[0].describe() if rcs else ""),
                    )
                    for i in range(len(self.anomalies) - 1, -1, -1):
                        if self.anomalies[i] is rec:
                            self.anomalies[i] = new
                            break
                    self._live[row] = new
        if self.alerts.rules:
            self.alerts.evaluate(fr.t0 + self.bucket_ms, self._rule_value)
        if det.alarm[:n].any() or det.drift[:n].any():
            # insights are captured while the incident is on, when the evidence is at hand
            now = time.monotonic()
            if fired_total or now - self._insights_at >= self.insight_interval_s:
                self._insights_at = now
                self._update_insights()

    def _update_insights(self) -> None:
        journey = self._journey()
        if self._corr_at != self.minutes:
            self._corr = self._correlations(journey)
            self._corr_at = self.minutes
        for ins in self._insights_now(self._active(), journey, self._corr):
            self._insights[ins.id] = ins
        if len(self._insights) > 300:
            for k in sorted(self._insights, key=lambda k: self._insights[k].since)[:-300]:
                del self._insights[k]

    def _rule_value(self, rule: AlertRule) -> tuple[float, float] | None:
        det, bank = self.bank.detector, self.bank
        if rule.metric in ("p50", "p95", "p99", "error_rate", "count"):
            try:
                ri = self.agg.route_labels.index(rule.route)  # type: ignore[arg-type]
            except ValueError:
                return None
            fam = {"error_rate": "route.error_rate", "count": "route.count"}.get(
                rule.metric, f"route.{rule.metric}"
            )
            r = bank.lookup(fam, ri)
            cr = bank.lookup("route.count", ri)
            if r < 0:
                return None
            _, v = bank.tail(r, 1)
            _, c = bank.tail(cr, 1)
            return float(v[-1]), float(np.nan_to_num(c[-1]))
        if rule.metric == "conversion":
            g = self._step_index.get((rule.funnel, rule.step))  # type: ignore[arg-type]
            r = bank.lookup("step.conversion", g) if g is not None else -1
            if r < 0:
                return None
            xs, es, ws = det.window([r], 1)
            return float(xs[0, -1]), float(ws[0, -1])
        if rule.metric == "active_sessions":
            r = bank.lookup("sessions.active", 0)
            if r < 0:
                return None
            _, v = bank.tail(r, 1)
            return float(v[-1]), float("inf")
        if rule.metric == "flag_rate":
            names = self.agg.flag_names
            if rule.flag not in names:
                return None
            r = bank.lookup("flags", names.index(rule.flag))
            a = bank.lookup("sessions.active", 0)
            if r < 0 or a < 0:
                return None
            _, fv = bank.tail(r, 1)
            _, av = bank.tail(a, 1)
            return float(fv[-1] / max(av[-1], 1.0)), float(av[-1])
        return None

    # -- anomalies + RCA ---------------------------------------------------------------------------
    def _record(self, a: Alarm, t0: int) -> AnomalyRecord:
        key = self.bank.keys[a.row]
        rcs: list[RootCause] = []
        if key.dim == "total" and a.kind != "insufficient_volume":
            rcs = self._rca(
                a.row, key.family, max(1, min(64, (a.fired - a.onset) // self.bucket_ms + 1))
            )
        desc = (
            f"{metric_name(key.family)} of {key.entity or 'all sessions'}"
            f"{'' if key.dim == 'total' else f' ({key.dim}={key.value})'} "
            f"{fmt_value(key.family, a.value)} vs expected {fmt_value(key.family, a.expected)} "
            f"(z {a.z:+.1f}) since {fmt_ts(a.onset)}"
        )
        if a.kind == "insufficient_volume":
            desc = "insufficient volume: " + desc
        elif a.kind == "drift":
            desc = "sustained drift: " + desc
        if rcs:
            desc += "; " + rcs[0].describe()
        return AnomalyRecord(
            series=key.label(),
            family=key.family,
            entity=key.entity,
            dim=key.dim,
            value_label=key.value,
            kind=a.kind,
            onset=a.onset,
            fired=a.fired,
            z=a.z,
            value=a.value,
            expected=a.expected,
            band_lo=a.band_lo,
            band_hi=a.band_hi,
            active=True,
            root_causes=rcs,
            description=desc,
        )

    def _rca(self, row: int, family: str, buckets: int) -> list[RootCause]:
        """Adtributor over each cohort dimension of ``row``'s family/entity, on the alarm window."""
        buckets = max(buckets, self.cfg.anomaly.persist_n)
        mat = self.bank._mats.get(family)
        if mat is None:
            return []
        ent = int(np.argwhere(mat[:, 0] == row)[0, 0]) if (mat[:, 0] == row).any() else -1
        if ent < 0:
            return []
        det = self.bank.detector
        kind = FAMILIES[family][0]
        k = self.cfg.anomaly.top_values
        e_tot = det.window([row], buckets)[1][0]
        dims = {}
        for d, dim in enumerate(COHORT_DIMS):
            cols = np.arange(1 + d * (k + 1), 1 + (d + 1) * (k + 1))
            rows = mat[ent, cols]
            have = rows >= 0
            if have.sum() < 2:
                continue
            rr = rows[have]
            xs, es, ws = det.window(rr, buckets)
            if kind == 0:
                act, exp = xs, es
            else:
                # a cohort "should" follow the total's expected rate on its own traffic (Watchdog:
                # share of errors vs share of requests); per-cohort baselines of rare errors are ~0
                act, exp = xs * ws, e_tot[None, :] * ws
            act = np.nan_to_num(act)
            exp = np.where(np.isfinite(exp), exp, act)  # a cohort without baseline is neutral
            labels = [self.bank.keys[r].value for r in rr.tolist()]
            dims[dim] = (labels, act.sum(axis=1), exp.sum(axis=1))
        return adtributor(dims)

    # -- derived views -------------------------------------------------------------------------------
    def _active(self) -> list[AnomalyRecord]:
        det = self.bank.detector
        seen: dict[str, AnomalyRecord] = {}
        for rec in self.anomalies:
            if rec.kind == "insufficient_volume":
                continue
            seen[rec.series] = rec
        out = []
        label_row = self.bank.label_rows()
        for s, rec in seen.items():
            r = label_row.get(s, -1)
            act = bool(det.alarm[r] or det.drift[r]) if r >= 0 else False
            # frozen records: a copy only when the flag changes
            out.append(rec if rec.active == act else msgspec.structs.replace(rec, active=act))
        return out

    def _route_name(self, rid: int) -> str:
        return string_of(self._strings, "route", rid) or "(no route)"

    def _step_text(self, label: str) -> str:
        """A step's label ("inferred/2 /product/*") as words ("/product/* (inferred step 2)")."""
        return self._step_texts[self._step_labels.index(label)]

    def _journey(self) -> dict[str, dict[str, float]]:
        return {
            lab: self.journey.routes_for_step(g, self._step_urls[g], self._route_name)
            for g, lab in enumerate(self._step_labels)
        }

    def _window_sum(self, row: int, since: int) -> tuple[float, float, float]:
        """Σ actual·w, Σ expected·w, Σ w of a ratio row over the buckets since ``since``."""
        det = self.bank.detector
        m = int(min(64, max(1, (det.t_last - since) // self.bucket_ms + 1)))
        xs, es, ws = det.window([row], m)
        ok = np.isfinite(xs[0]) & np.isfinite(es[0])
        return (
            float((xs[0] * ws[0])[ok].sum()),
            float((es[0] * ws[0])[ok].sum()),
            float(ws[0][ok].sum()),
        )

    def _correlations(self, journey: dict[str, dict[str, float]]) -> list[CorrelationLink]:
        """Each route's p95/error rate against each step's conversion and each flag kind, on the
        detector's z (already deseasonalised), rolled up to 1 min."""
        bank = self.bank
        cc = self.cfg.correlation
        factor = self._factor
        m = min(self.minutes, self._zmin.shape[1])
        if m < 20:
            return []
        idx = (self.minutes - m + np.arange(m)) % self._zmin.shape[1]
        a = bank.lookup("sessions.active", 0)
        _, act = bank.tail(a, self.hist_tail()) if a >= 0 else (None, np.zeros(1))
        spm = float(np.nanmean(act)) * factor if a >= 0 else 0.0
        onsets: dict[str, list[int]] = {}
        for rec in self.anomalies:
            if rec.kind != "insufficient_volume":
                onsets.setdefault(rec.series, []).append(rec.onset)
        lag_ms = cc.max_lag_s * 1000 + self.bucket_ms

        def co(h: str, u: str) -> bool:
            return any(
                0 <= uo - ho <= lag_ms or 0 <= ho - uo <= self.bucket_ms * 2
                for ho in onsets.get(h, ())
                for uo in onsets.get(u, ())
            )

        health = [
            (r, k)
            for r, k in enumerate(bank.keys)
            if k.dim == "total" and k.family in ("route.p95", "route.error_rate")
        ]
        usage = [
            (r, k)
            for r, k in enumerate(bank.keys)
            if k.dim == "total" and k.family in ("step.conversion", "flags")
        ]
        if not health or not usage:
            return []
        # the top routes by volume keep this O(routes × usage) bounded
        vol = {
            k.entity: float(np.nansum(bank.history[r]))
            for r, k in enumerate(bank.keys)
            if k.family == "route.count" and k.dim == "total"
        }
        health = sorted(health, key=lambda rk: -vol.get(rk[1].entity, 0))[:20]
        # every pair in one batched FFT pass (per pair, this was most of the analysis thread's
        # time while an incident is on)
        lags, rs, rrs = best_lags(
            *lagged_correlations(
                self._zmin[[r for r, _ in health]][:, idx],
                self._zmin[[r for r, _ in usage]][:, idx],
                cc.max_lag_s // cc.rollup_s,
            )
        )
        out = []
        for i, (_, hk) in enumerate(health):
            for j, (_, uk) in enumerate(usage):
                jr = uk.family == "step.conversion" and hk.entity in journey.get(uk.entity, {})
                out.append(
                    judge(
                        int(lags[i, j]),
                        float(rs[i, j]),
                        float(rrs[i, j]),
                        cc.rollup_s,
                        hk.label(),
                        uk.label(),
                        spm,
                        cc.min_abs_r,
                        cc.min_sessions_per_min,
                        journey=jr,
                        co_alarm=co(hk.label(), uk.label()),
                    )
                )
        out.sort(key=lambda c: (not c.claimed, not c.journey, -abs(c.r)))
        return out[:50]

    def hist_tail(self) -> int:
        return min(self.bank.n_frames, self.bank.hist_len)

    def _insights_now(
        self,
        active: list[AnomalyRecord],
        journey: dict[str, dict[str, float]],
        corr: list[CorrelationLink],
    ) -> list[Insight]:
        cur = [a for a in active if a.active and a.dim == "total"]
        names = self.agg.flag_names
        ev = list(self._evidence)
        out: list[Insight] = []
        covered: set[str] = set()
        by_route: dict[str, list[AnomalyRecord]] = {}
        for a in cur:
            if a.family.startswith("route."):
                by_route.setdefault(a.entity, []).append(a)
        claimed = {(c.health, c.usage): c for c in corr if c.claimed}
        for route, recs in by_route.items():
            recs.sort(key=lambda r: -abs(r.z))
            main = recs[0]
            since = min(r.onset for r in recs)
            ri = self.agg.route_labels.index(route)
            win = [e for e in ev if e.t0 >= since]
            sessions = int(sum(e.route_sessions[ri] for e in win if ri < e.route_sessions.shape[0]))
            # steps this route serves (journey) or whose conversion alarm it leads (correlation)
            steps: dict[str, float] = {
                s: v for s, v in ((s, rs.get(route, 0.0)) for s, rs in journey.items()) if v > 0
            }
            # the call made at step g decides whether step g+1 happens: the next step is served too
            for s, v in list(steps.items()):
                g = self._step_labels.index(s)
                if g + 1 < len(self._step_labels) and self._step_prev[g + 1] == g:
                    nxt = self._step_labels[g + 1]
                    steps[nxt] = max(steps.get(nxt, 0.0), v)
            for a in cur:
                if (
                    a.family == "step.conversion"
                    and 0 <= a.onset - since <= self.cfg.correlation.max_lag_s * 1000
                ):
                    steps[a.entity] = max(steps.get(a.entity, 0.0), 0.5)
                    covered.add(a.series)
            lost, worst_step, step_line = 0.0, None, ""
            for s in steps:
                r = self.bank.lookup("step.conversion", self._step_labels.index(s))
                if r < 0:
                    continue
                act, exp, wsum = self._window_sum(r, since)
                if exp - act > lost:
                    lost, worst_step = exp - act, s
                    step_line = (
                        f"conversion at {self._step_text(s)}: {100 * act / max(wsum, 1):.1f} % vs expected "
                        f"{100 * exp / max(wsum, 1):.1f} % ({exp - act:.0f} conversions lost)"
                    )
            if worst_step is None and steps:
                worst_step = max(steps, key=lambda s: steps[s])
            step_text = self._step_text(worst_step) if worst_step else ""
            friction: dict[str, int] = {}
            for e in win:
                fr = e.flags_route
                if ri < fr.shape[0]:
                    for k in np.flatnonzero(fr[ri]).tolist():
                        nm = names[k] if k < len(names) else f"flag{k}"
                        friction[nm] = friction.get(nm, 0) + int(fr[ri, k])
            for a in cur:
                if a.family == "flags" and a.onset >= since - 60_000:
                    covered.add(a.series)
            examples: list[int] = []
            for e in win:
                for s_ in e.examples.get(ri, []):
                    if s_ not in examples:
                        examples.append(s_)
            examples = examples[: self.cfg.example_sessions]
            msgs: dict[int, int] = {}
            for e in win:
                for mid, c in e.messages.get(ri, {}).items():
                    msgs[mid] = msgs.get(mid, 0) + c
            top_msg = max(msgs, key=lambda m_: msgs[m_]) if msgs else None
            cause, next_step, rcs = self._cause(route, main, recs, by_route)
            evidence = [r.description for r in recs]
            if step_line:
                evidence.append(step_line)
            for (h, u), link_ in claimed.items():
                if route in h:
                    evidence.append(f"{h} leads {u} by {link_.lag_s // 60} min (r {link_.r:+.2f})")
            if top_msg is not None:
                evidence.append(
                    f"top error: {string_of(self._strings, 'msg', top_msg)!r} ×{msgs[top_msg]}"
                )
            if friction:
                evidence.append(
                    "friction in sessions calling it: "
                    + ", ".join(
                        f"{k} ×{v}" for k, v in sorted(friction.items(), key=lambda kv: -kv[1])
                    )
                )
            if examples:
                evidence.append("example sessions: " + ", ".join(map(str, examples)))
            zmax = max(abs(r.z) for r in recs)
            linked = 1.0 if worst_step is not None else 0.5
            conf = min(1.0, zmax / 8.0) * linked * min(1.0, sessions / 30.0 + 0.2)
            impact = sessions + 10.0 * lost
            band = f"{fmt_value(main.family, main.band_lo)}–{fmt_value(main.family, main.band_hi)}"
            symptom = (
                f"{metric_name(main.family)} of {route} is {fmt_value(main.family, main.value)} vs expected "
                f"{fmt_value(main.family, main.expected)} (band {band}) since {fmt_ts(main.onset)}"
            )
            scope = (
                f"route {route}"
                + (f", step {step_text}" if worst_step else "")
                + (f"; {rcs[0].describe()}" if rcs else "")
            )
            impact_text = f"{sessions} sessions called it since {fmt_ts(since)}" + (
                f"; ~{lost:.0f} conversions lost at {step_text}" if lost >= 1 else ""
            )
            fr_txt = (
                (
                    ", with "
                    + ", ".join(
                        f"{k} ×{v}" for k, v in sorted(friction.items(), key=lambda kv: -kv[1])[:3]
                    )
                )
                if friction
                else ""
            )
            title = (
                f"{route} degraded ({metric_name(main.family)})"
                + (f", hurting {step_text}" if worst_step else "")
                + fr_txt
            )
            out.append(
                Insight(
                    id=f"route:{route}:{since}",
                    rank=0,
                    score=impact * conf,
                    impact=impact,
                    confidence=round(conf, 3),
                    severity=severity(impact * conf, conf),
                    title=title,
                    symptom=symptom,
                    scope=scope,
                    impact_text=impact_text,
                    suspected_cause=cause,
                    evidence=evidence,
                    example_sessions=examples,
                    next_step=next_step,
                    since=since,
                    route=route,
                    step=worst_step,
                    friction=friction,
                    sessions_affected=sessions,
                    conversions_lost=round(lost, 1),
                    root_causes=rcs,
                )
            )
        # usage anomalies no route explains
        for a in cur:
            if a.series in covered or a.family.startswith("route.") or a.family == "step.arrivals":
                continue
            examples = []
            if a.family == "flags" and a.entity in names:
                k = names.index(a.entity)
                for e in ev:
                    if e.t0 >= a.onset:
                        examples += [s for s in e.flag_examples.get(k, []) if s not in examples]
            examples = examples[: self.cfg.example_sessions]
            lost, sessions = 0.0, 0
            if a.family == "step.conversion":
                r = self.bank.lookup("step.conversion", self._step_labels.index(a.entity))
                act, exp, wsum = self._window_sum(r, a.onset)
                lost, sessions = max(exp - act, 0.0), int(wsum)
            elif a.family == "flags":
                sessions = int(
                    max(a.value, 0)
                    * max(1, (self.bank.detector.t_last - a.onset) // self.bucket_ms + 1)
                )
            rel = [r for r in a.root_causes if r.dim == "rel"]
            if rel:
                cause = f"release {', '.join(rel[0].values)} (suspected): {rel[0].describe()}"
                nxt = f"compare release {rel[0].values[0]} with the previous one; replay example sessions; consider a rollback"
            else:
                cause = "no release, traffic or backend change found (suspected: a front-end or content change)"
                nxt = (
                    "replay the example sessions"
                    + (f" ({', '.join(map(str, examples))})" if examples else "")
                    + " and filter by the scope"
                )
            conf = min(1.0, abs(a.z) / 8.0) * 0.7 * min(1.0, sessions / 30.0 + 0.2)
            impact = sessions + 10.0 * lost
            out.append(
                Insight(
                    id=f"{a.family}:{a.entity}:{a.onset}",
                    rank=0,
                    score=impact * conf,
                    impact=impact,
                    confidence=round(conf, 3),
                    severity=severity(impact * conf, conf),
                    title=f"{metric_name(a.family)} of {a.entity or 'all sessions'} {'dropped' if a.value < a.expected else 'rose'}",
                    symptom=a.description.split("; ")[0],
                    scope=(
                        a.root_causes[0].describe() if a.root_causes else a.entity or "all sessions"
                    ),
                    impact_text=f"{sessions} sessions"
                    + (f"; ~{lost:.0f} conversions lost" if lost >= 1 else ""),
                    suspected_cause=cause,
                    evidence=[a.description]
                    + (["example sessions: " + ", ".join(map(str, examples))] if examples else []),
                    example_sessions=examples,
                    next_step=nxt,
                    since=a.onset,
                    step=a.entity if a.family == "step.conversion" else None,
                    sessions_affected=sessions,
                    conversions_lost=round(lost, 1),
                    root_causes=a.root_causes,
                )
            )
        return out

    def _cause(
        self,
        route: str,
        main: AnomalyRecord,
        recs: list[AnomalyRecord],
        by_route: dict[str, list[AnomalyRecord]],
    ) -> tuple[str, str, list[RootCause]]:
        rcs = [rc for r in recs for rc in r.root_causes]
        rcs.sort(key=lambda rc: -rc.explains)
        rel = [rc for rc in rcs if rc.dim == "rel"]
        since = min(r.onset for r in recs)
        if rel:
            v = ", ".join(rel[0].values)
            return (
                f"release {v} (suspected): {rel[0].describe()}",
                f"compare release {v} with the previous one on {route}; consider a rollback",
                rcs,
            )
        traffic = [r for r in recs if r.family == "route.count" and r.value > r.expected]
        if traffic:
            return (
                f"traffic spike on {route} (suspected): {fmt_value('route.count', traffic[0].value)} requests/bucket "
                f"vs {fmt_value('route.count', traffic[0].expected)} expected",
                f"check capacity and rate limits of {route}; find the source of the extra traffic",
                rcs,
            )
        upstream = [
            (min(r.onset for r in rr), other)
            for other, rr in by_route.items()
            if other != route and min(r.onset for r in rr) < since
        ]
        if upstream:
            onset, other = min(upstream)
            return (
                f"upstream route {other} degrading (suspected): it went bad at {fmt_ts(onset)}, before {route}",
                f"look at {other} first; then replay sessions that called both",
                rcs,
            )
        if rcs:
            return (
                f"cohort {rcs[0].describe()} (suspected)",
                f"filter sessions by {rcs[0].dim}={rcs[0].values[0]} and replay",
                rcs,
            )
        return (
            "unknown: no release, traffic spike or upstream route change found",
            f"check {route}'s logs and traces since {fmt_ts(since)}; replay the example sessions",
            rcs,
        )

    # -- outputs ------------------------------------------------------------------------------------
    def snapshot(self, tail: int = 60) -> AnalyticsSnapshot:
        if self._snap is not None:
            return self._snap
        bank, det = self.bank, self.bank.detector
        journey = self._journey()
        if self._corr_at != self.minutes:
            self._corr = self._correlations(journey)
            self._corr_at = self.minutes
        corr = self._corr
        active = self._active()
        live = {i.id for i in self._insights_now(active, journey, corr)}
        insights = rank(
            [msgspec.structs.replace(i, active=i.id in live) for i in self._insights.values()]
        )
        routes = []
        vols = []
        for ri, route in enumerate(self.agg.route_labels):
            rc = bank.lookup("route.count", ri)
            if rc < 0:
                continue
            _, cnt = bank.tail(rc, tail)
            vols.append((float(np.nansum(cnt)), ri, route))
        for _, ri, route in sorted(vols, reverse=True)[:20]:
            rows = {
                f: bank.lookup(f, ri)
                for f in ("route.count", "route.error_rate", "route.p50", "route.p95", "route.p99")
            }
            # the latest bucket in which the route was called (a quiet last bucket is not "no health")
            _, cnt = bank.tail(rows["route.count"], tail)
            seen = np.flatnonzero(np.nan_to_num(cnt) > 0)
            back = int(cnt.shape[0] - seen[-1]) if seen.size else 1
            last = {
                f: (
                    float(bank.tail(r, tail)[1][-back])
                    if r >= 0 and bank.n_frames
                    else float("nan")
                )
                for f, r in rows.items()
            }
            r95 = rows["route.p95"]
            e95 = float(det.expected_values([r95])[0]) if r95 >= 0 else float("nan")
            routes.append(
                RouteHealth(
                    route=route,
                    count=int(np.nan_to_num(last["route.count"])),
                    rps=float(np.nan_to_num(last["route.count"])) / self.cfg.bucket_s,
                    error_rate=last["route.error_rate"],
                    p50=last["route.p50"],
                    p95=last["route.p95"],
                    p99=last["route.p99"],
                    expected_p95=e95 if e95 == e95 else None,
                    z_p95=float(det.z[r95]) if r95 >= 0 else 0.0,
                    alarm=bool(det.alarm[r95]) if r95 >= 0 else False,
                    p95_tail=bank.tail(r95, tail)[1].tolist() if r95 >= 0 else [],
                    error_tail=bank.tail(rows["route.error_rate"], tail)[1].tolist()
                    if rows["route.error_rate"] >= 0
                    else [],
                )
            )
        series: dict[str, SeriesTail] = {}
        exp_all = det.expected_values()
        for r, k in enumerate(bank.keys):
            if k.dim != "total" or k.family in ("route.p50", "route.p99"):
                continue
            t, v = bank.tail(r, tail)
            e = float(exp_all[r]) if r < exp_all.shape[0] else float("nan")
            series[k.label()] = SeriesTail(
                key=k.label(),
                t0=int(t[0]) if t.size else 0,
                bucket_ms=self.bucket_ms,
                values=v.tolist(),
                expected=e if e == e else None,
                alarm=bool(det.alarm[r]),
            )
        snap = AnalyticsSnapshot(
            watermark=det.t_last + self.bucket_ms if det.t_last >= 0 else 0,
            buckets=self.ticks,
            bucket_ms=self.bucket_ms,
            funnels=[f.result() for f in self.funnels],
            routes=routes,
            series=series,
            anomalies=sorted(active, key=lambda a: (not a.active, -abs(a.z)))[:100],
            insights=insights[:50],
            alerts=list(self.alerts.events[-50:]),
            correlations=corr,
            journey={s: sorted(rs, key=lambda r: -rs[r]) for s, rs in journey.items() if rs},
            stats={
                "events": float(self.events),
                "series": float(bank.n),
                "late_events": float(self.agg.late_events),
                "detector_mb": det.memory_bytes() / 1e6,
                "alarms_active": float(det.alarm[: bank.n].sum()),
                "insufficient_volume": float(len(self.low_volume)),
                **self._inference_stats(),
            },
        )
        self._snap = snap
        return snap

    def _inference_stats(self) -> dict[str, float]:
        """How far the default funnel's inference is, for the screen that waits for it."""
        if self.inferrer is not None:
            return {
                "funnel_inference_sessions": float(self.inferrer.sessions),
                "funnel_inference_needed": float(self.inferrer.min_sessions),
                "funnel_inference_quiet_s": self.inferrer.settle_ms / 1000,
            }
        return {"funnel_inference_failed": 1.0} if self.inference_gave_up else {}

    def series_tail(
        self, key: str, n: int = 360
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(bucket starts, values) of any series by its label, e.g. ``route.p95[POST /api/pay]``."""
        for r, k in enumerate(self.bank.keys):
            if k.label() == key:
                return self.bank.tail(r, n)
        raise KeyError(key)

    def z_minutes(self, key: str, n: int = 360) -> npt.NDArray[np.float32]:
        """Deseasonalised z of a series, averaged per minute, oldest first (correlation input)."""
        for r, k in enumerate(self.bank.keys):
            if k.label() == key:
                m = min(n, self.minutes, self._zmin.shape[1])
                return self._zmin[r, (self.minutes - m + np.arange(m)) % self._zmin.shape[1]].copy()
        raise KeyError(key)

    def to_report(self) -> dict[str, Any]:
        s = self.snapshot()
        return msgspec.to_builtins(
            {
                "funnels": s.funnels,
                "insights": s.insights,
                "anomalies": s.anomalies,
                "routes": s.routes,
                "alerts": s.alerts,
                "correlations": [c for c in s.correlations if c.claimed or c.journey][:20],
                "insufficient_volume": list(self.low_volume)[-20:],
                "journey": s.journey,
                "stats": s.stats,
            }
        )

    def to_markdown(self) -> str:
        from uxtop.analytics.report import render_markdown

        return render_markdown(self.snapshot())


__all__ = ["Analytics", "AnalyticsSnapshot", "AnomalyRecord", "RouteHealth", "SeriesTail"]
