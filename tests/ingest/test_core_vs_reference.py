"""The Rust core equals the msgspec + Python reference on generated streams: nasty strings,
reordered and duplicated events, random chunk splits, injected bad lines."""

from __future__ import annotations

import json

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uxtop.ingest import IngestConfig
from uxtop.schema import EventType

from .conftest import assert_core_matches_reference

BASE = 1_700_000_000_000

nasty_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(
    [
        "",
        "é",
        "😀",
        'a"b',
        "back\\slash",
        "tab\there",
        "\u2028",
        "/p?q=1#f",
        "https://shop.example/cart?x=1",
    ]
)

keys = st.sampled_from(["s1", "s2", "s3", "u-9", "", "ключ", "😀"]) | st.integers(-3, 3)
numbers = (
    st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.integers(-5, 5)
)


@st.composite
def event(draw: st.DrawFn, t0: int) -> dict:
    ev: dict = {}
    ts_kind = draw(st.sampled_from(["ms", "ms", "ms", "s_float", "iso", "ms_float"]))
    ts = t0 + draw(st.integers(-8_000, 4_000_000))
    if ts_kind == "ms":
        ev["ts"] = ts
    elif ts_kind == "s_float":
        ev["ts"] = ts / 1000.0
    elif ts_kind == "ms_float":
        ev["ts"] = float(ts) + 0.5
    else:
        import datetime as dt

        d = dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC)
        ev["ts"] = d.isoformat(timespec="milliseconds").replace(
            "+00:00", draw(st.sampled_from(["Z", "+00:00", "z"]))
        )
    if draw(st.booleans()):
        ev["sid"] = draw(keys)
    if draw(st.booleans()):
        ev["uid"] = draw(keys)
    if draw(st.integers(0, 3)) == 0:
        ev["id"] = draw(st.sampled_from(["e1", "e2", "e3", 1, 2]))
    ev["type"] = draw(st.sampled_from([t.value for t in EventType] + [None]))
    for k in ("url", "target", "tag", "route", "msg", "tab", "dev", "rel", "geo"):
        if draw(st.integers(0, 2)) == 0:
            ev[k] = draw(nasty_text | st.none())
    for k in ("x", "y", "sy", "sh", "vh", "dur", "status", "score"):
        if draw(st.integers(0, 3)) == 0:
            ev[k] = draw(numbers | st.none())
    if draw(st.integers(0, 4)) == 0:
        ev["props"] = draw(
            st.sampled_from(
                [
                    {"ctrlKey": True},
                    {"metaKey": False},
                    {"a": [1, {"b": None}]},
                    None,
                    {"mod": True, "mod2": 1},
                ]
            )
        )
    if draw(st.integers(0, 6)) == 0:
        ev["extra"] = draw(
            st.sampled_from([[1, 2, {"x": "y"}], {"nested": {"deep": [True, False]}}, "s", 1.5e10])
        )
    return ev


bad_lines = st.sampled_from(
    [
        b"not json",
        b'{"ts": 1, "sid": "a"',
        b'{"ts": 1, "sid": "a"} trailing',
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"sid": "a"}',
        b'{"ts": null, "uid": "a"}',
        b'{"ts": 1}',
        b'{"ts": 1, "sid": ""}',
        b'{"ts": true, "sid": "a"}',
        b'{"ts": "yesterday", "sid": "a"}',
        b'{"ts": 1, "sid": "a", "type": "hover"}',
        b'{"ts": 1, "sid": "a", "x": "12"}',
        b'{"ts": 1, "sid": "a", "status": 99999}',
        b'{"ts": 1, "sid": "a", "props": [1]}',
        b'{"ts": 1, "sid": "a", "q": 1e999}',
        b'{"ts": 1, "sid": "\\ud800"}',
        b'\xff\xfe{"ts": 1, "sid": "a"}',
        b'{"ts": 1, "sid": "a\x01"}',
        b"x" * 300,
        b"   ",
        b"",
    ]
)


def encode(ev: dict, style: int) -> bytes:
    if style == 0:
        return msgspec.json.encode(ev)
    if style == 1:
        return json.dumps(ev, ensure_ascii=True).encode()
    return (
        " " + json.dumps(ev, ensure_ascii=False, indent=None, separators=(" , ", " : ")) + "\r"
    ).encode()


@st.composite
def stream(draw: st.DrawFn) -> tuple[list[bytes], IngestConfig]:
    n = draw(st.integers(0, 60))
    lines: list[bytes] = []
    t0 = BASE + draw(st.integers(0, 10**6))
    for _ in range(n):
        r = draw(st.integers(0, 9))
        if r == 0:
            lines.append(draw(bad_lines))
            continue
        ev = draw(event(t0))
        line = encode(ev, draw(st.integers(0, 2)))
        lines.append(line)
        if r == 1:  # an at-least-once resend
            lines.append(line)
        t0 += draw(st.integers(0, 30_000))
    if lines and draw(st.booleans()):
        # local reordering, as a real transport does
        i = draw(st.integers(0, len(lines) - 1))
        j = min(len(lines) - 1, i + draw(st.integers(1, 4)))
        lines[i], lines[j] = lines[j], lines[i]
    data = b"\n".join(lines) + draw(st.sampled_from([b"", b"\n"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=False)]
    cfg = IngestConfig(
        idle_gap_ms=draw(st.sampled_from([60_000, 1_800_000])),
        max_session_ms=draw(st.sampled_from([600_000, 86_400_000])),
        lateness_ms=draw(st.sampled_from([0, 2_000, 5_000])),
        evict_after_events=draw(st.sampled_from([1, 5, 100_000])),
        max_line_bytes=draw(st.sampled_from([256, 1 << 20])),
        keep_query=draw(st.booleans()),
    )
    return chunks, cfg


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream())
def test_core_equals_reference_on_generated_streams(case: tuple[list[bytes], IngestConfig]) -> None:
    chunks, cfg = case
    assert_core_matches_reference(chunks, cfg)


@settings(max_examples=100, deadline=None)
@given(stream(), st.data())
def test_chunking_does_not_change_the_result(
    case: tuple[list[bytes], IngestConfig], data: st.DataObject
) -> None:
    chunks, cfg = case
    whole = b"".join(chunks)
    one = assert_core_matches_reference([whole], cfg)
    bytewise = [whole[i : i + 1] for i in range(len(whole))] if len(whole) < 3000 else chunks
    other = assert_core_matches_reference(bytewise, cfg)
    for k in ("events", "late", "duplicates", "bad_lines", "sessions"):
        assert one[k] == other[k]
