"""Precision / recall of the detectors against ground-truth labels (from ``uxtop.synth``).

A flag is a true positive if a label of the same kind and session overlaps its time span
(with ``tolerance_ms`` slack on each side); a label is found if at least one flag matches it.
Several flags inside one labelled episode all count as true positives (a user who clicks a
dead button twice, 3 s apart, produced two dead clicks in one episode).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from uxtop.detect.flags import FLAG_KIND_NAMES


@dataclass(frozen=True)
class KindScore:
    kind: str
    labels: int  # labelled episodes
    found: int  # labelled episodes matched by >= 1 flag
    flags: int
    true_flags: int  # flags matching a label

    @property
    def precision(self) -> float:
        return self.true_flags / self.flags if self.flags else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p == p and r == r and p + r > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": self.labels,
            "found": self.found,
            "flags": self.flags,
            "true_flags": self.true_flags,
            "precision": _r(self.precision),
            "recall": _r(self.recall),
            "f1": _r(self.f1),
        }


@dataclass(frozen=True)
class NegativeScore:
    name: str
    count: int  # hard-negative episodes in the traffic
    trapped: int  # of them overlapped by a false-positive flag of a kind they are a trap for


@dataclass
class EvalResult:
    kinds: list[KindScore]
    negatives: list[NegativeScore]
    false_positives: list[Mapping[str, Any]] = field(default_factory=list)
    missed: list[Any] = field(default_factory=list)

    def kind(self, name: str) -> KindScore:
        return next(k for k in self.kinds if k.kind == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": [k.as_dict() for k in self.kinds],
            "negatives": [
                {"name": n.name, "count": n.count, "trapped": n.trapped} for n in self.negatives
            ],
        }

    def table(self) -> str:
        lines = [
            f"{'kind':<18} {'labels':>7} {'flags':>7} {'TP':>7} {'FP':>6} {'FN':>6} {'precision':>9} {'recall':>7} {'F1':>6}"
        ]
        for k in self.kinds:
            lines.append(
                f"{k.kind:<18} {k.labels:>7} {k.flags:>7} {k.true_flags:>7} {k.flags - k.true_flags:>6} "
                f"{k.labels - k.found:>6} {_f(k.precision):>9} {_f(k.recall):>7} {_f(k.f1):>6}"
            )
        if self.negatives:
            lines.append("")
            lines.append(f"{'hard negative':<18} {'present':>7} {'flagged':>7}")
            for n in self.negatives:
                lines.append(f"{n.name:<18} {n.count:>7} {n.trapped:>7}")
        return "\n".join(lines)


def _r(v: float) -> float | None:
    return None if v != v else round(v, 4)


def _f(v: float) -> str:
    return "-" if v != v else f"{v:.3f}"


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


def evaluate(
    flags: Iterable[Mapping[str, Any]],
    labels: Iterable[Any],
    tolerance_ms: int = 1000,
    traps: Mapping[str, tuple[str, ...]] | None = None,
) -> EvalResult:
    """``flags``: records with kind, sid, start_ts, end_ts (``FlagBatch.to_records``);
    ``labels``: ``synth.Label``s or dicts with sid, kind, start_ts, end_ts[, neg]."""
    if traps is None:
        from uxtop.synth import NEGATIVE_TRAPS

        traps = NEGATIVE_TRAPS
    pos: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    negs: list[Any] = []
    n_labels: dict[str, int] = defaultdict(int)
    for lb in labels:
        kind = _get(lb, "kind")
        if kind.startswith("neg:"):
            negs.append(lb)
            continue
        n_labels[kind] += 1
        pos[(_get(lb, "sid"), kind)].append([_get(lb, "start_ts"), _get(lb, "end_ts"), False, lb])
    n_flags: dict[str, int] = defaultdict(int)
    n_true: dict[str, int] = defaultdict(int)
    fps: list[Mapping[str, Any]] = []
    fp_by_sid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for f in flags:
        kind = f["kind"]
        n_flags[kind] += 1
        lo, hi = f["start_ts"] - tolerance_ms, f["end_ts"] + tolerance_ms
        hit = False
        for ep in pos.get((f["sid"], kind), ()):
            if lo <= ep[1] and hi >= ep[0]:
                ep[2] = True
                hit = True
        if hit:
            n_true[kind] += 1
        else:
            fps.append(f)
            fp_by_sid[f["sid"]].append(f)
    found: dict[str, int] = defaultdict(int)
    missed = []
    for (_, kind), eps in pos.items():
        for ep in eps:
            if ep[2]:
                found[kind] += 1
            else:
                missed.append(ep[3])
    kinds = [KindScore(k, n_labels[k], found[k], n_flags[k], n_true[k]) for k in FLAG_KIND_NAMES]
    neg_count: dict[str, int] = defaultdict(int)
    neg_trapped: dict[str, int] = defaultdict(int)
    for lb in negs:
        name = _get(lb, "kind")[4:]
        neg_count[name] += 1
        trap = traps.get(name, ())
        a, b = _get(lb, "start_ts") - tolerance_ms, _get(lb, "end_ts") + tolerance_ms
        if any(
            f["kind"] in trap and f["start_ts"] <= b and f["end_ts"] >= a
            for f in fp_by_sid.get(_get(lb, "sid"), ())
        ):
            neg_trapped[name] += 1
    negatives = [NegativeScore(n, neg_count[n], neg_trapped[n]) for n in sorted(neg_count)]
    return EvalResult(kinds, negatives, fps, missed)
