"""Health sources on sample files written from the formats' specifications, and a live
Prometheus scrape of a local endpoint."""

from __future__ import annotations

import http.server
import math
import threading
import time
from pathlib import Path

import pytest

from uxtop.ingest.reference import reference_ingest, result_to_batch
from uxtop.schema import EventType, Kind
from uxtop.sources.health import (
    Counters,
    HealthConfig,
    PrometheusHealth,
    PrometheusScraper,
    RouteRule,
    access_log_to_ndjson,
    histogram_quantile,
    parse_access_log,
    parse_exposition,
    parse_otlp_json,
    read_prometheus_file,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "health"


def test_nginx_combined_with_request_time() -> None:
    c = Counters()
    evs = list(
        parse_access_log((DATA / "nginx_combined.log").read_bytes().splitlines(), counters=c)
    )
    assert c.bad == 1 and c.events == 7
    assert all(e.type == EventType.REQUEST for e in evs)
    first = evs[0]
    assert (
        first.route == "GET /api/product/:id"
        and first.status == 200
        and first.dur == pytest.approx(42.0)
    )
    assert first.ts == 1791640536000 and first.uid == "health:203.0.113.7"
    # +0200 offset → same instant as 13:55:38Z; query dropped, id templated
    assert evs[2].ts == 1791640538000 and evs[2].route == "GET /api/product/:id"
    pay = [e for e in evs if e.route == "POST /api/pay"]
    assert [e.status for e in pay] == [502, 200] and pay[0].dur == pytest.approx(2503.0)
    assert evs[5].route == "GET /orders/:id" and evs[5].status == 404
    assert evs[6].route == "GET /healthz" and evs[6].dur == pytest.approx(1.0)  # rt= key/value tail


def test_apache_combined_microseconds_and_common() -> None:
    evs = list(parse_access_log((DATA / "apache_combined.log").read_text().splitlines()))
    assert [e.dur for e in evs] == [pytest.approx(1.534), pytest.approx(2250.0), None]
    assert evs[1].status == 500 and evs[1].route == "POST /api/checkout"
    assert evs[0].ts == 1791640536000 + 7 * 3_600_000  # -0700


def test_json_access_logs_nginx_caddy_traefik() -> None:
    c = Counters()
    evs = list(parse_access_log((DATA / "access.json").read_bytes().splitlines(), counters=c))
    assert c.bad == 1 and len(evs) == 4
    assert (evs[0].route, evs[0].status, evs[0].dur) == (
        "GET /api/product/:id",
        200,
        pytest.approx(42.0),
    )
    assert (evs[1].route, evs[1].status, evs[1].dur) == (
        "POST /api/pay",
        503,
        pytest.approx(1204.0),
    )
    assert (evs[2].route, evs[2].dur, evs[2].ts) == (
        "GET /api/cart",
        pytest.approx(15.3),
        1791640538250,
    )
    assert (evs[3].route, evs[3].status, evs[3].dur) == (
        "DELETE /api/cart/:id",
        204,
        pytest.approx(4.5),
    )


def test_route_rules_and_ingest_roundtrip() -> None:
    cfg = HealthConfig(routes=[RouteRule(pattern=r"^GET /healthz", route="health probe")])
    data = access_log_to_ndjson((DATA / "nginx_combined.log").read_bytes(), cfg)
    res = reference_ingest(data)
    assert res.counters["bad_lines"] == 0 and res.counters["events"] == 7
    batch, tables = result_to_batch(res)
    assert "health probe" in tables["route"] and "POST /api/pay" in tables["route"]
    assert set(batch.columns["kind"].tolist()) == {int(Kind.REQUEST)}


def test_otlp_json_server_spans() -> None:
    c = Counters()
    evs = parse_otlp_json((DATA / "otlp_traces.json").read_bytes(), counters=c)
    assert len(evs) == 3 and c.bad == 0  # the client span is skipped
    pay, product, cart = evs
    assert (pay.route, pay.status, pay.dur, pay.sid) == (
        "POST /api/pay",
        502,
        pytest.approx(2503.0),
        "sess-42",
    )
    assert pay.msg == "payment gateway timeout" and pay.ts == 1791640536000
    assert (product.route, product.status, product.dur) == (
        "GET /api/product/:id",
        200,
        pytest.approx(12.5),
    )
    assert (cart.route, cart.status) == (
        "GET /api/cart",
        500,
    )  # span status ERROR without HTTP status


def test_exposition_parser_and_quantiles() -> None:
    samples, types = parse_exposition((DATA / "metrics.prom").read_text())
    assert types["http_request_duration_seconds"] == "histogram"
    note = next(s for s in samples if s.name == "process_note")
    assert note.labels["text"] == 'say "hi"\\n\nend'
    assert next(s for s in samples if s.name == "go_goroutines").ts_ms == 1791640536000
    les = [0.1, 0.25, 0.5, 1.0, math.inf]
    cum = [10, 60, 90, 98, 100]
    assert histogram_quantile(0.5, les, cum) == pytest.approx(0.1 + 0.15 * (40 / 50))
    assert histogram_quantile(0.99, les, cum) == pytest.approx(1.0)  # in +Inf → last finite bound
    assert math.isnan(histogram_quantile(0.5, les, [0, 0, 0, 0, 0]))


def test_prometheus_file_to_route_stats_and_events() -> None:
    stats, events = read_prometheus_file((DATA / "metrics.prom").read_text(), ts_ms=1791640600000)
    by = {s.route: s for s in stats}
    pay = by["POST /api/pay"]
    assert pay.count == 100 and pay.error_ratio == pytest.approx(0.05)
    assert pay.p50 == pytest.approx(220.0) and pay.p95 == pytest.approx(500 + 500 * 5 / 8)
    assert by["GET /api/cart"].error_ratio == 0
    pay_ev = [e for e in events if e.route == "POST /api/pay"]
    assert len(pay_ev) == 100 and sum(e.status == 500 for e in pay_ev) == 5
    durs = sorted(e.dur for e in pay_ev)
    assert durs[49] == pytest.approx(220.0, rel=0.15)  # events reproduce the histogram


class _Metrics(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_GET(self) -> None:  # noqa: N802
        _Metrics.count += 1
        n = _Metrics.count
        # each scrape: 50 more requests, 10 of them slow, 5 errors
        body = "\n".join(
            [
                "# TYPE api_latency_seconds histogram",
                f'api_latency_seconds_bucket{{route="/api/pay",method="POST",code="200",le="0.2"}} {40 * n}',
                f'api_latency_seconds_bucket{{route="/api/pay",method="POST",code="200",le="2"}} {45 * n}',
                f'api_latency_seconds_bucket{{route="/api/pay",method="POST",code="200",le="+Inf"}} {45 * n}',
                'api_latency_seconds_bucket{route="/api/pay",method="POST",code="503",le="0.2"} 0',
                f'api_latency_seconds_bucket{{route="/api/pay",method="POST",code="503",le="2"}} {5 * n}',
                f'api_latency_seconds_bucket{{route="/api/pay",method="POST",code="503",le="+Inf"}} {5 * n}',
                "",
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_live_scrape_of_local_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy in the environment must not get it
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    got: list = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        scraper = PrometheusScraper(url, 0.2, lambda st, ev: got.append((st, ev))).start()
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        scraper.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert len(got) >= 2, (
        f"scrapes: {_Metrics.count}, errors: {scraper.errors} {scraper.last_error}"
    )
    stats, events = got[0]
    # 50 requests a scrape; a scrape that timed out on a loaded machine after the endpoint
    # counted it makes the next difference span two (100): the shape holds either way
    n = stats[0].count
    assert stats[0].route == "POST /api/pay" and n in (50, 100, 150)
    assert stats[0].error_ratio == pytest.approx(0.1)
    assert len(events) == n and sum(e.status == 503 or e.status == 500 for e in events) == n // 10
    assert all(e.type == EventType.REQUEST for e in events)


def test_counter_reset_is_a_restart_not_a_negative_delta() -> None:
    ph = PrometheusHealth()

    def text(n: int) -> str:
        return (
            "# TYPE h histogram\n"
            f'h_bucket{{path="/a",le="1"}} {n}\n'
            f'h_bucket{{path="/a",le="+Inf"}} {n}\n'
        )

    assert ph.update(text(100), 1000) == ([], [])
    stats, _ = ph.update(text(130), 2000)
    assert stats[0].count == 30
    stats, _ = ph.update(text(7), 3000)  # target restarted
    assert stats[0].count == 7


def test_sniffed_formats_ingest_together_with_usage() -> None:
    """Every sample file, format sniffed, through the reference ingestor into one batch + analytics."""
    from uxtop.analytics import Analytics
    from uxtop.sources.health import health_file_to_ndjson, sniff_format

    names = {
        "nginx_combined.log": "access_log",
        "apache_combined.log": "access_log",
        "access.json": "access_log",
        "metrics.prom": "prometheus",
        "otlp_traces.json": "otlp",
    }
    data = b""
    for name, fmt in names.items():
        raw = (DATA / name).read_bytes()
        assert sniff_format(raw) == fmt
        data += health_file_to_ndjson(DATA / name)
    res = reference_ingest(data)
    assert res.counters["bad_lines"] == 0 and res.counters["events"] > 500
    batch, tables = result_to_batch(res)
    an = Analytics()
    an.update(batch, tables)
    an.flush()
    routes = {r.route for r in an.snapshot().routes}
    assert {"POST /api/pay", "GET /api/cart", "GET /api/product/:id"} <= routes
    # pseudo-sessions of server logs are not active users
    assert an.snapshot().series.get("sessions.active") is None
