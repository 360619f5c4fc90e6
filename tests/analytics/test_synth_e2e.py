"""End to end on ``uxtop.synth`` traffic (the labelled generator): no funnel configured (one is
inferred), a 3-minute incident on a route after the ~6-minute warm-up baseline."""

from __future__ import annotations

import pytest

synth = pytest.importorskip("uxtop.synth")

from uxtop.analytics import Analytics  # noqa: E402


@pytest.fixture(scope="module")
def run() -> tuple[Analytics, int, int]:
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
    an = Analytics()
    an.update(d.batch, d.tables, None)
    an.flush()
    return an, t0, int(d.batch.sessions["start_ts"].max())


def test_synth_incident_found_and_explained(run: tuple[Analytics, int, int]) -> None:
    an, t0, _ = run
    start = t0 + 620_000
    hits = [a for a in an.anomalies if a.entity == "POST /api/cart" and a.dim == "total"]
    assert hits and min(a.fired for a in hits) <= start + 3 * 10_000
    snap = an.snapshot()
    assert snap.funnels and snap.funnels[0].inferred and len(snap.funnels[0].steps) >= 2
    route_ins = [i for i in snap.insights if i.route == "POST /api/cart"]
    assert route_ins and route_ins[0].example_sessions
    assert any("POST /api/cart" in r.route for r in snap.routes)


def test_end_of_input_is_not_a_drop(run: tuple[Analytics, int, int]) -> None:
    """After the last session starts, active sessions drain to zero because the input ends;
    the final flush must not report that as users leaving."""
    an, _, last_start = run
    tail = last_start // an.bucket_ms * an.bucket_ms
    # the tail really drains: the last buckets hold far fewer active sessions than before
    _, active = an.series_tail("sessions.active[sessions]", 30)
    assert active[-1] < 0.5 * max(active[:-6])
    drops = [a for a in an.anomalies if a.onset >= tail and a.value < a.expected]
    assert not [a for a in drops if a.family in ("sessions.active", "route.count")]
    snap = an.snapshot()
    assert not [i for i in snap.insights if i.title.startswith("active sessions")]
    assert not [a for a in snap.anomalies if a.family == "sessions.active"]
    assert snap.stats["alarms_active"] == 0
