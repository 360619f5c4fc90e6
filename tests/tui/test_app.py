"""Pilot tests: every screen and key, the drill-down path, refresh rules. Fixed data, no engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures import FixtureFeed, fixed_clock, until  # noqa: E402

from uxtop.snapshot import SetFilter, SetPaused  # noqa: E402
from uxtop.tui.app import UxtopApp, create_app  # noqa: E402
from uxtop.tui.format import clock_time  # noqa: E402
from uxtop.tui.screens.base import UxtopScreen  # noqa: E402
from uxtop.tui.screens.detectors import DetectorsScreen  # noqa: E402
from uxtop.tui.screens.help import HelpScreen  # noqa: E402
from uxtop.tui.screens.overview import OverviewScreen  # noqa: E402
from uxtop.tui.screens.pages import PagesScreen  # noqa: E402
from uxtop.tui.screens.sessions import SessionsScreen  # noqa: E402
from uxtop.tui.screens.timeline import TimelineScreen  # noqa: E402
from uxtop.tui.widgets.flag_detail import FlagDetail  # noqa: E402
from uxtop.tui.widgets.keyed_table import KeyedTable  # noqa: E402
from uxtop.tui.widgets.timeline_view import TimelineView  # noqa: E402

SIZE = (160, 48)
pytestmark = pytest.mark.asyncio


def make(tmp_path: Path | None = None, **kw) -> tuple[UxtopApp, FixtureFeed]:
    feed = FixtureFeed()
    app = create_app(
        feed, clock=fixed_clock, export_dir=str(tmp_path or "."), extra_screens={}, **kw
    )
    return app, feed


def table_keys(table: KeyedTable) -> list[str]:
    return [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]


def text_of(widget) -> str:
    return str(widget.render())


async def test_number_keys_switch_screens_and_render_data() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        pages = app.screen.query_one("#worst-pages", KeyedTable)
        assert table_keys(pages)[0] == "/checkout"
        for key, cls in (
            ("2", SessionsScreen),
            ("3", PagesScreen),
            ("4", DetectorsScreen),
            ("1", OverviewScreen),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, cls), key
        await pilot.press("4")
        await pilot.pause()
        kinds = app.screen.query_one("#detector-kinds", KeyedTable)
        assert kinds.row_count == 9
        assert app.screen.query_one("#recent-flags", KeyedTable).row_count == 12


async def test_analytics_screens_absent_says_why() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        assert any("analytics" in n.message for n in app._notifications)


async def test_drill_down_overview_sessions_timeline_back() -> None:
    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        table = app.screen.query_one(KeyedTable)
        first = table.selected_key
        assert first is not None
        await pilot.press("enter")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen) and screen.session_id == int(first)
        assert feed.drilled == [int(first)]
        view = screen.query_one(TimelineView)
        # lands on the first flag, and the side panel explains it
        assert view.entries[view.cursor].kind == "flag"
        assert "rage_click" in text_of(screen.query_one(FlagDetail))
        assert "≥3 clicks" in text_of(screen.query_one(FlagDetail))
        await pilot.press("n")
        await pilot.pause()
        assert view.entries[view.cursor].text.startswith("⚑ error_click")
        await pilot.press("n")
        await pilot.pause()
        assert view.entries[view.cursor].text.startswith("⚑ dead_click")
        await pilot.press("n")  # past the last flag: the header says so, the cursor stays
        await pilot.pause()
        assert view.entries[view.cursor].text.startswith("⚑ dead_click")
        assert "no later flag" in str(screen.query_one("#timeline-header").render())
        await pilot.press("N", "N")
        await pilot.pause()
        assert "no later flag" not in str(screen.query_one("#timeline-header").render())
        await pilot.pause()
        assert view.entries[view.cursor].text.startswith("⚑ rage_click")
        await pilot.press("G")
        await pilot.pause()
        assert view.cursor == len(view.entries) - 1
        await pilot.press("g", "j", "j")
        await pilot.pause()
        assert view.cursor == 2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert app.screen.query_one(KeyedTable).selected_key == first


async def test_timeline_export_writes_canonical_ndjson(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "enter")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        files = list(tmp_path.glob("uxtop-session-*.ndjson"))
        assert len(files) == 1
        events = [json.loads(line) for line in files[0].read_text().splitlines()]
        assert events[0]["type"] == "pageview" and events[0]["url"] == "/checkout"
        req = next(e for e in events if e["type"] == "request")
        assert (
            req["status"] == 503 and req["route"] == "POST /api/checkout" and req["dur"] == 4200.0
        )


async def test_sessions_sort_reverse_and_vim_motions() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(KeyedTable)
        rows = {str(r.session_id): r for r in app.snapshot.session_rows}
        scores = [rows[k].score for k in table_keys(table)]
        assert scores == sorted(scores, reverse=True)
        await pilot.press("s")  # time
        await pilot.pause()
        times = [rows[k].last_flag_ts for k in table_keys(table)]
        assert times == sorted(times, reverse=True)
        await pilot.press("r")
        await pilot.pause()
        assert [rows[k].last_flag_ts for k in table_keys(table)] == sorted(times)
        await pilot.press("s", "s")  # kind, page
        await pilot.pause()
        assert screen.sort == "page"
        await pilot.press("g")
        await pilot.pause()
        assert table.cursor_row == 0
        await pilot.press("j", "j", "j", "k")
        await pilot.pause()
        assert table.cursor_row == 2
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_row == table.row_count - 1


async def test_filter_goes_to_the_engine_and_esc_clears() -> None:
    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")  # from the overview: jumps to sessions and opens the filter
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press(*"kind:error", "enter")
        table = app.screen.query_one(KeyedTable)
        # the next refresh tick brings the filtered snapshot
        await until(pilot, lambda: table.row_count < 40, what="the filtered rows")
        assert SetFilter(text="kind:error") in feed.commands
        kinds = [app.snapshot.session_rows[i].kinds for i in range(len(app.snapshot.session_rows))]
        assert table.row_count == len(kinds) > 0 and all(
            any("error" in k for k in ks) for ks in kinds
        )
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 40, what="the unfiltered rows")
        assert feed.commands[-1] == SetFilter(text="")


async def test_pause_freezes_display_and_tells_engine() -> None:
    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seq = app.snapshot.seq
        await pilot.press("p")
        assert feed.commands[-1] == SetPaused(paused=True)
        feed.bump()
        await pilot.pause(0.4)
        assert app.snapshot.seq == seq  # frozen
        assert "PAUSED" in text_of(app.screen.query_one("#status"))
        await pilot.press("p")
        await until(pilot, lambda: app.snapshot.seq == seq + 1, what="the held snapshot")
        assert feed.commands[-1] == SetPaused(paused=False)


async def test_follow_pins_the_newest_flagged_session() -> None:
    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "f")
        await pilot.pause(0.1)
        newest = max(app.snapshot.session_rows, key=lambda r: r.seq)
        feed.bump()
        table = app.screen.query_one(KeyedTable)
        await until(
            pilot, lambda: table.selected_key == str(newest.session_id), what="the newest row"
        )
        assert app.follow
        assert "follow" in text_of(app.screen.query_one("#status"))


async def test_help_overlay_lists_every_key() -> None:
    from uxtop.tui.actions import ACTIONS

    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=200, record=True, file=open("/dev/null", "w"))
        console.print(app.screen._table())
        plain = console.export_text()
        for a in ACTIONS:
            assert a.display in plain and a.help.split(" (")[0] in plain
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


async def test_pages_screen_selection_and_layer() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        assert screen.selected_url == "/checkout"
        assert "clicks on /checkout" in str(screen.query_one("#heat-box").border_title)
        await pilot.press("j")
        await pilot.pause()
        assert screen.selected_url == "/cart"
        await pilot.press("m")
        await pilot.pause()
        assert "moves on /cart" in str(screen.query_one("#heat-box").border_title)
        assert screen.query_one("#page-elements", KeyedTable).row_count == 4


async def test_command_palette_runs_registry_actions() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Detectors")
        from textual.command import CommandList

        # the palette searches in the background: enter only runs a listed command
        await until(
            pilot,
            lambda: any(c.option_count for c in app.screen.query(CommandList)),
            what="the palette's matches",
        )
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetectorsScreen), what="the screen")


async def test_refresh_updates_only_the_visible_screen() -> None:
    calls: dict[str, int] = {}
    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        orig = UxtopScreen.refresh_snapshot

        def spy(self, snap):  # noqa: ANN001
            calls[type(self).__name__] = calls.get(type(self).__name__, 0) + 1
            return orig(self, snap)

        UxtopScreen.refresh_snapshot = spy  # type: ignore[method-assign]
        try:
            for _ in range(3):
                feed.bump()
                await until(
                    pilot,
                    lambda: app.snapshot.seq == feed.snap.seq,
                    what="the bumped snapshot on screen",
                )
        finally:
            UxtopScreen.refresh_snapshot = orig  # type: ignore[method-assign]
        assert calls.get("OverviewScreen", 0) >= 3
        assert "SessionsScreen" not in calls


async def test_evicted_session_shows_a_message() -> None:
    app, feed = make()
    feed.drill = lambda sid: None  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "enter")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "evicted" in text_of(app.screen.query_one("#timeline-header"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)


async def test_q_quits() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
    assert not app.is_running


@pytest.fixture(scope="module")
def engine_after_incident():
    """A real engine (Rust ingest, numba detectors, analytics) over generated traffic."""
    synth = pytest.importorskip("uxtop.synth")
    pytest.importorskip("uxtop.analytics")
    from uxtop.engine import BytesSource, Engine

    run = synth.generate(
        synth.SynthConfig(
            seed=5,
            sessions=600,
            sessions_per_s=5,
            incident=synth.Incident(start_s=40, duration_s=60),
        )
    )
    eng = Engine([BytesSource(b"".join(run.chunks()))])
    eng.wait_for_detectors(120)
    eng.run_until_done(60)
    return eng


async def test_analytics_screens_on_real_engine_data(engine_after_incident) -> None:
    from uxtop.tui.screens.funnels import FunnelsScreen
    from uxtop.tui.screens.health import HealthScreen
    from uxtop.tui.screens.insights import InsightsScreen

    app = create_app(engine_after_incident)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert {"funnels", "health", "insights"} <= app.available_screens
        for key, cls in (("5", FunnelsScreen), ("6", HealthScreen), ("7", InsightsScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, cls)
        await pilot.press("6")
        await pilot.pause()
        routes = app.screen.query_one("#routes", KeyedTable)
        assert routes.row_count == len(app.snapshot.analytics.routes) > 0


_NOW_MS = 1_767_225_600_000


def _app_with_analytics(insights: Sequence[Any] = (), anomalies: Sequence[Any] = ()) -> Any:
    """The app on the fixture feed, its snapshot carrying these insights and anomalies."""
    import msgspec

    from uxtop.analytics.live import AnalyticsSnapshot

    analytics = AnalyticsSnapshot(
        watermark=_NOW_MS, buckets=40, bucket_ms=10_000, funnels=[], routes=[], series={},
        anomalies=list(anomalies), insights=list(insights), alerts=[], correlations=[],
        journey={}, stats={},
    )  # fmt: skip
    feed = FixtureFeed()
    feed.snap = msgspec.structs.replace(feed.snap, analytics=analytics)
    return create_app(feed, clock=fixed_clock)


async def _open_insights(pilot: Any, app: Any) -> None:
    await pilot.press("7")
    await until(pilot, lambda: app.screen.NAV == "insights", what="the insights screen")


async def test_insights_of_one_route_tell_their_episodes_apart() -> None:
    """A route that degrades, recovers and degrades again gives one insight per episode with
    the same title: the list shows when each began, and its whole severity word."""
    from uxtop.analytics.insights import Insight

    def insight(since: int, severity: str) -> Insight:
        return Insight(
            id=f"route:POST /api/cart:{since}", rank=0, score=1.0, impact=1.0, confidence=0.5,
            severity=severity, title="POST /api/cart degraded (error rate)", symptom="",
            scope="", impact_text="", suspected_cause="", evidence=[], example_sessions=[],
            next_step="", since=since,
        )  # fmt: skip

    ins = [insight(_NOW_MS - 300_000, "to monitor"), insight(_NOW_MS - 60_000, "information")]
    app = _app_with_analytics(insights=ins)
    async with app.run_test(size=SIZE) as pilot:
        await _open_insights(pilot, app)
        table = app.screen.query_one("#insight-list", KeyedTable)
        await until(pilot, lambda: table.row_count == 2, what="the insights")
        rows = [[str(c) for c in table.get_row(i.id)] for i in ins]
        assert clock_time(ins[0].since) in rows[0] and clock_time(ins[1].since) in rows[1]
        assert rows[0] != rows[1]
        width = next(c.width for c in table.columns.values() if str(c.label) == "severity")
        assert width >= len(" information ")


async def test_anomalies_read_metric_scope_cohort_and_value() -> None:
    """An anomaly's row says what moved, of what, in which cohort, and its value against the
    expected one, formatted for its metric (the cohort was shown under "value", and the
    series label was cut before its cohort)."""
    from uxtop.analytics.live import AnomalyRecord

    now_ms = _NOW_MS

    def anomaly(family: str, entity: str, dim: str, value_label: str, v: float, e: float):  # noqa: ANN202
        return AnomalyRecord(
            series=f"{family}[{entity}]", family=family, entity=entity, dim=dim,
            value_label=value_label, kind="up", onset=now_ms - 60_000, fired=now_ms - 30_000,
            z=5.7, value=v, expected=e, band_lo=0.0, band_hi=e * 2, active=True,
            root_causes=[], description="",
        )  # fmt: skip

    anomalies = [
        anomaly("route.error_rate", "POST /api/cart", "dev", "desktop", 0.211, 0.003),
        anomaly("route.p95", "GET /api/search", "total", "", 1250.0, 320.0),
    ]
    app = _app_with_analytics(anomalies=anomalies)
    async with app.run_test(size=SIZE) as pilot:
        await _open_insights(pilot, app)
        table = app.screen.query_one("#anomalies", KeyedTable)
        await until(pilot, lambda: table.row_count == 2, what="the anomalies")
        rows = {tuple(str(c) for c in table.get_row_at(i))[1:5] for i in range(2)}
        assert rows == {
            ("error rate", "POST /api/cart", "dev=desktop", "21.1 % vs 0.3 %"),
            ("p95 latency", "GET /api/search", "all", "1.25 s vs 320 ms"),
        }


async def test_inferred_funnel_on_real_engine_data(engine_after_incident) -> None:
    """No funnel configured: the one inferred from the shop traffic follows the shop's flow,
    is split by cohort, and each step's row keeps its columns apart at this width."""
    from uxtop.tui.widgets.funnel_bars import FunnelBars

    funnels = engine_after_incident.latest().analytics.funnels
    assert funnels and funnels[0].inferred
    flow = ["/", "/search", "/product/*", "/cart", "/checkout", "/checkout/confirm"]
    steps = [s.name for s in funnels[0].steps]
    assert "/product/*" in steps and "/cart" in steps
    assert [flow.index(s) for s in steps] == sorted(flow.index(s) for s in steps), steps
    app = create_app(engine_after_incident)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: bool(app.screen.query(FunnelBars)), what="funnel bars")
        await pilot.pause()
        bars = app.screen.query_one(FunnelBars)
        assert "sessions" in str(bars.border_title) and "window 30m00s" in str(bars.border_title)
        lines = [strip.text for strip in app.screen._compositor.render_strips()]  # as shown
        first = next(ln for ln in lines if "1. /" in ln)
        # the first step is 100 % of itself: its bar fills the column (sized when drawn)
        assert first.count("█") >= 50, first
        # the bar's own label, then the entered count, then the step conversion, all apart
        entered = f" {funnels[0].steps[0].entered} "
        assert first.count("100.0%") == 2 and entered in first, first
        assert first.index("100.0%") < first.index(entered) < first.rindex("100.0%"), first
        breakdown = app.screen.query_one("#funnel-breakdown", KeyedTable)
        assert breakdown.row_count > 0


