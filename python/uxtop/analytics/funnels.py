"""Live funnels over EventBatches, with PostHog's semantics (reference/signals.md §11).

Definitions (per unit — a session, or a user), events in (ts, arrival) order, W the window:

* A *path* of depth k+1 is rows j0 < … < jk with row j_i matching step i and
  ts(jk) − ts(j0) ≤ W. ``strict``: every row strictly between j_i and j_i+1 matches step i
  (PostHog clears a level on any event that is not that level's step). ``unordered``: depth is
  the largest number of distinct steps seen inside any span of ≤ W.
* An exclusion row x for steps [f, t] *interrupts* a path if for some f ≤ i < t with i ≤ k,
  x comes after j_i and (i = k or before j_i+1), and ts(x) − ts(j0) ≤ W. A row that matches a
  step is a step, never an exclusion.
* The unit's depth D is the deepest uninterrupted path; if an interrupted path went deeper, the
  unit is *removed* from the funnel (PostHog: "excluded" users are dropped, result −1).
* Ties keep arrival order (PostHog permutes tied events; we don't).

``_UnitState`` evaluates this incrementally in O(steps) per row: per level the latest start of
an uninterrupted continuation (later starts dominate: same future, more window left), the same for
interrupted ones, and the deadlines (start + W) of finished prefixes that an exclusion may still
interrupt. ``tests/analytics/test_funnels.py`` checks it against path enumeration.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any, Iterable

import msgspec
import numpy as np
import numpy.typing as npt

from uxtop.analytics.config import COHORT_DIMS, FunnelConfig, StepConfig
from uxtop.analytics.matchers import StepMatcher, step_bits, string_of

_NEG = -(2**62)
_RESERVOIR = 4096


class _UnitState:
    """Incremental funnel evaluation for one unit (see module docstring)."""

    __slots__ = ("n", "w", "order", "U", "Upath", "T", "pmin", "pmax", "ach", "dx", "last", "reach", "best_path", "cohort")

    def __init__(self, n: int, window_ms: int, order: str) -> None:
        self.n, self.w, self.order = n, window_ms, order
        self.U: list[int | None] = [None] * n
        self.Upath: list[tuple[int, ...]] = [()] * n
        self.T: list[int | None] = [None] * n
        self.pmin: list[int | None] = [None] * n
        self.pmax: list[int | None] = [None] * n
        self.ach = [False] * n
        self.dx = 0
        self.last: list[int | None] = [None] * n  # unordered: latest ts per step
        self.reach: list[int | None] = [None] * n  # first ts at which depth ≥ i+1 (uninterrupted)
        self.best_path: tuple[int, ...] = ()
        self.cohort: tuple[int, ...] = ()

    def depth(self) -> int:
        if self.order == "unordered":
            return sum(1 for r in self.reach if r is not None)
        for i in range(self.n - 1, -1, -1):
            if self.ach[i] or self.pmin[i] is not None:
                return i + 1
        return 0

    def result(self) -> tuple[int, bool]:
        """(depth, removed)."""
        d = self.depth()
        return d, self.dx > d

    def feed(self, ts: int, sbits: int, xbits: int) -> None:
        if self.order == "unordered":
            self._feed_unordered(ts, sbits)
            return
        n, w, U, T = self.n, self.w, self.U, self.T
        if sbits:
            # high → low so that U[i-1] is still the pre-row value: one row is one step of a path
            for i in range(n - 1, -1, -1):
                if not (sbits >> i) & 1:
                    continue
                if i == 0:
                    U[0] = ts
                    self.Upath[0] = (ts,)
                    self._pend(0, ts + w, ts)
                    continue
                s = U[i - 1]
                if s is not None and ts - s <= w:
                    if U[i] is None or s > U[i]:  # type: ignore[operator]
                        U[i] = s
                        self.Upath[i] = self.Upath[i - 1] + (ts,)
                    self._pend(i, s + w, ts)
                t = T[i - 1]
                if t is not None and ts - t <= w:
                    T[i] = t if T[i] is None or t > T[i] else T[i]  # type: ignore[operator]
                    self.dx = max(self.dx, i + 1)
        elif xbits:
            for i in range(n):
                if not (xbits >> i) & 1:
                    continue
                if self.pmin[i] is not None:
                    if self.pmin[i] < ts:  # type: ignore[operator]
                        self.ach[i] = True  # a prefix whose window closed before x stays clean
                    if self.pmax[i] >= ts:  # type: ignore[operator]
                        self.dx = max(self.dx, i + 1)
                    self.pmin[i] = self.pmax[i] = None
                u = U[i]
                if u is not None and u + w >= ts:
                    T[i] = u if T[i] is None or u > T[i] else T[i]  # type: ignore[operator]
                U[i] = None
        if self.order == "strict":
            for i in range(n):
                if not (sbits >> i) & 1:
                    U[i] = None
                    T[i] = None

    def _pend(self, i: int, deadline: int, ts: int) -> None:
        if self.pmin[i] is None:
            self.pmin[i] = self.pmax[i] = deadline
        else:
            self.pmin[i] = min(self.pmin[i], deadline)  # type: ignore[type-var]
            self.pmax[i] = max(self.pmax[i], deadline)  # type: ignore[type-var]
        if self.reach[i] is None:
            self.reach[i] = ts
        if len(self.Upath[i]) > len(self.best_path):
            self.best_path = self.Upath[i]

    def _feed_unordered(self, ts: int, sbits: int) -> None:
        if not sbits:
            return
        for i in range(self.n):
            if (sbits >> i) & 1:
                self.last[i] = ts
        inside = sorted(t for t in self.last if t is not None and t >= ts - self.w)
        for k in range(len(inside)):
            if self.reach[k] is None:
                self.reach[k] = ts
        if len(inside) > len(self.best_path):
            self.best_path = tuple(inside)


def evaluate_unit(n: int, window_ms: int, order: str, rows: Iterable[tuple[int, int, int]]) -> tuple[int, bool]:
    """Depth and removed flag of one unit from ``(ts, step_bits, exclusion_pair_bits)`` rows."""
    st = _UnitState(n, window_ms, order)
    for ts, sb, xb in rows:
        st.feed(ts, sb, xb)
    return st.result()


class FunnelStepResult(msgspec.Struct, frozen=True):
    """One step's live numbers. ``conversion`` is from the previous step (1.0 for step 0)."""

    name: str
    entered: int
    conversion: float
    conversion_from_start: float
    dropped: int
    median_time_to_convert_s: float | None
    friction: dict[str, int]


