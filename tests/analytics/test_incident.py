"""Acceptance on 24 h of generated shop traffic with a daily cycle (uxtop.analytics.simulate).

With a 10-minute degradation of ``POST /api/pay`` at 15:07: the anomaly fires within 2 buckets of
the start; the top insight names the route, the funnel step it hurts, the friction it causes, and
example sessions from the incident. The same day without the incident: ≤ 1 alarm per 100 series.
"""

from __future__ import annotations

import json

import pytest

from uxtop.analytics import Analytics, load_analytics_config
from uxtop.analytics.simulate import Incident, ShopTraffic, checkout_funnel_config

START = 1_767_225_600_000
INCIDENT = START + (15 * 60 + 7) * 60_000
BUCKET = 10_000

pytestmark = pytest.mark.slow


def _run(incident: bool, insight_interval_s: float = 0.0) -> tuple[Analytics, set[int]]:
    tr = ShopTraffic(
        sessions_per_min=100,
        incidents=[Incident("POST /api/pay", INCIDENT)] if incident else [],
        seed=11,
    )
    an = Analytics(load_analytics_config({"funnels": [checkout_funnel_config()]}))
    an.insight_interval_s = insight_interval_s
    rebuild = an._update_insights
    an.insight_rebuilds = 0  # type: ignore[attr-defined]

    def counted() -> None:
        an.insight_rebuilds += 1  # type: ignore[attr-defined]
        rebuild()

    an._update_insights = counted  # type: ignore[method-assign]
    tables = tr.tables()
    incident_sessions: set[int] = set()
    for batch, flags in tr.batches(24, chunk_s=600):
        an.update(batch, tables, flags)
        # sessions that called the route during the incident, to check the examples against
        c = batch.columns
        hit = (c["route"] == 2) & (c["ts"] >= INCIDENT) & (c["ts"] < INCIDENT + 600_000)
        incident_sessions |= set(batch.sessions["session_id"][c["session"][hit]].tolist())
    an.flush()
    return an, incident_sessions


@pytest.fixture(scope="module")
def incident_day() -> tuple[Analytics, set[int]]:
    return _run(True)


def test_incident_found_within_two_buckets(incident_day) -> None:
    an, _ = incident_day
    hits = [
        a
        for a in an.anomalies
        if a.entity == "POST /api/pay" and a.dim == "total" and a.kind == "spike"
    ]
    assert hits, "the degraded route raised no alarm"
    first = min(hits, key=lambda a: a.fired)
    assert INCIDENT <= first.fired <= INCIDENT + 2 * BUCKET
    assert first.family in ("route.p95", "route.error_rate")
    # nothing else alarmed on its own outside the incident
    others = [
        a
        for a in an.anomalies
        if a.kind != "insufficient_volume"
        and not (INCIDENT - 60_000 <= a.onset <= INCIDENT + 1_200_000)
    ]
    assert len(others) <= 2


def test_top_insight_names_route_step_friction_and_examples(incident_day) -> None:
    an, incident_sessions = incident_day
    snap = an.snapshot()
    top = snap.insights[0]
    assert top.route == "POST /api/pay"
    assert top.step is not None and top.step.endswith("confirm")
    assert "POST /api/pay" in top.title and "confirm" in top.title
    # the step in words: its name, and which funnel's step it is (not "checkout/4 confirm")
    assert f"hurting {top.step.split(' ', 1)[1]} (checkout step 4)" in top.title, top.title
    assert top.friction.get("rage_click", 0) > 20 and top.friction.get("error_click", 0) > 20
    assert top.example_sessions and set(top.example_sessions) <= incident_sessions
    assert top.conversions_lost > 30
    assert "suspected" in top.suspected_cause or top.suspected_cause.startswith("unknown")
    # latency/errors are the symptom, never the cause
    assert "latency" not in top.suspected_cause and "error rate" not in top.suspected_cause
    assert any("payment gateway timeout" in e for e in top.evidence)
    # the report carries it, JSON-able, and the markdown names it
    rep = an.to_report()
    json.dumps(rep)
    assert rep["insights"][0]["route"] == "POST /api/pay"
    assert {"funnels", "insights", "anomalies"} <= rep.keys()
    md = an.to_markdown()
    assert "POST /api/pay" in md and "## Funnels" in md and "| confirm |" in md


def test_paced_insights_still_catch_the_incident(incident_day) -> None:
    # a live engine rebuilds insights at most once per snapshot interval (wall clock), and on
    # every tick where an alarm on a totals series fires; replayed as fast as it goes here,
    # that is only those ticks (and the first): far fewer rebuilds, and the incident's insight
    # is still the top one
    exact, _ = incident_day
    paced, incident_sessions = _run(True, insight_interval_s=1e9)
    rebuilds = paced.insight_rebuilds  # type: ignore[attr-defined]
    assert 0 < rebuilds < exact.insight_rebuilds / 2  # type: ignore[attr-defined]
    # cohort alarms make no insight of their own and start no rebuild
    assert rebuilds <= sum(a.dim == "total" for a in paced.anomalies) + 1
    top = paced.snapshot().insights[0]
    assert top.route == "POST /api/pay"
    assert top.step is not None and top.step.endswith("confirm")
    assert top.example_sessions and set(top.example_sessions) <= incident_sessions


def test_funnel_and_journey_on_the_day(incident_day) -> None:
    an, _ = incident_day
    snap = an.snapshot()
    f = snap.funnels[0]
    assert [s.name for s in f.steps] == ["product", "checkout", "pay", "confirm"]
    assert f.steps[0].entered > 50_000
    assert 0.5 < f.steps[3].conversion < 1.0
    assert f.steps[3].friction.get("error_click", 0) > 0
    assert {r.dim for r in f.breakdown} == {"dev", "rel"}
    assert "POST /api/pay" in snap.journey["checkout/3 pay"]
    routes = {r.route: r for r in snap.routes}
    assert routes["POST /api/pay"].p95 > 100 and len(routes["POST /api/pay"].p95_tail) == 60


def test_normal_day_at_most_one_alarm_per_100_series() -> None:
    an, _ = _run(False)
    detected = sum(an.bank.detect)
    alarms = [a for a in an.anomalies if a.kind != "insufficient_volume"]
    assert detected >= 100
    assert len(alarms) <= detected / 100
    assert an.snapshot().insights == [] or all(not i.active for i in an.snapshot().insights)