async def test_real_engine_drill_down_path(engine_after_incident) -> None:
    """overview → sessions → timeline → back, on real detector output."""
    app = create_app(engine_after_incident)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.snapshot.flagged_sessions > 0
        await pilot.press("2", "enter")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen) and screen.detail is not None
        assert any(e.kind == "flag" for e in screen.detail.entries)
        assert any(e.kind == "pageview" for e in screen.detail.entries)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)


async def test_screens_are_built_in_the_background_without_showing() -> None:
    """After startup every screen is composed, filled and laid out while the overview stays
    on show; switching then shows that same screen object, not a new one."""
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.unbuilt_screens()  # not all at startup: the first frame comes first
        for _ in range(100):
            if not app.unbuilt_screens():
                break
            await pilot.pause(0.1)
        assert app.unbuilt_screens() == []
        assert isinstance(app.screen, OverviewScreen)
        built = {name: app._screen_stacks[name][0] for name in ("sessions", "pages", "detectors")}
        table = built["sessions"].query_one(KeyedTable)
        assert table.row_count == len(app.snapshot.session_rows)  # filled while hidden
        assert built["pages"].query_one("#pages-table", KeyedTable).row_count > 0
        await pilot.press("3")
        await pilot.pause()
        assert app.screen is built["pages"]
        await pilot.press("2")
        await pilot.pause()
        assert app.screen is built["sessions"]
        assert app.screen.query_one(KeyedTable).has_focus


