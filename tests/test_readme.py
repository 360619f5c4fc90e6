"""The README's examples stay true: its config parses, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from uxtop.cli import build_parser
from uxtop.config import parse_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_config_example_is_valid() -> None:
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block, "README has a toml example"
    cfg = parse_config(block.group(1))
    assert cfg.ingest.lateness_ms == 5000
    assert cfg.detect_config().profile == "uxtop"
    assert [f.name for f in cfg.analytics_config().funnels] == ["checkout"]
    (alert,) = cfg.analytics_config().alerts
    assert (alert.metric, alert.route, alert.for_buckets) == ("p95", "POST /api/pay", 3)


def test_readme_quick_start_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make ([\w-]+)", README, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is not a Makefile target"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_command() -> None:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"`uxtop {name}" in README, (
            f"uxtop {name} is missing from the README's command table"
        )
