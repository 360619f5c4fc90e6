"""Run parse -> sessionise -> detect over files (what ``uxtop report`` and ``uxtop eval`` do)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from uxtop.batch import EventBatch
from uxtop.detect.config import DetectConfig
from uxtop.detect.detector import Detector
from uxtop.detect.flags import FlagBatch
from uxtop.ingest.config import IngestConfig


def iter_batches(
    sources: Iterable[str | os.PathLike[str] | BinaryIO], ingest_cfg: IngestConfig | None = None
) -> Iterator[tuple[EventBatch, Any]]:
    """``(batch, strings)`` for every ingest step over the files (``-`` for stdin), in order,
    ending with the ingestor's ``finish``. Uses the Rust core (``uxtop.ingest.Ingestor``)."""
    import sys

    from uxtop.ingest import Ingestor, iter_file_batches

    ing = Ingestor(ingest_cfg)
    srcs = [sys.stdin.buffer if str(s) == "-" else s for s in sources]
    for batch in iter_file_batches(srcs, ing):
        yield batch, ing.strings
    iter_batches.last_counters = ing.counters()  # type: ignore[attr-defined]


@dataclass
class Detection:
    """Everything a report needs: all flags, session keys, string tables, counts, timings."""

    flags: FlagBatch
    keys: dict[int, str]
    strings: Any
    events: int = 0
    sessions: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    ingest_s: float = 0.0
    detect_s: float = 0.0
    counters: dict[str, Any] = field(default_factory=dict)


def detect_batches(
    batches: Iterable[tuple[EventBatch, Any]],
    cfg: DetectConfig | None = None,
    on_batch: Callable[[EventBatch, Any, FlagBatch], Any] | None = None,
) -> Detection:
    """Run the detector over ``(batch, strings)``; ``on_batch`` sees each batch with its flags
    (the report feeds analytics this way, in the same pass)."""
    det = Detector(cfg)
    parts: list[FlagBatch] = []
    keys: dict[int, str] = {}
    strings: Any = None
    events = 0
    first_ts: int | None = None
    last_ts: int | None = None
    t_detect = 0.0
    t_total = time.perf_counter()
    for batch, strings in batches:
        if batch.n_sessions:
            keys.update(zip(batch.sessions["session_id"].tolist(), batch.keys, strict=False))
        if len(batch):
            events += len(batch)
            lo, hi = int(batch.columns["ts"].min()), int(batch.columns["ts"].max())
            first_ts = lo if first_ts is None else min(first_ts, lo)
            last_ts = hi if last_ts is None else max(last_ts, hi)
        t = time.perf_counter()
        flags = det.update(batch, strings)
        parts.append(flags)
        t_detect += time.perf_counter() - t
        if on_batch is not None:
            on_batch(batch, strings, flags)
    t = time.perf_counter()
    parts.append(det.finish())
    t_detect += time.perf_counter() - t
    total = time.perf_counter() - t_total
    return Detection(
        flags=FlagBatch.concat(parts),
        keys=keys,
        strings=strings,
        events=events,
        sessions=len(keys),
        first_ts=first_ts,
        last_ts=last_ts,
        ingest_s=total - t_detect,
        detect_s=t_detect,
    )


def detect_files(
    paths: Iterable[str | os.PathLike[str] | BinaryIO],
    cfg: DetectConfig | None = None,
    ingest_cfg: IngestConfig | None = None,
    on_batch: Callable[[EventBatch, Any, FlagBatch], Any] | None = None,
) -> Detection:
    """Whole files: the ``session`` frontier, exact for any line order (nobody waits for
    prompt verdicts on a file; everything is judged by the end)."""
    import msgspec

    cfg = msgspec.structs.replace(cfg or DetectConfig(), frontier="session")
    det = detect_batches(iter_batches(paths, ingest_cfg), cfg, on_batch)
    det.counters = dict(getattr(iter_batches, "last_counters", {}) or {})
    return det


def session_table(det: Detection, cfg: DetectConfig) -> list[dict[str, Any]]:
    """Every session seen, with its friction score and the parts of it, highest first."""
    from uxtop.detect.score import session_scores

    sc = session_scores(det.flags, cfg.score)
    score_of = {int(s): i for i, s in enumerate(sc.session_id.tolist())}
    rows: list[dict[str, Any]] = []
    for sid, key in det.keys.items():
        i = score_of.get(sid)
        rows.append(
            {
                "sid": key,
                "session_id": sid,
                "score": round(float(sc.score[i]), 3) if i is not None else 0.0,
                "parts": sc.explain(i) if i is not None else {},
            }
        )
    rows.sort(key=lambda r: (-r["score"], r["session_id"]))
    return rows


def top_places(det: Detection, n: int = 10) -> list[dict[str, Any]]:
    """Where friction concentrates: (kind, url, target) with flag and session counts."""
    from uxtop.detect.flags import FLAG_KIND_NAMES, string_lookup

    c = det.flags.columns
    if not len(det.flags):
        return []
    key = np.stack(
        [c["kind"].astype(np.int64), c["url"].astype(np.int64), c["target"].astype(np.int64)],
        axis=1,
    )
    uniq, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    sess = np.unique(np.stack([inv.ravel(), c["session_id"].astype(np.int64)], axis=1), axis=0)[
        :, 0
    ]
    n_sess = np.bincount(sess, minlength=uniq.shape[0])
    order = np.lexsort((-counts, -n_sess))[:n]
    look = string_lookup(det.strings)
    return [
        {
            "kind": FLAG_KIND_NAMES[uniq[i, 0]],
            "url": look("url", int(uniq[i, 1])),
            "target": look("target", int(uniq[i, 2])),
            "flags": int(counts[i]),
            "sessions": int(n_sess[i]),
        }
        for i in order
    ]