async def test_timeline_screen_is_reused_for_the_next_session() -> None:
    """esc keeps the timeline screen mounted; the next drill-down shows the new session on
    the same screen, nothing of the previous one, and a late answer for the previous one is
    ignored."""
    from uxtop.tui.messages import DetailLoaded

    app, feed = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        table = app.screen.query_one(KeyedTable)
        first = table.selected_key
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        timeline = app.screen
        assert isinstance(timeline, TimelineScreen) and timeline.session_id == int(first)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen) and timeline.is_mounted
        await pilot.press("j")
        await pilot.pause()
        second = table.selected_key
        assert second is not None and second != first
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is timeline and timeline.session_id == int(second)
        assert feed.drilled == [int(first), int(second)]
        header = str(timeline.query_one("#timeline-header").render())
        assert f"s-{int(second):05d}" in header and f"s-{int(first):05d}" not in header
        view = timeline.query_one(TimelineView)
        assert view.detail is not None and view.detail.session_id == int(second)
        assert view.entries[view.cursor].kind == "flag"
        # a drill-down answer for the session shown before changes nothing
        timeline.post_message(DetailLoaded(int(first), feed.drill(int(first)), ""))
        await pilot.pause()
        assert view.detail.session_id == int(second)
        assert f"s-{int(first):05d}" not in str(timeline.query_one("#timeline-header").render())


