"""Web server access logs → ``request`` events.

Formats (auto-detected per line):

* **combined** (nginx ``combined``, Apache ``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``)
  with the request time appended: nginx ``$request_time`` (seconds with a dot, ``0.123``),
  Apache ``%D`` (integer microseconds) or ``%T`` (integer seconds, when ``time_unit="s"``), or a
  ``key=value`` tail such as ``rt=0.123 urt="0.120"`` (nginx ``log_format`` conventions).
  Plain ``common`` lines (no time) are kept with no duration.
* **JSON** lines: nginx ``escape=json`` formats (``time_iso8601``/``time_local``, ``request`` or
  ``request_method`` + ``request_uri``, ``status``, ``request_time``), Caddy (``ts``,
  ``request.method``/``request.uri``, ``status``, ``duration`` s) and Traefik (``StartUTC``,
  ``RequestMethod``, ``RequestPath``, ``DownstreamStatus``, ``Duration`` ns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

import msgspec

from uxtop.schema import Event, parse_iso_ms, ts_to_ms
from uxtop.sources.health.common import Counters, HealthConfig, RouteNamer, request_event, to_ndjson

TimeUnit = Literal["auto", "s", "ms", "us"]

_COMBINED = re.compile(
    r'^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r"(?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
    r"(?P<rest>.*)$"
)
_KV_TIME = re.compile(r'(?:^|\s)(?:rt|request_time|rtime|duration)="?(?P<v>[0-9.]+)"?')
_BARE_NUM = re.compile(r"^\s*(?P<v>\d+(?:\.\d+)?)\b")


def _clf_time(text: str) -> int:
    """``10/Oct/2000:13:55:36 -0700`` → ms since epoch."""
    return int(datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)


def _duration_ms(raw: str, unit: TimeUnit) -> float:
    v = float(raw)
    if unit == "auto":
        # nginx writes seconds with millisecond decimals; Apache %D writes integer microseconds
        unit = "s" if "." in raw else "us"
    return v * {"s": 1000.0, "ms": 1.0, "us": 0.001}[unit]


def _split_request(req: str) -> tuple[str, str] | None:
    parts = req.split(" ")
    if len(parts) >= 2 and parts[0].isalpha():
        return parts[0], parts[1]
    return None


def parse_combined(
    line: str, cfg: HealthConfig, namer: RouteNamer, unit: TimeUnit = "auto"
) -> Event | None:
    m = _COMBINED.match(line)
    if m is None:
        raise ValueError("not a common/combined log line")
    req = _split_request(m.group("request"))
    if req is None:
        raise ValueError(f"bad request field {m.group('request')!r}")
    method, path = req
    status = None if m.group("status") == "-" else int(m.group("status"))
    rest = m.group("rest") or ""
    dur = None
    kv = _KV_TIME.search(rest)
    if kv:
        dur = _duration_ms(kv.group("v"), "s" if unit == "auto" else unit)
    else:
        bare = _BARE_NUM.match(rest)
        if bare:
            dur = _duration_ms(bare.group("v"), unit)
    uid = f"{cfg.source}:{m.group('host')}" if cfg.uid_from_client else cfg.source
    return request_event(
        _clf_time(m.group("time")),
        namer(method, path),
        status,
        dur,
        uid,
        props={"source": "access_log"},
    )


def _get(obj: dict[str, Any], *paths: str) -> Any:
    for p in paths:
        cur: Any = obj
        for k in p.split("."):
            if not isinstance(cur, dict) or k not in cur:
                cur = None
                break
            cur = cur[k]
        if cur is not None and cur != "" and cur != "-":
            return cur
    return None


def _json_ts(v: Any) -> int:
    if isinstance(v, (int, float)):
        return ts_to_ms(v)
    s = str(v)
    if "/" in s and ":" in s and "[" not in s:
        return _clf_time(s)
    return parse_iso_ms(s)


def parse_json_line(
    line: str | bytes, cfg: HealthConfig, namer: RouteNamer, unit: TimeUnit = "auto"
) -> Event | None:
    obj = msgspec.json.decode(line)
    if not isinstance(obj, dict):
        raise ValueError("JSON line is not an object")
    t = _get(obj, "time_iso8601", "@timestamp", "timestamp", "time", "StartUTC", "time_local", "ts")
    if t is None:
        raise ValueError("no timestamp key")
    ts = _json_ts(t)
    method = _get(obj, "request_method", "method", "request.method", "RequestMethod", "http.method")
    path = _get(obj, "request_uri", "uri", "path", "request.uri", "RequestPath", "url", "http.url")
    if method is None or path is None:
        req = _get(obj, "request")
        parsed = _split_request(req) if isinstance(req, str) else None
        if parsed is None:
            raise ValueError("no method/path")
        method, path = parsed
    status = _get(obj, "status", "DownstreamStatus", "status_code", "response.status")
    status = int(status) if status is not None else None
    dur = None
    if (v := _get(obj, "request_time")) is not None:
        dur = _duration_ms(str(v), "s" if unit == "auto" else unit)
    elif (v := _get(obj, "Duration")) is not None:  # Traefik: nanoseconds
        dur = float(v) / 1e6
    elif (v := _get(obj, "duration_ms", "latency_ms")) is not None:
        dur = float(v)
    elif (v := _get(obj, "duration", "latency")) is not None:  # Caddy: seconds
        dur = float(v) * 1000.0 if unit in ("auto", "s") else _duration_ms(str(v), unit)
    host = _get(obj, "remote_addr", "request.remote_ip", "ClientHost", "client_ip", "remote_ip")
    uid = f"{cfg.source}:{host}" if (cfg.uid_from_client and host) else cfg.source
    return request_event(
        ts, namer(str(method), str(path)), status, dur, uid, props={"source": "access_log"}
    )


def parse_access_log(
    lines: Iterable[bytes | str],
    cfg: HealthConfig | None = None,
    unit: TimeUnit = "auto",
    counters: Counters | None = None,
) -> Iterator[Event]:
    """Lines of any supported format → events; bad lines are counted (``counters``), not raised."""
    cfg = cfg or HealthConfig()
    namer = RouteNamer(cfg)
    c = counters if counters is not None else Counters()
    for i, raw in enumerate(lines):
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        c.lines += 1
        try:
            ev = (
                parse_json_line(line, cfg, namer, unit)
                if line.lstrip().startswith("{")
                else parse_combined(line, cfg, namer, unit)
            )
        except (ValueError, msgspec.DecodeError, TypeError) as exc:
            c.fail(i + 1, str(exc))
            continue
        if ev is not None:
            c.events += 1
            yield ev


def access_log_to_ndjson(
    data: bytes, cfg: HealthConfig | None = None, unit: TimeUnit = "auto"
) -> bytes:
    return to_ndjson(parse_access_log(data.splitlines(), cfg, unit))
