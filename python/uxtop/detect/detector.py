"""The streaming detector: batches in, flags out, state carried across batches.

How streaming stays exact: every kernel reports, per session, the first row it must see again
(``need``: the start of its earliest undecided episode, or the past context it needs) and emits
only episodes whose decision time is <= the session's frontier (the watermark, or +inf once the
session closed). The detector keeps each open session's rows from the minimum ``need`` on (of
the kinds some kernel reads from its ``need`` on), and next time hands every kernel the carried
rows + the new ones, resuming each kernel exactly where it asked. An episode is reported in
the one update where its decision time first falls within the frontier, so a burst split
across batches is flagged once, identically to a one-shot run over the whole stream (tested
in ``tests/detect/test_streaming.py``).

No Python per event: the carry is gathered with numpy index arithmetic, per-session work is
vectorised, and sessions with nothing pending are not re-scanned until they get new events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.batch import EventBatch, segment_rows
from uxtop.detect import kernels as K
from uxtop.detect.classify import ClassTable, mask_of
from uxtop.detect.config import DetectConfig
from uxtop.detect.flags import FlagBatch, FlagKind, Rule, string_table
from uxtop.detect.score import SessionScores, session_scores
from uxtop.distinct import unique_ints
from uxtop.schema import Kind

#: event columns the kernels read (plus ``row`` for evidence)
DETECT_COLUMNS: dict[str, type] = {
    "ts": np.int64,
    "kind": np.uint8,
    "target": np.int32,
    "tag": np.int32,
    "url": np.int32,
    "x": np.int32,
    "y": np.int32,
    "sy": np.int32,
    "value": np.float32,
    "status": np.int16,
    "flags": np.uint8,
    "row": np.int64,
}

#: kernel slots, in run order, and the flag kind each emits
KERNELS: tuple[str, ...] = (
    "rage",
    "dead",
    "error",
    "slow",
    "thrash",
    "uturn",
    "loop",
    "scroll",
    "form",
)
KERNEL_KIND: dict[str, FlagKind] = {
    "rage": FlagKind.RAGE_CLICK,
    "dead": FlagKind.DEAD_CLICK,
    "error": FlagKind.ERROR_CLICK,
    "slow": FlagKind.SLOW_INTERACTION,
    "thrash": FlagKind.THRASHED_CURSOR,
    "uturn": FlagKind.U_TURN,
    "loop": FlagKind.PAGE_LOOP,
    "scroll": FlagKind.EXCESSIVE_SCROLL,
    "form": FlagKind.FORM_STRUGGLE,
}
I64_MAX = K.I64_MAX
I64_MIN = np.iinfo(np.int64).min

#: which event kinds each kernel ever reads: carried rows a kernel will not read are dropped
#: (a session idle on one page keeps its page views for the U-turn check, not every move)
_ALL_BUT_MOVES = tuple(k for k in Kind if k != Kind.MOVE)
KERNEL_READS: dict[str, tuple[Kind, ...]] = {
    "rage": (Kind.CLICK, Kind.DBLCLICK, Kind.SCROLL, Kind.SELECTION),
    "dead": _ALL_BUT_MOVES,
    "error": _ALL_BUT_MOVES,
    "slow": _ALL_BUT_MOVES,
    "thrash": (Kind.MOVE, Kind.PAGEVIEW),
    "uturn": (Kind.PAGEVIEW,),
    "loop": (Kind.PAGEVIEW,),
    "scroll": (Kind.SCROLL, Kind.PAGEVIEW),
    "form": (Kind.PAGEVIEW, Kind.FOCUS, Kind.INPUT, Kind.CHANGE, Kind.BLUR, Kind.SUBMIT),
}
_READS = np.zeros((len(KERNELS), 256), dtype=bool)
for _k, _name in enumerate(KERNELS):
    _READS[_k, [int(c) for c in KERNEL_READS[_name]]] = True
#: per event kind, bit k set if kernel slot k reads it
_READ_BITS = (_READS * (1 << np.arange(len(KERNELS)))[:, None]).sum(axis=0).astype(np.uint16)
#: the carry also remembers each row's position in its session (rows in between may be gone)
CARRY_COLUMNS: dict[str, type] = {**DETECT_COLUMNS, "pos": np.int64}
assert tuple(CARRY_COLUMNS) == K.CarryColumns._fields  # the kernels' copy of the list
#: the carry pool's minimum size, and how many dead rows beyond the live ones it tolerates
_POOL_SLACK = 1 << 16


@dataclass(frozen=True)
class KernelParams:
    """A config flattened to the scalars the kernels take."""

    cfg: DetectConfig
    rage_suppress: int = 0
    dead_suppress: int = 0
    error_suppress: int = 0
    slow_suppress: int = 0

    @cached_property
    def vector(self) -> npt.NDArray[np.int64]:
        """The int64 parameter vector of ``kernels.fused_kernel`` (built once; copy before
        changing it)."""
        return fused_params(self)

    @staticmethod
    def of(cfg: DetectConfig) -> KernelParams:
        return KernelParams(
            cfg,
            rage_suppress=mask_of(cfg.rage.suppress),
            dead_suppress=mask_of(cfg.dead.suppress),
            error_suppress=mask_of(cfg.error.suppress),
            slow_suppress=mask_of(cfg.slow.suppress),
        )


def run_kernels(
    cols: Mapping[str, npt.NDArray[Any]],
    offsets: npt.NDArray[np.int64],
    start_rows: npt.NDArray[np.int64],
    frontier: npt.NDArray[np.int64],
    params: KernelParams,
    tag_bits: npt.NDArray[np.uint16],
    target_bits: npt.NDArray[np.uint16],
    only: tuple[str, ...] = KERNELS,
    longest: int | None = None,
) -> tuple[dict[str, npt.NDArray[np.int64]], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Run the kernels named in ``only`` over CSR session slices.

    ``start_rows``: (len(KERNELS), n_sessions) row where each kernel resumes; session s ends at
    ``offsets[s+1]`` (``offsets[s]`` is not read, so sessions may be any slices of the columns
    if ``longest``, the most rows of any, is given). Returns the raw
    episode rows per kernel (``kernels.O_*`` columns), ``need`` and ``next_dec`` (both
    (len(KERNELS), n_sessions); kernels not run report ``offsets[1:]`` / int64 max).
    """
    n_sess = offsets.shape[0] - 1
    # [kernels, sessions] views of session-major arrays: the kernel reads a session's start
    # rows and writes its needs and decisions nine at a time, and so does the carry after it
    need = np.empty((n_sess, len(KERNELS)), dtype=np.int64).T
    next_dec = np.full((n_sess, len(KERNELS)), I64_MAX, dtype=np.int64).T
    ts, kind, target, tag, url = cols["ts"], cols["kind"], cols["target"], cols["tag"], cols["url"]
    x, y, flags = cols["x"], cols["y"], cols["flags"]
    n_clicks, n_pv, n_moves, n_scrolls = K.count_sized_kinds(kind)
    caps = {
        "rage": n_clicks // 2 + 1,
        "dead": n_clicks + 1,
        "error": n_clicks + 1,
        "slow": n_clicks + 1,
        "thrash": n_moves // 2 + 1,
        "scroll": n_scrolls // 2 + 1,
        "uturn": n_pv + 1,
        "loop": n_pv // 2 + 1,
        "form": n_pv + n_sess + 1,
    }
    p = params.vector.copy()
    p[K.P_ENABLED] = sum(1 << k for k, name in enumerate(KERNELS) if name in only)
    work = K.new_workspace(offsets, longest)
    grow = 1
    while True:
        bufs = [
            np.empty((caps[name] * grow if name in only else 0, K.N_OUT), dtype=np.int64)
            for name in KERNELS
        ]
        counts = np.zeros(len(KERNELS), dtype=np.int64)
        ok = K.fused_kernel(
            ts,
            kind,
            target,
            tag,
            url,
            x,
            y,
            cols["sy"],
            cols["value"],
            cols["status"],
            flags,
            tag_bits,
            target_bits,
            offsets,
            start_rows,
            frontier,
            p,
            *bufs,
            need,
            next_dec,
            counts,
            *work,
        )
        if ok:
            return {name: bufs[k][: counts[k]] for k, name in enumerate(KERNELS)}, need, next_dec
        grow *= 4  # the bounds above are generous; this is a safety net


