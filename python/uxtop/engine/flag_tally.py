"""Running flag totals per kind, page and element, folded in a batch of flags at a time.

Under an incident, or with many sessions open at once, flags come by the thousand per batch
(the ingest benchmark's file has one every ~13 events). Folding them one by one into the
per-key dicts cost ~3 us a flag (measured: a third of the analysis thread on that file), so a
batch is first reduced with numpy to one entry per (key, kind), and Python touches each
distinct key once.

Keys are page templates (``/product/*``: a button broken on every product page is one
hotspot), (template, target) elements, and (URL, target) elements for the per-URL heat maps.
"Distinct flagged sessions" per key is counted through ``SeenPairs``: a bounded set of
(key, session) hashes, so it does not grow with every session ever flagged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from uxtop.distinct import unique_counts, unique_first, unique_ints
from uxtop.engine.aggregates import CLICK_FLAG_KINDS, Decayed, KindSeries
from uxtop.snapshot import SERIES_BUCKET_MS
from uxtop.urls import page_template

#: pages / elements with running totals (flags per kind, distinct flagged sessions)
MAX_KEYS = 20_000
#: (key, session) pairs remembered per generation for distinct-session counts: two
#: generations of sorted 8-byte hashes, at most ~16 MB
SEEN_PAIRS_CAP = 1 << 20

# key families, hashed into a (key, session) pair so equal codes of two families differ
_PAGE, _ELEMENT, _URL_ELEMENT = 1, 2, 3
_U64 = np.uint64


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit moves every output bit (numpy wraps on overflow)."""
    h = (h ^ (h >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> _U64(27))) * _U64(0x94D049BB133111EB)
    return h ^ (h >> _U64(31))


