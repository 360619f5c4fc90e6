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

``_UnitState`` evaluates this incrementally in O(steps × starts) per row: per level the starts
of the clean continuations still inside the window (the latest dominates for going further —
same future, more window left — and the earliest decides whether some finished prefix's window
closed before an exclusion came), the latest start of interrupted ones, and the range of deadlines
(start + W) of finished prefixes an exclusion may still interrupt. At most ``START_CAP`` starts
per level are kept (the earliest are dropped first), so with more than 16 step-1 events inside one
window the result may differ in that corner. ``tests/analytics/test_funnels.py`` checks it against path enumeration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from uxtop.analytics.config import COHORT_DIMS, FunnelConfig, StepConfig
from uxtop.analytics.keymap import KeyMap
from uxtop.analytics.matchers import MatchBits, StepMatcher, string_of
from uxtop.distinct import unique_first, unique_ints
from uxtop.urls import page_template

_NEG = -(2**62)
_RESERVOIR = 4096
#: units with funnel state at once. Session units leave when their session closes; this cap is
#: the backstop for closes never seen (batches shed under overload) and the rule for user units
#: (a user never "closes"): over it, the units first seen longest ago are finished as if closed
MAX_UNITS = 100_000


START_CAP = 16  # starts kept per level; beyond it the earliest go (exact below, see module doc)