def fused_params(params: KernelParams) -> npt.NDArray[np.int64]:
    """The config as the int64 vector ``kernels.fused_kernel`` reads (``kernels.P_*``)."""
    cfg = params.cfg
    r, d, e, sl, t, sc = cfg.rage, cfg.dead, cfg.error, cfg.slow, cfg.thrash, cfg.scroll
    p = np.zeros(K.N_PARAMS, dtype=np.int64)
    values = {
        K.P_RAGE_ON: not r.require_dead,
        K.P_RAGE_MIN: r.min_clicks,
        K.P_RAGE_GAP: r.max_gap_ms,
        K.P_RAGE_WINDOW: r.window_ms,
        K.P_RAGE_RADIUS: r.radius_px,
        K.P_RAGE_METRIC: K.METRICS[r.metric],
        K.P_RAGE_SAME: r.same_target,
        K.P_RAGE_FOLD: r.fold_double_clicks,
        K.P_RAGE_CSCROLL: r.cancel_on_scroll,
        K.P_RAGE_CSEL: r.cancel_on_selection,
        K.P_RAGE_REACT: r.reaction_window_ms,
        K.P_RAGE_SUPP: params.rage_suppress,
        K.P_DEAD_MS: d.dead_ms,
        K.P_FOLD: d.fold_ms,
        K.P_QUICK: d.quick_reaction_ms,
        K.P_MINOBS: d.min_observe_ms,
        K.P_CREDIT: d.credit_until_next_click,
        K.P_REQREACT: d.request_is_reaction,
        K.P_INTERACTIVE: d.interactive_only,
        K.P_DEAD_SUPP: params.dead_suppress,
        K.P_SLOW_MS: d.slow_ms,
        K.P_REQ_MS: sl.request_ms,
        K.P_TRIGGER: sl.trigger_ms,
        K.P_LATE: sl.late_reaction,
        K.P_SLOW_SUPP: params.slow_suppress,
        K.P_ERR_WIN: e.window_ms,
        K.P_ERR_STATUS: e.status_min,
        K.P_ERR_SUPP: params.error_suppress,
        K.P_TH_MIN: t.min_reversals,
        K.P_TH_WIN: t.window_ms,
        K.P_TH_GAP: t.chain_gap_ms,
        K.P_TH_MAX: t.max_episode_ms,
        K.P_TH_DELTA: t.min_delta_px,
        K.P_SC_MIN: sc.min_reversals,
        K.P_SC_WIN: sc.window_ms,
        K.P_SC_GAP: sc.chain_gap_ms,
        K.P_SC_MAX: sc.max_episode_ms,
        K.P_SC_DELTA: sc.min_delta_px,
        K.P_UT_DWELL: cfg.uturn.max_dwell_ms,
        K.P_LOOP_MIN: cfg.loop.min_visits,
        K.P_LOOP_WIN: cfg.loop.window_ms,
        K.P_FORM_RET: cfg.form.min_returns,
        K.P_FORM_HES: cfg.form.hesitation_ms,
        K.P_FORM_AB: cfg.form.abandon_min_fields,
    }
    for k, v in values.items():
        p[k] = int(v)
    return p


