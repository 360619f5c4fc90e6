"""The canonical event schema: the contract every source writes and the Rust core reads.

msgspec Structs define it once; the plain-Python reference ingestor
(`uxtop.ingest.reference`) decodes with these, and the Rust parser must accept exactly
what they accept (property-tested in ``tests/ingest``).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import msgspec


class EventType(enum.StrEnum):
    """Value of the ``type`` key. The code (``EVENT_CODES``) is the ``kind`` column."""

    PAGEVIEW = "pageview"
    CLICK = "click"
    DBLCLICK = "dblclick"
    CONTEXTMENU = "contextmenu"
    MOVE = "move"
    SCROLL = "scroll"
    INPUT = "input"
    CHANGE = "change"
    SUBMIT = "submit"
    FOCUS = "focus"
    BLUR = "blur"
    SELECTION = "selection"
    MUTATION = "mutation"
    ERROR = "error"
    REQUEST = "request"
    VITAL = "vital"
    RESIZE = "resize"
    VISIBILITY = "visibility"
    FEEDBACK = "feedback"
    CUSTOM = "custom"


#: kind code (uint8 in batches) for each event type; order is part of the ABI with Rust.
EVENT_CODES: dict[EventType, int] = {t: i for i, t in enumerate(EventType)}
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)


class Kind(enum.IntEnum):
    """The ``kind`` column codes, for numba kernels and numpy masks."""

    PAGEVIEW = 0
    CLICK = 1
    DBLCLICK = 2
    CONTEXTMENU = 3
    MOVE = 4
    SCROLL = 5
    INPUT = 6
    CHANGE = 7
    SUBMIT = 8
    FOCUS = 9
    BLUR = 10
    SELECTION = 11
    MUTATION = 12
    ERROR = 13
    REQUEST = 14
    VITAL = 15
    RESIZE = 16
    VISIBILITY = 17
    FEEDBACK = 18
    CUSTOM = 19


assert [k.name for k in Kind] == [t.name for t in EventType]

Number = int | float


class Event(msgspec.Struct, omit_defaults=True):
    """One canonical event (one NDJSON line). Only ``ts`` and one of ``sid``/``uid`` are required.

    ``ts``: int = ms since epoch; float = seconds (values >= 1e11 are taken as ms); str = ISO-8601
    with ``Z``, an offset, or none (UTC). A missing ``type`` means ``custom``.
    Numbers may be written in any JSON form; ints are taken from floats by truncation.
    """

    ts: int | float | str
    id: str | int | None = None
    sid: str | int | None = None
    uid: str | int | None = None
    tab: str | None = None
    type: EventType | None = None
    url: str | None = None
    target: str | None = None
    tag: str | None = None
    x: Number | None = None
    y: Number | None = None
    sy: Number | None = None
    sh: Number | None = None
    vh: Number | None = None
    dur: Number | None = None
    status: Number | None = None
    route: str | None = None
    msg: str | None = None
    score: Number | None = None
    props: dict[str, Any] | None = None
    dev: str | None = None
    rel: str | None = None
    geo: str | None = None


def encode_event(ev: Event) -> bytes:
    """One NDJSON line (without newline)."""
    return _ENCODER.encode(ev)


_ENCODER = msgspec.json.Encoder()

#: ts floats at or above this are milliseconds, below are seconds (1e11 s is year 5138).
FLOAT_MS_THRESHOLD = 1e11


def ts_to_ms(ts: int | float | str) -> int:
    """Normalise a ``ts`` value to integer ms since the epoch (UTC). Raises ValueError if invalid."""
    if isinstance(ts, bool):
        raise ValueError("ts is a boolean")
    if isinstance(ts, int):
        return ts
    if isinstance(ts, float):
        if ts != ts or ts in (float("inf"), float("-inf")):
            raise ValueError("ts is not finite")
        ms = ts if abs(ts) >= FLOAT_MS_THRESHOLD else ts * 1000.0
        return int(ms // 1)
    return parse_iso_ms(ts)


def parse_iso_ms(text: str) -> int:
    """ISO-8601 / RFC 3339 subset: ``YYYY-MM-DD[T ]HH:MM[:SS[.f+]][Z|±HH:MM|±HHMM|±HH]``.

    Fractions finer than ms are truncated. No zone means UTC. Anything else raises ValueError.
    The Rust parser implements the same grammar (``rust/src/parse/timestamp.rs``).
    """
    s = text
    n = len(s)

    def digits(i: int, k: int) -> int:
        part = s[i : i + k]
        if len(part) != k or not part.isascii() or not part.isdigit():
            raise ValueError(f"bad ISO-8601 timestamp: {text!r}")
        return int(part)

    year = digits(0, 4)
    if n < 16 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":":
        raise ValueError(f"bad ISO-8601 timestamp: {text!r}")
    month, day, hour, minute = digits(5, 2), digits(8, 2), digits(11, 2), digits(14, 2)
    i = 16
    second = 0
    frac_ms = 0
    if i < n and s[i] == ":":
        second = digits(i + 1, 2)
        i += 3
        if i < n and s[i] in ".,":
            j = i + 1
            while j < n and s[j].isascii() and s[j].isdigit():
                j += 1
            if j == i + 1:
                raise ValueError(f"bad ISO-8601 timestamp: {text!r}")
            frac = (s[i + 1 : j] + "00")[:3]
            frac_ms = int(frac)
            i = j
    offset_min = 0
    if i < n:
        c = s[i]
        if c in "Zz" and i + 1 == n:
            i += 1
        elif c in "+-":
            sign = 1 if c == "+" else -1
            oh = digits(i + 1, 2)
            rest = s[i + 3 :]
            if rest == "":
                om = 0
            elif len(rest) == 3 and rest[0] == ":":
                om = digits(i + 4, 2)
            elif len(rest) == 2:
                om = digits(i + 3, 2)
            else:
                raise ValueError(f"bad ISO-8601 timestamp: {text!r}")
            if oh > 23 or om > 59:
                raise ValueError(f"bad ISO-8601 offset: {text!r}")
            offset_min = sign * (oh * 60 + om)
            i = n
        else:
            raise ValueError(f"bad ISO-8601 timestamp: {text!r}")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"bad ISO-8601 time: {text!r}")
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"bad ISO-8601 date: {text!r}") from exc
    epoch_s = int(dt.timestamp())
    return (epoch_s - offset_min * 60) * 1000 + frac_ms
