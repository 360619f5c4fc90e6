"""Streaming == one-shot: state carries across batches, a burst split by a batch boundary is
flagged exactly once, verdicts wait for the frontier, dormant sessions wake up."""

from __future__ import annotations

from unittest.mock import patch

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uxtop.detect import DetectConfig, Detector, FlagBatch, FlagKind
from uxtop.detect import detector as detector_module
from uxtop.detect.config import PROFILES
from uxtop.schema import Kind

from .gen import T0, build_batch, session_events, split_stream, tables


def flag_set(fb: FlagBatch) -> list[tuple]:
    c = fb.sorted().columns
    keys = (
        "session_id",
        "kind",
        "start_ts",
        "end_ts",
        "count",
        "rule",
        "tier",
        "target",
        "url",
        "row_start",
        "row_end",
    )
    return list(zip(*(c[k].tolist() for k in keys), strict=False))


def one_shot(sessions, cfg) -> list[tuple]:
    for s_i, s in enumerate(sessions):
        for j, e in enumerate(s):
            e["row"] = s_i * 10_000 + j
    det = Detector(cfg)
    return flag_set(FlagBatch.concat([det.update(build_batch(sessions), tables()), det.finish()]))


def streamed(sessions, cuts, cfg) -> list[tuple]:
    det = Detector(cfg)
    parts = [det.update(b, tables()) for b in split_stream(sessions, cuts)]
    parts.append(det.finish())
    assert det.open_sessions == 0 and det.carried_events == 0
    return flag_set(FlagBatch.concat(parts))


def small_thresholds(cfg: DetectConfig) -> DetectConfig:
    r = msgspec.structs.replace
    return r(
        cfg,
        hold_ms=0,
        thrash=r(cfg.thrash, min_reversals=3, chain_gap_ms=1500, window_ms=3000),
        scroll=r(cfg.scroll, min_reversals=2),
        form=r(cfg.form, min_returns=1, hesitation_ms=3000),
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(session_events(), min_size=1, max_size=5),
    st.lists(st.integers(0, 200_000), max_size=8),
    st.sampled_from(PROFILES),
    st.sampled_from(["watermark", "session"]),
)
def test_streaming_equals_one_shot(sessions, offsets, profile, frontier):
    cfg = msgspec.structs.replace(
        small_thresholds(DetectConfig.for_profile(profile)), frontier=frontier
    )
    want = one_shot(sessions, cfg)
    got = streamed(sessions, [T0 + o for o in offsets], cfg)
    assert got == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(session_events(max_segments=8), min_size=2, max_size=8),
    st.lists(st.integers(0, 200_000), min_size=1, max_size=10),
)
def test_streaming_equals_one_shot_with_every_tombstone_squeezed(sessions, offsets):
    # the open-session table squeezes closed sessions' rows out as soon as there is one (and
    # re-sorts when a session is released after a later-started one): same flags
    cfg = small_thresholds(DetectConfig())
    want = one_shot(sessions, cfg)
    with patch.object(detector_module, "_SQUEEZE_MIN", 0):
        got = streamed(sessions, [T0 + o for o in offsets], cfg)
    assert got == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(session_events(max_segments=8), min_size=1, max_size=6),
    st.lists(st.integers(0, 200_000), max_size=10),
    st.booleans(),
)
def test_running_scores_equal_scoring_every_flag_so_far(sessions, offsets, squeeze_all):
    # each batch's scores are its flagged sessions' scores over all their flags so far (the
    # detector keeps them in the open-session table, so tombstones and squeezes move them)
    from uxtop.detect.score import session_scores

    cfg = small_thresholds(DetectConfig())
    det = Detector(cfg)
    seen: list[FlagBatch] = []
    with patch.object(detector_module, "_SQUEEZE_MIN", 0 if squeeze_all else 1024):
        batches = [
            det.update(b, tables()) for b in split_stream(sessions, [T0 + o for o in offsets])
        ]
        batches.append(det.finish())
    for fb in batches:
        seen.append(fb)
        if not len(fb):
            assert fb.scores is None
            continue
        want = session_scores(FlagBatch.concat(seen), cfg.score)
        got = fb.scores
        assert got is not None
        at = np.searchsorted(want.session_id, got.session_id)
        assert np.array_equal(want.session_id[at], got.session_id)
        assert np.allclose(want.parts[at], got.parts) and np.allclose(want.score[at], got.score)
        assert set(got.session_id.tolist()) == set(fb.columns["session_id"].tolist())