#: the order flags of one step come in, by kernel: a dead group clicked often enough is a rage
#: click too (Sentry's rule), right after the dead ones; and the flag kind of each block
_BLOCKS: tuple[str, ...] = ("rage", "dead", "dead_rage", *KERNELS[2:])
_BLOCK_KIND = np.array(
    [int(KERNEL_KIND["rage" if b == "dead_rage" else b]) for b in _BLOCKS], dtype=np.uint8
)


def episodes_to_flags(
    parts: Sequence[tuple[Mapping[str, npt.NDArray[np.int64]], npt.NDArray[np.int64], Any]],
    session_ids: npt.NDArray[np.uint64],
    fprev: npt.NDArray[np.int64] | None,
    cfg: DetectConfig,
) -> FlagBatch:
    """Kernel episode rows -> FlagBatch, keeping those decided after ``fprev`` (per session).

    ``parts``: the kernels' outputs of each group of sessions judged together, with the group's
    sessions' indices in the run and its columns' batch rows (``row``). Flags come block by
    block (``_BLOCKS``), each block's sessions in run order and each session's episodes in the
    order its kernel emitted them, as one kernel call over the whole run would give them. The
    groups' rows are stacked and turned into columns once (per batch, not per kind)."""
    dead_rage = cfg.rage.require_dead
    eps, block = [], []
    for outs, runs, rows in parts:
        mine, at = [], []
        for name in KERNELS:
            o = outs.get(name)
            if o is None or not o.shape[0]:
                continue
            mine.append(o)
            at.append(np.full(o.shape[0], _BLOCKS.index(name), np.int64))
            if name == "dead" and dead_rage:
                rage = o[o[:, K.O_COUNT] >= cfg.rage.min_clicks]
                if rage.shape[0]:
                    rage[:, K.O_RULE] = int(Rule.RAGE_DEAD)
                    mine.append(rage)
                    at.append(np.full(rage.shape[0], _BLOCKS.index("dead_rage"), np.int64))
        if not mine:
            continue
        ep = np.concatenate(mine)  # a fresh array: its columns are rewritten in place
        ep[:, K.O_SESS] = runs[ep[:, K.O_SESS]]
        ep[:, K.O_EV0] = rows[ep[:, K.O_EV0]]
        ep[:, K.O_EV1] = rows[ep[:, K.O_EV1]]
        eps.append(ep)
        block.append(np.concatenate(at))
    if not eps:
        return FlagBatch.empty()
    ep, blk = (eps[0], block[0]) if len(eps) == 1 else (np.concatenate(eps), np.concatenate(block))
    if fprev is not None:
        later = ep[:, K.O_DEC] > fprev[ep[:, K.O_SESS]]
        ep, blk = ep[later], blk[later]
    if len(eps) > 1:
        # each group is in (block, session) order already: a stable sort merges the two runs
        by = np.argsort(blk * session_ids.shape[0] + ep[:, K.O_SESS], kind="stable")
        ep, blk = ep[by], blk[by]
    return FlagBatch(
        {
            "kind": _BLOCK_KIND[blk],
            "session_id": session_ids[ep[:, K.O_SESS]].astype(np.uint64),
            "start_ts": ep[:, K.O_START].copy(),
            "end_ts": ep[:, K.O_END].copy(),
            "decision_ts": ep[:, K.O_DEC].copy(),
            "url": ep[:, K.O_URL].astype(np.int32),
            "target": ep[:, K.O_TARGET].astype(np.int32),
            "count": ep[:, K.O_COUNT].astype(np.int32),
            "severity": (ep[:, K.O_SEV] / K.SEV_SCALE).astype(np.float32),
            "rule": ep[:, K.O_RULE].astype(np.uint8),
            "tier": ep[:, K.O_TIER].astype(np.uint8),
            "row_start": ep[:, K.O_EV0].copy(),
            "row_end": ep[:, K.O_EV1].copy(),
        }
    )


