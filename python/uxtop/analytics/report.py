"""Markdown form of the analytics part of ``uxtop report``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from uxtop.analytics.insights import fmt_ts, fmt_value

if TYPE_CHECKING:
    from uxtop.analytics.live import AnalyticsSnapshot


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def render_markdown(s: AnalyticsSnapshot) -> str:
    out: list[str] = []
    out.append("## Insights\n")
    if not s.insights:
        out.append("No insight: no anomaly is active.\n")
    for ins in s.insights[:10]:
        out.append(
            f"### {ins.rank}. {ins.title}  \n*{ins.severity}* · score {ins.score:.0f} · confidence {ins.confidence:.2f}\n"
        )
        out.append(f"- **Symptom:** {ins.symptom}")
        out.append(f"- **Scope:** {ins.scope}")
        out.append(f"- **Impact:** {ins.impact_text}")
        out.append(f"- **Suspected cause:** {ins.suspected_cause}")
        for ev in ins.evidence:
            out.append(f"- Evidence: {ev}")
        out.append(f"- **Next step:** {ins.next_step}\n")
    out.append("## Funnels\n")
    for f in s.funnels:
        out.append(
            f"### {f.name}{' (inferred)' if f.inferred else ''} — {f.order}, window {f.window_s:g} s, "
            f"{f.units} {f.unit}s, overall {_pct(f.conversion)}\n"
        )
        out.append("| step | entered | conversion | dropped | median time to convert | friction |")
        out.append("|---|---:|---:|---:|---:|---|")
        for st in f.steps:
            ttc = (
                f"{st.median_time_to_convert_s:.1f} s"
                if st.median_time_to_convert_s is not None
                else "–"
            )
            fr = ", ".join(f"{k} ×{v}" for k, v in st.friction.items()) or "–"
            out.append(
                f"| {st.name} | {st.entered} | {_pct(st.conversion)} | {st.dropped} | {ttc} | {fr} |"
            )
        out.append("")
    out.append("## Anomalies\n")
    if not s.anomalies:
        out.append("None.\n")
    else:
        out.append("| series | kind | since | value | expected | z | active | root cause |")
        out.append("|---|---|---|---:|---:|---:|---|---|")
        for a in s.anomalies[:30]:
            rc = a.root_causes[0].describe() if a.root_causes else "–"
            out.append(
                f"| {a.series} | {a.kind} | {fmt_ts(a.onset)} | {fmt_value(a.family, a.value)} | "
                f"{fmt_value(a.family, a.expected)} | {a.z:+.1f} | {'yes' if a.active else 'no'} | {rc} |"
            )
        out.append("")
    out.append("## Route health\n")
    out.append("| route | req/s | errors | p50 | p95 | p99 |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for r in s.routes:
        out.append(
            f"| {r.route} | {r.rps:.1f} | {_pct(r.error_rate) if r.error_rate == r.error_rate else '–'} | "
            f"{fmt_value('route.p50', r.p50)} | {fmt_value('route.p95', r.p95)} | {fmt_value('route.p99', r.p99)} |"
        )
    return "\n".join(out) + "\n"