async def test_screenshot_without_a_downloads_dir_goes_to_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a server's home without ~/Downloads: Textual alone would only say it failed
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(tmp_path / "home" / "Downloads"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    app, _ = make()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_screenshot()
        # written on a thread of its own: wait for the whole file, not just its name
        await until(
            pilot,
            lambda: any("</svg>" in f.read_text() for f in work.glob("*.svg")),
            what="the screenshot",
        )
    shots = list(work.glob("*.svg"))
    assert len(shots) == 1, shots
    assert "<svg" in shots[0].read_text()[:2000]


async def test_the_app_gives_back_the_interpreter_settings_it_changed() -> None:
    import gc

    before = (sys.getswitchinterval(), gc.get_threshold())
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert sys.getswitchinterval() < before[0]  # keys beat the engine thread to the GIL
    assert (sys.getswitchinterval(), gc.get_threshold()) == before


async def test_alert_banner_keeps_one_line_per_alert() -> None:
    """Long alert details are cut at the edge: the '(+N more)' never wraps onto a line of its
    own and pushes the screen down."""
    import msgspec

    from uxtop.snapshot import Alert

    detail = "friction spike rule: ≥3× the previous 4-minute median and ≥6/min " * 2
    alerts = tuple(
        Alert(ts=1_767_225_600_000, severity=sev, title=f"{kind} spike: 188/min", detail=detail)
        for sev, kind in (
            ("critical", "error click"),
            ("warning", "dead click"),
            ("warning", "rage"),
        )
    )
    feed = FixtureFeed()
    feed.snap = msgspec.structs.replace(feed.snap, alerts=alerts)
    app = create_app(feed, clock=fixed_clock, extra_screens={})
    async with app.run_test(size=SIZE) as pilot:
        from uxtop.tui.widgets.alert_banner import AlertBanner

        banner = app.screen.query_one(AlertBanner)
        await until(pilot, lambda: banner.display and banner.size.height > 0, what="the banner")
        assert banner.size.height == 2
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert "(+1 more)" in lines[banner.region.y + 1]
