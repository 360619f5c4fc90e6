"""OTLP/JSON traces (the OTLP/HTTP JSON encoding of ``ExportTraceServiceRequest``) → ``request`` events.

Only HTTP *server* spans become requests (``kind`` 2 / ``SPAN_KIND_SERVER``): route from
``http.route`` (else ``url.path``/``http.target`` templated, else a span name that already reads
``METHOD /path``), method from ``http.request.method`` (``http.method`` in older semantic
conventions), status from ``http.response.status_code`` (``http.status_code``), and a span
status ``ERROR`` without an HTTP status counts as 500. Duration is end − start. A ``session.id``
attribute becomes the event's ``sid`` so backend spans join the browser session.
OTLP/JSON writes 64-bit integers as strings and ids as hex; both are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from uxtop.schema import Event
from uxtop.sources.health.common import Counters, HealthConfig, RouteNamer, request_event, to_ndjson

SERVER = 2


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items or ():
        v = kv.get("value") or {}
        for typ in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if typ in v:
                val = v[typ]
                out[kv.get("key", "")] = int(val) if typ == "intValue" else val
                break
    return out


def _kind(k: Any) -> int:
    if isinstance(k, str):
        return {
            "SPAN_KIND_INTERNAL": 1,
            "SPAN_KIND_SERVER": 2,
            "SPAN_KIND_CLIENT": 3,
            "SPAN_KIND_PRODUCER": 4,
            "SPAN_KIND_CONSUMER": 5,
        }.get(k, 0)
    return int(k or 0)


def _status_code(s: dict[str, Any] | None) -> int:
    code = (s or {}).get("code", 0)
    if isinstance(code, str):
        return {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(code, 0)
    return int(code)


def spans_to_events(
    doc: dict[str, Any], cfg: HealthConfig | None = None, counters: Counters | None = None
) -> Iterator[Event]:
    """One ``ExportTraceServiceRequest`` (decoded JSON) → request events of its server spans."""
    cfg = cfg or HealthConfig(source="otlp")
    namer = RouteNamer(cfg)
    c = counters if counters is not None else Counters()
    for rs in doc.get("resourceSpans", []) or []:
        res = _attrs((rs.get("resource") or {}).get("attributes"))
        service = str(res.get("service.name", "service"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for sp in ss.get("spans", []) or []:
                c.lines += 1
                if _kind(sp.get("kind")) != SERVER:
                    continue
                try:
                    ev = _span(sp, service, namer)
                except (ValueError, TypeError, KeyError) as exc:
                    c.fail(c.lines, f"span {sp.get('spanId', '?')}: {exc}")
                    continue
                c.events += 1
                yield ev


def _span(sp: dict[str, Any], service: str, namer: RouteNamer) -> Event:
    a = _attrs(sp.get("attributes"))
    start = int(sp["startTimeUnixNano"])
    end = int(sp.get("endTimeUnixNano") or start)
    method = str(a.get("http.request.method") or a.get("http.method") or "")
    route = a.get("http.route")
    name = str(sp.get("name", ""))
    if route:
        route_name = f"{method} {route}".strip() if method else str(route)
    elif a.get("url.path") or a.get("http.target"):
        route_name = namer(method, str(a.get("url.path") or a.get("http.target")))
    elif " /" in name:
        route_name = name
    else:
        raise ValueError("server span without http.route, url.path or a 'METHOD /path' name")
    status = a.get("http.response.status_code", a.get("http.status_code"))
    st = _status_code(sp.get("status"))
    if status is None and st == 2:
        status = 500
    msg = (sp.get("status") or {}).get("message") or None
    for ev in sp.get("events", []) or []:  # an exception event carries the real message
        if ev.get("name") == "exception":
            ea = _attrs(ev.get("attributes"))
            msg = ea.get("exception.message") or ea.get("exception.type") or msg
    sid = a.get("session.id")
    return request_event(
        start // 1_000_000,
        route_name,
        int(status) if status is not None else None,
        (end - start) / 1e6,
        uid=f"otlp:{service}",
        sid=str(sid) if sid else None,
        url=a.get("url.path") if isinstance(a.get("url.path"), str) else None,
        msg=msg,
        props={"source": "otlp", "service": service, "trace_id": sp.get("traceId")},
    )


def parse_otlp_json(
    data: bytes | str, cfg: HealthConfig | None = None, counters: Counters | None = None
) -> list[Event]:
    """A file holding one request document, or one document per line (the file exporter's form)."""
    text = data.decode() if isinstance(data, bytes) else data
    stripped = text.strip()
    if not stripped:
        return []
    try:
        docs: Iterable[Any] = [msgspec.json.decode(stripped)]
    except msgspec.DecodeError:
        docs = [msgspec.json.decode(line) for line in stripped.splitlines() if line.strip()]
    out: list[Event] = []
    for d in docs:
        out.extend(spans_to_events(d, cfg, counters))
    out.sort(key=lambda e: e.ts)  # type: ignore[arg-type, return-value]
    return out


def otlp_to_ndjson(data: bytes, cfg: HealthConfig | None = None) -> bytes:
    return to_ndjson(parse_otlp_json(data, cfg))
