"""End to end on ``uxtop.synth`` traffic (the labelled generator): no funnel configured (one is
inferred), a 3-minute incident on a route after the ~6-minute warm-up baseline."""

from __future__ import annotations

import pytest

synth = pytest.importorskip("uxtop.synth")

from uxtop.analytics import Analytics  # noqa: E402


def test_synth_incident_found_and_explained() -> None:
    d = synth.generate_columnar(
        synth.SynthConfig(
            sessions=1500,
            sessions_per_s=2,
            seed=3,
            incident=synth.Incident(
                start_s=620, duration_s=180, route="POST /api/cart", error_rate=0.4
            ),
        )
    )
    t0 = int(d.batch.columns["ts"].min())
    start = t0 + 620_000
    an = Analytics()
    an.update(d.batch, d.tables, None)
    an.flush()
    hits = [a for a in an.anomalies if a.entity == "POST /api/cart" and a.dim == "total"]
    assert hits and min(a.fired for a in hits) <= start + 3 * 10_000
    snap = an.snapshot()
    assert snap.funnels and snap.funnels[0].inferred and len(snap.funnels[0].steps) >= 2
    route_ins = [i for i in snap.insights if i.route == "POST /api/cart"]
    assert route_ins and route_ins[0].example_sessions
    assert any("POST /api/cart" in r.route for r in snap.routes)
