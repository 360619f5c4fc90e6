"""The flag-kind names used by the snapshot, the engine and analytics are the detectors' own,
in code order (kernels emit codes; screens and analytics index by them)."""

from uxtop.detect import FlagKind
from uxtop.snapshot import FLAG_KINDS


def test_flag_kind_names_follow_the_detector_codes() -> None:
    assert FLAG_KINDS == tuple(k.name.lower() for k in sorted(FlagKind, key=int))
