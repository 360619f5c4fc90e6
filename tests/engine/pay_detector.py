"""A stand-in detector for the engine's tests: flags every click on ``button#pay``, so the
tests are about the engine's plumbing; the real detectors are tested in tests/detect."""

from __future__ import annotations

from typing import Any

import numpy as np


class PayDetector:
    """Flags each click on button#pay as a rage click (engine plumbing only)."""

    cfg = None

    def update(self, batch: Any, strings: Any) -> dict[str, np.ndarray]:
        kind, tgt = batch.kind, batch.target
        pay = [
            i
            for i in range(len(batch))
            if kind[i] == 1 and tgt[i] >= 0 and strings.get("target", int(tgt[i])) == "button#pay"
        ]
        sid_of_row = np.repeat(batch.sessions["session_id"], np.diff(batch.offsets))
        idx = np.asarray(pay, dtype=np.int64)
        return {
            "kind": np.zeros(len(idx), np.uint8),
            "session_id": sid_of_row[idx] if len(idx) else np.zeros(0, np.uint64),
            "start_ts": batch.ts[idx],
            "end_ts": batch.ts[idx],
            "url": batch.url[idx],
            "target": batch.target[idx],
            "count": np.ones(len(idx), np.int32),
            "severity": np.ones(len(idx), np.float32),
            "rule": np.zeros(len(idx), np.uint8),
            "row_start": batch.row[idx],
            "row_end": batch.row[idx],
        }
