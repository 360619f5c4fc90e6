"""Compile the detectors' numba kernels before real data needs them.

A throwaway detector judges a tiny canned session (clicks, moves, scrolls, a failing request),
which forces every kernel through the JIT. With ``cache=True`` kernels this is a one-time cost
per install; either way it runs on its own thread while the first frames are already drawn.
"""

from __future__ import annotations

from typing import Any

from uxtop.batch import Strings

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
