"""The engine runs full garbage collections on a clock while it runs, and gives them back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from uxtop.engine import BytesSource, Engine
from uxtop.engine.gc_pacing import FullCollections


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_full_collections_follow_the_clock_not_allocation() -> None:
    now = [100.0]
    pacer = FullCollections(interval=30.0, clock=lambda: now[0])
    t0, t1, t2 = gc.get_threshold()
    assert pacer.take()
    assert gc.get_threshold()[:2] == (t0, t1) and gc.get_threshold()[2] > 10**8
    gen2 = gc.get_stats()[2]["collections"]
    _ = [[i] for i in range(200_000)]  # promotions that would trigger one automatically
    pacer.tick()
    now[0] += 29.0
    pacer.tick()
    assert pacer.collections == 0 and gc.get_stats()[2]["collections"] == gen2
    now[0] += 1.0
    pacer.tick()
    assert pacer.collections == 1 and gc.get_stats()[2]["collections"] == gen2 + 1
    pacer.release()
    assert gc.get_threshold() == (t0, t1, t2)


def test_a_second_pacer_leaves_them_to_the_first() -> None:
    first, second = FullCollections(), FullCollections()
    assert first.take()
    assert not second.take() and not second.active
    second.release()  # nothing taken: nothing restored
    assert gc.get_threshold()[2] > 10**8
    first.release()
    assert gc.get_threshold()[2] < 10**8


LINES = b"".join(
    b'{"ts":%d,"sid":"s%d","type":"click","url":"/","target":"a"}\n' % (1000 + i, i % 7)
    for i in range(500)
)


def test_an_engine_run_gives_the_thresholds_back(thresholds: tuple[int, int, int]) -> None:
    lines = LINES
    eng = Engine([BytesSource(lines)], detector=False, analytics=False)
    snap = eng.run_until_done(30)
    assert snap.events == 500
    assert gc.get_threshold() == thresholds
    off = Engine([BytesSource(lines)], detector=False, analytics=False, pace_full_gc=False)
    assert off.start() is off and gc.get_threshold() == thresholds  # left to the app
    off.stop()


def test_a_live_engine_stepped_by_its_caller_paces_them_until_the_input_ends(
    thresholds: tuple[int, int, int],
) -> None:
    class SmallReads(BytesSource):  # the input lasts a few steps
        def read(self, max_bytes: int) -> bytes:
            return super().read(min(max_bytes, 2000))

    eng = Engine([SmallReads(LINES)], detector=False, analytics=False, live=True)
    eng.step()
    assert not eng._finished and gc.get_threshold()[2] > 10**8
    while not eng._finished:
        eng.step()
    assert gc.get_threshold() == thresholds
    # a synchronous engine stepped by its caller (tests, reports) leaves them alone
    plain = Engine([BytesSource(LINES)], detector=False, analytics=False)
    plain.step()
    assert gc.get_threshold() == thresholds
