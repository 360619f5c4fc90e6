"""``uxtop.toml``: one file, one table per concern, validated by msgspec.

    [ingest]          # uxtop.ingest.IngestConfig: sessions, lateness, line limits
    [detect]          # uxtop.detect.config.DetectConfig: thresholds, profile, ignore rules
    [analytics]       # uxtop.analytics.config.AnalyticsConfig: funnels, alerts, buckets

Errors name the file, the key and the fix (``ConfigFileError``); unknown keys are errors, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from uxtop.ingest.config import IngestConfig

#: looked up in this order when no --config is given
DEFAULT_PATHS = ("uxtop.toml", os.path.join("~", ".config", "uxtop", "uxtop.toml"))
SECTIONS = ("ingest", "detect", "analytics")


class ConfigFileError(ValueError):
    """A config file is unreadable or invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class Config:
    ingest: IngestConfig = field(default_factory=IngestConfig)
    detect: Any = None  # DetectConfig; imported lazily (numba) — see ``detect_config``
    analytics: Any = None  # AnalyticsConfig
    path: Path | None = None

    def detect_config(self) -> Any:
        if self.detect is not None:
            return self.detect
        from uxtop.detect.config import DetectConfig

        return DetectConfig()

    def analytics_config(self) -> Any:
        if self.analytics is not None:
            return self.analytics
        from uxtop.analytics.config import AnalyticsConfig

        return AnalyticsConfig()


def _where(section: str, exc: Exception) -> str:
    m = re.search(r"at `\$(.*)`", str(exc))
    return section + (m.group(1) if m else "")


def _convert(section: str, raw: Any, typ: type) -> Any:
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        msg = str(exc).split(" - at ")[0]
        if msg.startswith(section + "."):  # raised by a __post_init__ check: names key and fix
            raise ConfigFileError(msg) from None
        if "unknown field" in msg.lower():
            known = ", ".join(f for f in getattr(typ, "__struct_fields__", ()))
            raise ConfigFileError(
                f"{_where(section, exc)}: {msg}; known keys here: {known}"
            ) from None
        raise ConfigFileError(f"{_where(section, exc)}: {msg}; check the value's type") from None
    except ValueError as exc:  # __post_init__ checks name their key already
        msg = str(exc)
        raise ConfigFileError(msg if msg.startswith(section) else f"{section}: {msg}") from None


def parse_config(text: str | bytes, path: Path | None = None) -> Config:
    """Validate TOML text into a Config."""
    name = str(path) if path else "config"
    try:
        data = msgspec.toml.decode(text)
    except msgspec.DecodeError as exc:
        raise ConfigFileError(f"{name}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigFileError(
            f"{name}: unknown table(s) {', '.join(unknown)}; the tables are [{'], ['.join(SECTIONS)}]"
        )
    try:
        ingest = _convert("ingest", data.get("ingest", {}), IngestConfig)
        detect = analytics = None
        if "detect" in data:
            from uxtop.detect.config import DetectConfig

            detect = _convert("detect", data["detect"], DetectConfig)
        if "analytics" in data:
            from uxtop.analytics.config import AnalyticsConfig

            analytics = _convert("analytics", data["analytics"], AnalyticsConfig)
    except ConfigFileError as exc:
        raise ConfigFileError(f"{name}: {exc}") from None
    return Config(ingest=ingest, detect=detect, analytics=analytics, path=path)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``path``, or the first of DEFAULT_PATHS that exists, or defaults."""
    if path is None:
        for default in DEFAULT_PATHS:
            cand = Path(os.path.expanduser(default))
            if cand.is_file():
                path = cand
                break
        else:
            return Config()
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigFileError(
            f"{p}: cannot read config: {exc.strerror}; pass an existing file to --config"
        ) from None
    return parse_config(text, p)
