"""Prometheus text exposition (format 0.0.4) → per-route latency quantiles, error ratio, and
``request`` events on the shared time axis.

Histograms (``TYPE … histogram``: ``_bucket{le}``, ``_sum``, ``_count``) are grouped per route
(label ``route``/``handler``/``path``/``endpoint``/``uri``/``url``, plus ``method``) and turned
into deltas between consecutive scrapes (a counter that went down was reset: the new value is the
delta, as ``rate()`` does). Quantiles follow ``histogram_quantile`` (linear inside the bucket).
Status comes from a ``code``/``status`` label on the histogram, else from a
``*_requests_total``-style counter with the same route label.

Each delta becomes events so Prometheus-only routes sit on the same series as browser requests:
``n`` events per bucket spread evenly over the scrape interval with durations spaced evenly
inside the bucket; above ``max_events`` per route and scrape they are thinned proportionally and
carry ``props.sample`` = the kept fraction.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from uxtop.schema import Event
from uxtop.sources.health.common import HealthConfig, RouteNamer, request_event

ROUTE_LABELS = ("route", "handler", "path", "endpoint", "uri", "url", "http_route")
METHOD_LABELS = ("method", "verb", "http_method")
STATUS_LABELS = ("code", "status", "status_code", "http_status")


class Sample(msgspec.Struct, frozen=True):
    name: str
    labels: dict[str, str]
    value: float
    ts_ms: int | None = None


class ExpositionError(ValueError):
    """A malformed exposition line (message has the line number)."""


def _parse_value(s: str) -> float:
    t = s.strip()
    if t in ("+Inf", "Inf", "+inf", "inf"):
        return math.inf
    if t in ("-Inf", "-inf"):
        return -math.inf
    if t in ("NaN", "nan"):
        return math.nan
    return float(t)


def _parse_labels(text: str, i: int, lineno: int) -> tuple[dict[str, str], int]:
    """Parse ``{a="x",b="y"}`` starting at ``text[i] == '{'``; returns (labels, index after '}')."""
    labels: dict[str, str] = {}
    i += 1
    n = len(text)
    while True:
        while i < n and text[i] in " \t,":
            i += 1
        if i < n and text[i] == "}":
            return labels, i + 1
        j = i
        while j < n and (text[j].isalnum() or text[j] == "_"):
            j += 1
        key = text[i:j]
        if not key or j >= n or text[j] != "=" or j + 1 >= n or text[j + 1] != '"':
            raise ExpositionError(f"line {lineno}: bad label near {text[i : i + 20]!r}")
        j += 2
        buf = []
        while j < n and text[j] != '"':
            if text[j] == "\\" and j + 1 < n:
                nxt = text[j + 1]
                buf.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                j += 2
            else:
                buf.append(text[j])
                j += 1
        if j >= n:
            raise ExpositionError(f"line {lineno}: unterminated label value")
        labels[key] = "".join(buf)
        i = j + 1


def parse_exposition(text: str) -> tuple[list[Sample], dict[str, str]]:
    """All samples and the ``# TYPE`` of each metric family."""
    samples: list[Sample] = []
    types: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        i = 0
        n = len(line)
        while i < n and line[i] not in "{ \t":
            i += 1
        name = line[:i]
        if not name:
            raise ExpositionError(f"line {lineno}: missing metric name")
        labels: dict[str, str] = {}
        if i < n and line[i] == "{":
            labels, i = _parse_labels(line, i, lineno)
        rest = line[i:].split()
        if not rest:
            raise ExpositionError(f"line {lineno}: missing value")
        try:
            value = _parse_value(rest[0])
            ts = int(rest[1]) if len(rest) > 1 else None
        except ValueError as exc:
            raise ExpositionError(f"line {lineno}: {exc}") from None
        samples.append(Sample(name, labels, value, ts))
    return samples, types


def histogram_quantile(q: float, les: list[float], cum: list[float]) -> float:
    """Prometheus ``histogram_quantile``: ``les`` sorted upper bounds (last = +Inf), cumulative counts."""
    if not les or cum[-1] <= 0 or math.isnan(q):
        return math.nan
    rank = q * cum[-1]
    for i, (le, c) in enumerate(zip(les, cum, strict=False)):
        if c >= rank:
            if math.isinf(le):
                return les[i - 1] if i > 0 else math.nan
            lo = les[i - 1] if i > 0 else 0.0
            below = cum[i - 1] if i > 0 else 0.0
            inside = c - below
            return lo + (le - lo) * ((rank - below) / inside if inside > 0 else 1.0)
    return les[-2] if len(les) > 1 else math.nan


