"""`uxtop report` carries funnels, anomalies and insights next to the flags, in JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uxtop.cli import main


@pytest.fixture(scope="module")
def incident_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "shop.ndjson"
    assert (
        main(["synth", "-o", str(out), "--sessions", "900", "--incident-at", "300", "--seed", "3"])
        == 0
    )
    return out


def test_report_json_has_analytics_and_names_the_degraded_route(
    incident_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["report", str(incident_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"flags", "sessions", "funnels", "insights", "anomalies"} <= set(out)
    assert out["flags"] and out["anomalies"]
    titles = " ".join(i["title"] for i in out["insights"])
    assert "POST /api/cart" in titles  # the synth incident's route


def test_report_markdown(incident_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["report", str(incident_file), "--markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("#") and "POST /api/cart" in md
