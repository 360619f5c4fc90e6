"""Synthetic shop traffic as EventBatches (numpy, no parsing), for analytics tests and benchmarks.

Sessions follow product → add to cart (``POST /api/cart``) → checkout (``GET /api/cart``) →
pay (``POST /api/pay``) → confirm, with a daily cycle in arrivals, cohorts (device, release,
country) and baseline friction. Incidents degrade one route for a while (latency × factor, error
probability), optionally only for one release; a failed payment ends the session before confirm
and often brings rage and error clicks, which are emitted as a columnar flag batch.
``uxtop.synth`` (the labelled generator) is the end-user tool; this one exists so analytics can be
tested at 24-hour scale in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from uxtop.batch import EVENT_COLUMNS, INT_NA, NONE_ID, SESSION_COLUMNS, STRING_TABLES, EventBatch
from uxtop.schema import Kind

DAY_MS = 86_400_000
PAGES = ["/product/1", "/product/2", "/product/3", "/product/4", "/checkout", "/confirm"]
ROUTES = ["POST /api/cart", "GET /api/cart", "POST /api/pay", "GET /api/product"]
DEVS, RELS, GEOS = ["desktop", "mobile", "tablet"], ["2.2", "2.3"], ["US", "DE", "FR", "GB", "JP"]
RAGE, ERROR_CLICK = 0, 2  # FlagKind codes (rage_click, error_click)


@dataclass
class Incident:
    route: str
    start_ms: int
    minutes: float = 10.0
    latency_factor: float = 8.0
    error_p: float = 0.25
    release: str | None = None  # only sessions on this release are hit


@dataclass
class Flags:
    """Columnar flags, the shape of ``uxtop.detect.FlagBatch`` (the fields analytics reads)."""

    kind: npt.NDArray[np.uint8]
    session_id: npt.NDArray[np.uint64]
    start_ts: npt.NDArray[np.int64]
    end_ts: npt.NDArray[np.int64]
    url: npt.NDArray[np.int32]
    target: npt.NDArray[np.int32]


@dataclass
class ShopTraffic:
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00Z
    sessions_per_min: float = 30.0
    amplitude: float = 0.6
    incidents: list[Incident] = field(default_factory=list)
    release_weights: tuple[float, ...] = (0.5, 0.5)
    seed: int = 0

    def tables(self) -> dict[str, list[str]]:
        t: dict[str, list[str]] = {k: [] for k in STRING_TABLES}
        t["url"] = list(PAGES)
        t["target"] = ["button#add", "button#pay", "a#home"]
        t["tag"] = ["button", "a"]
        t["route"] = list(ROUTES)
        t["msg"] = ["payment gateway timeout", "cart conflict"]
        t["dev"], t["rel"], t["geo"] = list(DEVS), list(RELS), list(GEOS)
        return t

    def _incident(self, route: int, ts: int, rel: int) -> Incident | None:
        for inc in self.incidents:
            if (
                ROUTES[route] == inc.route
                and inc.start_ms <= ts < inc.start_ms + inc.minutes * 60_000
            ):
                if inc.release is None or RELS[rel] == inc.release:
                    return inc
        return None

    def batches(self, hours: float, chunk_s: int = 300) -> Iterator[tuple[EventBatch, Flags]]:
        """One batch per ``chunk_s`` of session starts; watermark = the chunk's end."""
        rng = np.random.default_rng(self.seed)
        sid = 0
        row = 0
        n_chunks = int(hours * 3600 // chunk_s)
        for c in range(n_chunks):
            t_lo = self.start_ms + c * chunk_s * 1000
            phase = 2 * np.pi * ((t_lo - self.start_ms) % DAY_MS) / DAY_MS
            lam = (
                self.sessions_per_min
                * chunk_s
                / 60
                * (1 + self.amplitude * np.sin(phase - np.pi / 2))
            )
            k = int(rng.poisson(max(lam, 0.0)))
            starts = np.sort(t_lo + rng.integers(0, chunk_s * 1000, k))
            ev: dict[str, list] = {name: [] for name in EVENT_COLUMNS}
            offsets = [0]
            ses: dict[str, list] = {name: [] for name in SESSION_COLUMNS}
            fk: list[int] = []
            fs: list[int] = []
            ft: list[int] = []
            for s0 in starts.tolist():
                dev = int(rng.choice(3, p=[0.55, 0.4, 0.05]))
                rel = int(rng.choice(len(self.release_weights), p=self.release_weights))
                geo = int(rng.choice(5, p=[0.4, 0.2, 0.15, 0.15, 0.1]))
                evs: list[tuple] = []  # (ts, kind, url, target, route, msg, value, status)

                # called only within this session's iteration, so the loop variables are current
                def req(ts: int, route: int, base_ms: float, err_p: float, page: int) -> bool:  # noqa: B023
                    inc = self._incident(route, ts, rel)  # noqa: B023
                    dur = float(rng.lognormal(np.log(base_ms), 0.35)) * (
                        inc.latency_factor if inc else 1.0
                    )
                    p = inc.error_p if inc else err_p
                    failed = bool(rng.random() < p)
                    evs.append(  # noqa: B023
                        (
                            ts + 20,
                            Kind.REQUEST,
                            page,
                            NONE_ID,
                            route,
                            0 if failed and route == 2 else NONE_ID,
                            dur,
                            500 if failed else 200,
                        )
                    )
                    return failed

                t = s0
                prod = int(rng.integers(0, 4))
                evs.append((t, Kind.PAGEVIEW, prod, NONE_ID, NONE_ID, NONE_ID, np.nan, 0))
                req(t, 3, 40.0, 0.002, prod)
                if rng.random() < 0.7:
                    t += int(rng.integers(3_000, 20_000))
                    evs.append((t, Kind.CLICK, prod, 0, NONE_ID, NONE_ID, np.nan, 0))
                    req(t, 0, 80.0, 0.003, prod)
                    if rng.random() < 0.85:
                        t += int(rng.integers(2_000, 10_000))
                        evs.append((t, Kind.PAGEVIEW, 4, NONE_ID, NONE_ID, NONE_ID, np.nan, 0))
                        req(t, 1, 30.0, 0.002, 4)
                        if rng.random() < 0.85:
                            t += int(rng.integers(5_000, 30_000))
                            evs.append((t, Kind.CLICK, 4, 1, NONE_ID, NONE_ID, np.nan, 0))
                            failed = req(t, 2, 250.0, 0.01, 4)
                            if failed:
                                if rng.random() < 0.6:
                                    for _ in range(4):
                                        t += int(rng.integers(200, 600))
                                        evs.append(
                                            (t, Kind.CLICK, 4, 1, NONE_ID, NONE_ID, np.nan, 0)
                                        )
                                    fk.append(RAGE)
                                    fs.append(sid)
                                    ft.append(t - 1500)
                                fk.append(ERROR_CLICK)
                                fs.append(sid)
                                ft.append(t)
                            elif rng.random() < 0.93:
                                t += int(rng.integers(1_000, 4_000))
                                evs.append(
                                    (t, Kind.PAGEVIEW, 5, NONE_ID, NONE_ID, NONE_ID, np.nan, 0)
                                )
                if rng.random() < 0.01:  # baseline friction nobody caused
                    fk.append(RAGE)
                    fs.append(sid)
                    ft.append(t)
                evs.sort(key=lambda e: e[0])
                for e in evs:
                    ev["ts"].append(e[0])
                    ev["session"].append(len(ses["session_id"]))
                    ev["kind"].append(int(e[1]))
                    ev["url"].append(e[2])
                    ev["target"].append(e[3])
                    ev["tag"].append(NONE_ID if e[3] < 0 else 0)
                    ev["route"].append(e[4])
                    ev["msg"].append(e[5])
                    ev["tab"].append(NONE_ID)
                    for col in ("x", "y", "sy", "sh", "vh"):
                        ev[col].append(INT_NA)
                    ev["value"].append(e[6])
                    ev["status"].append(e[7])
                    ev["flags"].append(0)
                    ev["row"].append(row)
                    row += 1
                offsets.append(offsets[-1] + len(evs))
                ses["session_id"].append(sid)
                ses["start_ts"].append(evs[0][0])
                ses["end_ts"].append(evs[-1][0])
                ses["n_events"].append(len(evs))
                ses["first_url"].append(evs[0][2])
                ses["last_url"].append(evs[-1][2])
                ses["dev"].append(dev)
                ses["rel"].append(rel)
                ses["geo"].append(geo)
                ses.setdefault("uid", []).append(-1)
                ses["closed"].append(True)
                sid += 1
            batch = EventBatch(
                columns={k: np.asarray(v, dtype=EVENT_COLUMNS[k]) for k, v in ev.items()},
                offsets=np.asarray(offsets, dtype=np.int64),
                sessions={k: np.asarray(v, dtype=SESSION_COLUMNS[k]) for k, v in ses.items()},
                keys=[f"s{i}" for i in ses["session_id"]],
                uids=[None] * len(ses["session_id"]),
                watermark=t_lo + chunk_s * 1000,
            )
            flags = Flags(
                kind=np.asarray(fk, np.uint8),
                session_id=np.asarray(fs, np.uint64),
                start_ts=np.asarray(ft, np.int64),
                end_ts=np.asarray(ft, np.int64),
                url=np.full(len(fk), 4, np.int32),
                target=np.full(len(fk), 1, np.int32),
            )
            yield batch, flags


def checkout_funnel_config() -> dict:
    """The funnel that matches ShopTraffic, as a config dict."""
    return {
        "name": "checkout",
        "window_s": 1800,
        "breakdown": ["dev", "rel"],
        "steps": [
            {"type": "pageview", "url": "/product/*", "name": "product"},
            {"type": "pageview", "url": "/checkout", "name": "checkout"},
            {"type": "click", "target": "button#pay", "name": "pay"},
            {"type": "pageview", "url": "/confirm", "name": "confirm"},
        ],
    }
