"""Read the detectors' columnar ``FlagBatch``: into columns with coded strings for the engine
(``flag_columns``), into resolved ``FlagRow``s for the screens (``rows_of_columns``).

Flags come by the thousand per batch under an incident, so the engine's path makes no Python
object per flag; rows are made for the few a screen shows. The adapter reads the documented
FlagBatch columns (kind, session_id, start_ts, end_ts, url, target, count, severity, rule,
evidence) and tolerates the two common encodings of the ragged ones (CSR offsets + values, or
one sequence per flag).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from uxtop.batch import NONE_ID, Strings
from uxtop.distinct import unique_inverse
from uxtop.snapshot import FLAG_KINDS, FlagRow


class FlagAdapter:
    def __init__(self) -> None:
        self._kind_names: dict[int, str] = {}

    def kind_name(self, code: Any) -> str:
        if isinstance(code, str):
            return code
        c = int(code)
        name = self._kind_names.get(c)
        if name is None:
            try:
                from uxtop.detect import FlagKind

                name = FlagKind(c).name.lower()
            except (ImportError, ValueError):
                name = FLAG_KINDS[c] if 0 <= c < len(FLAG_KINDS) else f"kind{c}"
            self._kind_names[c] = name
        return name

    def score_arrays(
        self, fb: Any, detector: Any
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
        """Per-session friction scores as (session ids, scores), if the detector publishes
        them for this batch: the first of ``fb.scores``, ``fb.session_scores`` and
        ``detector.scores`` that is a dict or has ``session_id`` and ``score`` arrays."""
        for owner, attr in ((fb, "scores"), (fb, "session_scores"), (detector, "scores")):
            val = getattr(owner, attr, None) if owner is not None else None
            if val is None or callable(val):
                continue
            if isinstance(val, dict):
                return (
                    np.fromiter((int(k) for k in val), np.uint64, len(val)),
                    np.fromiter((float(v) for v in val.values()), np.float64, len(val)),
                )
            sid = getattr(val, "session_id", None)
            score = getattr(val, "score", None)
            if sid is not None and score is not None:
                return (
                    np.asarray(sid).astype(np.uint64, copy=False),
                    np.asarray(score).astype(np.float64, copy=False),
                )
        return np.empty(0, np.uint64), np.empty(0, np.float64)

    def thresholds(self, detector: Any) -> dict[str, tuple[tuple[str, str], ...]]:
        """Config in force per kind: fields of the detector config grouped by kind prefix."""
        cfg = getattr(detector, "cfg", None) or getattr(detector, "config", None)
        if cfg is None:
            return {}
        try:
            flat = (
                msgspec.structs.asdict(cfg) if isinstance(cfg, msgspec.Struct) else dict(vars(cfg))
            )
        except TypeError:
            return {}
        out: dict[str, list[tuple[str, str]]] = {k: [] for k in FLAG_KINDS}
        short = {
            "rage": "rage_click",
            "dead": "dead_click",
            "error": "error_click",
            "thrash": "thrashed_cursor",
            "uturn": "u_turn",
            "u_turn": "u_turn",
            "loop": "page_loop",
            "page_loop": "page_loop",
            "scroll": "excessive_scroll",
            "form": "form_struggle",
            "slow": "slow_interaction",
        }
        for name, value in flat.items():
            if isinstance(value, msgspec.Struct):
                # nested per-kind config: rage=RageConfig(...)
                kind = short.get(name, name if name in out else None)
                if kind is not None:
                    out[kind].extend((k, _fmt(v)) for k, v in msgspec.structs.asdict(value).items())
                continue
            for prefix, kind in short.items():
                if name.startswith(prefix + "_") or name == kind:
                    out[kind].append((name.removeprefix(prefix + "_"), _fmt(value)))
                    break
        return {k: tuple(v) for k, v in out.items() if v}

    def profile(self, detector: Any) -> str:
        cfg = getattr(detector, "cfg", None) or getattr(detector, "config", None)
        if detector is None:
            return "off"
        return str(getattr(cfg, "profile", None) or getattr(detector, "profile", None) or "default")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple, frozenset, set)):
        return ",".join(str(x) for x in v)
    return str(v)


def _col(fb: Any, name: str) -> Any:
    if isinstance(fb, dict):
        return fb.get(name)
    cols = getattr(fb, "columns", None)
    if isinstance(cols, dict) and name in cols:
        return cols[name]
    return getattr(fb, name, None)


def _resolver(strings: Strings, table: str) -> Any:
    """``_res`` for one table, reading the intern table as a list fetched once per batch."""
    names = strings.table(table)
    n_names = len(names)

    def res(v: Any) -> str:
        if type(v) is int and 0 <= v < n_names and v != NONE_ID:
            return names[v] or ""
        return _res(strings, table, v)

    return res


def _res(strings: Strings, table: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None or int(v) == NONE_ID:
        return ""
    return strings.get(table, int(v)) or ""


def _rule_codes(fb: Any, n: int, codes: Any) -> np.ndarray:
    """``codes`` of each flag's rule text: integer rules are explained once per distinct code
    (a batch holds ~10 distinct rules over 100 k+ flags), anything else one by one."""
    rule = _col(fb, "rule")
    if rule is None:
        return codes.codes([""] * n).astype(np.int32)
    names = _rule_explanations() or _col(fb, "rule_names")
    arr = np.asarray(rule)
    if arr.dtype.kind in "iu" and names is not None:
        uniq, inv = unique_inverse(arr)
        return codes.codes([str(names[r]) for r in uniq.tolist()])[inv].astype(np.int32)
    return codes.codes(
        [str(r) for r in (rule.tolist() if hasattr(rule, "tolist") else rule)]
    ).astype(np.int32)


def _rule_explanations() -> tuple[str, ...] | None:
    """The detectors' one-line rule explanations (what a person reads), if published."""
    try:
        from uxtop.detect.flags import RULE_NAMES
    except ImportError:
        return None
    return tuple(RULE_NAMES)


