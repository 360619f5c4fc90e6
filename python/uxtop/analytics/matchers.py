"""Vectorised step matching: globs are evaluated once per interned string, never per event.

Intern tables only grow, so each (field, glob) keeps a boolean lookup table over intern ids and
extends it with the tail of the table when new strings appear. Matching a batch is then one
fancy-index per field.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from uxtop.analytics.config import StepConfig, glob_to_regex
from uxtop.schema import EVENT_CODES, EventType

#: ``get(table, id)`` resolves an intern id; ``table(name)`` returns the whole list.
StringsLike = object


def table_of(strings: object, name: str) -> list[str]:
    """The intern table ``name`` from a ``Strings`` object or a plain ``{table: list}`` dict."""
    if isinstance(strings, dict):
        return strings.get(name, [])
    return strings.table(name)  # type: ignore[attr-defined]


def string_of(strings: object, name: str, ident: int) -> str | None:
    if ident < 0:
        return None
    tab = table_of(strings, name)
    return tab[ident] if ident < len(tab) else None


class GlobLUT:
    """``lut[id + 1]`` is True when the interned string ``id`` matches the glob (slot 0 = absent)."""

    def __init__(self, table: str, pattern: str) -> None:
        self.table = table
        self._rx = glob_to_regex(pattern)
        self.lut = np.zeros(1, dtype=np.bool_)

    def refresh(self, strings: object) -> None:
        tab = table_of(strings, self.table)
        have = self.lut.shape[0] - 1
        if len(tab) > have:
            tail = np.fromiter(
                (self._rx.match(s) is not None for s in tab[have:]),
                dtype=np.bool_,
                count=len(tab) - have,
            )
            self.lut = np.concatenate([self.lut, tail])

    def __call__(self, ids: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
        return self.lut[ids.astype(np.int64) + 1]


class StepMatcher:
    """Compiled ``StepConfig``: ``match(columns, strings)`` → bool mask over the batch rows."""

    def __init__(self, step: StepConfig) -> None:
        self.step = step
        self.kind = EVENT_CODES[EventType(step.type)] if step.type else -1
        self.luts = [
            GlobLUT(f, getattr(step, f))
            for f in ("url", "target", "route")
            if getattr(step, f) is not None
        ]

    def match(self, columns: dict, strings: object) -> npt.NDArray[np.bool_]:
        n = columns["ts"].shape[0]
        mask = np.ones(n, dtype=np.bool_) if self.kind < 0 else columns["kind"] == self.kind
        for lut in self.luts:
            lut.refresh(strings)
            mask &= lut(columns[lut.table])
        return mask


def step_bits(
    matchers: list[StepMatcher], columns: dict, strings: object
) -> npt.NDArray[np.uint32]:
    """Bit i set where row matches matcher i (≤ 32 matchers)."""
    n = columns["ts"].shape[0]
    bits = np.zeros(n, dtype=np.uint32)
    for i, m in enumerate(matchers):
        bits |= m.match(columns, strings).astype(np.uint32) << np.uint32(i)
    return bits


GetString = Callable[[str, int], "str | None"]
