"""Every kernel equals its plain-Python reference (uxtop.detect.reference)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uxtop.detect import kernels as K
from uxtop.detect.classify import ClassTable
from uxtop.detect.config import PROFILES, DetectConfig
from uxtop.detect.detector import KERNELS, KernelParams, run_kernels
from uxtop.detect.reference import reference_episodes

from .gen import build_batch, session_events, tables


def kernel_episodes(
    batch, cfg: DetectConfig, tabs, separate: bool = False
) -> dict[str, list[tuple]]:
    rules = (cfg.ignore, cfg.ignore_rage, cfg.ignore_dead)
    tag_bits = ClassTable(*rules).extend(tabs["tag"])
    target_bits = ClassTable(*rules).extend(tabs["target"])
    cols = {k: np.ascontiguousarray(v) for k, v in batch.columns.items()}
    n = batch.n_sessions
    start_rows = np.repeat(batch.offsets[:-1][None, :], len(KERNELS), axis=0).copy()
    frontier = np.full(n, K.I64_MAX, dtype=np.int64)
    # all nine at once, or one at a time (each must find the same episodes)
    if separate:
        outs = {}
        for name in KERNELS:
            one, need, _ = run_kernels(
                cols,
                batch.offsets,
                start_rows,
                frontier,
                KernelParams.of(cfg),
                tag_bits,
                target_bits,
                (name,),
            )
            outs[name] = one[name]
            assert all(len(v) == 0 for k, v in one.items() if k != name)
    else:
        outs, need, _ = run_kernels(
            cols, batch.offsets, start_rows, frontier, KernelParams.of(cfg), tag_bits, target_bits
        )
    res = {}
    for name, o in outs.items():
        res[name] = sorted(
            (
                int(r[K.O_SESS]),
                int(r[K.O_START]),
                int(r[K.O_END]),
                int(r[K.O_COUNT]),
                int(r[K.O_RULE]),
                int(r[K.O_TIER]),
                int(r[K.O_TARGET]),
                int(r[K.O_URL]),
                int(r[K.O_EV0]),
                int(r[K.O_EV1]),
            )
            for r in o
        )
    return res, tag_bits, target_bits


def check(sessions, cfg: DetectConfig) -> dict[str, int]:
    tabs = tables()
    batch = build_batch(sessions)
    got, tag_bits, target_bits = kernel_episodes(batch, cfg, tabs)
    assert (
        kernel_episodes(batch, cfg, tabs, separate=True)[0] == got
    )  # one at a time == all together
    want = reference_episodes(batch.columns, batch.offsets, cfg, tag_bits, target_bits)
    for name in KERNELS:
        w = sorted(want[name]) if not (name == "rage" and cfg.rage.require_dead) else []
        assert got[name] == w, f"{name} ({cfg.profile}): kernel {got[name]} != reference {w}"
    return {k: len(v) for k, v in got.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(session_events(), min_size=1, max_size=6), st.sampled_from(PROFILES))
def test_kernels_equal_reference(sessions, profile):
    cfg = DetectConfig.for_profile(profile)
    # small thresholds so the random sessions actually fire every detector
    import msgspec

    cfg = msgspec.structs.replace(
        cfg,
        thrash=msgspec.structs.replace(
            cfg.thrash, min_reversals=3, chain_gap_ms=1500, window_ms=3000
        ),
        scroll=msgspec.structs.replace(cfg.scroll, min_reversals=2),
        form=msgspec.structs.replace(cfg.form, min_returns=1, hesitation_ms=3000),
    )
    check(sessions, cfg)


def test_reference_and_kernels_agree_on_synthetic_traffic():
    """Realistic sessions (every kind and hard negative present) through both implementations."""
    from uxtop import synth

    data = synth.generate_columnar(synth.SynthConfig(seed=3, sessions=150))
    cfg = DetectConfig()
    got, tag_bits, target_bits = kernel_episodes(data.batch, cfg, data.tables)
    want = reference_episodes(data.batch.columns, data.batch.offsets, cfg, tag_bits, target_bits)
    for name in KERNELS:
        assert got[name] == sorted(want[name]), name
        assert got[name], f"{name} found nothing in 150 generated sessions"


def test_numpy_peer_equals_kernels():
    """The vectorised numpy rules (benchmark peer) give the kernels' episodes."""
    from uxtop.detect.bench import build_bench_batch
    from uxtop.detect.vectorized import VECTORIZED_KINDS, vectorized_episodes

    bb = build_bench_batch(120_000, seed=4)
    cfg = DetectConfig()
    n = bb.n_sessions
    start_rows = np.ascontiguousarray(np.repeat(bb.offsets[:-1][None, :], len(KERNELS), axis=0))
    outs, _, _ = run_kernels(
        bb.cols,
        bb.offsets,
        start_rows,
        np.full(n, K.I64_MAX, dtype=np.int64),
        KernelParams.of(cfg),
        bb.tag_bits,
        bb.target_bits,
    )
    vec = vectorized_episodes(bb.cols, bb.offsets, cfg, bb.tag_bits, bb.target_bits)
    for name in VECTORIZED_KINDS:
        got = sorted(
            tuple(
                int(v)
                for v in r[
                    [
                        K.O_SESS,
                        K.O_START,
                        K.O_END,
                        K.O_COUNT,
                        K.O_RULE,
                        K.O_TIER,
                        K.O_TARGET,
                        K.O_URL,
                        K.O_EV0,
                        K.O_EV1,
                    ]
                ]
            )
            for r in outs[name]
        )
        assert got == sorted(vec[name]) and got, name