def _columns_of(batch: EventBatch) -> dict[str, npt.NDArray[Any]]:
    return {k: np.ascontiguousarray(batch.columns[k], dtype=t) for k, t in DETECT_COLUMNS.items()}


#: per-session state arrays of ``_State`` and their dtypes (``skip``: one column per kernel)
_SESSION_FIELDS: dict[str, Any] = {
    "sid": np.uint64,
    "next_pos": np.int64,  # events seen
    "skip": np.int64,  # per kernel: its carried rows before the one it resumes at
    "fprev": np.int64,
    "end_ts": np.int64,
    "next_dec": np.int64,
    "start": np.int64,
    "length": np.int64,
    "alive": np.bool_,
}


#: tombstones always tolerated (a squeeze of a small state would run nearly every batch)
_SQUEEZE_MIN = 1024


def _carry_columns(cols: Mapping[str, npt.NDArray[Any]] | None, rows: int | None) -> K.CarryColumns:
    """``cols`` (its first ``rows`` rows; all if None) as the kernels' ``CarryColumns``, or
    empty columns of the right types."""
    if cols is None or rows == 0:
        return K.CarryColumns(**{k: np.empty(0, t) for k, t in CARRY_COLUMNS.items()})
    return K.CarryColumns(**{k: cols[k][:rows] for k in CARRY_COLUMNS})


