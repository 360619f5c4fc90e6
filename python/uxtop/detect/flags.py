"""Flags: what the detectors emit, columnar like events (a handful per second, but millions in a
report over big files, so still no Python object per flag on the hot path)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.batch import NONE_ID


class FlagKind(enum.IntEnum):
    """Friction kinds; the code is the ``kind`` column of a ``FlagBatch``."""

    RAGE_CLICK = 0
    DEAD_CLICK = 1
    ERROR_CLICK = 2
    THRASHED_CURSOR = 3
    U_TURN = 4
    PAGE_LOOP = 5
    EXCESSIVE_SCROLL = 6
    FORM_STRUGGLE = 7
    SLOW_INTERACTION = 8

    @property
    def label(self) -> str:
        """The lower-case name used in JSON, labels and the CLI (``rage_click`` ...)."""
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> FlagKind:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(
                f"unknown flag kind {name!r}; one of {', '.join(k.label for k in cls)}"
            ) from None


FLAG_KIND_NAMES: tuple[str, ...] = tuple(k.label for k in FlagKind)


class Tier(enum.IntEnum):
    """How late a click's first visible reaction was (dead clicks are tier DEAD)."""

    NONE = 0
    SLOW = 1  # reacted, but only after ``dead.slow_ms`` (reported as slow_interaction)
    DEAD = 2  # no reaction within ``dead.dead_ms``


class Rule(enum.IntEnum):
    """Which rule fired; global codes so a flag row needs one small int. ``RULE_NAMES`` explains."""

    RAGE_BURST = 0
    RAGE_DEAD = 1  # sentry profile: a dead click group with enough clicks
    DEAD_NO_REACTION = 2
    ERROR_JS = 3
    ERROR_REQUEST = 4
    ERROR_JS_AND_REQUEST = 5
    THRASH_X = 6
    THRASH_Y = 7
    THRASH_XY = 8
    U_TURN_QUICK_BACK = 9
    PAGE_LOOP_REVISITS = 10
    SCROLL_BOUNCE = 11
    # form struggle: 12 + (bit mask - 1), bits 1 re-entry, 2 hesitation, 4 abandonment
    FORM_REENTRY = 12
    FORM_HESITATION = 13
    FORM_REENTRY_HESITATION = 14
    FORM_ABANDON = 15
    FORM_REENTRY_ABANDON = 16
    FORM_HESITATION_ABANDON = 17
    FORM_ALL = 18
    # slow interaction: 19 + (bit mask - 1), bits 1 slow request, 2 late visible reaction
    SLOW_REQUEST = 19
    SLOW_REACTION = 20
    SLOW_REQUEST_AND_REACTION = 21


#: the first code of the bit-mask rule families (kernels add ``mask - 1``)
FORM_RULE_BASE = int(Rule.FORM_REENTRY)
SLOW_RULE_BASE = int(Rule.SLOW_REQUEST)
ERROR_RULE_BASE = int(Rule.ERROR_JS)
THRASH_RULE_BASE = int(Rule.THRASH_X)

RULE_NAMES: tuple[str, ...] = (
    "rage: >= min_clicks clicks, each within max_gap_ms and radius_px of the previous",
    "rage: dead click group clicked >= min_clicks times (sentry)",
    "dead: no visible reaction within dead_ms",
    "error: JS error within window_ms after the click",
    "error: failed request within window_ms after the click",
    "error: JS error and failed request after the click",
    "thrash: >= min_reversals horizontal direction reversals within window_ms",
    "thrash: >= min_reversals vertical direction reversals within window_ms",
    "thrash: >= min_reversals reversals on both axes within window_ms",
    "u_turn: back to the previous page within max_dwell_ms",
    "page_loop: >= min_visits visits to one page, each within window_ms of the previous",
    "scroll: >= min_reversals scroll direction reversals within window_ms",
    "form: field re-entry",
    "form: long hesitation",
    "form: field re-entry + long hesitation",
    "form: abandoned after input",
    "form: field re-entry + abandoned",
    "form: long hesitation + abandoned",
    "form: re-entry + hesitation + abandoned",
    "slow: triggered request took >= request_ms",
    "slow: first visible reaction after slow_ms",
    "slow: slow request and late reaction",
)
assert len(RULE_NAMES) == len(Rule)

#: short rule names for tables and JSON
RULE_SHORT: tuple[str, ...] = tuple(r.name.lower() for r in Rule)