def _evidence(fb: Any, n: int) -> list[tuple[int, ...]]:
    # first and last source row of the events that made the verdict (a span, not a list)
    r0, r1 = _col(fb, "row_start"), _col(fb, "row_end")
    if r0 is not None and r1 is not None:
        return [
            (int(a), int(b)) if a != b else (int(a),)
            for a, b in zip(np.asarray(r0).tolist(), np.asarray(r1).tolist(), strict=True)
        ]
    offs = _col(fb, "evidence_offsets")
    vals = _col(fb, "evidence_rows")
    if offs is not None and vals is not None:
        o = np.asarray(offs).tolist()
        v = np.asarray(vals)
        return [tuple(int(x) for x in v[o[i] : o[i + 1]].tolist()) for i in range(n)]
    ev = _col(fb, "evidence")
    if ev is None:
        return [()] * n
    if isinstance(ev, np.ndarray) and ev.ndim == 2:
        return [tuple(int(x) for x in row if x >= 0) for row in ev.tolist()]
    out: list[tuple[int, ...]] = []
    for e in ev:
        if e is None:
            out.append(())
        elif isinstance(e, (int, np.integer)):
            out.append((int(e),))
        else:
            out.append(tuple(int(x) for x in (e.tolist() if hasattr(e, "tolist") else e)))
    return out


#: a flag as the engine keeps it: strings as codes of a ``StringCodes``, evidence as the first
#: and last source row (-1: none)
FLAG_FIELDS: dict[str, type] = {
    "sid": np.uint64,
    "kind": np.int32,
    "start": np.int64,
    "end": np.int64,
    "url": np.int32,
    "target": np.int32,
    "count": np.int32,
    "severity": np.float64,
    "rule": np.int32,
    "row0": np.int64,
    "row1": np.int64,
}


def flag_columns(
    fb: Any, strings: Strings, adapter: FlagAdapter, codes: Any
) -> dict[str, np.ndarray] | None:
    """The FlagBatch's flags as FLAG_FIELDS columns, strings coded by ``codes`` (a
    ``flag_tally.StringCodes``): the engine's per-batch path, with no Python object per flag.
    Strings are resolved once per distinct id. None when there are no flags."""
    if fb is None:
        return None
    kind = _col(fb, "kind")
    if kind is None or len(kind) == 0:
        return None
    n = len(kind)
    out: dict[str, np.ndarray] = {}
    out["sid"] = np.asarray(_col(fb, "session_id"), dtype=np.uint64)
    out["start"] = np.asarray(_col(fb, "start_ts"), dtype=np.int64)
    end = _col(fb, "end_ts")
    out["end"] = np.asarray(end, dtype=np.int64) if end is not None else out["start"]
    out["kind"] = _coded(kind, adapter.kind_name, codes)
    for name in ("url", "target"):
        col = _col(fb, name)
        res = _resolver(strings, name)
        out[name] = (
            _coded(col, res, codes) if col is not None else codes.codes([""] * n).astype(np.int32)
        )
    count, sev = _col(fb, "count"), _col(fb, "severity")
    out["count"] = np.asarray(count, dtype=np.int32) if count is not None else np.ones(n, np.int32)
    out["severity"] = np.asarray(sev, dtype=np.float64) if sev is not None else np.ones(n)
    out["rule"] = _rule_codes(fb, n, codes)
    r0, r1 = _col(fb, "row_start"), _col(fb, "row_end")
    if r0 is not None and r1 is not None:
        out["row0"] = np.asarray(r0, dtype=np.int64)
        out["row1"] = np.asarray(r1, dtype=np.int64)
    else:  # a list of rows per flag: its first and last
        ev = _evidence(fb, n)
        out["row0"] = np.fromiter((e[0] if e else -1 for e in ev), dtype=np.int64, count=n)
        out["row1"] = np.fromiter((e[-1] if e else -1 for e in ev), dtype=np.int64, count=n)
    return out


def _coded(col: Any, resolve: Any, codes: Any) -> np.ndarray:
    """``codes`` of ``resolve(v)`` for each value of ``col``, resolving each distinct one once."""
    arr = np.asarray(col)
    if arr.dtype.kind in "iu":
        uniq, inv = unique_inverse(arr)
        return codes.codes([resolve(v) for v in uniq.tolist()])[inv].astype(np.int32)
    return codes.codes(
        [resolve(v) for v in (col.tolist() if hasattr(col, "tolist") else col)]
    ).astype(np.int32)


def rows_of_columns(cols: dict[str, np.ndarray], index: Any, names: list[str]) -> list[FlagRow]:
    """FlagRows for the flags ``index`` of FLAG_FIELDS columns (strings from ``names``)."""
    take = {k: v[index].tolist() for k, v in cols.items()}
    return [
        FlagRow(
            names[k],
            s,
            a,
            b,
            names[u],
            names[t],
            c,
            v,
            names[r],
            () if r0 < 0 else (r0,) if r0 == r1 else (r0, r1),
        )
        for s, k, a, b, u, t, c, v, r, r0, r1 in zip(
            take["sid"],
            take["kind"],
            take["start"],
            take["end"],
            take["url"],
            take["target"],
            take["count"],
            take["severity"],
            take["rule"],
            take["row0"],
            take["row1"],
            strict=True,
        )
    ]