class _State:
    """Open sessions and their carried rows.

    Rows ``[0, n)`` of the per-session arrays are sorted by session id. A batch updates its
    sessions' rows in place and appends new sessions after them; a closed session's row stays
    as a tombstone (``alive`` False, no rows) until tombstones outnumber live rows, then they
    are squeezed out at once. (Rebuilding every array around each batch's sessions was
    O(open sessions) per batch: 7-12 % of the settled analysis thread, more with more
    concurrent sessions.)

    Live session i owns ``cols[k][start[i] : start[i] + length[i]]``. ``cols`` is a pool with
    room for ``cap`` rows of which ``used`` are taken: a batch appends the rows its sessions
    keep and leaves their old ones behind, so sessions without new events are not copied every
    batch; the pool is compacted when it is full or mostly dead rows."""

    def __init__(self) -> None:
        self.n = 0
        self.n_alive = 0
        self.sid = np.empty(0, np.uint64)
        self.next_pos = np.empty(0, np.int64)
        self.skip = np.empty((0, len(KERNELS)), np.int64)
        self.fprev = np.empty(0, np.int64)
        self.end_ts = np.empty(0, np.int64)
        self.next_dec = np.empty(0, np.int64)
        self.start = np.empty(0, np.int64)
        self.length = np.empty(0, np.int64)
        self.alive = np.empty(0, np.bool_)
        self.cols: dict[str, npt.NDArray[Any]] = {
            k: np.empty(0, dtype=t) for k, t in CARRY_COLUMNS.items()
        }
        self.used = 0
        self.cap = 0

    def append(self, values: dict[str, npt.NDArray[Any]]) -> None:
        """New sessions' rows (every field of ``_SESSION_FIELDS`` but ``alive``), sorted by
        session id; kept sorted (a re-sort only if they do not all come after the last)."""
        start = self.reserve(values["sid"])
        m = int(values["sid"].shape[0])
        for k, v in values.items():
            getattr(self, k)[start : start + m] = v
        self.restore_order(start)

    def reserve(self, sids: npt.NDArray[np.uint64]) -> int:
        """Rows for new sessions ``sids`` (sorted) after the last: their id set, alive, the
        other fields for the caller to write. Returns the first row; ``restore_order`` then."""
        m = int(sids.shape[0])
        n = self.n
        if n + m > self.sid.shape[0]:
            size = max(2 * self.sid.shape[0], n + m, 1024)
            for k in _SESSION_FIELDS:
                old = getattr(self, k)
                new = np.empty((size,) + old.shape[1:], dtype=old.dtype)
                new[:n] = old[:n]
                setattr(self, k, new)
        self.sid[n : n + m] = sids
        self.alive[n : n + m] = True
        self.n, self.n_alive = n + m, self.n_alive + m
        return n

    def restore_order(self, start: int) -> None:
        """After rows were reserved from ``start`` on (by one or more ``reserve`` calls):
        sorted again if the ids from there do not all rise (a session released after a
        later-started one: rare)."""
        lo = max(start, 1)
        if lo < self.n and (self.sid[lo - 1 : self.n - 1] >= self.sid[lo : self.n]).any():
            self._keep(np.argsort(self.sid[: self.n], kind="stable"))

    def squeeze(self) -> None:
        """Drop the tombstones once they outnumber the live rows (amortised: each closed
        session is moved at most once more)."""
        dead = self.n - self.n_alive
        if dead > max(self.n_alive, _SQUEEZE_MIN):
            self._keep(np.flatnonzero(self.alive[: self.n]))

    def _keep(self, rows: npt.NDArray[np.int64]) -> None:
        m = int(rows.shape[0])
        for k in _SESSION_FIELDS:
            arr = getattr(self, k)
            arr[:m] = arr[: self.n][rows]
        self.n = m


#: columns of no rows: the group of sessions without carried rows, in a step with no batch
_EMPTY_COLS: dict[str, npt.NDArray[Any]] = {k: np.empty(0, t) for k, t in CARRY_COLUMNS.items()}


@dataclass(eq=False)
class _Group:
    """Run sessions judged together on one set of columns: ``runs`` (their indices in the
    run), rows ``starts[i]:ends[i]`` of ``cols``; then the kernels' results for them and what
    they carry (``open``: the open ones among them, as indices into ``runs``)."""

    runs: npt.NDArray[np.int64]
    cols: Mapping[str, npt.NDArray[Any]]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    start_rows: npt.NDArray[np.int64]  # [kernels, sessions]: where each kernel resumes
    outs: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    need: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty((0, 0), np.int64))
    next_dec: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty((0, 0), np.int64))
    open: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    skip: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty((0, 0), np.int64))
    dec: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    kept: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    kept_len: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))


