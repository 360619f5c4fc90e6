"""Friction detectors: numba kernels over columnar event batches, streaming across batches.

det = Detector(DetectConfig.for_profile("uxtop"))
for batch in ingestor_batches:
    flags = det.update(batch, ingestor.strings)   # FlagBatch, columnar
flags = det.finish()
"""

from uxtop.detect.config import PROFILES, DetectConfig, DetectorConfig
from uxtop.detect.detector import KERNELS, Detector, run_kernels
from uxtop.detect.files import Detection, detect_batches, detect_files, iter_batches
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