def test_open_session_table_stays_sorted_and_squeezes() -> None:
    st_ = detector_module._State()
    nk = st_.skip.shape[1]

    def rows(sids: list[int]) -> dict[str, np.ndarray]:
        m = len(sids)
        v = {
            k: np.arange(m, dtype=np.int64) + 100 * s
            for k, s in zip(
                ("next_pos", "fprev", "end_ts", "next_dec", "start", "length"),
                range(6),
                strict=True,
            )
        }
        v["skip"] = np.ones((m, nk), np.int64)
        v["sid"] = np.asarray(sids, np.uint64)
        return v

    st_.append(rows([5, 9]))
    st_.append(rows([12]))
    st_.append(rows([3, 7]))  # released late: the table is sorted again, values with their ids
    assert st_.sid[: st_.n].tolist() == [3, 5, 7, 9, 12]
    assert st_.next_pos[: st_.n].tolist() == [0, 0, 1, 1, 0]
    st_.alive[[0, 1, 3]] = False
    st_.n_alive -= 3
    with patch.object(detector_module, "_SQUEEZE_MIN", 0):
        st_.squeeze()
    assert st_.sid[: st_.n].tolist() == [7, 12] and st_.n_alive == 2
    assert st_.alive[: st_.n].all()
    st_.append(rows(list(range(20, 2100))))  # grows past its first capacity
    assert st_.n == 2082 and np.all(np.diff(st_.sid[: st_.n].astype(np.int64)) > 0)


def _rage_session(start: int) -> list[dict]:
    base = {
        "url": 0,
        "target": 0,
        "tag": 0,
        "y": 300,
        "sy": -(2**31),
        "value": float("nan"),
        "status": 0,
        "flags": 0,
    }
    return [{**base, "ts": start + k * 400, "kind": int(Kind.CLICK), "x": 500} for k in range(6)]


def test_burst_split_across_batches_is_flagged_once():
    sessions = [_rage_session(T0)]
    cfg = DetectConfig()
    want = one_shot([_rage_session(T0)], cfg)
    rage = [f for f in want if f[1] == FlagKind.RAGE_CLICK]
    assert len(rage) == 1 and rage[0][4] == 6  # one flag with the whole burst
    for cut in range(T0 - 1, T0 + 2400, 100):  # every possible boundary inside the burst
        assert streamed([_rage_session(T0)], [cut], msgspec.structs.replace(cfg, hold_ms=0)) == want
    del sessions


def test_verdict_waits_for_the_frontier_then_dormant_session_wakes():
    """A dead click needs 7 s of future: no flag until the watermark passes, then one flag even
    though the session sends nothing more (it is carried, then woken by the watermark)."""
    base = {
        "url": 0,
        "tag": 0,
        "target": 0,
        "y": 300,
        "x": 500,
        "sy": -(2**31),
        "value": float("nan"),
        "status": 0,
        "flags": 0,
    }
    click = {**base, "ts": T0, "kind": int(Kind.CLICK), "row": 0}
    det = Detector(DetectConfig(hold_ms=0))
    first = det.update(build_batch([[click]], closed=[False], watermark=T0 + 1), tables())
    assert len(first.of_kind(FlagKind.DEAD_CLICK)) == 0 and det.open_sessions == 1
    # another session's batch moves the watermark just short of the verdict: still nothing
    other = {**base, "ts": T0 + 6_000, "kind": int(Kind.MOVE), "row": 1}
    mid = det.update(
        build_batch([[other]], session_ids=[1], closed=[False], watermark=T0 + 7_000), tables()
    )
    assert len(mid.of_kind(FlagKind.DEAD_CLICK)) == 0
    late = det.update(
        build_batch(
            [[{**other, "ts": T0 + 9_000}]], session_ids=[1], closed=[False], watermark=T0 + 9_001
        ),
        tables(),
    )
    dead = late.of_kind(FlagKind.DEAD_CLICK)
    assert len(dead) == 1 and int(dead.session_id[0]) == 0
    assert len(det.finish().of_kind(FlagKind.DEAD_CLICK)) == 0  # not again


def test_carry_stays_small_on_long_sessions():
    """Carried rows are bounded by what is undecided, not by session length."""
    base = {
        "url": 0,
        "tag": 0,
        "target": 0,
        "y": 300,
        "sy": -(2**31),
        "value": float("nan"),
        "status": 0,
        "flags": 0,
    }
    det = Detector(DetectConfig(hold_ms=0))
    t = T0
    for step in range(50):
        evs = []
        for _ in range(200):
            t += 50
            evs.append({**base, "ts": t, "kind": int(Kind.MOVE), "x": 500 + (t // 50) % 7 * 10})
        if step == 25:  # a calm stretch: after it almost nothing needs carrying
            for _ in range(40):
                t += 50
                evs.append({**base, "ts": t, "kind": int(Kind.MOVE), "x": 900})
        det.update(build_batch([evs], closed=[False], watermark=t + 1), tables())
    assert det.open_sessions == 1
    # a never-ending jitter chain is cut at thrash.max_episode_ms (60 s = 1200 moves here)
    assert det.carried_events <= 1300, det.carried_events
