"""Per-session friction score: a documented weighted sum, shown with its parts.

    score(session) = sum over its flags f of  weight[kind(f)] * min(severity(f), severity_cap)

``severity`` is 1.0 for a flag just at its threshold and grows with how far past it the episode
went (a 9-click rage burst at min_clicks 3 is 3.0; a 6 s request at request_ms 3000 is 2.0).
Default weights (``ScoreConfig``): rage 3, error 3, dead 2, page loop 2, form struggle 2, slow
interaction 2, thrashed cursor 1, U-turn 1, excessive scroll 1: clicks that fail outrank
restlessness, since they are the stronger evidence of a broken product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.detect.config import ScoreConfig
from uxtop.detect.flags import FLAG_KIND_NAMES, FlagKind
from uxtop.distinct import unique_inverse


@dataclass(frozen=True)
class SessionScores:
    """``score[i] = parts[i].sum()``; ``parts[i, kind]`` is the contribution of each FlagKind."""

    session_id: npt.NDArray[np.uint64]
    score: npt.NDArray[np.float64]
    parts: npt.NDArray[np.float64]

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.session_id.tolist(), self.score.tolist(), strict=False))

    def explain(self, i: int) -> dict[str, float]:
        """Non-zero parts of session row ``i`` by kind name."""
        return {FLAG_KIND_NAMES[k]: round(float(v), 3) for k, v in enumerate(self.parts[i]) if v}


def weight_vector(cfg: ScoreConfig) -> npt.NDArray[np.float64]:
    return np.array([cfg.weights.get(k.label, 0.0) for k in FlagKind], dtype=np.float64)


def session_scores(flags: Any, cfg: ScoreConfig | None = None) -> SessionScores:
    """Scores of every session that has a flag in ``flags`` (a FlagBatch)."""
    cfg = cfg or ScoreConfig()
    sid = np.asarray(flags.columns["session_id"], dtype=np.uint64)
    if sid.shape[0] == 0:
        return SessionScores(np.empty(0, np.uint64), np.empty(0), np.empty((0, len(FlagKind))))
    uniq, inv = unique_inverse(sid)
    kind = flags.columns["kind"].astype(np.int64)
    sev = np.minimum(flags.columns["severity"].astype(np.float64), cfg.severity_cap)
    contrib = weight_vector(cfg)[kind] * sev
    nk = len(FlagKind)
    # bincount adds in input order, as np.add.at would, but without its per-element overhead
    cells = inv.reshape(-1).astype(np.int64) * nk + kind
    # with weights, bincount's sums are float64 (asarray states it for the type checker)
    parts = np.asarray(
        np.bincount(cells, weights=contrib, minlength=uniq.shape[0] * nk), dtype=np.float64
    ).reshape(uniq.shape[0], nk)
    return SessionScores(uniq, parts.sum(axis=1), parts)