@dataclass
class RouteStats:
    """One route over one scrape interval (or since start, for a single file)."""

    route: str
    count: float
    errors: float
    p50: float
    p95: float
    p99: float
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, non-cumulative count)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.count if self.count > 0 else math.nan


def _pick(labels: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        if labels.get(k):
            return labels[k]
    return None


def _route_key(labels: dict[str, str], namer: RouteNamer) -> str | None:
    path = _pick(labels, ROUTE_LABELS)
    if path is None:
        return None
    method = _pick(labels, METHOD_LABELS) or ""
    return namer(method, path) if path.startswith("/") else (f"{method.upper()} {path}".strip())


class PrometheusHealth:
    """Turns successive scrapes into per-route deltas, ``RouteStats`` and events."""

    def __init__(
        self,
        cfg: HealthConfig | None = None,
        time_unit_s: bool = True,
        max_events: int = 5000,
        baseline_zero: bool = False,
    ) -> None:
        self.cfg = cfg or HealthConfig(source="prometheus")
        self.namer = RouteNamer(self.cfg)
        self.scale = 1000.0 if time_unit_s else 1.0  # bucket bounds are seconds by convention
        self.max_events = max_events
        self.baseline_zero = baseline_zero
        self._prev: dict[tuple, float] = {}
        self._prev_ts: int | None = None
        self.scrapes = 0

    def _cumulative(self, samples: list[Sample], types: dict[str, str]) -> dict[tuple, float]:
        """{(kind, route, status, le): cumulative value} for histograms and request counters."""
        hist_families = {f for f, t in types.items() if t == "histogram"}
        out: dict[tuple, float] = {}
        for s in samples:
            route = _route_key(s.labels, self.namer)
            if route is None:
                continue
            status = _pick(s.labels, STATUS_LABELS) or ""
            fam = next((f for f in hist_families if s.name == f + "_bucket"), None)
            if fam is not None and "le" in s.labels:
                key = ("bucket", route, status, _parse_value(s.labels["le"]))
                out[key] = out.get(key, 0.0) + s.value
            elif types.get(s.name) == "counter" or (
                s.name.endswith("_total") and "request" in s.name
            ):
                key = ("requests", route, status, 0.0)
                out[key] = out.get(key, 0.0) + s.value
        return out

    def update(self, text: str, ts_ms: int | None = None) -> tuple[list[RouteStats], list[Event]]:
        samples, types = parse_exposition(text)
        if ts_ms is None:
            stamped = [s.ts_ms for s in samples if s.ts_ms is not None]
            ts_ms = max(stamped) if stamped else int(time.time() * 1000)
        cur = self._cumulative(samples, types)
        first = self._prev_ts is None
        prev_ts = self._prev_ts
        self._prev_ts = ts_ms
        self.scrapes += 1
        if first and not self.baseline_zero:
            self._prev = cur
            return [], []
        delta: dict[tuple, float] = {}
        for k, v in cur.items():
            p = self._prev.get(k, 0.0)
            delta[k] = v - p if v >= p else v  # a decrease means the target restarted
        self._prev = cur
        start = prev_ts if prev_ts is not None else ts_ms - 1
        return self._stats_and_events(delta, start, ts_ms)

    def _stats_and_events(
        self, delta: dict[tuple, float], t_from: int, t_to: int
    ) -> tuple[list[RouteStats], list[Event]]:
        routes = sorted({k[1] for k in delta if k[0] == "bucket"})
        stats: list[RouteStats] = []
        events: list[Event] = []
        for route in routes:
            by_status: dict[str, dict[float, float]] = {}
            for (kind, r, st, le), v in delta.items():
                if kind == "bucket" and r == route:
                    by_status.setdefault(st, {})[le] = by_status.setdefault(st, {}).get(le, 0.0) + v
            les = sorted({le for d in by_status.values() for le in d})
            cum = [sum(d.get(le, 0.0) for d in by_status.values()) for le in les]
            total = cum[-1] if cum else 0.0
            if total <= 0:
                continue
            if any(by_status.keys() - {""}):
                errors = sum(max(d.values()) for st, d in by_status.items() if st.startswith("5"))
            else:
                req = {
                    st: v
                    for (kind, r, st, _), v in delta.items()
                    if kind == "requests" and r == route
                }
                n_req = sum(req.values())
                errors = (
                    total * (sum(v for st, v in req.items() if st.startswith("5")) / n_req)
                    if n_req > 0
                    else 0.0
                )
            q = [histogram_quantile(x, les, cum) * self.scale for x in (0.5, 0.95, 0.99)]
            buckets = [(le, cum[i] - (cum[i - 1] if i else 0.0)) for i, le in enumerate(les)]
            stats.append(RouteStats(route, total, errors, q[0], q[1], q[2], buckets))
            events.extend(self._events(route, buckets, total, errors, t_from, t_to))
        events.sort(key=lambda e: e.ts)  # type: ignore[arg-type, return-value]
        return stats, events

    def _events(
        self,
        route: str,
        buckets: list[tuple[float, float]],
        total: float,
        errors: float,
        t_from: int,
        t_to: int,
    ) -> list[Event]:
        keep = min(1.0, self.max_events / total) if total > 0 else 1.0
        durs: list[float] = []
        lo = 0.0
        last_finite = max((le for le, _ in buckets if not math.isinf(le)), default=0.0)
        for le, k in buckets:
            n = int(round(k * keep))
            hi = last_finite if math.isinf(le) else le
            for j in range(n):
                # evenly inside the bucket, as histogram_quantile's linear interpolation assumes
                durs.append(
                    (lo + (hi - lo) * (j + 0.5) / n) * self.scale
                    if not math.isinf(le)
                    else hi * self.scale
                )
            lo = hi
        n = len(durs)
        n_err = int(round(errors * keep))
        span = max(t_to - t_from, 1)
        props = (
            {"source": "prometheus"}
            if keep >= 1.0
            else {"source": "prometheus", "sample": round(keep, 6)}
        )
        uid = f"{self.cfg.source}:{route}"
        out = []
        # errors spread evenly among the requests, timestamps evenly over the interval
        err_every = n / n_err if n_err else 0.0
        err_at = {int(i * err_every) for i in range(n_err)}
        order = sorted(
            range(n), key=lambda i: (i * 7919) % max(n, 1)
        )  # interleave latencies over time
        for rank, i in enumerate(order):
            ts = t_from + int(span * (rank + 1) / (n + 1))
            out.append(
                request_event(
                    ts, route, 500 if rank in err_at else 200, round(durs[i], 3), uid, props=props
                )
            )
        return out


def read_prometheus_file(
    text: str, cfg: HealthConfig | None = None, ts_ms: int | None = None
) -> tuple[list[RouteStats], list[Event]]:
    """A saved exposition. With explicit sample timestamps, each distinct timestamp is a scrape
    (deltas between them); without, the file is one scrape of counts since the target started."""
    samples, _ = parse_exposition(text)
    stamps = sorted({s.ts_ms for s in samples if s.ts_ms is not None})
    if len(stamps) <= 1:
        ph = PrometheusHealth(cfg, baseline_zero=True)
        return ph.update(text, ts_ms)
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    ph = PrometheusHealth(cfg)
    stats: list[RouteStats] = []
    events: list[Event] = []
    for t in stamps:
        part = "\n".join(
            header
            + [
                ln
                for ln in lines
                if ln and not ln.startswith("#") and ln.rstrip().endswith(f" {t}")
            ]
        )
        st, ev = ph.update(part, t)
        stats += st
        events += ev
    return stats, events


def scrape(url: str, timeout_s: float = 5.0) -> str:
    req = urllib.request.Request(url, headers={"Accept": "text/plain;version=0.0.4"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (the user's own endpoint)
        return resp.read().decode("utf-8", "replace")


class PrometheusScraper:
    """Scrape ``url`` every ``interval_s`` on a daemon thread; ``on_events`` gets each delta's events.

    Errors are counted and the last one kept (a flaky endpoint must not kill the engine).
    """

    def __init__(
        self,
        url: str,
        interval_s: float,
        on_events: Callable[[list[RouteStats], list[Event]], None],
        cfg: HealthConfig | None = None,
    ) -> None:
        self.url = url
        self.interval_s = interval_s
        self.on_events = on_events
        self.health = PrometheusHealth(cfg)
        self.errors = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scrape_once(self) -> tuple[list[RouteStats], list[Event]]:
        text = scrape(self.url, timeout_s=max(1.0, self.interval_s))
        return self.health.update(text, int(time.time() * 1000))

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                stats, events = self.scrape_once()
                if stats or events:
                    self.on_events(stats, events)
            except (OSError, ExpositionError) as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def start(self) -> PrometheusScraper:
        self._thread = threading.Thread(target=self._loop, name="uxtop-prom-scrape", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def stats_table(stats: Iterable[RouteStats]) -> list[dict[str, float | str]]:
    return [
        {
            "route": s.route,
            "count": s.count,
            "error_ratio": s.error_ratio,
            "p50_ms": s.p50,
            "p95_ms": s.p95,
            "p99_ms": s.p99,
        }
        for s in stats
    ]