@given(
    segs=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 9), st.integers(0, 30), st.integers(0, 9)),
        max_size=40,
    ),
)
@settings(max_examples=200, deadline=None)
def test_join_carried_equals_concatenated_slices(segs) -> None:
    from uxtop.detect.detector import CARRY_COLUMNS

    rng = np.random.default_rng(len(segs))
    a = {k: rng.integers(0, 100, 40).astype(t) for k, t in CARRY_COLUMNS.items()}
    b = {k: rng.integers(100, 200, 40).astype(t) for k, t in CARRY_COLUMNS.items()}
    a_start, a_len, b_start, b_len = (np.array([s[i] for s in segs], np.int64) for i in range(4))
    total = int(a_len.sum() + b_len.sum())
    got = {k: np.full(total, 7, t) for k, t in CARRY_COLUMNS.items()}
    K.join_carried(
        K.CarryColumns(**a), a_start, a_len, K.CarryColumns(**b), b_start, b_len,
        K.CarryColumns(**got),
    )  # fmt: skip
    for k, t in CARRY_COLUMNS.items():
        parts = [p for s in segs for p in (a[k][s[0] : s[0] + s[1]], b[k][s[2] : s[2] + s[3]])]
        want = np.concatenate(parts) if parts else np.empty(0, t)
        assert got[k].dtype == t and np.array_equal(got[k], want), k


@settings(max_examples=200, deadline=None)
@given(
    old=st.dictionaries(st.integers(0, 60), st.integers(1, 9), max_size=30),
    new=st.dictionaries(st.integers(0, 60), st.integers(1, 9), max_size=30),
    closed=st.sets(st.integers(0, 70), max_size=20),
)
def test_merge_running_scores_equals_a_dict_model(
    old: dict[int, int], new: dict[int, int], closed: set[int]
) -> None:
    """Running parts: a batch's sessions add to theirs (or start), closed ones go; the batch's
    rows come back as running totals (closed or not)."""
    nk = 3

    def parts(d: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array(sorted(d), np.uint64)
        p = np.array([[d[i] * (k + 1) for k in range(nk)] for i in sorted(d)], np.float64)
        return ids, p.reshape(len(d), nk)

    sid, have = parts(old)
    ids, add = parts(new)
    out_sid = np.empty(len(old) + len(new), np.uint64)
    out_parts = np.empty((len(old) + len(new), nk), np.float64)
    m = K.merge_running_scores(
        sid, have, ids, add, np.array(sorted(closed), np.uint64), out_sid, out_parts
    )
    model = {i: old.get(i, 0) + new.get(i, 0) for i in set(old) | set(new)}
    live = {i: v for i, v in model.items() if i not in closed}
    assert out_sid[:m].tolist() == sorted(live)
    assert out_parts[:m].tolist() == [[live[i] * (k + 1) for k in range(nk)] for i in sorted(live)]
    assert add.tolist() == [[model[i] * (k + 1) for k in range(nk)] for i in sorted(new)]