class Detector:
    """Streaming friction detection: ``update(batch, strings) -> FlagBatch`` per ingest step,
    ``finish() -> FlagBatch`` at the end of the stream (judges whatever is still open).

    ``strings`` is the ingestor's ``Strings`` (or a mapping table name -> list of strings):
    targets and tags are classified once per distinct string for the suppressions.
    ``scores`` holds the cumulative friction score of the sessions flagged by the last call.
    """

    def __init__(self, cfg: DetectConfig | None = None) -> None:
        self.cfg = cfg or DetectConfig()
        self.params = KernelParams.of(self.cfg)
        rules = (self.cfg.ignore, self.cfg.ignore_rage, self.cfg.ignore_dead)
        self._tags = ClassTable(*rules)
        self._targets = ClassTable(*rules)
        self._state = _State()
        # running score parts of open sessions with flags (sorted by session id)
        self._score_sid = np.empty(0, np.uint64)
        self._score_parts = np.empty((0, len(FlagKind)), np.float64)
        self._score_n = 0
        # the merge writes here, then the two swap (no fresh arrays per batch)
        self._spare_sid = np.empty(0, np.uint64)
        self._spare_parts = np.empty((0, len(FlagKind)), np.float64)
        self.scores: SessionScores | None = None
        self.events_judged = 0

    @property
    def open_sessions(self) -> int:
        return self._state.n_alive

    @property
    def carried_events(self) -> int:
        return int(self._state.length[: self._state.n].sum())

    def update(self, batch: EventBatch, strings: Any) -> FlagBatch:
        tag_bits = self._tags.extend(string_table(strings, "tag"))
        target_bits = self._targets.extend(string_table(strings, "target"))
        self.events_judged += len(batch)
        return self._step(batch, int(batch.watermark), tag_bits, target_bits, close_all=False)

    def finish(self) -> FlagBatch:
        """Judge every open session as closed (end of stream)."""
        return self._step(None, I64_MAX, self._tags.bits, self._targets.bits, close_all=True)

    # ------------------------------------------------------------------------------------------

    def _step(
        self,
        batch: EventBatch | None,
        watermark: int,
        tag_bits: npt.NDArray[np.uint16],
        target_bits: npt.NDArray[np.uint16],
        close_all: bool,
    ) -> FlagBatch:
        st = self._state
        nk = len(KERNELS)
        n_state = st.n
        if batch is not None and batch.n_sessions:
            b_sid = np.asarray(batch.sessions["session_id"], dtype=np.uint64)
            b_closed = np.asarray(batch.sessions["closed"], dtype=bool)
            b_end = np.asarray(batch.sessions["end_ts"], dtype=np.int64)
            b_off = np.asarray(batch.offsets, dtype=np.int64)
        else:
            b_sid = np.empty(0, np.uint64)
            b_closed = np.empty(0, bool)
            b_end = np.empty(0, np.int64)
            b_off = np.zeros(1, np.int64)
        n_b = b_sid.shape[0]
        # the run: batch sessions (continuing an open one or new), then open sessions without
        # new events whose verdict may have come due (carried ones without run only then)
        room = n_b + n_state
        r_state, r_end, c_start, c_len, n_start, n_len, next_pos, fprev, frontier = (
            np.empty(room, np.int64) for _ in range(9)
        )
        r_sid, r_closed = np.empty(room, np.uint64), np.empty(room, np.bool_)
        n_run = K.plan_run(
            st.sid[:n_state], st.alive[:n_state], st.next_dec[:n_state], st.end_ts[:n_state],
            st.start[:n_state], st.length[:n_state], st.next_pos[:n_state], st.fprev[:n_state],
            b_sid, b_closed, b_end, b_off, self._wm_front(watermark), close_all,
            r_state, r_sid, r_closed, r_end, c_start, c_len, n_start, n_len, next_pos, fprev,
            frontier,
        )  # fmt: skip
        if n_run == 0:
            self.scores = None
            return FlagBatch.empty()
        r_state, r_sid, r_closed, r_end = (
            r_state[:n_run],
            r_sid[:n_run],
            r_closed[:n_run],
            r_end[:n_run],
        )
        c_start, c_len, n_start, n_len = (
            c_start[:n_run],
            c_len[:n_run],
            n_start[:n_run],
            n_len[:n_run],
        )
        next_pos, fprev, frontier = next_pos[:n_run], fprev[:n_run], frontier[:n_run]
        has_state = r_state >= 0

        # positions of the new rows in their sessions (continuing the carried count)
        new_cols = _columns_of(batch) if batch is not None else None
        # (only if some session stays open or rows are carried: positions are carry bookkeeping)
        with_pos = n_state > 0 or not r_closed.all()
        if new_cols is not None and with_pos:
            new_cols["pos"] = K.session_positions(b_off, np.ascontiguousarray(next_pos[:n_b]))

        # rows to judge. Sessions with carried rows get them joined with their new ones into
        # fresh columns; the others (new sessions: most of a batch's rows with many sessions
        # open) are judged on the batch's columns where they are, not copied
        joined = c_len > 0
        groups: list[_Group] = []
        if joined.any():
            at = np.flatnonzero(joined)
            offsets = np.zeros(at.shape[0] + 1, np.int64)
            np.cumsum(c_len[at] + n_len[at], out=offsets[1:])
            cols: dict[str, npt.NDArray[Any]] = {
                k: np.empty(int(offsets[-1]), t) for k, t in CARRY_COLUMNS.items()
            }
            K.join_carried(
                _carry_columns(st.cols, st.used),
                c_start[at],
                c_len[at],
                _carry_columns(new_cols, None),
                n_start[at],
                n_len[at],
                K.CarryColumns(**cols),
            )
            # where each kernel resumes: the carried rows before the position it asked for in
            start_rows = np.repeat(offsets[:-1, None], nk, axis=1).T  # (see run_kernels)
            K.resume_rows(offsets, np.arange(at.shape[0]), st.skip, r_state[at], start_rows)
            groups.append(_Group(at, cols, offsets[:-1], offsets[1:], start_rows))
        if not joined.all():
            at = np.flatnonzero(~joined)
            starts = n_start[at]
            cols_b = new_cols if new_cols is not None else _EMPTY_COLS
            start_rows = np.repeat(starts[:, None], nk, axis=1).T
            groups.append(_Group(at, cols_b, starts, starts + n_len[at], start_rows))
        for g in groups:
            g.outs, g.need, g.next_dec = run_kernels(
                g.cols,
                np.concatenate([g.starts[:1], g.ends]),
                g.start_rows,
                frontier[g.runs],
                self.params,
                tag_bits,
                target_bits,
                longest=int((g.ends - g.starts).max()),
            )
        parts = [(g.outs, g.runs, g.cols["row"]) for g in groups]
        flags = episodes_to_flags(parts, r_sid, fprev, self.cfg)

        # carry forward: open sessions keep the rows some kernel will read again, from the
        # positions the kernels asked for
        next_pos_new = next_pos + n_len
        keep = ~r_closed
        for g in groups:
            g.open = np.flatnonzero(keep[g.runs])
            g.skip = np.empty((g.open.shape[0], nk), np.int64)
            g.dec = np.empty(g.open.shape[0], np.int64)
            if g.open.shape[0]:
                g.kept, g.kept_len = K.carry_open(
                    g.cols["kind"],
                    g.cols["pos"],
                    g.starts,
                    g.ends,
                    g.open,
                    g.need,
                    g.next_dec,
                    next_pos_new[g.runs],
                    _READ_BITS,
                    g.skip,
                    g.dec,
                )
            else:
                g.kept = g.kept_len = np.empty(0, np.int64)

        # the run sessions' old carried rows are dead now; closed ones leave a tombstone
        run_rows = r_state[has_state]
        st.length[run_rows] = 0
        closing = r_state[has_state & r_closed]
        st.alive[closing] = False
        st.n_alive -= int(closing.shape[0])
        n_kept = sum(int(g.kept.shape[0]) for g in groups)
        if st.n_alive == 0 and not keep.any():
            self._state = _State()  # nothing open: drop the pool
        else:
            pool, used, cap = st.cols, st.used, st.cap
            live_stay = int(st.length[: st.n].sum())  # sessions not in this run
            if used + n_kept > cap or used - live_stay > live_stay + _POOL_SLACK:
                # compact: the stayed sessions' rows to the front of a fresh pool
                cap = max(_POOL_SLACK, 2 * (live_stay + n_kept))
                holders = np.flatnonzero(st.length[: st.n])
                s_len = st.length[holders]
                s_idx = segment_rows(st.start[holders], s_len)
                fresh: dict[str, npt.NDArray[Any]] = {
                    k: np.empty(cap, t) for k, t in CARRY_COLUMNS.items()
                }
                K.take_carried(_carry_columns(pool, None), s_idx, _carry_columns(fresh, None), 0)
                pool, used = fresh, live_stay
                st.start[holders] = np.cumsum(s_len) - s_len
            n_before = st.n
            # the run sessions' kept rows go after the used part, then their fields into
            # their rows of the table (new sessions get rows after the last, in id order)
            for g in groups:
                if g.kept.shape[0]:
                    K.take_carried(
                        _carry_columns(g.cols, None), g.kept, _carry_columns(pool, None), used
                    )
                k_start = used + np.cumsum(g.kept_len) - g.kept_len
                used += int(g.kept.shape[0])
                open_runs = g.runs[g.open]
                open_rows = r_state[open_runs]
                new_at = np.flatnonzero(open_rows < 0)
                if new_at.shape[0]:
                    new_at = new_at[np.argsort(r_sid[open_runs[new_at]])]  # distinct ids
                    start = st.reserve(r_sid[open_runs[new_at]])
                    open_rows[new_at] = start + np.arange(new_at.shape[0])
                K.store_open(
                    open_runs, open_rows, next_pos_new, frontier, r_end, g.skip, g.dec,
                    k_start, g.kept_len,
                    st.next_pos, st.skip, st.fprev, st.end_ts, st.next_dec, st.start, st.length,
                )  # fmt: skip
            # once every group's rows are written: a re-sort moves rows the groups refer to
            st.restore_order(n_before)
            st.cols, st.used, st.cap = pool, used, cap
            st.squeeze()
        self._account_scores(flags, r_sid[r_closed])
        return FlagBatch(flags.columns, self.scores)

    def _wm_front(self, watermark: int) -> int:
        """What the stream clock adds to a session's frontier, the event time up to which its
        future is known (see DetectConfig.frontier): a session's own is ``end_ts - 1``, as
        future events of a session are never older than its last released one (the ingest
        core's per-key floor); the watermark rule raises it to ``watermark - hold - 1``, which
        is safe barring stragglers from clients whose clocks lag. I64_MIN: nothing."""
        if self.cfg.frontier == "session" or watermark <= I64_MIN + self.cfg.hold_ms + 1:
            return I64_MIN
        return watermark - self.cfg.hold_ms - 1

    def _account_scores(self, flags: FlagBatch, closed: npt.NDArray[np.uint64]) -> None:
        """Add this batch's score parts to the open sessions' running totals (rows sorted by
        session id), then forget the closed sessions: one merge walk into the spare buffers
        (``kernels.merge_running_scores``), which then swap with the live ones.

        With 100 k+ flagged sessions open, sorting them all again every batch was most of
        this; then an insert and a delete copied every row twice into fresh arrays."""
        n = self._score_n
        if len(flags):
            batch_scores = session_scores(flags, self.cfg.score)
            ids, cum = batch_scores.session_id, batch_scores.parts  # sorted, unique; fresh
        else:
            ids, cum = np.empty(0, np.uint64), np.empty((0, len(FlagKind)), np.float64)
        if not ids.shape[0] and not (closed.shape[0] and n):
            self.scores = None
            return
        need = n + ids.shape[0]
        if self._spare_sid.shape[0] < need:
            size = max(need, 2 * self._spare_sid.shape[0], 1024)
            self._spare_sid = np.empty(size, np.uint64)
            self._spare_parts = np.empty((size, len(FlagKind)), np.float64)
        n_out = K.merge_running_scores(
            self._score_sid[:n],
            self._score_parts[:n],
            ids,
            cum,
            unique_ints(closed),
            self._spare_sid,
            self._spare_parts,
        )
        self.scores = SessionScores(ids, cum.sum(axis=1), cum) if ids.shape[0] else None
        self._score_sid, self._spare_sid = self._spare_sid, self._score_sid
        self._score_parts, self._spare_parts = self._spare_parts, self._score_parts
        self._score_n = n_out
