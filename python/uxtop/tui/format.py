"""Small formatting helpers shared by widgets (numbers, durations, kind colours)."""

from __future__ import annotations

import datetime as _dt

#: one colour per flag kind, used consistently on every screen
KIND_STYLE: dict[str, str] = {
    "rage_click": "bold #ff5f5f",
    "dead_click": "bold #ffaf00",
    "error_click": "bold #ff0087",
    "thrashed_cursor": "#d787ff",
    "u_turn": "#5fafff",
    "page_loop": "#00d7af",
    "excessive_scroll": "#87d700",
    "form_struggle": "#ffd75f",
    "slow_interaction": "#ff8700",
}

KIND_SHORT: dict[str, str] = {
    "rage_click": "rage",
    "dead_click": "dead",
    "error_click": "error",
    "thrashed_cursor": "thrash",
    "u_turn": "u-turn",
    "page_loop": "loop",
    "excessive_scroll": "scroll",
    "form_struggle": "form",
    "slow_interaction": "slow",
}

SPARK = "▁▂▃▄▅▆▇█"


def human(n: float) -> str:
    """12 345 → '12.3k'; keeps tiles narrow and stable in width."""
    n = float(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.1f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{n:.0f}" if n == int(n) else f"{n:.1f}"


def sparkline(values: tuple[float, ...] | list[float], width: int | None = None) -> str:
    vals = list(values)[-width:] if width else list(values)
    if not vals:
        return ""
    top = max(vals)
    if top <= 0:
        return SPARK[0] * len(vals)
    return "".join(
        SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] if v > 0 else " "
        for v in vals
    )


def clock_time(ts_ms: int) -> str:
    if ts_ms <= 0:
        return "--:--:--"
    return _dt.datetime.fromtimestamp(ts_ms / 1000, tz=_dt.UTC).strftime("%H:%M:%S")


def rel_time(ms: int) -> str:
    """Relative time in a session: +1:02.345 / +12.3s."""
    sign = "-" if ms < 0 else "+"
    ms = abs(ms)
    if ms < 60_000:
        return f"{sign}{ms / 1000:6.3f}s"
    m, s = divmod(ms / 1000, 60)
    return f"{sign}{int(m)}:{s:06.3f}"


def duration(ms: float) -> str:
    ms = max(0.0, ms)
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    m, s = divmod(int(ms / 1000), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
