"""FlagTally folds a batch of flags at once; it must equal folding them one by one."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
import pytest

from uxtop.engine.aggregates import CLICK_FLAG_KINDS
from uxtop.engine.flag_tally import FlagTally, SeenPairs
from uxtop.snapshot import SERIES_BUCKET_MS, FlagRow
from uxtop.urls import page_template

KINDS = ("rage_click", "dead_click", "error_click", "u_turn", "slow_interaction")


def random_flags(rng: random.Random, n: int, t0: int) -> list[FlagRow]:
    return [
        FlagRow(
            kind=rng.choice(KINDS),
            session_id=rng.randrange(1, 60),
            start_ts=t0 + rng.randrange(0, 40_000),
            end_ts=t0 + 40_000,
            url=rng.choice(["/", "/cart", "/product/12", "/product/13", "/a*b"]),
            target=rng.choice(["", "button#pay", "a.more", "div"]),
            count=1,
            severity=1.0,
            rule="",
        )
        for _ in range(n)
    ]


class OneByOne:
    """The meaning: each flag folded on its own, sessions remembered per key in sets."""

    def __init__(self) -> None:
        self.page_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.page_sessions: dict[str, set[int]] = defaultdict(set)
        self.element_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.element_sessions: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.url_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.url_sessions: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.buckets: Counter[tuple[str, int]] = Counter()
        self.ranking: Counter[object] = Counter()

    def add(self, f: FlagRow) -> None:
        page = page_template(f.url)
        self.page_counts[page][f.kind] += 1
        self.page_sessions[page].add(f.session_id)
        self.buckets[(f.kind, f.start_ts // SERIES_BUCKET_MS)] += 1
        self.ranking[page] += 1
        if f.kind in CLICK_FLAG_KINDS and f.target:
            for counts, sessions, key in (
                (self.element_counts, self.element_sessions, (page, f.target)),
                (self.url_counts, self.url_sessions, (f.url, f.target)),
            ):
                counts[key][f.kind] += 1
                sessions[key].add(f.session_id)


def add_rows(tally: FlagTally, rows: list[FlagRow]) -> None:
    """One batch of resolved flags into ``tally``, coded as the engine's columns are."""
    codes = tally.strings.codes
    tally.add_codes(
        codes([f.kind for f in rows]),
        codes([f.url for f in rows]),
        codes([f.target for f in rows]),
        np.array([f.session_id for f in rows], dtype=np.uint64),
        np.array([f.start_ts for f in rows], dtype=np.int64),
        now_ts=0,  # no decay: the ranking is a plain sum here
    )


@pytest.mark.parametrize("seed", range(5))
def test_batched_tally_equals_folding_flags_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    tally, ref = FlagTally(), OneByOne()
    for b in range(6):
        rows = random_flags(rng, rng.randrange(1, 300), t0=1_000_000 + b * 40_000)
        add_rows(tally, rows)
        for f in rows:
            ref.add(f)
    assert tally.total == sum(ref.buckets.values())
    assert tally.page_counts == {k: dict(v) for k, v in ref.page_counts.items()}
    assert tally.element_counts == {k: dict(v) for k, v in ref.element_counts.items()}
    assert tally.url_element_counts == {k: dict(v) for k, v in ref.url_counts.items()}
    assert dict(tally.page_sessions) == {k: len(v) for k, v in ref.page_sessions.items()}
    assert dict(tally.element_sessions) == {k: len(v) for k, v in ref.element_sessions.items()}
    assert dict(tally.url_element_sessions) == {k: len(v) for k, v in ref.url_sessions.items()}
    got = {(k, b): n for k, d in tally.kinds.buckets.items() for b, n in d.items()}
    assert got == dict(ref.buckets)
    assert tally.pages.values == {k: float(v) for k, v in ref.ranking.items()}
    # a literal * in a URL is not a template's wildcard
    assert "/a?b" in tally.page_counts


def test_new_keys_stop_at_the_cap_but_known_keys_keep_counting() -> None:
    tally = FlagTally(max_keys=2)
    rows = [
        FlagRow("dead_click", s, 1000, 1000, url, "a", 1, 1.0, "")
        for s, url in enumerate(["/a", "/b", "/c", "/a"])
    ]
    add_rows(tally, rows)
    assert tally.page_counts == {"/a": {"dead_click": 2}, "/b": {"dead_click": 1}}
    assert dict(tally.page_sessions) == {"/a": 2, "/b": 1}


def test_seen_pairs_remember_at_least_cap_pairs_and_stay_bounded() -> None:
    seen = SeenPairs(cap=1000)
    rng = np.random.default_rng(3)
    first = np.unique(rng.integers(0, 2**63, 500, dtype=np.uint64))
    assert seen.first_seen(first).all()
    assert not seen.first_seen(first).any()  # remembered
    for _ in range(20):
        batch = np.unique(rng.integers(0, 2**63, 300, dtype=np.uint64))
        fresh = seen.first_seen(batch)
        assert fresh.all()  # random 63-bit values: none seen before
        # bounded: two generations, the young one at most cap plus one batch
        assert len(seen) <= 2 * (1000 + 300)
    # long gone: 6 000 newer pairs pushed the first ones out, so they count as new again
    assert seen.first_seen(first).all()
    # within a batch, hashes already seen and new ones are told apart
    mixed = np.unique(np.concatenate([first[:10], np.array([1, 2, 3], dtype=np.uint64)]))
    assert seen.first_seen(mixed).sum() == 3


def test_seen_pairs_answer_as_a_set_of_the_recent_pairs_would() -> None:
    # inserts of every size into a young generation that grows and rotates; checked against
    # plain sets of the two generations
    rng = np.random.default_rng(5)
    seen = SeenPairs(cap=150_000)
    young: set[int] = set()
    old: set[int] = set()
    pool = rng.integers(0, 2**40, 400_000, dtype=np.uint64)  # repeats across batches
    for size in [1, 3, 70_000, 2, 90_000, 5_000, 1, 120_000, 40_000, 7]:
        batch = np.unique(rng.choice(pool, size))
        want = np.array([int(h) not in young and int(h) not in old for h in batch.tolist()])
        assert np.array_equal(seen.first_seen(batch), want)
        young.update(batch[want].tolist())  # only the new ones go in
        if len(young) > 150_000:
            old, young = young, set()
        assert len(seen) == len(young) + len(old)
        assert np.array_equal(seen._young, np.array(sorted(young), np.uint64))
