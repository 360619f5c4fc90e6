"""Columnar event batches: what the Rust core hands to Python, and what detectors read.

One batch holds the events released by one ``Ingestor.feed``/``finish`` call, sorted by
(session, ts), with CSR ``offsets``: session ``i`` owns rows ``offsets[i]:offsets[i+1]``.
Sessions are identified across batches by ``sessions.session_id`` (a stream-global, sequential
uint64): a long session appears in many batches, always with its events in time order, never
overlapping earlier batches. No Python object per event: strings are intern ids (int32,
``NONE_ID`` when absent) into append-only tables held by the ingestor (``Strings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

#: intern id meaning "key absent"
NONE_ID = -1
#: integer columns (x, y, sy, sh, vh) use this when the key is absent
INT_NA = np.iinfo(np.int32).min

#: bits of the ``flags`` column
FLAG_MODIFIER = 1  # ctrl/meta/shift/alt held (props.ctrlKey|metaKey|shiftKey|altKey|mod true)

#: intern tables, in the order the Rust core numbers them
STRING_TABLES = ("url", "target", "tag", "route", "msg", "tab", "dev", "rel", "geo", "uid")

EVENT_COLUMNS: dict[str, type] = {
    "ts": np.int64,  # ms since epoch, UTC
    "session": np.int32,  # index into this batch's session table
    "kind": np.uint8,  # uxtop.schema.Kind
    "url": np.int32,
    "target": np.int32,
    "tag": np.int32,
    "route": np.int32,
    "msg": np.int32,
    "tab": np.int32,
    "x": np.int32,
    "y": np.int32,
    "sy": np.int32,
    "sh": np.int32,
    "vh": np.int32,
    "value": np.float32,  # dur (ms) if present, else score; NaN if neither
    "status": np.int16,  # HTTP status, 0 if absent
    "flags": np.uint8,
    "row": np.int64,  # 0-based line number in the ingestor's input (drill-down back to raw)
}

SESSION_COLUMNS: dict[str, type] = {
    "session_id": np.uint64,  # stream-global id, sequential from 0 in order of session start
    "start_ts": np.int64,  # first event of the session (whole session so far)
    "end_ts": np.int64,  # last event so far
    "n_events": np.int64,  # events so far (cumulative, including earlier batches)
    "first_url": np.int32,
    "last_url": np.int32,
    "dev": np.int32,
    "rel": np.int32,
    "geo": np.int32,
    # first uid among the session's events (in time order): an id valid within this batch only
    # (the core rebuilds its uid table as users leave, so a live stream's users never run out
    # of ids); the text is in ``EventBatch.uids``
    "uid": np.int32,
    "closed": np.bool_,  # True: the session ended (idle gap, max length, or finish); no more events
}


def segment_rows(
    starts: npt.NDArray[np.int64], lens: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The row numbers ``starts[i] .. starts[i] + lens[i] - 1`` of every segment, in segment
    order, as one index array (a CSR batch's sessions, a store's runs of rows)."""
    total = int(lens.sum())
    first = np.cumsum(lens) - lens
    return np.repeat(starts - first, lens) + np.arange(total, dtype=np.int64)


def _texts_of(buf: bytes, offsets: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]) -> list[str]:
    """Texts ``rows`` of texts packed back to back in ``buf`` (CSR ``offsets``); "" for a row
    past the end. Two gathers, then a slice per text (thousands of newly kept sessions a batch
    under heavy flagging)."""
    r = np.asarray(rows, dtype=np.int64)
    inside = r + 1 < len(offsets)
    r = np.where(inside, r, 0)
    a = np.where(inside, offsets[r], 0).tolist() if len(offsets) else [0] * r.shape[0]
    b = np.where(inside, offsets[r + 1], 0).tolist() if len(offsets) > 1 else [0] * r.shape[0]
    return [buf[i:j].decode() for i, j in zip(a, b, strict=True)]


