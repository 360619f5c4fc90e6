"""Parse + sessionise throughput: uxtop next to its peers, on the same file, in the same run.

Every contender does the same work end to end: read the NDJSON file, parse every canonical
column, group events into sessions (key = sid else uid, 30-min idle gap) ordered by
(session, ts), and hand the result over as numpy arrays. Figures are rates; what to report is
the ratio of uxtop to each peer measured in the same run (machines here are shared and noisy).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

IDLE_GAP_MS = 30 * 60 * 1000


@dataclass
class BenchRow:
    name: str
    events: int
    bytes: int
    seconds: float  # best wall time of the repeats
    note: str = ""
    #: best process CPU time (all threads) of the repeats: steadier than wall time on a shared
    #: machine, and it charges multi-threaded peers for every core they use
    cpu_seconds: float = float("nan")

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds > 0 else float("nan")

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["events_per_s"] = self.events_per_s
        d["mb_per_s"] = self.mb_per_s
        d["events_per_cpu_s"] = self.events_per_cpu_s
        return d


# --------------------------------------------------------------------------- contenders


def run_uxtop(path: Path) -> int:
    """The Rust core: file read in 1 MiB chunks, batches out as numpy (GIL released)."""
    from uxtop.ingest import Ingestor, iter_file_batches

    n = 0
    for b in iter_file_batches([path], Ingestor()):
        n += len(b)
    return n


def _python_sessionise(keys: list[str], ts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Group by key, order by ts, cut on the idle gap: session id per event, and the order."""
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    order: list[int] = []
    session: list[int] = []
    sid = -1
    for idx in by_key.values():
        idx.sort(key=ts.__getitem__)
        last = None
        for i in idx:
            if last is None or ts[i] - last > IDLE_GAP_MS:
                sid += 1
            last = ts[i]
            order.append(i)
            session.append(sid)
    return np.asarray(session, dtype=np.int32), np.asarray(order, dtype=np.int64)


def run_msgspec_python(path: Path, limit: int | None = None) -> int:
    """msgspec decodes each line into the canonical Struct; a Python sessioniser groups them."""
    import msgspec

    from uxtop.schema import Event

    dec = msgspec.json.Decoder(Event)
    keys: list[str] = []
    ts: list[int] = []
    cols: dict[str, list[Any]] = {
        k: [] for k in ("url", "target", "x", "y", "dur", "status", "type")
    }
    with open(path, "rb") as f:
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                break
            e = dec.decode(line)
            keys.append(str(e.sid if e.sid else e.uid))
            ts.append(int(e.ts))  # type: ignore[arg-type]
            cols["url"].append(e.url)
            cols["target"].append(e.target)
            cols["x"].append(e.x)
            cols["y"].append(e.y)
            cols["dur"].append(e.dur)
            cols["status"].append(e.status)
            cols["type"].append(e.type)
    session, order = _python_sessionise(keys, ts)
    return len(order)


