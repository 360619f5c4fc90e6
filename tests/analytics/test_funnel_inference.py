"""The default funnel inferred from traffic (``FunnelInferrer``), fed through the real ingestor.

Ground truth is the path every generated session follows; the hard cases are the ones that
broke earlier versions: a live stream where no session closes for 30 minutes, sessions already
under way when the stream is joined, and pages reached by short paths that rank early on
average.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import pytest

from uxtop.analytics.funnels import FunnelInferrer
from uxtop.ingest import Ingestor
from uxtop.urls import page_template

T0 = 1_700_000_000_000
_enc = msgspec.json.Encoder()


def ndjson(events: Iterable[dict[str, object]]) -> bytes:
    return b"".join(_enc.encode(e) + b"\n" for e in sorted(events, key=lambda e: e["ts"]))  # type: ignore[arg-type, return-value]


def visit(sid: str, start: int, pages: list[str], gap_ms: int = 4_000) -> list[dict[str, object]]:
    """A session that lands on ``pages[0]`` and moves through the rest, a click before each move."""
    out: list[dict[str, object]] = []
    t = start
    for url in pages:
        out.append({"ts": t, "sid": sid, "type": "pageview", "url": url})
        out.append({"ts": t + gap_ms // 2, "sid": sid, "type": "click", "url": url})
        t += gap_ms
    return out


def run(data: bytes, inf: FunnelInferrer, chunk: int = 64 << 10) -> list[str] | None:
    """Feed ``data`` (never finished: no session closes) and return the first inferred steps."""
    ing = Ingestor()
    for i in range(0, len(data), chunk):
        batch = ing.feed(data[i : i + chunk])
        assert not batch.sessions["closed"].any()  # the idle gap is 30 min: nothing closes here
        inf.update(batch, ing.strings)
        if (f := inf.infer()) is not None:
            return [s.url or "" for s in f.steps]
    return None


def test_page_template_folds_ids_only() -> None:
    assert page_template("/product/1234") == "/product/*"
    assert page_template("/u/3f2a9c1b7e/orders") == "/u/*/orders"
    assert page_template("/x/550e8400-e29b-41d4-a716-446655440000") == "/x/*"
    # words, including hex-looking ones without a digit, are pages
    assert page_template("/checkout/confirm") == "/checkout/confirm"
    assert page_template("/deadbeef") == "/deadbeef"
    assert page_template("/") == "/"
    assert page_template("/a*b") == "/a?b"  # a literal glob character cannot widen the step


def test_synth_shop_funnel_is_inferred_from_a_live_stream_in_flow_order() -> None:
    synth = pytest.importorskip("uxtop.synth")
    data = b"".join(
        synth.generate(synth.SynthConfig(sessions=1500, sessions_per_s=2, seed=3)).chunks()
    )
    steps = run(data, FunnelInferrer(), chunk=256 << 10)
    assert steps is not None, "no funnel before the stream ended (sessions never close here)"
    flow = ["/", "/search", "/product/*", "/cart", "/checkout", "/checkout/confirm"]
    assert all(s in flow for s in steps), steps
    assert [flow.index(s) for s in steps] == sorted(flow.index(s) for s in steps), steps
    assert len(steps) >= 4 and "/product/*" in steps and "/cart" in steps


def test_order_is_by_pairwise_precedence_not_mean_rank() -> None:
    """Half the sessions land straight on /z: its mean rank (1.5) is below /y's (2), yet
    everyone who saw both saw /y first."""
    evs: list[dict[str, object]] = []
    for i in range(300):
        pages = ["/", "/x", "/y", "/z"] if i % 2 == 0 else ["/z"]
        evs += visit(f"s{i}", T0 + i * 1_000, pages)
    # a late session moves the stream clock on so the others settle (quiet > 30 s)
    evs += visit("late", T0 + 400_000, ["/"])
    assert run(ndjson(evs), FunnelInferrer()) == ["/", "/x", "/y", "/z"]


def test_sessions_under_way_when_the_stream_is_joined_do_not_count() -> None:
    """Sessions whose first event is not a pageview were joined mid-visit: their pages are
    the end of someone's journey and must not become the funnel."""
    evs: list[dict[str, object]] = []
    for i in range(400):  # in flight at the top of the stream: a click, then the last page
        t = T0 + i * 100
        evs.append({"ts": t, "sid": f"old{i}", "type": "click", "url": "/checkout"})
        evs.append({"ts": t + 1_000, "sid": f"old{i}", "type": "pageview", "url": "/done"})
    for i in range(250):
        evs += visit(f"new{i}", T0 + 50_000 + i * 1_000, ["/", "/a", "/b"])
    evs += visit("late", T0 + 400_000, ["/"])
    inf = FunnelInferrer()
    assert run(ndjson(evs), inf) == ["/", "/a", "/b"]
    assert "/done" not in inf.visits


