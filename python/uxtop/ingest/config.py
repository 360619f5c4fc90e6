"""Settings of the parse + sessionise core (the ``[ingest]`` table of ``uxtop.toml``)."""

from __future__ import annotations

import msgspec


class IngestConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How events become sessions.

    idle_gap_ms: a gap longer than this between two events of one key starts a new session.
    max_session_ms: a session is cut when it reaches this length.
    lateness_ms: how far behind its session's newest event an event may arrive and still be put
        in order; older ones are counted as ``late``. Also how long events wait before release.
    max_line_bytes: longer lines are quarantined as ``too_long``.
    keep_query: keep ``?query`` in URLs (the scheme and host are always dropped).
    evict_after_events: a key's state is forgotten (its session closed, memory freed) once this
        many events have arrived since its last one *and* the stream's clock has moved more than
        ``idle_gap_ms`` past its newest event. Both, so that replays of files that are not sorted
        by time keep their sessions whole, and memory stays bounded on live streams.
    """

    idle_gap_ms: int = 30 * 60 * 1000
    max_session_ms: int = 24 * 60 * 60 * 1000
    lateness_ms: int = 5_000
    max_line_bytes: int = 1 << 20
    keep_query: bool = False
    evict_after_events: int = 100_000

    def __post_init__(self) -> None:
        defaults = IngestConfig.__struct_defaults__
        for name in ("idle_gap_ms", "max_session_ms", "max_line_bytes", "evict_after_events"):
            if getattr(self, name) <= 0:
                default = defaults[IngestConfig.__struct_fields__.index(name)]
                raise ValueError(
                    f"ingest.{name} must be > 0 (got {getattr(self, name)}); the default is {default}"
                )
        if self.lateness_ms < 0:
            raise ValueError(
                f"ingest.lateness_ms must be >= 0 (got {self.lateness_ms}); the default is 5000"
            )