class FunnelBreakdownRow(msgspec.Struct, frozen=True):
    dim: str
    value: str
    entered: list[int]
    conversion: float


class FunnelResult(msgspec.Struct, frozen=True):
    """A funnel's state for screens and the report."""

    name: str
    order: str
    window_s: float
    unit: str
    steps: list[FunnelStepResult]
    units: int
    removed: int
    conversion: float
    median_time_to_convert_s: float | None
    breakdown: list[FunnelBreakdownRow]
    inferred: bool = False


class FunnelEngine:
    """One configured funnel, updated batch by batch.

    ``update`` returns the step arrivals of this batch as arrays ``(ts, step, session_row)`` so
    the series store can count per-bucket conversions; ``add_flags`` attributes friction flags
    to the step the unit was trying to reach when the flag fired.
    """

    def __init__(self, cfg: FunnelConfig, inferred: bool = False, rng_seed: int = 0) -> None:
        self.cfg = cfg
        self.inferred = inferred
        self.n = len(cfg.steps)
        self.window_ms = int(cfg.window_s * 1000)
        self.steps = [StepMatcher(s) for s in cfg.steps]
        self.excl = [StepMatcher(e) for e in cfg.exclusions]
        # pair bits of each exclusion: bit i = "between step i and i+1"
        self.excl_pairs = []
        for e in cfg.exclusions:
            to = e.to_step if e.to_step >= 0 else self.n - 1
            self.excl_pairs.append(sum(1 << i for i in range(e.from_step, to)))
        self.dims = [COHORT_DIMS.index(d) for d in cfg.breakdown]
        self.units: dict[Any, _UnitState] = {}
        self.results: dict[Any, tuple[int, bool]] = {}
        self.depth_hist = np.zeros(self.n + 1, dtype=np.int64)
        self.removed = 0
        self.by_cohort: dict[tuple[int, str], npt.NDArray[np.int64]] = {}
        self.cohort_labels: dict[tuple[int, int], str] = {}
        self.ttc: list[list[float]] = [[] for _ in range(self.n)]  # per step: s from previous step
        self.ttc_total: list[float] = []
        self._ttc_seen = [0] * (self.n + 1)
        self._rng = random.Random(rng_seed)
        self.friction = np.zeros((self.n, 0), dtype=np.int64)
        self.flag_names: list[str] = []
        # reach times of recently finished units, for late flags
        self._done: OrderedDict[Any, tuple[list[int | None], tuple[int, ...]]] = OrderedDict()

    # -- ingest ---------------------------------------------------------------------------
    def update(self, batch: Any, strings: object) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        cols = batch.columns
        n_rows = cols["ts"].shape[0]
        empty = (np.empty(0, np.int64),) * 3
        closed = batch.sessions["closed"]
        if n_rows == 0:
            self._close(batch, closed)
            return empty  # type: ignore[return-value]
        sb = step_bits(self.steps, cols, strings)
        xb = np.zeros(n_rows, dtype=np.uint32)
        for m, pairs in zip(self.excl, self.excl_pairs):
            xb |= np.where(m.match(cols, strings), np.uint32(pairs), np.uint32(0))
        xb[sb != 0] = 0  # a row that is a step is never an exclusion
        keep = (sb != 0) | (xb != 0)
        if self.cfg.order == "strict":
            # any other row clears progress; one row per run of non-step rows is enough
            prev = np.empty_like(keep)
            prev[0] = True
            prev[1:] = keep[:-1]
            starts = batch.offsets[:-1][batch.offsets[:-1] < n_rows]
            prev[starts] = True
            keep |= prev
        rows = np.flatnonzero(keep)
        session_of_row = cols["session"]
        sess = batch.sessions
        out_ts: list[int] = []
        out_step: list[int] = []
        out_sess: list[int] = []
        ts_col = cols["ts"]
        by_user = self.cfg.unit == "user"
        touched: dict[Any, int] = {}
        for r in rows.tolist():
            si = int(session_of_row[r])
            key = (batch.uids[si] or batch.keys[si]) if by_user and batch.uids else int(sess["session_id"][si])
            st = self.units.get(key)
            if st is None:
                st = _UnitState(self.n, self.window_ms, self.cfg.order)
                st.cohort = tuple(int(sess[COHORT_DIMS[d]][si]) for d in self.dims)
                self.units[key] = st
            before = [x is not None for x in st.reach]
            st.feed(int(ts_col[r]), int(sb[r]), int(xb[r]))
            for i in range(self.n):
                if not before[i] and st.reach[i] is not None:
                    out_ts.append(st.reach[i])  # type: ignore[arg-type]
                    out_step.append(i)
                    out_sess.append(si)
            touched[key] = si
        for key, si in touched.items():
            self._recount(key, self.units[key], batch, si, strings)
        self._close(batch, closed)
        return np.asarray(out_ts, np.int64), np.asarray(out_step, np.int64), np.asarray(out_sess, np.int64)

    def _recount(self, key: Any, st: _UnitState, batch: Any, si: int, strings: object) -> None:
        new = st.result()
        old = self.results.get(key)
        if old == new:
            return
        for res, sign in ((old, -1), (new, +1)):
            if res is None:
                continue
            depth, removed = res
            if removed:
                self.removed += sign
                continue
            self.depth_hist[depth] += sign
            for d, cid in zip(self.dims, st.cohort):
                label = self._label(d, cid, strings)
                arr = self.by_cohort.setdefault((d, label), np.zeros(self.n + 1, np.int64))
                arr[depth] += sign
        self.results[key] = new

    def _label(self, d: int, cid: int, strings: object) -> str:
        k = (d, cid)
        lab = self.cohort_labels.get(k)
        if lab is None:
            lab = string_of(strings, COHORT_DIMS[d], cid) or "(none)"
            self.cohort_labels[k] = lab
        return lab

    def _close(self, batch: Any, closed: npt.NDArray[np.bool_]) -> None:
        """Fold finished session units into the time-to-convert reservoirs and drop their state."""
        if self.cfg.unit != "session" or not closed.any():
            return
        for sid in batch.sessions["session_id"][closed].tolist():
            st = self.units.pop(int(sid), None)
            if st is None:
                continue
            self._fold_times(st)
            self._done[int(sid)] = (st.reach, st.best_path)
            if len(self._done) > 20_000:
                self._done.popitem(last=False)

    def _fold_times(self, st: _UnitState) -> None:
        d, removed = st.result()
        path = st.best_path
        if removed or len(path) < 2:
            return
        for i in range(1, len(path)):
            self._sample(self.ttc[i], i, (path[i] - path[i - 1]) / 1000.0)
        if len(path) == self.n:
            self._sample(self.ttc_total, self.n, (path[-1] - path[0]) / 1000.0)

    def _sample(self, res: list[float], slot: int, v: float) -> None:
        self._ttc_seen[slot] += 1
        if len(res) < _RESERVOIR:
            res.append(v)
        else:
            j = self._rng.randrange(self._ttc_seen[slot])
            if j < _RESERVOIR:
                res[j] = v

    def add_flags(self, kind: npt.NDArray, session_id: npt.NDArray, start_ts: npt.NDArray, names: list[str]) -> None:
        """Count each flag at the step its unit was heading for (the first step not reached)."""
        if len(names) > self.friction.shape[1]:
            self.friction = np.pad(self.friction, ((0, 0), (0, len(names) - self.friction.shape[1])))
            self.flag_names = list(names)
        if self.cfg.unit != "session":
            return  # flags carry session ids; user units would need a session → user map
        for k, sid, ts in zip(kind.tolist(), session_id.tolist(), start_ts.tolist()):
            st = self.units.get(int(sid))
            reach = st.reach if st is not None else self._done.get(int(sid), (None,))[0]
            if reach is None:
                continue
            reached = sum(1 for r in reach if r is not None and r <= ts)
            if reached == 0:
                continue
            self.friction[min(reached, self.n - 1), int(k)] += 1

    # -- results --------------------------------------------------------------------------
    def result(self) -> FunnelResult:
        names = [s.label() for s in self.cfg.steps]
        hist = self.depth_hist
        entered = [int(hist[i + 1 :].sum()) for i in range(self.n)]
        # live units' paths count too, so time-to-convert is not empty until sessions close
        live: list[list[float]] = [list(r) for r in self.ttc]
        live_total = list(self.ttc_total)
        for st in list(self.units.values())[:_RESERVOIR]:
            d, removed = st.result()
            p = st.best_path
            if removed:
                continue
            for i in range(1, len(p)):
                live[i].append((p[i] - p[i - 1]) / 1000.0)
            if len(p) == self.n and self.n > 1:
                live_total.append((p[-1] - p[0]) / 1000.0)
        steps = []
        for i in range(self.n):
            prev = entered[i - 1] if i else entered[0]
            conv = entered[i] / prev if prev else 0.0
            fr = {self.flag_names[k]: int(c) for k, c in enumerate(self.friction[i]) if c} if self.friction.size else {}
            steps.append(FunnelStepResult(
                name=names[i], entered=entered[i], conversion=conv if i else 1.0,
                conversion_from_start=entered[i] / entered[0] if entered[0] else 0.0,
                dropped=(entered[i - 1] - entered[i]) if i else 0,
                median_time_to_convert_s=float(np.median(live[i])) if i and live[i] else None,
                friction=fr,
            ))
        rows = []
        for (d, label), arr in sorted(self.by_cohort.items(), key=lambda kv: (kv[0][0], -int(kv[1][1:].sum()))):
            ent = [int(arr[i + 1 :].sum()) for i in range(self.n)]
            if ent[0] == 0:
                continue
            rows.append(FunnelBreakdownRow(dim=COHORT_DIMS[d], value=label, entered=ent, conversion=ent[-1] / ent[0]))
        return FunnelResult(
            name=self.cfg.name, order=self.cfg.order, window_s=self.cfg.window_s, unit=self.cfg.unit,
            steps=steps, units=entered[0], removed=self.removed,
            conversion=entered[-1] / entered[0] if entered[0] else 0.0,
            median_time_to_convert_s=float(np.median(live_total)) if live_total else None,
            breakdown=rows, inferred=self.inferred,
        )


