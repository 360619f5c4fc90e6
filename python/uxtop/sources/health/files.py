"""One entry point for health files: detect the format, return canonical NDJSON.

``health_to_ndjson(data)`` sniffs the content — OTLP/JSON (``resourceSpans``), Prometheus text
exposition (``# TYPE``/``_bucket{``), JSON access log lines, or common/combined log lines — so
``uxtop tail``/``report`` can take a health file next to the event files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from uxtop.sources.health.access_log import parse_access_log
from uxtop.sources.health.common import Counters, HealthConfig, to_ndjson
from uxtop.sources.health.otlp import parse_otlp_json
from uxtop.sources.health.prometheus import read_prometheus_file

HealthFormat = Literal["otlp", "prometheus", "access_log"]


def sniff_format(data: bytes) -> HealthFormat:
    head = data[:65536].lstrip()
    if b'"resourceSpans"' in head:
        return "otlp"
    if head.startswith(b"# HELP") or head.startswith(b"# TYPE") or b"_bucket{" in head:
        return "prometheus"
    return "access_log"


def health_to_ndjson(
    data: bytes,
    fmt: HealthFormat | None = None,
    cfg: HealthConfig | None = None,
    counters: Counters | None = None,
) -> bytes:
    """Canonical ``request`` events (NDJSON) of a health file of any supported format."""
    fmt = fmt or sniff_format(data)
    if fmt == "otlp":
        return to_ndjson(parse_otlp_json(data, cfg, counters))
    if fmt == "prometheus":
        return to_ndjson(read_prometheus_file(data.decode("utf-8", "replace"), cfg)[1])
    return to_ndjson(parse_access_log(data.splitlines(), cfg, counters=counters))


def health_file_to_ndjson(
    path: str | Path, fmt: HealthFormat | None = None, cfg: HealthConfig | None = None
) -> bytes:
    return health_to_ndjson(Path(path).read_bytes(), fmt, cfg)
