"""Turn the detectors' columnar ``FlagBatch`` into resolved ``FlagRow``s for snapshots.

Flags are few (a handful per second even under incident), so a Python object per flag is fine
here, unlike events. The adapter reads the documented FlagBatch columns (kind, session_id,
start_ts, end_ts, url, target, count, severity, rule, evidence) and tolerates the two common
encodings of the ragged ones (CSR offsets + values, or one sequence per flag).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from uxtop.batch import NONE_ID, Strings
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

    def session_scores(self, fb: Any, detector: Any) -> dict[int, float]:
        """Per-session friction scores, if the detector publishes them for this batch."""
        for owner, attr in ((fb, "scores"), (fb, "session_scores"), (detector, "scores")):
            val = getattr(owner, attr, None) if owner is not None else None
            if val is None or callable(val):
                continue
            if isinstance(val, dict):
                return {int(k): float(v) for k, v in val.items()}
            sid = getattr(val, "session_id", None)
            score = getattr(val, "score", None)
            if sid is not None and score is not None:
                return {
                    int(a): float(b)
                    for a, b in zip(
                        np.asarray(sid).tolist(), np.asarray(score).tolist(), strict=True
                    )
                }
        return {}

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


def flag_rows(fb: Any, strings: Strings, adapter: FlagAdapter) -> list[FlagRow]:
    if fb is None:
        return []
    kind = _col(fb, "kind")
    if kind is None or len(kind) == 0:
        return []
    n = len(kind)
    # the casts are numpy's, per column: tolist then gives Python ints and floats
    sid = np.asarray(_col(fb, "session_id"), dtype=np.uint64).tolist()
    start = np.asarray(_col(fb, "start_ts"), dtype=np.int64).tolist()
    end_c = _col(fb, "end_ts")
    end = np.asarray(end_c, dtype=np.int64).tolist() if end_c is not None else start
    url = _col(fb, "url")
    target = _col(fb, "target")
    count = _col(fb, "count")
    sev = _col(fb, "severity")
    rules = _rules(fb, n)
    evidence = _evidence(fb, n)
    url_l = np.asarray(url).tolist() if url is not None else [NONE_ID] * n
    tgt_l = np.asarray(target).tolist() if target is not None else [NONE_ID] * n
    cnt_l = np.asarray(count, dtype=np.int64).tolist() if count is not None else [1] * n
    sev_l = np.asarray(sev, dtype=np.float64).tolist() if sev is not None else [1.0] * n
    kinds = np.asarray(kind).tolist() if not isinstance(kind, list) else kind
    kind_name = adapter.kind_name
    res_url, res_target = _resolver(strings, "url"), _resolver(strings, "target")
    # column by column, then one positional construction per flag (thousands per batch under
    # an incident, more with many sessions open: keyword arguments and a conversion per field
    # cost ~1 us a flag more)
    return [
        FlagRow(*f)
        for f in zip(
            [kind_name(k) for k in kinds],
            sid,
            start,
            end,
            [res_url(u) for u in url_l],
            [res_target(t) for t in tgt_l],
            cnt_l,
            sev_l,
            rules,
            evidence,
            strict=True,
        )
    ]


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


def _rules(fb: Any, n: int) -> list[str]:
    rule = _col(fb, "rule")
    if rule is None:
        return [""] * n
    names = _rule_explanations() or _col(fb, "rule_names")
    text: dict[Any, str] = {}  # a few rules: each resolved once per batch
    out = []
    for r in rule.tolist() if hasattr(rule, "tolist") else list(rule):
        t = text.get(r)
        if t is None:
            is_code = isinstance(r, (int, np.integer)) and names is not None
            t = text[r] = str(names[int(r)]) if is_code else str(r)  # type: ignore[index]
        out.append(t)
    return out


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