class FunnelInferrer:
    """Default funnel when none is configured: the most visited pages of closed sessions, in the
    order people usually first see them (mean rank of first visit), once enough sessions closed.
    """

    def __init__(self, min_sessions: int = 200, max_steps: int = 4) -> None:
        self.min_sessions = min_sessions
        self.max_steps = max_steps
        self.sessions = 0
        self.visits: dict[int, int] = {}
        self.rank_sum: dict[int, float] = {}

    def update(self, batch: Any) -> None:
        cols = batch.columns
        pv = cols["kind"] == 0
        if not pv.any():
            return
        closed = batch.sessions["closed"]
        for si in np.flatnonzero(closed).tolist():
            a, b = int(batch.offsets[si]), int(batch.offsets[si + 1])
            urls = cols["url"][a:b][pv[a:b]]
            if urls.size == 0:
                continue
            self.sessions += 1
            _, first = np.unique(urls, return_index=True)
            order = urls[np.sort(first)]
            for rank, u in enumerate(order.tolist()):
                if u < 0:
                    continue
                self.visits[u] = self.visits.get(u, 0) + 1
                self.rank_sum[u] = self.rank_sum.get(u, 0.0) + rank

    def infer(self, strings: object) -> FunnelConfig | None:
        if self.sessions < self.min_sessions or len(self.visits) < 2:
            return None
        top = sorted(self.visits, key=lambda u: -self.visits[u])[: self.max_steps]
        # a page seen by under 2 % of sessions makes a funnel step nobody reaches
        top = [u for u in top if self.visits[u] >= 0.02 * self.sessions]
        if len(top) < 2:
            return None
        top.sort(key=lambda u: self.rank_sum[u] / self.visits[u])
        steps = []
        for u in top:
            url = string_of(strings, "url", u) or ""
            steps.append(StepConfig(type="pageview", url=url.replace("*", "?").replace("?", "?"), name=url))
        return FunnelConfig(name="inferred", steps=steps, window_s=1800.0)
