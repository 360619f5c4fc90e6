"""The headless engine: sources → ingest → detectors → analytics on a worker thread, publishing
immutable ``uxtop.snapshot.Snapshot``s. Imports no UI toolkit (checked by a test)."""

from uxtop.engine.core import (
    Engine,
    Retention,
    alert_json,
    match_filter,
    parse_filter,
    snapshot_status,
)
from uxtop.engine.sources import BytesSource, FileTail, IterSource, StreamSource, open_sources

__all__ = [
    "BytesSource",
    "Engine",
    "FileTail",
    "IterSource",
    "Retention",
    "StreamSource",
    "alert_json",
    "match_filter",
    "open_sources",
    "parse_filter",
    "snapshot_status",
]