class EventBatch:
    """Events released by one ingest step, sorted by (session, ts), plus their session table.

    ``columns`` holds the EVENT_COLUMNS arrays (equal length), ``offsets`` the CSR index
    (len = n_sessions + 1), ``sessions`` the SESSION_COLUMNS arrays (len = n_sessions), and
    ``keys``/``uids`` the session key (sid, else uid) and uid of each session row.
    Sessions that closed in this step with no new events have an empty slice. A session's
    future is known entirely once ``sessions["closed"]`` is set (see ``watermark`` before that).

    Keys may be given as lists or packed (one bytes buffer + offsets, as the Rust core hands
    them over); packed keys are decoded only when ``keys``/``uids`` is first read, so a consumer
    that never looks at keys pays nothing per session.
    """

    __slots__ = (
        "columns",
        "offsets",
        "sessions",
        "watermark",
        "_keys",
        "_uids",
        "_packed",
        "_by_id",
    )

    def __init__(
        self,
        columns: Mapping[str, npt.NDArray],
        offsets: npt.NDArray[np.int64],
        sessions: Mapping[str, npt.NDArray],
        keys: list[str] | None = None,
        uids: list[str | None] | None = None,
        watermark: int = -(2**63),
        *,
        packed_keys: tuple[bytes, npt.NDArray[np.int64], bytes, npt.NDArray[np.int64]]
        | None = None,
    ) -> None:
        self.columns = columns
        self.offsets = offsets
        self.sessions = sessions
        #: stream clock minus lateness after this step. A session that is still active may
        #: release events down to one more lateness below this in later batches (its events are
        #: held until they fall ``lateness_ms`` behind its own newest one), and a client whose
        #: clock is behind may send older ones; so a verdict that needs a session's future up to
        #: ``t`` is safe once ``t <= watermark - lateness_ms``, once the session has released an
        #: event after ``t``, or once the session is closed (DetectConfig.hold_ms does this).
        self.watermark = watermark
        self._keys = keys
        self._uids = uids
        self._packed = packed_keys
        self._by_id: tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]] | None = None
        if keys is None and packed_keys is None:
            self._keys = []
        if uids is None and packed_keys is None:
            self._uids = [None] * len(self._keys or [])

    @property
    def keys(self) -> list[str]:
        if self._keys is None:
            assert self._packed is not None
            kb, ko = self._packed[0], self._packed[1].tolist()
            self._keys = [kb[ko[i] : ko[i + 1]].decode() for i in range(len(ko) - 1)]
        return self._keys

    @property
    def uids(self) -> list[str | None]:
        if self._uids is None:
            assert self._packed is not None
            ub, uo = self._packed[2], self._packed[3].tolist()
            self._uids = [ub[uo[i] : uo[i + 1]].decode() or None for i in range(len(uo) - 1)]
        return self._uids

    def key(self, i: int) -> str:
        """Key of session row ``i`` without decoding the others ("" for a row without one)."""
        return self.keys_of(np.array([i], np.intp))[0]

    def uid(self, i: int) -> str | None:
        """User id of session row ``i`` (None when it has none) without decoding the others."""
        return self.uids_of(np.array([i], np.intp))[0]

    def rows_with_ids(self, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """Rows of the session table whose session id is in ``ids`` (sorted, unique), ascending:
        ``np.flatnonzero(np.isin(sessions["session_id"], ids))`` (a batch holds each session
        once: ids in its table are unique). The table's ids are sorted
        once per batch (kept) and ``ids`` looked up in them: a batch stays in the engine's
        window for several snapshots, each looking up the sessions flagged since the last, and
        binary searches of the table's unsorted ids cost ~5x more."""
        if self._by_id is None:
            sid = np.asarray(self.sessions["session_id"], dtype=np.uint64)
            order = np.argsort(sid)
            self._by_id = (sid[order], order)
        by_id, order = self._by_id
        if not by_id.shape[0] or not ids.shape[0]:
            return np.empty(0, np.intp)
        pos = np.searchsorted(by_id, ids)
        pos[pos == by_id.shape[0]] = 0
        return np.sort(order[pos[by_id[pos] == ids]])

    def keys_of(self, rows: npt.NDArray[np.intp]) -> list[str]:
        """The keys of session rows ``rows`` ("" for a row without one), in one pass, without
        decoding the others."""
        if self._keys is not None:
            k = self._keys
            return [k[i] if i < len(k) else "" for i in np.asarray(rows).tolist()]
        assert self._packed is not None
        return _texts_of(self._packed[0], self._packed[1], rows)

    def uids_of(self, rows: npt.NDArray[np.intp]) -> list[str | None]:
        """The user ids of session rows ``rows`` (None for one without), in one pass."""
        if self._uids is not None:
            u = self._uids
            return [u[i] if i < len(u) else None for i in np.asarray(rows).tolist()]
        assert self._packed is not None
        return [t or None for t in _texts_of(self._packed[2], self._packed[3], rows)]

    def __len__(self) -> int:
        return int(self.columns["ts"].shape[0])

    @property
    def n_sessions(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getattr__(self, name: str) -> npt.NDArray:
        # batch.ts, batch.kind ... read the event columns directly
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.columns[name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def empty() -> EventBatch:
        return EventBatch(
            columns={k: np.empty(0, dtype=t) for k, t in EVENT_COLUMNS.items()},
            offsets=np.zeros(1, dtype=np.int64),
            sessions={k: np.empty(0, dtype=t) for k, t in SESSION_COLUMNS.items()},
            keys=[],
            uids=[],
        )


class Strings:
    """Read-only view of the ingestor's intern tables, cached on the Python side.

    Tables only grow, so the cache fetches just the new tail when an id is past its end. The
    ``uid`` table is the exception: the core keeps only the users still in open sessions, so
    its ids are batch-local and user ids are read as text from ``EventBatch.uids``.
    """

    def __init__(self, fetch: Callable[[str, int], list[str]]) -> None:
        self._fetch = fetch
        self._cache: dict[str, list[str]] = {t: [] for t in STRING_TABLES if t != "uid"}

    def table(self, name: str) -> list[str]:
        if name == "uid":
            raise ValueError(
                "uid ids are batch-local (the table is compacted as users leave): read EventBatch.uids"
            )
        cache = self._cache[name]
        cache.extend(self._fetch(name, len(cache)))
        return cache

    def get(self, name: str, ident: int) -> str | None:
        if ident < 0:
            return None
        cache = self._cache.get(name)
        if cache is None:
            return self.table(name)[ident]  # raises with the reason for "uid"
        if ident >= len(cache):
            cache = self.table(name)
        return cache[ident]