def test_active_sessions_do_not_settle_until_quiet() -> None:
    evs: list[dict[str, object]] = []
    for i in range(250):  # each keeps moving the mouse every 5 s for 5 minutes
        evs += visit(f"s{i}", T0 + i * 10, ["/", "/a"])
        evs += [
            {"ts": T0 + i * 10 + 10_000 + k * 5_000, "sid": f"s{i}", "type": "move", "url": "/a"}
            for k in range(60)
        ]
    busy = ndjson(evs)
    inf = FunnelInferrer()
    assert run(busy, inf) is None
    assert inf.sessions == 0 and len(inf.tracked) == 250
    # then the stream moves on without them: all settle, and the funnel follows
    later = ndjson(visit("late", T0 + 400_000, ["/"]))
    assert run(busy + later, FunnelInferrer()) == ["/", "/a"]


def test_followed_sessions_are_bounded() -> None:
    evs: list[dict[str, object]] = []
    for i in range(500):  # all concurrent, none settles
        evs += visit(f"s{i}", T0 + i * 10, ["/", "/a"], gap_ms=20_000)
    ing, inf = Ingestor(), FunnelInferrer(max_tracked=50)
    data = ndjson(evs)
    for i in range(0, len(data), 4096):
        inf.update(ing.feed(data[i : i + 4096]), ing.strings)
        assert len(inf.tracked) <= 50
    assert len(inf.tracked) == 50


def test_a_one_page_site_gets_no_funnel_and_the_inferrer_gives_up() -> None:
    """Every session sees only /app: no funnel, and after enough sessions the analytics stops
    paying for the inferrer."""
    from uxtop.analytics import Analytics
    from uxtop.analytics.config import AnalyticsConfig

    evs: list[dict[str, object]] = []
    for i in range(1200):
        evs += visit(f"s{i}", T0 + i * 1_000, ["/app"])
    evs += visit("late", T0 + 1_300_000, ["/app"])
    ing = Ingestor()
    an = Analytics(AnalyticsConfig())
    inf = an.inferrer
    assert inf is not None
    inf.min_sessions = 20  # gives up after 50 x 20 settled sessions
    data, chunk = ndjson(evs), 16 << 10
    for i in range(0, len(data), chunk):
        an.update(ing.feed(data[i : i + chunk]), ing.strings)
    assert inf.sessions >= 1000 and inf.infer() is None
    assert an.inferrer is None and not an.funnels
    assert an.snapshot().stats["funnel_inference_failed"] == 1.0


def test_the_snapshot_says_how_far_inference_is() -> None:
    from uxtop.analytics import Analytics
    from uxtop.analytics.config import AnalyticsConfig
    from uxtop.tui.screens.funnels import FunnelsScreen

    evs: list[dict[str, object]] = []
    for i in range(300):
        evs += visit(f"s{i}", T0 + i * 1_000, ["/", "/a"])
    data = ndjson(evs)
    ing, an = Ingestor(), Analytics(AnalyticsConfig())
    an.update(ing.feed(data[: len(data) // 2]), ing.strings)
    stats = an.snapshot().stats
    seen = stats["funnel_inference_sessions"]
    assert stats["funnel_inference_needed"] == 200 and 0 < seen < 200
    text = FunnelsScreen._waiting_text(stats)
    assert f"{int(seen)} of 200 sessions" in text and "quiet 30 s" in text
    # off by config: the screen says so, and how to get one
    off = Analytics(AnalyticsConfig(infer_funnel=False))
    off.update(ing.feed(data[len(data) // 2 :]), ing.strings)
    stats = off.snapshot().stats
    assert "funnel_inference_needed" not in stats
    assert "infer_funnel = false" in FunnelsScreen._waiting_text(stats)
    assert "could be inferred" in FunnelsScreen._waiting_text({"funnel_inference_failed": 1.0})
