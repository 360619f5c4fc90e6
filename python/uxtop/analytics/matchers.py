"""Vectorised step matching: globs are evaluated once per interned string, never per event.

Intern tables only grow, so each (field, glob) keeps a boolean lookup table over intern ids and
extends it with the tail of the table when new strings appear. Matching a batch is then one
fancy-index per field.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numba import njit

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


_FIELDS = ("url", "target", "route")


@njit(cache=True, nogil=True, inline="always")
def _lut_at(lut, ident):  # type: ignore[no-untyped-def]
    # slot 0 is "absent"; an id the table does not hold reads as absent
    j = ident + 1
    if j < 0 or j >= lut.shape[0]:
        j = 0
    return lut[j]


@njit(cache=True, nogil=True)
def _bits_kernel(kind, url, target, route, kind_lut, url_lut, target_lut, route_lut, out):  # type: ignore[no-untyped-def]
    """``out[j]`` = AND of the row's per-field lookups (bit i: the row matches matcher i)."""
    for j in range(kind.shape[0]):
        b = kind_lut[kind[j]]
        if b:
            b &= _lut_at(url_lut, url[j])
        if b:
            b &= _lut_at(target_lut, target[j])
        if b:
            b &= _lut_at(route_lut, route[j])
        out[j] = b


class MatchBits:
    """``step_bits`` in one kernel pass: per field (kind, url, target, route) a uint32 table over
    intern ids whose bit i says whether matcher i accepts that value (set everywhere for a field
    matcher i does not constrain); a row's bits are the AND of its four lookups."""

    def __init__(self, steps: list[StepConfig]) -> None:
        if len(steps) > 32:
            raise ValueError("at most 32 matchers")
        self.matchers = [StepMatcher(s) for s in steps]
        self.kind_lut = np.zeros(256, np.uint32)  # kind codes are uint8
        for i, m in enumerate(self.matchers):
            if m.kind < 0:
                self.kind_lut |= np.uint32(1 << i)
            else:
                self.kind_lut[m.kind] |= np.uint32(1 << i)
        self._free = {
            f: sum(1 << i for i, s in enumerate(steps) if getattr(s, f) is None) for f in _FIELDS
        }
        self.luts = {f: np.full(1, self._free[f], np.uint32) for f in _FIELDS}

    def refresh(self, strings: object) -> None:
        for f in _FIELDS:
            globs = [(i, g) for i, m in enumerate(self.matchers) for g in m.luts if g.table == f]
            if not globs:
                continue
            for _, g in globs:
                g.refresh(strings)
            size = max(g.lut.shape[0] for _, g in globs)
            if size != self.luts[f].shape[0]:
                lut = np.full(size, self._free[f], np.uint32)
                for i, g in globs:
                    lut[: g.lut.shape[0]] |= g.lut.astype(np.uint32) << np.uint32(i)
                self.luts[f] = lut

    def bits(self, columns: dict, strings: object) -> npt.NDArray[np.uint32]:
        """Bit i set where the row matches matcher i (= ``step_bits(self.matchers, …)``)."""
        self.refresh(strings)
        out = np.empty(columns["ts"].shape[0], np.uint32)
        _bits_kernel(
            columns["kind"],
            columns["url"],
            columns["target"],
            columns["route"],
            self.kind_lut,
            self.luts["url"],
            self.luts["target"],
            self.luts["route"],
            out,
        )
        return out
