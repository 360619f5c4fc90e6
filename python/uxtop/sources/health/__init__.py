"""Backend health sources → canonical ``request`` events on the same time axis as usage.

* ``access_log``: nginx/Apache combined (+ request time) and JSON access logs (nginx, Caddy, Traefik)
* ``prometheus``: text exposition from a file or a periodic scrape; histograms → quantiles, error ratio
* ``otlp``: OTLP/JSON traces, HTTP server spans
"""

from uxtop.sources.health.access_log import access_log_to_ndjson, parse_access_log
from uxtop.sources.health.common import Counters, HealthConfig, RouteNamer, RouteRule, to_ndjson
from uxtop.sources.health.files import health_file_to_ndjson, health_to_ndjson, sniff_format
from uxtop.sources.health.otlp import otlp_to_ndjson, parse_otlp_json
from uxtop.sources.health.prometheus import (
    PrometheusHealth,
    PrometheusScraper,
    RouteStats,
    histogram_quantile,
    parse_exposition,
    read_prometheus_file,
)

__all__ = [
    "Counters",
    "HealthConfig",
    "PrometheusHealth",
    "PrometheusScraper",
    "RouteNamer",
    "RouteRule",
    "RouteStats",
    "access_log_to_ndjson",
    "health_file_to_ndjson",
    "health_to_ndjson",
    "sniff_format",
    "histogram_quantile",
    "otlp_to_ndjson",
    "parse_access_log",
    "parse_exposition",
    "parse_otlp_json",
    "read_prometheus_file",
    "to_ndjson",
]
