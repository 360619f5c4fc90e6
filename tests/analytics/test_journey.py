"""Journey map on a live stream: a step's calls that come in later batches than its arrival
are still the step's (the demo's incident was never tied to its funnel step without this)."""

from __future__ import annotations

import json

import pytest

from uxtop.analytics import Analytics, load_analytics_config
from uxtop.ingest import Ingestor

T0 = 1_767_225_600_000
FUNNEL = {
    "name": "buy",
    "steps": [
        {"type": "pageview", "url": "/product/*", "name": "product"},
        {"type": "pageview", "url": "/cart", "name": "cart"},
    ],
}


def _shop_lines(sessions: int = 40) -> list[tuple[int, bytes]]:
    """Each session: a product page (and its load call), add to cart 12 s later, the cart page
    8 s after that (and its load call); sessions 5 s apart, interleaved in time."""
    events = []
    for s in range(sessions):
        t, sid, page = T0 + s * 5_000, f"s{s}", f"/product/{s}"
        events += [
            {"ts": t, "sid": sid, "type": "pageview", "url": page},
            {"ts": t + 20, "sid": sid, "type": "request", "url": page,
             "route": "GET /api/product/:id", "status": 200, "dur": 40},
            {"ts": t + 12_000, "sid": sid, "type": "request", "url": page,
             "route": "POST /api/cart", "status": 200, "dur": 80},
            {"ts": t + 20_000, "sid": sid, "type": "pageview", "url": "/cart"},
            {"ts": t + 20_020, "sid": sid, "type": "request", "url": "/cart",
             "route": "GET /api/cart", "status": 200, "dur": 30},
        ]  # fmt: skip
    events.sort(key=lambda e: e["ts"])
    return [(e["ts"], json.dumps(e).encode() + b"\n") for e in events]


def _journey(chunk_ms: int | None) -> tuple[dict[str, dict[str, float]], Analytics]:
    """The stream fed whole (None) or in reads of ``chunk_ms`` of event time."""
    lines = _shop_lines()
    chunks: list[bytes] = []
    if chunk_ms is None:
        chunks = [b"".join(b for _, b in lines)]
    else:
        cut = lines[0][0] + chunk_ms
        cur: list[bytes] = []
        for ts, b in lines:
            while ts >= cut:
                chunks.append(b"".join(cur))
                cur, cut = [], cut + chunk_ms
            cur.append(b)
        chunks.append(b"".join(cur))
    ing = Ingestor()
    an = Analytics(load_analytics_config({"funnels": [FUNNEL]}))
    batches = 0
    for c in chunks:
        batch = ing.feed(c)
        batches += batch.n_sessions > 0
        an.update(batch, ing.strings, None)
    an.update(ing.finish(), ing.strings, None)
    if chunk_ms is not None:
        assert batches > 20  # the stream really came in many batches
    return an._journey(), an


@pytest.mark.parametrize("chunk_ms", [1_000, 7_000])
def test_calls_in_later_batches_belong_to_the_step_their_session_is_at(chunk_ms: int) -> None:
    whole, _ = _journey(None)
    live, an = _journey(chunk_ms)
    assert live == whole
    # every product arrival was followed by its load call and an add to cart; the cart page
    # by its own call
    assert live["buy/1 product"] == {"GET /api/product/:id": 1.0, "POST /api/cart": 1.0}
    assert live["buy/2 cart"] == {"GET /api/cart": 1.0}
    # every session closed at the end: nothing is held for later batches
    assert an.journey.carried == 0