def _grow_rows(a: npt.NDArray, rows: int, fill: int) -> npt.NDArray:
    out = np.full((max(rows, 2 * a.shape[0]),) + a.shape[1:], fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _merge(have: list[int], new: list[int], lo: int) -> list[int]:
    """Sorted union of ``have`` and ``new`` without starts before ``lo`` (expired), capped."""
    out = sorted({c for c in have if c >= lo} | set(new))
    return out[-START_CAP:]


class _UnitState:
    """Incremental funnel evaluation for one unit (see module docstring)."""

    __slots__ = (
        "n",
        "w",
        "order",
        "U",
        "Upath",
        "T",
        "pmin",
        "pmax",
        "ach",
        "dx",
        "last",
        "reach",
        "best_path",
        "cohort",
        "S",
    )

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
        # per level, the starts of the clean continuations still inside the window (sorted, at
        # most START_CAP): the earliest one decides when a finished prefix is safe from exclusions
        self.S: list[list[int]] = [[] for _ in range(n)]

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
                    self.S[0] = _merge(self.S[0], [ts], ts - w)
                    self._pend(0, ts + w, ts + w, ts)
                    continue
                s = U[i - 1]
                if s is not None and ts - s <= w:
                    cand = [c for c in self.S[i - 1] if ts - c <= w]
                    if U[i] is None or s > U[i]:  # type: ignore[operator]
                        U[i] = s
                        self.Upath[i] = self.Upath[i - 1] + (ts,)
                    self.S[i] = _merge(self.S[i], cand, ts - w)
                    self._pend(i, cand[0] + w, s + w, ts)
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
                self.S[i] = []
        if self.order == "strict":
            for i in range(n):
                if not (sbits >> i) & 1:
                    U[i] = None
                    T[i] = None
                    self.S[i] = []

    def _pend(self, i: int, dmin: int, dmax: int, ts: int) -> None:
        """Finished prefixes at level i now include ones with deadlines (start + W) dmin…dmax."""
        if self.pmin[i] is None:
            self.pmin[i], self.pmax[i] = dmin, dmax
        else:
            self.pmin[i] = min(self.pmin[i], dmin)  # type: ignore[type-var]
            self.pmax[i] = max(self.pmax[i], dmax)  # type: ignore[type-var]
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


def evaluate_unit(
    n: int, window_ms: int, order: str, rows: Iterable[tuple[int, int, int]]
) -> tuple[int, bool]:
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

    Unit state lives in ``FunnelState`` arrays advanced by a numba kernel (``funnel_kernel``,
    whose plain-Python twin is ``_UnitState``); Python touches each *unit* of a batch, never each
    row. ``update`` returns the step arrivals of this batch as arrays ``(ts, step, session_row)``
    so the series store can count per-bucket conversions; ``add_flags`` attributes friction
    flags to the step the unit was trying to reach when the flag fired.
    """

    def __init__(
        self,
        cfg: FunnelConfig,
        inferred: bool = False,
        rng_seed: int = 0,
        max_units: int = MAX_UNITS,
    ) -> None:
        from uxtop.analytics.funnel_kernel import FunnelState

        self.cfg = cfg
        self.max_units = max_units
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
        self._step_bits = MatchBits(list(cfg.steps))
        self._excl_bits = MatchBits(list(cfg.exclusions))
        self._excl_pairs = np.asarray(self.excl_pairs, dtype=np.int64).reshape(-1)
        self.dims = [COHORT_DIMS.index(d) for d in cfg.breakdown]
        self.state = FunnelState(self.n)
        # unit key (session id, or an id per user key) → KeyMap row → state slot
        self._units = KeyMap()
        self._slot_row = np.full(self._units.rows_cap, -1, np.int64)
        self._user_ids: dict[Any, int] = {}  # user key → unit key
        self._user_keys: dict[int, Any] = {}  # unit key → user key (to forget evicted users)
        self._next_user = 0
        self.res_depth = np.full(self.state.cap, -1, np.int64)  # −1: not counted yet
        self.res_removed = np.zeros(self.state.cap, np.bool_)
        self.cohort = np.full((self.state.cap, max(len(self.dims), 1)), -1, np.int64)
        self.depth_hist = np.zeros(self.n + 1, dtype=np.int64)
        self.removed = 0
        # per breakdown dimension: [cohort intern id + 1, depth] unit counts
        self.by_dim = [np.zeros((16, self.n + 1), np.int64) for _ in self.dims]
        self.cohort_labels: dict[tuple[int, int], str] = {}
        # time-to-convert reservoirs: [i] = seconds from step i-1 to i, [n] = first to last step
        self._res: list[npt.NDArray[np.float64]] = [np.empty(0) for _ in range(self.n + 1)]
        self._ttc_seen = [0] * (self.n + 1)
        self._np_rng = np.random.default_rng(rng_seed)
        self.friction = np.zeros((self.n, 0), dtype=np.int64)
        self.flag_names: list[str] = []
        # reach times of recently finished units, for late flags
        self._done = KeyMap()
        self._done_reach = np.full((self._done.rows_cap, self.n), -1, np.int64)
        self._strings: object = {}

    def _ensure(self) -> None:
        cap = self.state.cap
        if self.res_depth.shape[0] < cap:
            extra = cap - self.res_depth.shape[0]
            self.res_depth = np.concatenate([self.res_depth, np.full(extra, -1, np.int64)])
            self.res_removed = np.concatenate([self.res_removed, np.zeros(extra, np.bool_)])
            self.cohort = np.concatenate(
                [self.cohort, np.full((extra, self.cohort.shape[1]), -1, np.int64)]
            )

    # -- ingest ---------------------------------------------------------------------------
    def update(
        self, batch: Any, strings: object
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        self._strings = strings
        cols = batch.columns
        n_rows = cols["ts"].shape[0]
        empty = (np.empty(0, np.int64),) * 3
        closed = batch.sessions["closed"]
        if n_rows == 0:
            self._close(batch, closed)
            return empty  # type: ignore[return-value]
        from uxtop.analytics.funnel_kernel import _select_rows_kernel

        sb_all = self._step_bits.bits(cols, strings)
        # without exclusions the exclusion bits are never read (a row that is no step has none)
        eb_all = self._excl_bits.bits(cols, strings) if self.excl else sb_all
        rows = np.empty(n_rows, np.int64)
        sb = np.empty(n_rows, np.int64)
        xb = np.empty(n_rows, np.int64)
        srow = np.empty(n_rows, np.int64)
        uniq = np.empty(n_rows, np.int64)
        inv = np.empty(n_rows, np.int64)
        k, nu, grouped = _select_rows_kernel(
            sb_all,
            eb_all,
            self._excl_pairs,
            self.cfg.order == "strict",
            np.asarray(batch.offsets, dtype=np.int64),
            cols["session"],
            rows,
            sb,
            xb,
            srow,
            uniq,
            inv,
        )
        rows, sb, xb, srow = rows[:k], sb[:k], xb[:k], srow[:k]
        if rows.size == 0:
            self._close(batch, closed)
            return empty  # type: ignore[return-value]
        sess = batch.sessions
        by_user = self.cfg.unit == "user"
        # one map lookup per session of the batch (in a kernel), not per row
        if grouped:
            # rows grouped by session (the batch layout): the kernel's runs, no sort
            uniq, inv = uniq[:nu], inv[:k]
        else:
            uniq, inv = np.unique(srow, return_inverse=True)
        if by_user and batch.uids:
            keys = np.fromiter(
                (self._user_key(batch.uids[si] or batch.keys[si]) for si in uniq.tolist()),
                np.int64,
                uniq.shape[0],
            )
        else:
            keys = sess["session_id"][uniq].astype(np.int64)
        krow, new_mask = self._units.insert(keys)
        if self._slot_row.shape[0] < self._units.rows_cap:
            self._slot_row = _grow_rows(self._slot_row, self._units.rows_cap, -1)
        if new_mask.any():
            # distinct new keys, in order of first appearance (insert marks only the first)
            idx_new = np.flatnonzero(new_mask)
            fresh = self.state.alloc_many(idx_new.shape[0])
            self._ensure()
            self._slot_row[krow[idx_new]] = fresh
            self.res_depth[fresh] = -1
            self.res_removed[fresh] = False
            new_rows = uniq[idx_new]
            for k, d in enumerate(self.dims):
                self.cohort[fresh, k] = sess[COHORT_DIMS[d]][new_rows].astype(np.int64)
        slot_of_u = self._slot_row[krow]
        slots = slot_of_u[inv]
        a_slot, a_step, a_ts, a_row = self.state.feed_rows(
            self.cfg.order, self.window_ms, slots, cols["ts"][rows], sb, xb
        )
        if not by_user:
            a_sess = srow[a_row]  # the session row of the row that made the arrival
        elif a_slot.size:
            # a user's sessions share a slot: its first session row in the batch
            order = np.argsort(slot_of_u, kind="stable")
            a_sess = uniq[order][np.searchsorted(slot_of_u[order], a_slot)]
        else:
            a_sess = np.empty(0, np.int64)
        self._recount(unique_ints(slot_of_u))
        self._close(batch, closed)
        if len(self._units) > self.max_units:
            # to 90 % of the cap, so this runs now and then, not on every batch
            keys, _ = self._units.items()
            self._finish_units(keys[: len(self._units) - self.max_units * 9 // 10])
        return a_ts, a_step, a_sess

    def _user_key(self, user: Any) -> int:
        k = self._user_ids.get(user)
        if k is None:
            k = self._user_ids[user] = self._next_user
            self._user_keys[k] = user
            self._next_user += 1
        return k

    def _recount(self, slots: npt.NDArray[np.int64]) -> None:
        """Move the touched units' contributions from their old (depth, removed) to the new."""
        depth, removed = self.state.depth_removed(slots, self.cfg.order)
        old_d, old_r = self.res_depth[slots], self.res_removed[slots]
        changed = (old_d != depth) | (old_r != removed)
        if not changed.any():
            return
        slots, depth, removed, old_d, old_r = (
            slots[changed],
            depth[changed],
            removed[changed],
            old_d[changed],
            old_r[changed],
        )
        had = old_d >= 0
        self.removed += int(removed.sum()) - int((had & old_r).sum())
        sub = had & ~old_r
        add = ~removed
        np.add.at(self.depth_hist, old_d[sub], -1)
        np.add.at(self.depth_hist, depth[add], 1)
        for k in range(len(self.dims)):
            cid = self.cohort[slots, k] + 1
            top = int(cid.max()) + 1
            if top > self.by_dim[k].shape[0]:
                self.by_dim[k] = np.pad(
                    self.by_dim[k],
                    ((0, max(top, 2 * self.by_dim[k].shape[0]) - self.by_dim[k].shape[0]), (0, 0)),
                )
            np.add.at(self.by_dim[k], (cid[sub], old_d[sub]), -1)
            np.add.at(self.by_dim[k], (cid[add], depth[add]), 1)
        self.res_depth[slots] = depth
        self.res_removed[slots] = removed

    def _label(self, d: int, cid: int) -> str:
        k = (d, cid)
        lab = self.cohort_labels.get(k)
        if lab is None:
            lab = string_of(self._strings, COHORT_DIMS[d], cid) or "(none)"
            self.cohort_labels[k] = lab
        return lab

    def _close(self, batch: Any, closed: npt.NDArray[np.bool_]) -> None:
        """Fold finished session units into the time-to-convert reservoirs and free their slots."""
        if self.cfg.unit != "session" or not closed.any():
            return
        self._finish_units(batch.sessions["session_id"][closed].astype(np.int64))

    def close_sessions(self, session_ids: npt.NDArray[np.int64]) -> None:
        """Sessions closed in batches this engine never saw (shed under overload)."""
        if self.cfg.unit == "session" and session_ids.shape[0]:
            self._finish_units(session_ids.astype(np.int64))

    def _finish_units(self, sids: npt.NDArray[np.int64]) -> None:
        """Units (session ids or user unit keys) done: times folded, slots freed, kept for late
        flags among the recently finished."""
        for k in sids.tolist() if self._user_keys else ():
            self._user_ids.pop(self._user_keys.pop(k, None), None)
        krow = self._units.pop(sids)
        ok = krow >= 0
        if not ok.any():
            return
        slots = self._slot_row[krow[ok]]
        self._fold_times(slots)
        if self.cfg.unit == "session":  # flags carry session ids: user units get none
            drow, _ = self._done.insert(sids[ok])
            if self._done_reach.shape[0] < self._done.rows_cap:
                self._done_reach = _grow_rows(self._done_reach, self._done.rows_cap, -1)
            self._done_reach[drow] = self.state.reach[slots]
            self._done.evict(20_000)
        self.state.release_many(slots)
        self.res_depth[slots] = -1  # counts stay in the histograms; the slots are free

    def _fold_times(self, slots: npt.NDArray[np.int64]) -> None:
        """Step-to-step times of the units' chosen paths into the reservoirs (vectorised)."""
        keep = ~self.res_removed[slots]
        slots = slots[keep]
        if slots.size == 0:
            return
        best = self.state.best[slots]
        blen = self.state.bestlen[slots]
        for i in range(1, self.n):
            m = blen > i
            if m.any():
                self._sample(i, (best[m, i] - best[m, i - 1]) / 1000.0)
        full = blen == self.n
        if full.any() and self.n > 1:
            self._sample(self.n, (best[full, self.n - 1] - best[full, 0]) / 1000.0)

    def _sample(self, slot: int, v: npt.NDArray[np.float64]) -> None:
        """Reservoir sampling (Algorithm R), one batch of values at a time."""
        res = self._res[slot]
        seen = self._ttc_seen[slot]
        room = max(0, _RESERVOIR - res.shape[0])
        if room:
            res = self._res[slot] = np.concatenate([res, v[:room]])
        rest = v[room:]
        if rest.size:
            t = seen + room + np.arange(1, rest.size + 1)
            j = self._np_rng.integers(0, t)
            m = j < _RESERVOIR
            res[j[m]] = rest[m]
        self._ttc_seen[slot] = seen + v.size

    def add_flags(
        self, kind: npt.NDArray, session_id: npt.NDArray, start_ts: npt.NDArray, names: list[str]
    ) -> None:
        """Count each flag at the step its unit was heading for (the first step not reached)."""
        from uxtop.analytics.funnel_kernel import NONE

        if len(names) > self.friction.shape[1]:
            self.friction = np.pad(
                self.friction, ((0, 0), (0, len(names) - self.friction.shape[1]))
            )
            self.flag_names = list(names)
        if self.cfg.unit != "session":
            return  # flags carry session ids; user units would need a session → user map
        sid = np.asarray(session_id).astype(np.int64)
        krow = self._units.get(sid)
        slot = np.where(krow >= 0, self._slot_row[np.maximum(krow, 0)], -1)
        drow = self._done.get(sid)
        known = (slot >= 0) | (drow >= 0)
        if not known.any():
            return
        k, ts = np.asarray(kind)[known], np.asarray(start_ts)[known]
        slot, drow = slot[known], drow[known]
        # a live unit's reach times, else those it had when its session closed
        reach = np.where(
            (slot >= 0)[:, None],
            self.state.reach[np.maximum(slot, 0)],
            self._done_reach[np.maximum(drow, 0)],
        )
        reached = ((reach != NONE) & (reach <= ts.astype(np.int64)[:, None])).sum(axis=1)
        hit = reached > 0
        np.add.at(self.friction, (np.minimum(reached[hit], self.n - 1), k[hit].astype(np.int64)), 1)

    # -- results --------------------------------------------------------------------------
    def result(self) -> FunnelResult:
        names = [s.label() for s in self.cfg.steps]
        hist = self.depth_hist
        entered = [int(hist[i + 1 :].sum()) for i in range(self.n)]
        # live units' paths count too, so time-to-convert is not empty until sessions close
        # (the first _RESERVOIR of them, as whole columns: this runs on every snapshot)
        _, krow = self._units.items()
        slots = self._slot_row[krow[:_RESERVOIR]]
        slots = slots[~self.res_removed[slots]]
        best = self.state.best[slots]
        blen = self.state.bestlen[slots]
        live = [self._res[0]]
        for i in range(1, self.n):
            m = blen > i
            live.append(np.concatenate([self._res[i], (best[m, i] - best[m, i - 1]) / 1000.0]))
        live_total = self._res[self.n]
        if self.n > 1:
            full = blen == self.n
            live_total = np.concatenate(
                [live_total, (best[full, self.n - 1] - best[full, 0]) / 1000.0]
            )
        steps = []
        for i in range(self.n):
            prev = entered[i - 1] if i else entered[0]
            conv = entered[i] / prev if prev else 0.0
            fr = (
                {self.flag_names[k]: int(c) for k, c in enumerate(self.friction[i]) if c}
                if self.friction.size
                else {}
            )
            steps.append(
                FunnelStepResult(
                    name=names[i],
                    entered=entered[i],
                    conversion=conv if i else 1.0,
                    conversion_from_start=entered[i] / entered[0] if entered[0] else 0.0,
                    dropped=(entered[i - 1] - entered[i]) if i else 0,
                    median_time_to_convert_s=float(np.median(live[i]))
                    if i and live[i].size
                    else None,
                    friction=fr,
                )
            )
        rows = []
        for k, d in enumerate(self.dims):
            arr = self.by_dim[k]
            for cid1 in np.flatnonzero(arr[:, 1:].sum(axis=1) > 0).tolist():
                ent = [int(arr[cid1, i + 1 :].sum()) for i in range(self.n)]
                label = self._label(d, cid1 - 1) if cid1 > 0 else "(none)"
                rows.append(
                    FunnelBreakdownRow(
                        dim=COHORT_DIMS[d], value=label, entered=ent, conversion=ent[-1] / ent[0]
                    )
                )
        rows.sort(key=lambda r: (COHORT_DIMS.index(r.dim), -r.entered[0]))
        return FunnelResult(
            name=self.cfg.name,
            order=self.cfg.order,
            window_s=self.cfg.window_s,
            unit=self.cfg.unit,
            steps=steps,
            units=entered[0],
            removed=self.removed,
            conversion=entered[-1] / entered[0] if entered[0] else 0.0,
            median_time_to_convert_s=float(np.median(live_total)) if live_total.size else None,
            breakdown=rows,
            inferred=self.inferred,
        )


#: settled sessions (in units of ``min_sessions``) after which an inferrer that found no funnel
#: gives up
GIVE_UP_SESSIONS_FACTOR = 50


@dataclass(slots=True)
class _Visit:
    """A session the inferrer follows: its last event so far and its pages' first visits."""

    last_ts: int
    #: page template -> ts of its first pageview in this session
    pages: dict[str, int]


def _tracked_rows(sids: npt.NDArray[np.int64], tracked: dict[int, Any]) -> npt.NDArray[np.bool_]:
    """Which of a batch's session rows are followed (``tracked``'s keys)."""
    if not tracked:
        return np.zeros(sids.shape[0], np.bool_)
    return np.isin(sids, np.fromiter(tracked, np.int64, len(tracked)), kind="sort")


class FunnelInferrer:
    """Default funnel when none is configured: the pages most sessions visit, in the order
    people visit them, once enough sessions settled.

    * A page is a path template: ``/product/1234`` and ``/product/77`` are both ``/product/*``,
      so a shop's product step is one step, not a thousand rare pages (``page_template``).
    * Order: a page goes before another when more sessions first saw it before the other than
      after (each page scores its pairwise wins; ties go to the lower mean rank of first visit).
      Why not the mean rank alone: pages reached by short paths (direct links to checkout)
      rank early on average, which put ``/checkout/confirm`` before ``/checkout``.
    * A session *settles* when it closes or has had no event for ``settle_ms`` of stream time.
      Why not closed sessions only: on a live stream a session closes after the 30-minute idle
      gap, so the funnel screen stayed empty for the first half hour of every ``uxtop tail``
      and of the demo. A session's pages are followed across batches, so a page's rank is its
      place in the whole session, not in the part that came in one read; one that comes back
      after settling is not counted again.
    * Only sessions seen from their start count, and a session starts with a pageview: when
      uxtop attaches to a live stream (and at the top of any log) the sessions already under
      way show only their last pages, and they settle first, so they made a funnel of
      ``/checkout/confirm`` alone.
    * Memory: at most ``max_tracked`` sessions are followed at once (new ones are passed over
      while that many are: a sample is enough to rank pages), at most ``max_paths`` settled
      paths are kept, and inference stops once a funnel is found.
    """

    def __init__(
        self,
        min_sessions: int = 200,
        max_steps: int = 5,
        settle_ms: int = 30_000,
        max_tracked: int = 20_000,
        max_paths: int = 5_000,
    ) -> None:
        self.min_sessions = min_sessions
        self.max_steps = max_steps
        self.settle_ms = settle_ms
        self.max_tracked = max_tracked
        self.max_paths = max_paths
        #: settled sessions with at least one page
        self.sessions = 0
        self.visits: dict[str, int] = {}
        #: each settled session's pages in order of first visit
        self.paths: list[tuple[str, ...]] = []
        self.tracked: dict[int, _Visit] = {}
        self._swept_at = _NEG
        self._template: dict[int, str] = {}

    def _page(self, strings: object, url: int) -> str:
        t = self._template.get(url)
        if t is None:
            t = self._template[url] = page_template(string_of(strings, "url", url) or "")
        return t

    def update(self, batch: Any, strings: object) -> None:
        off = np.asarray(batch.offsets, np.int64)
        if off.shape[0] <= 1:
            return
        cols = batch.columns
        sids = np.asarray(batch.sessions["session_id"]).astype(np.int64)
        end_ts = np.asarray(batch.sessions["end_ts"], np.int64)
        closed = np.asarray(batch.sessions["closed"], np.bool_)
        tracked = self.tracked
        kind, ts_col = cols["kind"], cols["ts"]
        pv = np.flatnonzero((kind == 0) & (cols["url"] >= 0))
        if pv.size:
            # rows holding their session's first event, and that event a pageview
            head = np.minimum(off[:-1], max(kind.shape[0] - 1, 0))
            starts = (
                (off[:-1] < off[1:])
                & (np.asarray(batch.sessions["start_ts"], np.int64) == ts_col[head])
                & (kind[head] == 0)
            )
            row = np.searchsorted(off, pv, side="right") - 1
            url = cols["url"][pv].astype(np.int64)
            # each (session row, url) once, at its first pageview (a row's events are in ts order)
            _, first = unique_first(row * (int(url.max()) + 1) + url)
            # only pages of sessions followed already, and of the sessions seen from their start
            # that there is room to follow (the first ones, in session-row order as below): a
            # dict lookup per page of every other session was most of this on 100 k sessions
            fr = row[first]
            held = _tracked_rows(sids, tracked)
            cand = np.zeros(sids.shape[0], np.bool_)
            cand[fr] = True
            cand &= starts & ~held
            room = max(self.max_tracked - len(tracked), 0)
            held[np.flatnonzero(cand)[:room]] = True
            first = first[held[fr]]
            ts = ts_col[pv[first]].tolist()
            for r, u, t in zip(row[first].tolist(), url[first].tolist(), ts, strict=True):
                sid = int(sids[r])
                entry = tracked.get(sid)
                if entry is None:
                    if not starts[r] or len(tracked) >= self.max_tracked:
                        continue
                    entry = tracked[sid] = _Visit(t, {})
                pages = entry.pages
                page = self._page(strings, u)
                if pages.get(page, t) >= t:
                    pages[page] = t
        if tracked:
            for r in np.flatnonzero(_tracked_rows(sids, tracked)).tolist():
                entry = tracked[int(sids[r])]
                entry.last_ts = max(entry.last_ts, int(end_ts[r]))
                if closed[r]:
                    self._settle(int(sids[r]))
        now = max(int(batch.watermark), int(end_ts.max()))
        if now - self._swept_at >= self.settle_ms // 10:
            self._swept_at = now
            quiet = [k for k, v in tracked.items() if v.last_ts < now - self.settle_ms]
            for sid in quiet:
                self._settle(sid)

    def _settle(self, sid: int) -> None:
        pages = self.tracked.pop(sid).pages
        self.sessions += 1
        for page in pages:
            self.visits[page] = self.visits.get(page, 0) + 1
        if len(self.paths) < self.max_paths:
            self.paths.append(tuple(sorted(pages, key=pages.__getitem__)))

    @property
    def exhausted(self) -> bool:
        """Enough sessions seen to know there is no funnel here (a one-page app, say): the
        caller stops feeding the inferrer, so it costs nothing from then on."""
        return self.sessions >= GIVE_UP_SESSIONS_FACTOR * self.min_sessions

    def infer(self) -> FunnelConfig | None:
        if self.sessions < self.min_sessions or len(self.visits) < 2:
            return None
        top = sorted(self.visits, key=lambda p: -self.visits[p])[: self.max_steps]
        # a page seen by under 2 % of sessions makes a funnel step nobody reaches
        top = [p for p in top if self.visits[p] >= 0.02 * self.sessions]
        if len(top) < 2:
            return None
        at = {p: k for k, p in enumerate(top)}
        m = len(top)
        # plain lists: a handful of pages over a few thousand short paths (numpy's per-call
        # cost made this 50 ms, in one analysis step)
        before = [[0] * m for _ in range(m)]  # [a][b]: sessions that saw a first
        rank_sum, seen = [0] * m, [0] * m
        for path in self.paths:
            idx = [at[p] for p in path if p in at]
            for k, a in enumerate(idx):
                rank_sum[a] += k
                seen[a] += 1
                row = before[a]
                for b in idx[k + 1 :]:
                    row[b] += 1
        wins = [sum(before[a][b] > before[b][a] for b in range(m)) for a in range(m)]
        order = sorted(range(m), key=lambda a: (-wins[a], rank_sum[a] / max(seen[a], 1)))
        steps = [StepConfig(type="pageview", url=top[a], name=top[a]) for a in order]
        # split by every cohort: whether one release or device converts worse is the first
        # question asked of a funnel nobody configured
        return FunnelConfig(
            name="inferred", steps=steps, window_s=1800.0, breakdown=["dev", "rel", "geo"]
        )
