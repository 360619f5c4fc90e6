"""Insight records and their wording (reference/analytics.md §4 and rec 9).

An insight is *symptom · scope · impact · suspected cause · evidence · next step*. Causes are
only state changes — a release, a traffic spike, an upstream route degrading — and always say
"suspected"; a route's own latency or errors are the symptom, never the cause. Insights are
ranked by impact × confidence.
"""

from __future__ import annotations

import time

import msgspec

from uxtop.analytics.rca import RootCause


class Insight(msgspec.Struct, frozen=True):
    """One ranked finding, ready to render (all text fields are complete sentences/phrases)."""

    id: str
    rank: int
    score: float
    impact: float
    confidence: float
    severity: str  # "urgent" | "to monitor" | "information"
    title: str
    symptom: str
    scope: str
    impact_text: str
    suspected_cause: str
    evidence: list[str]
    example_sessions: list[int]
    next_step: str
    since: int
    route: str | None = None
    step: str | None = None
    friction: dict[str, int] = {}
    sessions_affected: int = 0
    conversions_lost: float = 0.0
    root_causes: list[RootCause] = []
    active: bool = True


def fmt_ts(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + "Z"


def fmt_value(family: str, v: float) -> str:
    if v != v:
        return "n/a"
    if family.startswith("route.p"):
        return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"
    if family in ("route.error_rate", "step.conversion"):
        return f"{100 * v:.1f} %"
    return f"{v:.1f}"


def metric_name(family: str) -> str:
    return {
        "route.p95": "p95 latency",
        "route.p50": "median latency",
        "route.p99": "p99 latency",
        "route.error_rate": "error rate",
        "route.count": "request rate",
        "step.conversion": "conversion",
        "flags": "flag count",
        "sessions.active": "active sessions",
        "step.arrivals": "arrivals",
    }.get(family, family)


def severity(score: float, confidence: float) -> str:
    if confidence >= 0.6 and score >= 50:
        return "urgent"
    if confidence >= 0.3:
        return "to monitor"
    return "information"


def rank(insights: list[Insight]) -> list[Insight]:
    # live problems first, then resolved ones; each group by impact × confidence
    ordered = sorted(insights, key=lambda i: (not i.active, -i.score, i.since, i.id))
    return [msgspec.structs.replace(ins, rank=k + 1) for k, ins in enumerate(ordered)]
