"""The labelled traffic generator: deterministic, well-formed, time-ordered, faithful labels,
incident effects, live pacing, and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import msgspec
import numpy as np
import pytest

from uxtop import synth
from uxtop.ingest.reference import reference_ingest, result_to_batch
from uxtop.schema import Event, Kind

SMALL = synth.SynthConfig(seed=2, sessions=120)


@pytest.fixture(scope="module")
def small_run() -> tuple[bytes, list[synth.Label]]:
    run = synth.generate(SMALL)
    return b"".join(run.chunks()), run.labels


def test_deterministic(small_run):
    data, labels = small_run
    again = synth.generate(SMALL)
    assert b"".join(again.chunks()) == data and again.labels == labels
    other = synth.generate(msgspec.structs.replace(SMALL, seed=3))
    assert b"".join(other.chunks()) != data


def test_lines_are_canonical_events_in_time_order(small_run):
    data, _ = small_run
    dec = msgspec.json.Decoder(Event)
    lines = data.splitlines()
    events = [dec.decode(ln) for ln in lines]
    ts = [e.ts for e in events]
    assert ts == sorted(ts)
    assert {e.sid for e in events} == {f"s2-{i}" for i in range(SMALL.sessions)}
    types = Counter(e.type for e in events)
    for t in (
        "pageview",
        "click",
        "move",
        "scroll",
        "input",
        "focus",
        "blur",
        "submit",
        "mutation",
        "request",
        "error",
        "dblclick",
        "selection",
        "visibility",
    ):
        assert types[t] > 0, t
    res = reference_ingest(data)
    assert res.counters["bad_lines"] == 0 and res.counters["late"] == 0
    assert res.counters["sessions"] == SMALL.sessions


def test_columnar_path_equals_parsed_ndjson(small_run):
    data, labels = small_run
    batch, tables = result_to_batch(reference_ingest(data))
    col = synth.generate_columnar(SMALL)

    def per_session(b, tabs):
        out = {}
        c = {k: v.tolist() for k, v in b.columns.items()}
        for s, key in enumerate(b.keys):
            rows = range(int(b.offsets[s]), int(b.offsets[s + 1]))
            out[key] = [
                (
                    c["ts"][i],
                    c["kind"][i],
                    tabs["url"][c["url"][i]] if c["url"][i] >= 0 else None,
                    tabs["target"][c["target"][i]] if c["target"][i] >= 0 else None,
                    c["x"][i],
                    c["y"][i],
                    c["sy"][i],
                    None if np.isnan(c["value"][i]) else c["value"][i],
                    c["status"][i],
                    c["flags"][i],
                )
                for i in rows
            ]
        return out

    assert per_session(batch, tables) == per_session(col.batch, col.tables)
    assert sorted(map(msgspec.structs.astuple, labels)) == sorted(
        map(msgspec.structs.astuple, col.labels)
    )


def test_labels_are_well_formed_and_cover_every_kind():
    data = synth.generate_columnar(synth.SynthConfig(seed=4, sessions=1500))
    sids = set(data.batch.keys)
    kinds = Counter(lb.kind for lb in data.labels)
    for k in synth.FRICTION_KINDS:
        assert kinds[k] >= 10, (k, kinds[k])
    for n in synth.HARD_NEGATIVES:
        assert kinds["neg:" + n] >= 10, (n, kinds["neg:" + n])
    for lb in data.labels:
        assert lb.sid in sids and lb.start_ts <= lb.end_ts
        assert lb.neg == lb.kind.startswith("neg:")
    assert synth.read_labels(synth.labels_to_ndjson(data.labels)) == data.labels


def test_incident_hurts_the_degraded_route():
    inc = synth.Incident(
        start_s=300, duration_s=300, route="POST /api/cart", latency_factor=10, error_rate=0.4
    )
    data = synth.generate_columnar(
        synth.SynthConfig(seed=6, sessions=2400, sessions_per_s=2.0, incident=inc)
    )
    b, tabs = data.batch, data.tables
    route = tabs["route"].index("POST /api/cart")
    req = (b.columns["kind"] == Kind.REQUEST) & (b.columns["route"] == route)
    a = synth.DEFAULT_START_TS + 300_000
    inside = req & (b.columns["ts"] >= a) & (b.columns["ts"] < a + 300_000)
    outside = req & ~inside
    assert np.median(b.columns["value"][inside]) > 5 * np.median(b.columns["value"][outside])
    assert (
        (b.columns["status"][inside] >= 500).mean()
        > 0.25
        > (b.columns["status"][outside] >= 500).mean() * 10
    )
    slow_in = sum(
        1 for lb in data.labels if lb.kind == "slow_interaction" and a <= lb.start_ts < a + 300_000
    )
    slow_out = sum(1 for lb in data.labels if lb.kind == "slow_interaction") - slow_in
    assert slow_in > slow_out / 2  # the window is an eighth of the traffic but has most slow clicks


def test_live_mode_is_paced_at_the_rate_with_ts_now():
    clock = [1_800_000_000.0]

    def now() -> float:
        return clock[0]

    def sleep(dt: float) -> None:
        clock[0] += max(dt, 0.1)

    it = synth.iter_live(2000, incident_at_s=5, seed=1, clock=now, sleep=sleep, duration_s=30)
    counts = []
    for chunk in it:
        lines = chunk.splitlines()
        ts = [json.loads(ln)["ts"] for ln in lines]
        assert max(ts) <= clock[0] * 1000 + 1 and min(ts) >= 1_800_000_000_000
        counts.append((clock[0], len(lines)))
    total = sum(n for _, n in counts)
    assert 0.6 * 2000 * 30 < total < 1.5 * 2000 * 30, total
    first_5s = sum(n for t, n in counts if t < 1_800_000_005)
    assert first_5s > 0.5 * 2000 * 5  # steady from the start (warm-up), no slow ramp


def test_cli_writes_events_and_labels(tmp_path):
    out = tmp_path / "shop.ndjson"
    r = subprocess.run(
        [sys.executable, "-m", "uxtop", "synth", "--sessions", "40", "-o", str(out), "--seed", "9"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "40 sessions" in r.stderr
    labels = synth.read_labels((tmp_path / "shop.labels.ndjson").read_bytes())
    assert labels and out.read_bytes().count(b"\n") > 1000
    helptext = subprocess.run(
        [sys.executable, "-m", "uxtop", "synth", "--help"], capture_output=True, text=True
    ).stdout
    assert "examples:" in helptext and "--rate" in helptext
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "uxtop",
            "synth",
            "--incident-at",
            "5",
            "--incident-route",
            "GET /nope",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--incident-route must be one of" in bad.stderr
