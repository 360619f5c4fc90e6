"""6 Health vs usage: backend routes (rate, errors, latency quantiles against their baseline)
beside usage series (active sessions, flags), and the links found between them with lag."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from uxtop.snapshot import Snapshot
from uxtop.tui.format import human, sparkline
from uxtop.tui.screens.base import UxtopScreen
from uxtop.tui.widgets.keyed_table import KeyedTable
from uxtop.tui.widgets.set_text import set_text

ROUTE_COLS = (
    ("route", "route", 26),
    ("rps", "req/s", 7),
    ("err", "errors", 7),
    ("p50", "p50", 7),
    ("p95", "p95", 7),
    ("p99", "p99", 7),
    ("exp", "p95 exp.", 8),
    ("z", "z", 6),
    ("p95tail", "p95 trend", 24),
    ("errtail", "error trend", 24),
)
USAGE_COLS = (
    ("series", "usage series", 30),
    ("now", "now", 8),
    ("exp", "expected", 8),
    ("trend", "trend", 40),
)
LINK_COLS = (
    ("health", "health", 30),
    ("usage", "usage", 24),
    ("lag", "lag", 6),
    ("r", "r", 6),
    ("claimed", "link", 8),
    ("reason", "why", 50),
)


def _ms(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.0f}ms" if v < 1000 else f"{v / 1000:.1f}s"


def _finite(vals: Any) -> list[float]:
    return [
        0.0 if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v)
        for v in (vals or [])
    ]


class HealthScreen(UxtopScreen):
    NAV = "health"

    def compose_body(self) -> Iterable[Widget]:
        yield Static(id="health-caption")
        with Vertical(classes="panel", id="routes-box") as r:
            r.border_title = "backend routes (latest bucket vs baseline)"
            yield KeyedTable(ROUTE_COLS, id="routes")
        with Horizontal(id="health-bottom"):
            with Vertical(classes="panel", id="usage-box") as u:
                u.border_title = "usage"
                yield KeyedTable(USAGE_COLS, id="usage")
            with Vertical(classes="panel", id="links-box") as k:
                k.border_title = "health → usage links (cross-correlation with lag)"
                yield KeyedTable(LINK_COLS, id="links")

    def on_mount(self) -> None:
        self.focus_main("#routes")

    def apply_snapshot(self, snap: Snapshot) -> None:
        a = snap.analytics
        cap = Text(no_wrap=True)
        if a is None:
            cap.append(" analytics not running", style="bold yellow")
        else:
            stats = getattr(a, "stats", {}) or {}
            cap.append(
                f" {human(stats.get('series', 0))} series · {int(stats.get('alarms_active', 0))} active alarms · bucket {getattr(a, 'bucket_ms', 0) // 1000}s",
                style="dim",
            )
        set_text(self.query_one("#health-caption", Static), cap)
        routes = list(getattr(a, "routes", []) or [])
        self.query_one("#routes", KeyedTable).sync(
            [
                (
                    r.route,
                    (
                        Text(r.route, style="bold red" if r.alarm else ""),
                        f"{r.rps:.1f}",
                        Text(
                            "—" if math.isnan(r.error_rate) else f"{r.error_rate * 100:.1f}%",
                            style="bold red"
                            if not math.isnan(r.error_rate) and r.error_rate >= 0.05
                            else "",
                        ),
                        _ms(r.p50),
                        Text(_ms(r.p95), style="bold red" if r.alarm else ""),
                        _ms(r.p99),
                        _ms(r.expected_p95),
                        f"{r.z_p95:.1f}" if not math.isnan(r.z_p95) else "—",
                        Text(
                            sparkline(_finite(r.p95_tail)[-24:]),
                            style="#ff8700" if r.alarm else "#87afaf",
                        ),
                        Text(sparkline(_finite(r.error_tail)[-24:]), style="#ff5f5f"),
                    ),
                )
                for r in routes
            ]
        )
        series = getattr(a, "series", {}) or {}
        usage = [(k, v) for k, v in series.items() if not k.startswith("route.")]
        self.query_one("#usage", KeyedTable).sync(
            [
                (
                    k,
                    (
                        Text(k, style="bold red" if v.alarm else ""),
                        human(_finite(v.values)[-1]) if v.values else "—",
                        "—" if v.expected is None else human(v.expected),
                        Text(sparkline(_finite(v.values)[-40:]), style="#5fafff"),
                    ),
                )
                for k, v in usage[:40]
            ]
        )
        links = list(getattr(a, "correlations", []) or [])
        self.query_one("#links", KeyedTable).sync(
            [
                (
                    f"{c.health}\t{c.usage}",
                    (
                        c.health,
                        c.usage,
                        f"{c.lag_s}s",
                        f"{c.r:.2f}",
                        Text(
                            "claimed" if c.claimed else "no",
                            style="bold green" if c.claimed else "dim",
                        ),
                        c.reason,
                    ),
                )
                for c in links[:30]
            ]
        )