def run_orjson_numpy(path: Path, limit: int | None = None) -> int:
    """orjson per line into column lists; numpy lexsort + diff + cumsum sessionises."""
    import orjson

    keys: list[str] = []
    ts: list[int] = []
    urls: list[Any] = []
    xs: list[Any] = []
    ys: list[Any] = []
    with open(path, "rb") as f:
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                break
            d = orjson.loads(line)
            keys.append(d.get("sid") or d.get("uid"))
            ts.append(d["ts"])
            urls.append(d.get("url"))
            xs.append(d.get("x"))
            ys.append(d.get("y"))
    _, key_codes = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    ts_a = np.asarray(ts, dtype=np.int64)
    order = np.lexsort((ts_a, key_codes))
    k, t = key_codes[order], ts_a[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (np.diff(t) > IDLE_GAP_MS)
    session = np.cumsum(new) - 1
    return int(session.shape[0])


def run_polars(path: Path) -> int:
    """polars read_ndjson, then sort by (key, ts), diff, cumsum."""
    import polars as pl

    df = pl.read_ndjson(path)
    key = pl.coalesce([c for c in ("sid", "uid") if c in df.columns])
    out = (
        df.with_columns(key.alias("key"))
        .sort(["key", "ts"])
        .with_columns(
            (
                (pl.col("key") != pl.col("key").shift(1))
                | ((pl.col("ts") - pl.col("ts").shift(1)) > IDLE_GAP_MS)
            )
            .fill_null(True)
            .cum_sum()
            .alias("session")
        )
    )
    arrays = {c: out[c].to_numpy() for c in ("session", "ts")}
    return int(arrays["session"].shape[0])


def run_duckdb(path: Path, threads: int = 1) -> int:
    """duckdb read_json of all canonical columns + window-function sessionise, ordered."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    cols = (
        "{'ts': 'BIGINT', 'sid': 'VARCHAR', 'uid': 'VARCHAR', 'type': 'VARCHAR', 'url': 'VARCHAR', "
        "'target': 'VARCHAR', 'tag': 'VARCHAR', 'x': 'INTEGER', 'y': 'INTEGER', 'sy': 'INTEGER', "
        "'sh': 'INTEGER', 'vh': 'INTEGER', 'dur': 'DOUBLE', 'status': 'INTEGER', 'route': 'VARCHAR', "
        "'tab': 'VARCHAR', 'dev': 'VARCHAR', 'rel': 'VARCHAR', 'geo': 'VARCHAR'}"
    )
    q = f"""
        WITH ev AS (
            SELECT *, coalesce(sid, uid) AS key
            FROM read_json('{path}', format='newline_delimited', columns={cols})
        ), marked AS (
            SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) <= {IDLE_GAP_MS}
                           THEN 0 ELSE 1 END AS new_session
            FROM ev
        )
        SELECT key, ts, type, url, target, x, y, dur, status,
               sum(new_session) OVER (PARTITION BY key ORDER BY ts ROWS UNBOUNDED PRECEDING) AS n
        FROM marked ORDER BY key, n, ts
    """
    res = con.execute(q).fetchnumpy()
    con.close()
    return int(len(res["ts"]))


PEERS: dict[str, tuple[Callable[..., int], str]] = {
    "uxtop": (run_uxtop, "Rust core, 1 thread"),
    "msgspec+python": (run_msgspec_python, "msgspec Struct per line, Python sessioniser"),
    "orjson+numpy": (run_orjson_numpy, "orjson per line, numpy lexsort/cumsum"),
    "polars": (run_polars, "read_ndjson + sort/diff/cumsum"),
    "duckdb-1t": (run_duckdb, "read_json + window functions, 1 thread"),
}

#: peers that would take minutes on the full file run on its first lines; rates stay comparable
SLOW_PEERS = {"msgspec+python", "orjson+numpy"}


def measure(
    path: Path,
    names: list[str] | None = None,
    repeat: int = 3,
    slow_limit: int = 300_000,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Best-of-``repeat`` seconds for each contender on ``path``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        total_lines = sum(1 for _ in f)
    rows: list[BenchRow] = []
    for name in names or list(PEERS):
        fn, note = PEERS[name]
        limit = slow_limit if name in SLOW_PEERS and slow_limit < total_lines else None
        best = best_cpu = float("inf")
        events = 0
        for _ in range(repeat):
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            events = fn(path, limit) if limit is not None else fn(path)
            best = min(best, time.perf_counter() - t)
            best_cpu = min(best_cpu, time.process_time() - c)
        nbytes = size if limit is None else int(size * limit / total_lines)
        note_full = note + (f" (first {limit:,} lines)" if limit else "")
        row = BenchRow(name, events, nbytes, best, note_full, cpu_seconds=best_cpu)
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def ratios(rows: list[BenchRow], base: str = "uxtop", cpu: bool = False) -> dict[str, float]:
    """uxtop's rate over each peer's (wall-clock, or per CPU-second with ``cpu``)."""
    ref = next(r for r in rows if r.name == base)
    if cpu:
        return {r.name: ref.events_per_cpu_s / r.events_per_cpu_s for r in rows if r.name != base}
    return {r.name: ref.events_per_s / r.events_per_s for r in rows if r.name != base}
