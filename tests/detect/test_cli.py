"""``uxtop report`` / ``uxtop eval`` end to end (subprocess, like a user)."""

from __future__ import annotations

import json
import subprocess
import sys

from uxtop import synth


def uxtop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "uxtop", *args], capture_output=True, text=True)


def test_report_json_has_the_documented_keys(tmp_path):
    path = tmp_path / "shop.ndjson"
    run = synth.generate(synth.SynthConfig(seed=8, sessions=80))
    path.write_bytes(b"".join(run.chunks()))
    r = uxtop("report", str(path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    kinds = {
        "rage_click",
        "dead_click",
        "error_click",
        "thrashed_cursor",
        "u_turn",
        "page_loop",
        "excessive_scroll",
        "form_struggle",
        "slow_interaction",
    }
    assert out["flags"] and {f["kind"] for f in out["flags"]} <= kinds
    for f in out["flags"]:
        assert {"kind", "sid", "start_ts", "end_ts", "url", "target"} <= set(f)
        assert f["sid"].startswith("s8-") and f["start_ts"] <= f["end_ts"]
    assert {s["sid"] for s in out["sessions"]} == {f"s8-{i}" for i in range(80)}
    assert (
        all(s["score"] >= 0 for s in out["sessions"])
        and max(s["score"] for s in out["sessions"]) > 0
    )
    human = uxtop("report", str(path))
    assert human.returncode == 0 and "flags in" in human.stdout and "worst sessions" in human.stdout
    missing = uxtop("report", str(tmp_path / "nope.ndjson"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_eval_prints_precision_recall_per_kind():
    r = uxtop("eval", "--sessions", "400", "--fast", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["kinds"]) == 9 and out["negatives"]
    table = uxtop("eval", "--sessions", "300", "--profile", "datadog")
    assert table.returncode == 0 and "precision" in table.stdout and "hard negative" in table.stdout
