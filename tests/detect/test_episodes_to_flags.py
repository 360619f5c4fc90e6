"""episodes_to_flags merges the episodes of sessions judged in two groups (with and without
carried rows) back into the order one kernel call over the whole run gives them."""

from __future__ import annotations

import numpy as np

from uxtop.detect import kernels as K
from uxtop.detect.config import DetectConfig, RageConfig
from uxtop.detect.detector import episodes_to_flags
from uxtop.detect.flags import FlagKind


def _ep(sess: int, ev: int, count: int = 1, dec: int = 10) -> list[int]:
    row = [0] * K.N_OUT
    row[K.O_SESS], row[K.O_EV0], row[K.O_EV1] = sess, ev, ev
    row[K.O_COUNT], row[K.O_DEC], row[K.O_START] = count, dec, ev
    return row


def test_two_groups_come_out_in_block_then_run_order() -> None:
    cfg = DetectConfig(rage=RageConfig(require_dead=True))  # dead groups count as rage too
    a = {  # group of run sessions 1 and 3, rows 0.. of its own columns (batch rows 100 + i)
        "rage": np.array([_ep(1, 0), _ep(0, 1)], np.int64),
        "dead": np.array([_ep(0, 2, count=cfg.rage.min_clicks)], np.int64),
    }
    b = {  # run sessions 0 and 2, on the batch's columns (batch rows 200 + i)
        "rage": np.array([_ep(0, 3), _ep(1, 4), _ep(1, 5)], np.int64),
        "thrash": np.array([_ep(0, 6)], np.int64),
    }
    parts = [
        (a, np.array([1, 3]), np.arange(100, 110)),
        (b, np.array([0, 2]), np.arange(200, 210)),
    ]
    sid = np.array([50, 51, 52, 53], np.uint64)
    fb = episodes_to_flags(parts, sid, np.full(4, -1, np.int64), cfg)
    c = fb.columns
    got = list(
        zip(c["kind"].tolist(), c["session_id"].tolist(), c["row_start"].tolist(), strict=True)
    )
    rage, dead = int(FlagKind.RAGE_CLICK), int(FlagKind.DEAD_CLICK)
    thrash = int(FlagKind.THRASHED_CURSOR)
    assert got == [
        (rage, 50, 203),  # rage: run 0 (group b), run 1 (a), run 2 (b, its two in order), run 3
        (rage, 51, 101),
        (rage, 52, 204),
        (rage, 52, 205),
        (rage, 53, 100),
        (dead, 51, 102),  # dead, then the same group as a rage click (clicked often enough)
        (rage, 51, 102),
        (thrash, 50, 206),
    ]
    # episodes decided before the session's previous frontier are not reported again
    fprev = np.array([-1, 10, -1, -1], np.int64)
    again = episodes_to_flags(parts, sid, fprev, cfg)
    assert 51 not in again.columns["session_id"].tolist() and len(again) == 5