def pair_hash(
    family: int, key: npt.NDArray[np.int64], session_id: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each (family, key code, session id); collisions at ~2^-64 a pair."""
    k = key.astype(np.uint64) * _U64(0x9E3779B97F4A7C15) + _U64(family)
    return _mix(_mix(k) ^ session_id.astype(np.uint64))


class SeenPairs:
    """A bounded set of 64-bit hashes in two generations of sorted arrays.

    New hashes are merged into the young generation in place (its buffer grows by doubling, to
    at most ``cap`` plus one batch). When it passes ``cap`` it becomes the old one and the
    previous old one is dropped (its buffer is reused): a pair is remembered for at least
    ``cap`` later distinct pairs. Past that a session flagged again on the same key is counted
    again (as a session evicted from retention was before).
    """

    def __init__(self, cap: int = SEEN_PAIRS_CAP) -> None:
        self.cap = cap
        self._buf = np.zeros(0, dtype=np.uint64)  # the young generation is _buf[:_n]
        self._n = 0
        self._old = np.zeros(0, dtype=np.uint64)
        self._old_buf = np.zeros(0, dtype=np.uint64)  # the buffer _old is a view of

    @property
    def _young(self) -> npt.NDArray[np.uint64]:
        return self._buf[: self._n]

    def __len__(self) -> int:
        return int(self._n + self._old.size)

    def first_seen(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """For sorted unique ``hashes``: True where not seen before; all are remembered."""
        from uxtop.engine.seen_pairs_kernel import fresh_kernel, merge_into_kernel

        h = np.ascontiguousarray(hashes, dtype=np.uint64)
        fresh = np.empty(h.shape[0], np.bool_)
        if not fresh_kernel(h, self._young, self._old, fresh):
            return fresh
        add = h[fresh]
        need = self._n + add.shape[0]
        if need > self._buf.shape[0]:
            grown = np.empty(max(need, min(2 * self._buf.shape[0], self.cap + 1)), np.uint64)
            grown[: self._n] = self._young
            self._buf = grown
        merge_into_kernel(self._buf, self._n, add)
        self._n = need
        if self._n > self.cap:
            self._old, self._old_buf, self._buf = self._young, self._buf, self._old_buf
            self._n = 0
        return fresh


class StringCodes:
    """Small local codes for the strings flags name (kinds, URLs, page templates, targets,
    rules): numpy reductions and the flag store work on codes, the dicts and screens on the
    strings. Bounded by what the core's intern tables can name."""

    def __init__(self) -> None:
        self._code: dict[str, int] = {}
        self.names: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    def codes(self, names: Sequence[str]) -> npt.NDArray[np.int64]:
        code, known = self._code, self.names
        for s in dict.fromkeys(names):  # new strings, in first-seen order
            if s not in code:
                code[s] = len(known)
                known.append(s)
        return np.fromiter(map(code.__getitem__, names), dtype=np.int64, count=len(names))


class FlagTally:
    """Flags per kind over time, and per page / element: counts by kind, distinct sessions,
    and a decayed "worst right now" ranking. ``add_codes`` takes one batch's flags."""

    def __init__(
        self,
        max_keys: int = MAX_KEYS,
        seen_cap: int = SEEN_PAIRS_CAP,
        codes: StringCodes | None = None,
    ) -> None:
        self.max_keys = max_keys
        self.strings = codes if codes is not None else StringCodes()
        self.kinds = KindSeries()
        self.total = 0
        self.pages = Decayed()
        self.elements = Decayed()
        self.url_elements = Decayed()
        # plain dicts per key (a Counter costs 1 us more to make, one per new key)
        self.page_counts: dict[str, dict[str, int]] = {}
        self.page_sessions: Counter[str] = Counter()
        self.element_counts: dict[tuple[str, str], dict[str, int]] = {}
        self.element_sessions: Counter[tuple[str, str]] = Counter()
        self.url_element_counts: dict[tuple[str, str], dict[str, int]] = {}
        self.url_element_sessions: Counter[tuple[str, str]] = Counter()
        self.seen = SeenPairs(seen_cap)
        self._page_of = np.full(0, -1, dtype=np.int64)  # URL code -> template code

    def decay_to(self, ts: int) -> None:
        for d in (self.pages, self.elements, self.url_elements):
            d.decay_to(ts)

    def _templates(self, url: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        if url.size and int(url.max()) >= self._page_of.size:
            grown = np.full(max(2 * self._page_of.size, int(url.max()) + 1, 64), -1, np.int64)
            grown[: self._page_of.size] = self._page_of
            self._page_of = grown
        missing = unique_ints(url[self._page_of[url] < 0])
        if missing.size:
            names = self.strings.names
            self._page_of[missing] = self.strings.codes([page_template(names[u]) for u in missing])
        return self._page_of[url]

    def add_codes(
        self,
        kind: npt.NDArray[np.int64],
        url: npt.NDArray[np.int64],
        target: npt.NDArray[np.int64],
        sid: npt.NDArray[np.uint64],
        ts: npt.NDArray[np.int64],
        now_ts: int,
    ) -> None:
        """One batch's flags as columns: kind, URL and target as codes of ``self.strings``."""
        if not kind.size:
            return
        # (keys pack two codes into one int64)
        kind, url, target = (np.asarray(c, dtype=np.int64) for c in (kind, url, target))
        self.decay_to(now_ts)
        self.total += int(kind.size)
        self._add_kinds(kind, ts)
        page = self._templates(url)
        none = np.int64(-1)
        self._fold(_PAGE, page, np.full_like(page, none), kind, sid, self.page_counts,
                   self.page_sessions, self.pages, pair=False)  # fmt: skip
        codes = self.strings.codes
        click = np.isin(kind, codes(CLICK_FLAG_KINDS)) & (target != codes([""])[0])
        if click.any():
            k, s, t = kind[click], sid[click], target[click]
            self._fold(_ELEMENT, page[click], t, k, s, self.element_counts,
                       self.element_sessions, self.elements, pair=True)  # fmt: skip
            self._fold(_URL_ELEMENT, url[click], t, k, s, self.url_element_counts,
                       self.url_element_sessions, self.url_elements, pair=True)  # fmt: skip

    def _add_kinds(self, kind: npt.NDArray[np.int64], ts: npt.NDArray[np.int64]) -> None:
        bucket = ts // SERIES_BUCKET_MS
        b0 = int(bucket.min())
        span = int(bucket.max()) - b0 + 1
        combo, n = unique_counts(kind * span + (bucket - b0))
        names = self.strings.names
        for c, k in zip(combo.tolist(), n.tolist(), strict=True):
            self.kinds.add(names[c // span], (b0 + c % span) * SERIES_BUCKET_MS, k)

    def _fold(
        self,
        family: int,
        a: npt.NDArray[np.int64],
        b: npt.NDArray[np.int64],
        kind: npt.NDArray[np.int64],
        sid: npt.NDArray[np.uint64],
        counts: dict[Any, dict[str, int]],
        sessions: Counter[Any],
        ranking: Decayed,
        *,
        pair: bool,
    ) -> None:
        """Fold flags on keys ``(a, b)`` (``a`` alone when not ``pair``) into ``counts`` (per
        kind; new keys stop at ``max_keys``), ``sessions`` (distinct) and ``ranking``."""
        key = (a << 32) | (b & 0xFFFFFFFF)
        ukey, inv = np.unique(key, return_inverse=True)
        names = self.strings.names
        objs: list[Any] = [
            (names[k >> 32], names[k & 0xFFFFFFFF]) if pair else names[k >> 32]
            for k in ukey.tolist()
        ]
        n_kinds = int(kind.max()) + 1
        combo, n = unique_counts(inv * n_kinds + kind)
        has = [False] * len(objs)
        for c, m in zip(combo.tolist(), n.tolist(), strict=True):
            i = c // n_kinds
            obj = objs[i]
            per_kind = counts.get(obj)
            if per_kind is None:
                if len(counts) >= self.max_keys:
                    continue
                per_kind = counts[obj] = {}
            has[i] = True
            kname = names[c % n_kinds]
            per_kind[kname] = per_kind.get(kname, 0) + m
        for obj, w in zip(objs, np.bincount(inv).tolist(), strict=True):
            ranking.add(obj, float(w))
        # distinct sessions: each (key, session) pair of the batch once, if never seen before
        h, first = unique_first(pair_hash(family, key, sid))
        fresh = self.seen.first_seen(h)
        new_per_key = np.bincount(inv[first[fresh]], minlength=len(objs)).tolist()
        for i, m in enumerate(new_per_key):
            if m and has[i]:
                sessions[objs[i]] += m
