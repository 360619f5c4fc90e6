"""Full (generation-2) garbage collections on a clock, not on allocation.

CPython starts a full collection once the objects promoted to the oldest generation since the
last one pass a quarter of it. The engine promotes a steady stream of objects that live a
little while (flagged sessions and their flags, evicted again minutes later), so with many
sessions flagged at once a full pass came every few hundred thousand events, each walking the
whole heap with the GIL held: on the ingest benchmark's file 8 of them took 0.42 s of a 2.5-s
analysis thread (measured with ``gc.callbacks``). Paced, the engine runs one every
``FULL_GC_INTERVAL_S`` instead; the young generations stay automatic, and reference counting
frees everything that is not in a cycle as before.

The TUI paces its own full collections between keystrokes (``UxtopApp._maybe_collect``), so
an engine under the app is made with ``pace_full_gc=False``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

#: seconds between the engine's own full collections while it paces them
FULL_GC_INTERVAL_S = 30.0
#: a generation-2 threshold that is never reached: automatic full collections off
_NEVER = 1 << 30


class FullCollections:
    """Takes over full collections while active: ``take``, then ``tick`` often, ``release``."""

    def __init__(
        self, interval: float = FULL_GC_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.collections = 0
        self._saved: tuple[int, int, int] | None = None
        self._last = 0.0

    @property
    def active(self) -> bool:
        return self._saved is not None

    def take(self) -> bool:
        """Switch automatic full collections off; False if they already were (someone else,
        the app or another engine, paces them: this one then leaves them alone)."""
        if self._saved is not None:
            return False
        t0, t1, t2 = gc.get_threshold()
        if t2 >= _NEVER:
            return False
        self._saved = (t0, t1, t2)
        gc.set_threshold(t0, t1, _NEVER)
        self._last = self.clock()
        return True

    def tick(self) -> None:
        """A full collection if ``interval`` has passed since the last one (or the take)."""
        if self._saved is None:
            return
        now = self.clock()
        if now - self._last >= self.interval:
            gc.collect()
            self.collections += 1
            self._last = self.clock()

    def release(self) -> None:
        """The thresholds as they were before ``take``."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
