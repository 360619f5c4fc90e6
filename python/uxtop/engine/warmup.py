"""Compile the detectors' numba kernels before real data needs them.

A throwaway detector judges a tiny canned session (clicks, moves, scrolls, a failing request),
which forces every kernel through the JIT. With ``cache=True`` kernels this is a one-time cost
per install; either way it runs on its own thread while the first frames are already drawn.
"""

from __future__ import annotations

from typing import Any

from uxtop.batch import Strings
from uxtop.snapshot import Snapshot

_CANNED = (
    b"\n".join(
        [
            b'{"ts":1000,"sid":"w","type":"pageview","url":"/a"}',
            *(
                b'{"ts":%d,"sid":"w","type":"move","url":"/a","x":%d,"y":%d}'
                % (1100 + i * 20, 10 + i * 7, 50 + (i % 5) * 9)
                for i in range(20)
            ),
            *(
                b'{"ts":%d,"sid":"w","type":"click","url":"/a","target":"button#go","tag":"button","x":100,"y":100}'
                % (2000 + i * 150)
                for i in range(5)
            ),
            b'{"ts":2100,"sid":"w","type":"request","url":"/a","route":"POST /api/go","status":500,"dur":1800}',
            b'{"ts":2200,"sid":"w","type":"error","url":"/a","msg":"boom"}',
            *(
                b'{"ts":%d,"sid":"w","type":"scroll","url":"/a","sy":%d,"sh":3000,"vh":800}'
                % (3000 + i * 100, (i % 2) * 1500)
                for i in range(8)
            ),
            b'{"ts":4000,"sid":"w","type":"focus","url":"/a","target":"input#email","tag":"input"}',
            b'{"ts":4500,"sid":"w","type":"input","url":"/a","target":"input#email","tag":"input"}',
            b'{"ts":5000,"sid":"w","type":"blur","url":"/a","target":"input#email","tag":"input"}',
            b'{"ts":6000,"sid":"w","type":"pageview","url":"/b"}',
            b'{"ts":6500,"sid":"w","type":"pageview","url":"/a"}',
            b'{"ts":40000,"sid":"w","type":"click","url":"/a","target":"div.card","x":300,"y":300}',
        ]
    )
    + b"\n"
)


def warm_detector(detector_cls: Any, cfg: Any) -> None:
    from uxtop.ingest.reference import reference_ingest, result_to_batch

    batch, tables = result_to_batch(reference_ingest(_CANNED))
    strings = Strings(lambda name, start: tables[name][start:])
    det = detector_cls(cfg) if cfg is not None else detector_cls()
    det.update(batch, strings)
    fin = getattr(det, "finish", None)
    if callable(fin):
        fin()


class _Chunks:
    """A source serving fixed chunks, one per read: sessions span batches, as in a live feed."""

    name = "warm-up"

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)

    def read(self, max_bytes: int) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""

    @property
    def done(self) -> bool:
        return not self._chunks

    def close(self) -> None:
        pass


def _canned_stream(loops: int = 4, span_ms: int = 45_000) -> list[bytes]:
    """The canned session replayed ``loops`` times under three ids (so sessions continue from
    one batch into the next and some end), with times moved forward by ``span_ms`` per loop."""
    lines = _CANNED.splitlines()
    out: list[bytes] = []
    for loop in range(loops):
        chunk: list[bytes] = []
        for sid in (b"w", b"x%d" % loop, b"y%d" % (loop // 2)):
            for line in lines:
                head, _, rest = line.partition(b',"sid":"w"')
                ts = int(head[len(b'{"ts":') :])
                chunk.append(b'{"ts":%d,"sid":"%s"%s' % (ts + loop * span_ms + len(sid), sid, rest))
        chunk.sort(key=lambda ln: int(ln[6 : ln.index(b",")]))
        out.append(b"\n".join(chunk) + b"\n")
    return out


def warm_pipeline(detector: Any, analytics: Any) -> Snapshot:
    """Run a throwaway engine (real ingestor, the given throwaway detector and analytics) over a
    few canned batches, so the kernels only real streams reach (rows carried across batches,
    the analytics' series, keymaps and journeys) compile here and not on the analysis thread
    when the first real batch arrives (~0.1-0.2 s holding the GIL, even from numba's cache)."""
    from uxtop.engine.core import Engine

    eng = Engine(
        [_Chunks(_canned_stream())],
        detector=detector if detector is not None else False,
        analytics=analytics if analytics is not None else False,
        warmup_detectors=False,
        publish_interval=0.0,
        pace_full_gc=False,  # a few batches; the real engine or the app owns the GC pacing
    )
    snap = eng.run_until_done(60.0)
    warm_keymap()
    return snap


def warm_keymap() -> None:
    """Every ``KeyMap`` kernel, eviction and ring compaction included: the canned stream never
    fills a map to its cap, and the first eviction on a live stream compiled ``_evict_kernel``
    on the analysis thread (measured on a fresh install: 0.45 s holding it)."""
    import numpy as np

    from uxtop.analytics.keymap import KeyMap

    m = KeyMap(16)
    rows, _ = m.insert(np.arange(64, dtype=np.int64))
    m.get(rows[:4])
    m.pop(np.arange(8, dtype=np.int64))
    m.evict(8)
    m.items()
    m._compact_ring()


def warm_heat_kernel() -> bool:
    """Compile the heat grids' numba pass and switch ``HeatGrids`` to it (False: numba missing)."""
    from uxtop.engine.aggregates import HeatGrids
    from uxtop.ingest.reference import reference_ingest, result_to_batch

    try:
        from uxtop.engine import heat_kernel
    except ImportError:
        return False
    batch, _ = result_to_batch(reference_ingest(_CANNED))
    HeatGrids()._add_kernel(batch, heat_kernel)
    HeatGrids.kernels = heat_kernel
    return True
