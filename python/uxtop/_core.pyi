"""Type stubs for the Rust extension ``uxtop._core``. Users import ``uxtop.ingest`` instead."""

from typing import Any, Self, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BAD_REASONS",
    "ConfigError",
    "CoreIngestor",
    "EVENT_TYPES",
    "InternalError",
    "STRING_TABLES",
    "UxtopError",
    "__version__",
    "gather_records",
]
__version__: str
#: bad-line reasons, in report order
BAD_REASONS: tuple[str, ...]
#: the ``type`` values, in kind-code order (``uxtop.schema.EventType``)
EVENT_TYPES: tuple[str, ...]
#: intern tables, in id order (``uxtop.batch.STRING_TABLES``)
STRING_TABLES: tuple[str, ...]

class UxtopError(Exception):
    """Base class of uxtop's errors."""

class ConfigError(UxtopError):
    """A setting is invalid; the message names the key and the fix."""

class InternalError(UxtopError):
    """A bug in the uxtop core (a caught panic)."""

@final
class CoreIngestor:
    """Incremental NDJSON parser + streaming sessioniser.

    ``feed``/``finish`` release the GIL while they work and return a dict with ``columns``
    (event arrays), ``offsets`` (CSR, int64), ``sessions`` (session table arrays),
    ``key_bytes``/``key_offsets`` and ``uid_bytes``/``uid_offsets`` (packed strings per session
    row) and ``watermark`` (int). Raises ``ConfigError`` for invalid settings.
    """

    def __new__(
        cls,
        *,
        idle_gap_ms: int = 1_800_000,
        max_session_ms: int = 86_400_000,
        lateness_ms: int = 5_000,
        evict_after_events: int = 100_000,
        max_line_bytes: int = 1_048_576,
        keep_query: bool = False,
        max_strings: int = 1_048_576,
        max_quarantine_lines: int = 100_000,
    ) -> Self: ...
    def feed(self, data: bytes) -> dict[str, Any]:
        """Parse a chunk (lines may span chunks); return the events the lateness rule releases."""
    def feed_parts(self, parts: list[bytes]) -> dict[str, Any]:
        """``feed`` of the chunks one after another, as if joined (a line may span them)."""
    def finish(self) -> dict[str, Any]:
        """Parse the last unterminated line, release everything, close every session."""
    def strings(self, table: str, start: int = 0) -> list[str]:
        """Intern table ``table`` from id ``start`` on (tables only grow, except ``uid``, which
        is rebuilt with the users still in open sessions: its ids are batch-local)."""
    def counters(self) -> dict[str, Any]:
        """lines, bytes, events, sessions, sessions_closed, open_keys, pending, late, duplicates,
        bad_lines, quarantine_dropped, uid_compactions, bad_by_reason, strings_overflowed."""
    def take_bad_lines(self) -> list[tuple[int, str, bytes]]:
        """Quarantined lines since the last call: (row, reason, bytes)."""
    def memory_bytes(self) -> int:
        """Heap held by session state and intern tables (approximate)."""
    @property
    def watermark(self) -> int:
        """Stream clock minus lateness (the smallest int64 before the first event)."""

def gather_records(
    out: npt.NDArray[np.uint8],
    itemsize: int,
    fields: list[tuple[int, npt.NDArray[np.uint8]]],
    widths: list[int],
    rows: npt.NDArray[np.int64],
) -> None:
    """Pack rows of columns into records, the GIL released: record ``i`` of ``out`` (the bytes
    of ``itemsize``-byte records) gets row ``rows[i]`` of each field's column (its bytes,
    ``widths[k]`` per row) at the field's offset. Raises ValueError, writing nothing, when the
    arguments do not fit together (a row out of range, columns of unequal length, a field
    outside the record). ``uxtop.engine.records.gather_into`` is the friendly form."""
