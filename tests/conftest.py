"""Suite-wide isolation: the user's own files must not change what the tests see."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _empty_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _isolated_home(_empty_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI reads ~/.config/uxtop/uxtop.toml when no --config is given: a developer's own
    # file would change the defaults the tests assert (CI has none; a workstation may)
    monkeypatch.setenv("HOME", str(_empty_home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
