"""Friction detectors: numba kernels over columnar event batches, streaming across batches.

det = Detector(DetectConfig.for_profile("uxtop"))
for batch in ingestor_batches:
    flags = det.update(batch, ingestor.strings)   # FlagBatch, columnar
flags = det.finish()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uxtop.detect.config import PROFILES, DetectConfig, DetectorConfig
from uxtop.detect.flags import (
    FLAG_COLUMNS,
    FLAG_KIND_NAMES,
    RULE_NAMES,
    FlagBatch,
    FlagKind,
    Rule,
    Tier,
)
from uxtop.detect.score import SessionScores, session_scores

if TYPE_CHECKING:
    from uxtop.detect.detector import KERNELS, Detector, run_kernels
    from uxtop.detect.files import Detection, detect_batches, detect_files, iter_batches

#: names whose modules import numba (~0.3 s, more from a cold disk), loaded on first use so
#: that the CLI and the TUI's first frame do not wait for it (PEP 562)
_LAZY = {
    "KERNELS": "uxtop.detect.detector",
    "Detector": "uxtop.detect.detector",
    "run_kernels": "uxtop.detect.detector",
    "Detection": "uxtop.detect.files",
    "detect_batches": "uxtop.detect.files",
    "detect_files": "uxtop.detect.files",
    "iter_batches": "uxtop.detect.files",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uxtop.detect' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FLAG_COLUMNS",
    "FLAG_KIND_NAMES",
    "KERNELS",
    "PROFILES",
    "RULE_NAMES",
    "DetectConfig",
    "DetectorConfig",
    "Detection",
    "Detector",
    "FlagBatch",
    "detect_batches",
    "detect_files",
    "iter_batches",
    "FlagKind",
    "Rule",
    "SessionScores",
    "Tier",
    "run_kernels",
    "session_scores",
]
