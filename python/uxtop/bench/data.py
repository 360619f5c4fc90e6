"""Realistic canonical NDJSON for throughput runs: many sessions interleaved as on a live site.

Events are ~110 bytes: pageviews, mouse moves, scrolls, clicks, inputs and backend requests, with
the session key, type, url and the fields each type carries. Generated vectorised (numpy) and
cached on disk so repeated runs measure the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

BASE_TS = 1_700_000_000_000
PAGES = [
    "/",
    "/search",
    "/product/1234",
    "/product/98",
    "/cart",
    "/checkout",
    "/checkout/pay",
    "/confirmation",
]
TARGETS = [
    "button#add-to-cart",
    "a.nav-link",
    "input#q",
    "button.qty-plus",
    "div.card",
    "button#pay",
]
ROUTES = ["GET /api/search", "POST /api/cart", "POST /api/pay", "GET /api/product"]


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(root) / "uxtop" / "bench"
    d.mkdir(parents=True, exist_ok=True)
    return d


def generate(n_events: int, n_sessions: int | None = None, seed: int = 7) -> bytes:
    """``n_events`` lines; ``n_sessions`` (default n/10) sessions spread over an hour, interleaved."""
    rng = np.random.default_rng(seed)
    n_sessions = n_sessions or max(1, n_events // 10)
    sess = rng.integers(0, n_sessions, n_events)
    start = rng.integers(0, 3_600_000, n_sessions)
    # time within the session: sorted uniform offsets over a few minutes
    offset = rng.integers(0, 300_000, n_events)
    ts = BASE_TS + start[sess] + offset
    order = np.argsort(ts, kind="stable")
    ts, sess = ts[order], sess[order]
    kind = rng.choice(6, n_events, p=[0.05, 0.45, 0.2, 0.12, 0.08, 0.10])
    page = rng.integers(0, len(PAGES), n_events)
    tgt = rng.integers(0, len(TARGETS), n_events)
    route = rng.integers(0, len(ROUTES), n_events)
    x = rng.integers(0, 1600, n_events)
    y = rng.integers(0, 4000, n_events)
    dur = rng.gamma(2.0, 60.0, n_events).round(1)
    status = np.where(rng.random(n_events) < 0.02, 500, 200)
    lines: list[str] = []
    append = lines.append
    for i in range(n_events):
        k = kind[i]
        head = f'{{"ts":{ts[i]},"sid":"s{sess[i]:07d}","url":"{PAGES[page[i]]}",'
        if k == 0:
            append(head + '"type":"pageview","dev":"desktop","rel":"2.4.1","geo":"DE"}')
        elif k == 1:
            append(head + f'"type":"move","x":{x[i]},"y":{y[i]},"tab":"w1"}}')
        elif k == 2:
            append(head + f'"type":"scroll","sy":{y[i]},"sh":5200,"vh":900,"tab":"w1"}}')
        elif k == 3:
            append(head + f'"type":"click","target":"{TARGETS[tgt[i]]}","x":{x[i]},"y":{y[i]}}}')
        elif k == 4:
            append(
                head
                + f'"type":"input","target":"input#email","tag":"input[type=email]","dur":{dur[i]}}}'
            )
        else:
            append(
                head
                + f'"type":"request","route":"{ROUTES[route[i]]}","status":{status[i]},"dur":{dur[i]}}}'
            )
    return ("\n".join(lines) + "\n").encode()


def cached_file(n_events: int, n_sessions: int | None = None, seed: int = 7) -> Path:
    """Path to the generated file, made once per (size, sessions, seed)."""
    n_sessions = n_sessions or max(1, n_events // 10)
    path = cache_dir() / f"canonical-{n_events}-{n_sessions}-{seed}.ndjson"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(generate(n_events, n_sessions, seed))
        tmp.replace(path)
    return path