FLAG_COLUMNS: dict[str, type] = {
    "kind": np.uint8,  # FlagKind
    "session_id": np.uint64,  # EventBatch.sessions["session_id"]
    "start_ts": np.int64,
    "end_ts": np.int64,
    "decision_ts": np.int64,  # event time at which the verdict became final (int64 max: at close)
    "url": np.int32,  # intern id into the "url" table
    "target": np.int32,  # intern id into the "target" table
    "count": np.int32,  # clicks, reversals, visits ... (per kind)
    "severity": np.float32,  # 1.0 = just over the threshold; grows with how far over
    "rule": np.uint8,  # Rule
    "tier": np.uint8,  # Tier
    "row_start": np.int64,  # evidence: source rows (EventBatch ``row``) of the first ...
    "row_end": np.int64,  # ... and last event that made the verdict
}


@dataclass(frozen=True, slots=True)
class FlagBatch:
    """Flags emitted by one ``Detector.update``/``finish``: FLAG_COLUMNS arrays of equal length.

    ``scores`` (set by the detector) holds the cumulative friction score of every session that
    got a flag in this batch.
    """

    columns: Mapping[str, npt.NDArray[Any]]
    scores: Any = None

    rule_names: Sequence[str] = RULE_SHORT

    def __len__(self) -> int:
        return int(self.columns["kind"].shape[0])

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        try:
            return self.columns[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def evidence(self) -> npt.NDArray[np.int64]:
        """``(n, 2)`` first and last source row of each flag's evidence."""
        return np.stack([self.columns["row_start"], self.columns["row_end"]], axis=1)

    @staticmethod
    def empty() -> FlagBatch:
        return FlagBatch({k: np.empty(0, dtype=t) for k, t in FLAG_COLUMNS.items()})

    @staticmethod
    def concat(batches: Sequence[FlagBatch]) -> FlagBatch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return FlagBatch.empty()
        if len(batches) == 1:
            return batches[0]
        return FlagBatch({k: np.concatenate([b.columns[k] for b in batches]) for k in FLAG_COLUMNS})

    def take(self, index: npt.NDArray[Any]) -> FlagBatch:
        return FlagBatch({k: v[index] for k, v in self.columns.items()}, self.scores)

    def sorted(self) -> FlagBatch:
        """Ordered by (session_id, start_ts, kind, end_ts): a canonical order for comparisons."""
        c = self.columns
        order = np.lexsort((c["end_ts"], c["kind"], c["start_ts"], c["session_id"]))
        return self.take(order)

    def of_kind(self, kind: FlagKind) -> FlagBatch:
        return self.take(np.flatnonzero(self.columns["kind"] == int(kind)))

    def counts_by_kind(self) -> dict[str, int]:
        n = np.bincount(self.columns["kind"].astype(np.int64), minlength=len(FlagKind))
        return {k.label: int(n[k]) for k in FlagKind}

    def to_records(
        self, tables: Any, keys: Mapping[int, str] | None = None
    ) -> list[dict[str, Any]]:
        """One dict per flag with strings resolved (for JSON output and the report).

        ``tables``: a ``uxtop.batch.Strings`` or a mapping table name -> list of strings;
        ``keys``: session_id -> session key (``sid``, else ``uid``).
        """
        lookup = string_lookup(tables)
        c = {k: v.tolist() for k, v in self.columns.items()}
        out = []
        for i in range(len(self)):
            sid = int(c["session_id"][i])
            out.append(
                {
                    "kind": FLAG_KIND_NAMES[c["kind"][i]],
                    "sid": keys.get(sid, str(sid)) if keys is not None else str(sid),
                    "session_id": sid,
                    "start_ts": c["start_ts"][i],
                    "end_ts": c["end_ts"][i],
                    "url": lookup("url", c["url"][i]),
                    "target": lookup("target", c["target"][i]),
                    "count": c["count"][i],
                    "severity": round(float(c["severity"][i]), 3),
                    "rule": RULE_SHORT[c["rule"][i]],
                    "tier": Tier(c["tier"][i]).name.lower(),
                    "rows": [c["row_start"][i], c["row_end"][i]],
                }
            )
        return out


def string_lookup(tables: Any) -> Any:
    """``(table, id) -> str | None`` over a ``Strings`` or a mapping of lists."""
    if hasattr(tables, "get") and not isinstance(tables, Mapping):
        return lambda table, ident: tables.get(table, int(ident)) if ident != NONE_ID else None

    def get(table: str, ident: int) -> str | None:
        if ident == NONE_ID or ident < 0:
            return None
        return tables[table][ident]

    return get


def string_table(tables: Any, name: str) -> list[str]:
    """The whole intern table ``name`` (grows over time) from a ``Strings`` or a mapping."""
    if isinstance(tables, Mapping):
        return list(tables.get(name, ()))
    return tables.table(name)
