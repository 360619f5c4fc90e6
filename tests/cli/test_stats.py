"""`uxtop stats` gives exact counts on a file with known content; the quarantine holds exactly
the bad lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from uxtop.cli import main

GOOD = [
    b'{"ts":1700000000000,"sid":"a","type":"pageview","url":"/"}',
    b'{"ts":1700000001000,"sid":"a","type":"click","id":"e1"}',
    b'{"ts":1700000001000,"sid":"a","type":"click","id":"e1"}',  # duplicate
    b'{"ts":1700000009000,"sid":"a","type":"move"}',
    b'{"ts":1700000001500,"sid":"a","type":"move"}',  # 7.5 s behind its session: late
    b'{"ts":"2023-11-14T22:13:20Z","uid":"u1","type":"pageview"}',
    b'{"ts":1700003000000,"sid":"a","type":"pageview"}',  # 50 min idle: a new session
]
BAD = [
    (b"\xff\xfe not utf8", "utf8"),
    (b'{"ts": 1, "sid": "a"', "json"),
    (b"[1, 2]", "not_object"),
    (b'{"ts": true, "sid": "a"}', "wrong_type"),
    (b'{"sid": "a"}', "missing_ts"),
    (b'{"ts": 1}', "missing_key"),
    (b'{"ts": 1, "sid": "' + b"x" * 200 + b'"}', "too_long"),
]


@pytest.fixture
def known_file(tmp_path: Path) -> Path:
    lines = []
    for i, g in enumerate(GOOD):
        lines.append(g)
        if i < len(BAD):
            lines.append(BAD[i][0])
    lines.append(b"")  # a blank line is neither an event nor bad
    p = tmp_path / "events.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "uxtop.toml").write_text("[ingest]\nmax_line_bytes = 128\n")
    return p


def test_stats_json_counts_are_exact(known_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    q = known_file.parent / "quarantine.ndjson"
    cfg = known_file.parent / "uxtop.toml"
    assert (
        main(["stats", str(known_file), "--json", "--quarantine", str(q), "--config", str(cfg)])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["events"] == 5
    assert out["duplicates"] == 1
    assert out["late"] == 1
    assert out["sessions"] == 3  # a, a after the idle gap, u1
    assert out["bad_lines"] == len(BAD)
    assert out["bad_by_reason"] == {reason: 1 for _, reason in BAD}
    assert set(out) >= {"events", "sessions", "bad_lines", "late", "duplicates", "bad_by_reason"}
    # the quarantine holds exactly the bad lines, in order (too-long cut at the limit)
    kept = q.read_bytes().split(b"\n")[:-1]
    assert kept == [b if r != "too_long" else b[:128] for b, r in BAD]
    reasons = [
        line.split("\t")[1]
        for line in (q.parent / "quarantine.ndjson.index.tsv").read_text().splitlines()
    ]
    assert reasons == [r for _, r in BAD]


def test_stats_reads_stdin_and_prints_one_json_object(known_file: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "uxtop", "stats", "-", "--json"],
        input=known_file.read_bytes(),
        capture_output=True,
        check=True,
    )
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1
    # default max_line_bytes (1 MiB): the long line is an ordinary event here
    assert json.loads(lines[0])["events"] == 6


def test_stats_bad_config_names_the_key(
    known_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = known_file.parent / "bad.toml"
    cfg.write_text("[ingest]\nlateness_ms = -1\n")
    assert main(["stats", str(known_file), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "ingest.lateness_ms" in err and "default is 5000" in err


def test_stats_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", str(tmp_path / "nope.ndjson")]) == 2
    assert "no such file" in capsys.readouterr().err
